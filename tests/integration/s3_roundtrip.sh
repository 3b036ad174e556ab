#!/bin/sh
# The s3 destination on a real S3 server (s3rver on loopback): a repository
# under a prefix of a bucket goes through init, check, snapshot (objects
# larger than part_size go up in parallel parts), list, restore compared
# byte for byte, verify --read-data, a second snapshot, forget and prune
# (batch deletes), a snapshot interrupted with SIGINT (exit 10, nothing
# committed, its lock removed even though ^C cuts every other request
# short), and a snapshot killed with SIGKILL after which the repository
# still verifies and the next snapshot restores.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start arca-test
mkdir -p "$T/state" "$T/src/sub"
cat > "$ARCA_CONFIG" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state
EOC
s3_dest s3 arca-test arca/host1/ "pack_size = 16M" "part_size = 5M" "multipart_threshold = 5M"
files_target tree "$T/src" "retention = last=1"
sed -i 's/^destinations = local$/destinations = s3/' "$ARCA_CONFIG"

head -c 23000000 /dev/urandom > "$T/src/big.bin"
for i in $(seq 1 40); do head -c $((i * 997)) /dev/urandom > "$T/src/sub/f$i"; done
printf 'hello\n' > "$T/src/small.txt"
ln -s small.txt "$T/src/link"

step "init, check"
arca init s3
arca check
step "snapshot, list"
arca snapshot tree
arca list tree > "$T/list"
[ "$(grep -c '^[0-9a-f]\{8\}' "$T/list")" -eq 1 ] || { cat "$T/list"; fail "one snapshot listed"; }
step "the objects are in the bucket under the prefix, and nowhere else"
ls "$T/s3data/arca-test" >/dev/null
find "$T/s3data/arca-test" -name '*.md5' -o -type f | grep -v '/arca/host1/' | grep -q . &&
	fail "objects outside the prefix"

step "restore, compared byte for byte"
arca restore tree --into "$T/out1"
tree_manifest "$T/src" > "$T/want"
tree_manifest "$T/out1" > "$T/got"
diff "$T/want" "$T/got" || fail "restored tree differs"
step "verify --read-data"
arca verify tree --read-data

step "second snapshot, forget, prune"
head -c 9000000 /dev/urandom > "$T/src/big.bin"
arca snapshot tree
arca forget tree
arca prune s3 2>"$T/prune.err" || { cat "$T/prune.err"; fail "prune"; }
arca verify tree --read-data
arca restore tree --into "$T/out2"
tree_manifest "$T/src" > "$T/want"
tree_manifest "$T/out2" > "$T/got"
diff "$T/want" "$T/got" || fail "restored tree differs after prune"

npacks() { find "$T/s3data/arca-test/arca/host1/packs" -name '*._S3rver_object' | wc -l; }
nlocks() { find "$T/s3data/arca-test/arca/host1" -path '*/locks/*' -name '*._S3rver_object' | wc -l; }
# signalled_snapshot SIG OUT: a snapshot sent SIG once its first new pack
# is in the bucket; its output in OUT, its exit status in $st
signalled_snapshot() {
	before=$(npacks)
	"$ARCA" snapshot tree >"$2" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 1000 ] && [ "$(npacks)" -le "$before" ] && kill -0 $pid 2>/dev/null; do
		sleep 0.01; i=$((i + 1))
	done
	kill -"$1" $pid 2>/dev/null || true
	st=0; wait $pid 2>/dev/null || st=$?
}
step "^C (SIGINT) mid-snapshot: exit 10, nothing committed, and no lock left behind"
head -c 64000000 /dev/urandom > "$T/src/big2.bin"
signalled_snapshot INT "$T/int.out"
[ $st -eq 10 ] || { cat "$T/int.out"; fail "the interrupted snapshot exited $st, not 10"; }
[ "$(nlocks)" -eq 0 ] || { cat "$T/int.out"; fail "the interrupted snapshot left its lock in the bucket"; }
arca list tree > "$T/list"
[ "$(grep -c '^[0-9a-f]\{8\}' "$T/list")" -eq 1 ] || { cat "$T/list"; fail "the interrupted snapshot is listed"; }

step "kill -9 mid-snapshot (after its first pack is stored), then verify and snapshot again"
signalled_snapshot 9 "$T/kill.out"
[ $st -eq 137 ] || { cat "$T/kill.out"; fail "the snapshot was not killed mid-way (exit $st)"; }
[ "$(npacks)" -gt "$before" ] || fail "no pack stored before the kill"
arca list tree > "$T/list"
[ "$(grep -c '^[0-9a-f]\{8\}' "$T/list")" -eq 1 ] || { cat "$T/list"; fail "the killed snapshot is listed"; }
arca unlock s3 >/dev/null 2>&1 || true
arca verify tree --read-data
arca snapshot tree
arca restore tree --into "$T/out3"
tree_manifest "$T/src" > "$T/want"
tree_manifest "$T/out3" > "$T/got"
diff "$T/want" "$T/got" || fail "restored tree differs after the killed snapshot"
pass
