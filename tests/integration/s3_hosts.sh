#!/bin/sh
# Two hosts (separate state dirs and host names) snapshot into one S3
# repository at once; a prune from a third host is refused while they run
# (exit 13, naming a holder) and runs once they are done; both snapshots
# are recorded and restore byte for byte. s3rver does not honour
# If-None-Match, so this is the lock protocol of plugins/s3/README.md
# ("Locks and exclusive writes") at work.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start arca-test
host_config() { # host_config NAME: $T/NAME.ini, its own state dir and data
	mkdir -p "$T/$1/state" "$T/$1/src"
	cat > "$T/$1.ini" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/$1/state
hostname = $1
EOC
	ARCA_CONFIG=$T/$1.ini s3_dest s3 arca-test shared/ "pack_size = 4M"
	ARCA_CONFIG=$T/$1.ini files_target "data-$1" "$T/$1/src"
	sed -i 's/^destinations = local$/destinations = s3/' "$T/$1.ini"
}
host_config h1
host_config h2
host_config h3
head -c 40000000 /dev/urandom > "$T/h1/src/a.bin"
head -c 40000000 /dev/urandom > "$T/h2/src/b.bin"
arca -c "$T/h1.ini" init s3

step "h1 and h2 snapshot at once; h3's prune is refused while they run"
"$ARCA" -c "$T/h1.ini" snapshot data-h1 >"$T/h1.out" 2>&1 &
p1=$!
"$ARCA" -c "$T/h2.ini" snapshot data-h2 >"$T/h2.out" 2>&1 &
p2=$!
# both hold their locks (two lock objects) before the prune
i=0
while [ $i -lt 400 ] && [ "$(find "$T/s3data/arca-test/shared/locks" -name '*._S3rver_object' 2>/dev/null | wc -l)" -lt 2 ]; do
	sleep 0.02; i=$((i + 1))
done
kill -0 $p1 2>/dev/null && kill -0 $p2 2>/dev/null || fail "the snapshots ended before both held a lock"
expect_fail 13 arca -c "$T/h3.ini" prune s3
expect_stderr 'destination s3 is locked \(shared\) by h[12] pid'
wait $p1 || { cat "$T/h1.out"; fail "h1's snapshot"; }
wait $p2 || { cat "$T/h2.out"; fail "h2's snapshot"; }

step "then the prune runs; both snapshots restore"
arca -c "$T/h3.ini" prune s3
for h in h1 h2; do
	arca -c "$T/$h.ini" list "data-$h" | grep -q '^[0-9a-f]\{8\}' || fail "no snapshot of $h"
	arca -c "$T/$h.ini" restore "data-$h" --into "$T/$h/restored"
	tree_manifest "$T/$h/src" > "$T/want"
	tree_manifest "$T/$h/restored" > "$T/got"
	diff "$T/want" "$T/got" || fail "$h's restore differs"
done
arca -c "$T/h1.ini" verify --read-data >/dev/null 2>&1 || fail "verify after both"
pass
