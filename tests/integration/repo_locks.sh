#!/bin/sh
# Locks: prune (exclusive) is refused while another process holds a lock;
# a snapshot (shared) runs beside another shared lock; `arca unlock` removes
# only stale locks (its process gone, on this host); two snapshots run into
# one repository at the same time and both land.
. "$ARCA_SRCDIR/tests/lib/common.sh"

write_engine_config
for t in one two; do
	mkdir -p "$T/$t"
	head -c 5000000 /dev/urandom > "$T/$t/data"
	echo "$t" > "$T/$t/name"
	files_target $t "$T/$t"
done
arca init > /dev/null || fail "init"
host=$(python3 -c 'import socket; print(socket.gethostname())')

# write_lock PID EXCLUSIVE: a lock object as another arca would write it
write_lock() {
	mkdir -p "$T/repo/locks"
	name=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '{"exclusive":%s,"host":"%s","pid":%s,"time":%s}' "$2" "$host" "$1" \
		"$(date +%s)" > "$T/repo/locks/$name"
	echo "$T/repo/locks/$name"
}

step "a live shared lock: snapshots run, prune and forget are refused"
sleep 300 & holder=$!
on_exit "kill $holder"
lock=$(write_lock $holder false)
arca snapshot one > /dev/null || fail "snapshot beside a shared lock"
expect_fail 13 "$ARCA" prune
expect_stderr "locked \(shared\) by $host pid $holder"
expect_stderr "arca unlock"
arca unlock > "$T/unlock.out" || fail "unlock"
[ -e "$lock" ] || fail "unlock removed a live lock"

step "a live exclusive lock blocks snapshots too"
rm -f "$lock"
lock=$(write_lock $holder true)
expect_fail 13 "$ARCA" snapshot one
expect_stderr "locked \(exclusive\)"

step "the holder dies: its lock is stale at once"
kill $holder; wait $holder 2> /dev/null || true
arca snapshot one > /dev/null || fail "snapshot beside a dead process's lock"
arca unlock > "$T/unlock.out" || fail "unlock"
grep -q "1 stale lock" "$T/unlock.out" || { cat "$T/unlock.out" >&2; fail "stale lock not removed"; }
[ ! -e "$lock" ] || fail "stale lock still there"
arca prune > /dev/null || fail "prune without other locks"
[ -z "$(ls "$T/repo/locks")" ] || fail "locks left behind: $(ls "$T/repo/locks")"

step "two snapshots into one repository at once"
for i in 1 2 3; do
	head -c 3000000 /dev/urandom > "$T/one/data$i"
	head -c 3000000 /dev/urandom > "$T/two/data$i"
	arca snapshot one > "$T/s1.out" 2>&1 & p1=$!
	arca snapshot two > "$T/s2.out" 2>&1 & p2=$!
	wait $p1 || { cat "$T/s1.out" >&2; fail "concurrent snapshot one"; }
	wait $p2 || { cat "$T/s2.out" >&2; fail "concurrent snapshot two"; }
done
arca list --json > "$T/list.json" || fail "list"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/list.json")
[ "$n" -eq 8 ] || fail "expected 8 snapshots, got $n"
arca verify --read-data > /dev/null || fail "verify after concurrent snapshots"
arca restore two --into "$T/restored" > /dev/null || fail "restore"
cmp "$T/two/data3" "$T/restored/data3" || fail "restored data differs"
pass
