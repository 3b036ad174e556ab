#!/bin/sh
# Locks: prune (exclusive) is refused while another process holds a lock;
# a snapshot (shared) runs beside another shared lock; `arca unlock` removes
# only stale locks (its process gone, on this host); objects in locks/ that
# are no valid lock (garbage, absurd fields, oversized) block locking until
# `arca unlock` removes them, and are never read whole; two snapshots run
# into one repository at the same time and both land.
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
repo_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/repo/config")

# write_lock PID EXCLUSIVE: a lock object as another arca would write it
write_lock() {
	mkdir -p "$T/repo/locks"
	name=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '{"exclusive":%s,"host":"%s","pid":%s,"repository":"%s","time":%s}' "$2" "$host" \
		"$1" "$repo_id" "$(date +%s)" > "$T/repo/locks/$name"
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

step "--lock-wait waits for the lock, then gives up with exit 13"
start=$(date +%s)
expect_fail 13 "$ARCA" --lock-wait 7s prune
took=$(( $(date +%s) - start ))
[ "$took" -ge 6 ] && [ "$took" -le 30 ] || fail "--lock-wait 7s took ${took}s"
expect_stderr "locked \(shared\)"
( sleep 3; rm -f "$lock" ) &
arca --lock-wait 60s prune > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "prune did not wait for the lock to go"; }
grep -q "waiting up to 60s" "$T/err" || { cat "$T/err" >&2; fail "--lock-wait said nothing"; }
expect_fail 2 "$ARCA" --lock-wait soon prune
lock=$(write_lock $holder false)

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

# plant_lock TEXT: an object in locks/ as anyone who can write to the
# storage could leave it
plant_lock() {
	name=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s' "$1" > "$T/repo/locks/$name"
	echo "$T/repo/locks/$name"
}
# no_ubsan: the last expect_fail met no undefined behaviour
no_ubsan() { ! grep -q "runtime error" "$T/err" || { cat "$T/err" >&2; fail "UBSan: $*"; }; }

step "a garbage lock blocks prune (exit 13) until arca unlock removes it"
bad=$(plant_lock 'not a lock at all')
bad_name=locks/$(basename "$bad")
expect_fail 13 "$ARCA" prune
expect_stderr "locked by $bad_name, which is not a valid lock \(it is not valid JSON\)"
expect_stderr "arca unlock removes it"
expect_stderr "warning.*$bad_name is not a valid lock"
[ -e "$bad" ] || fail "prune removed the lock it refused to run beside"
arca unlock > "$T/unlock.out" || fail "unlock"
grep -q "removed $bad_name, which is not a valid lock (it is not valid JSON)" "$T/unlock.out" ||
	{ cat "$T/unlock.out" >&2; fail "unlock did not say it removed the garbage lock"; }
grep -q "1 invalid lock" "$T/unlock.out" || { cat "$T/unlock.out" >&2; fail "unlock count"; }
[ ! -e "$bad" ] || fail "unlock left the garbage lock"
arca prune > /dev/null || fail "prune after unlock"

step "absurd lock fields (time 2^63-1, huge or negative pid) overflow nothing"
now=$(date +%s)
for fields in "\"pid\":1,\"time\":9223372036854775807" \
	"\"pid\":9223372036854775807,\"time\":$now" \
	"\"pid\":4294967297,\"time\":$now" \
	"\"pid\":-1,\"time\":$now"; do
	lock=$(plant_lock "{\"exclusive\":false,\"host\":\"$host\",$fields,\"repository\":\"$repo_id\"}")
	expect_fail 13 "$ARCA" snapshot one
	no_ubsan "$fields"
	expect_stderr "locked by locks/$(basename "$lock"), which is not a valid lock"
	expect_stderr "more than a day in the future|not a process id"
	arca unlock > "$T/unlock.out" 2> "$T/err" || { cat "$T/err" >&2; fail "unlock"; }
	no_ubsan "unlock of $fields"
	grep -q "1 invalid lock" "$T/unlock.out" || { cat "$T/unlock.out" >&2; fail "unlock $fields"; }
	[ ! -e "$lock" ] || fail "unlock left the lock with $fields"
done

step "a 100 MB lock object is refused by its size, never read whole"
# run_rss CMD...: run CMD with output in $T/out and $T/err; print its exit
# status and peak resident memory in KiB
run_rss() {
	python3 - "$T/out" "$T/err" "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    rc = subprocess.call(sys.argv[3:], stdout=out, stderr=err)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
small=$(plant_lock 'garbage')
set -- $(run_rss "$ARCA" prune)
[ "$1" -eq 13 ] || { cat "$T/err" >&2; fail "prune beside a garbage lock: exit $1"; }
base_kb=$2
rm -f "$small"
big=$(plant_lock '')
truncate -s 100M "$big"
set -- $(run_rss "$ARCA" prune)
[ "$1" -eq 13 ] || { cat "$T/err" >&2; fail "prune beside a 100 MB lock: exit $1"; }
expect_stderr "104857600 bytes, more than a lock's 4096"
echo "rss: base $base_kb big $2"
[ "$2" -lt 204800 ] && [ "$2" -lt $((base_kb + 51200)) ] ||
	fail "prune beside a 100 MB lock peaked at $2 KiB (beside a small one: $base_kb KiB)"
arca unlock > "$T/unlock.out" || fail "unlock"
[ ! -e "$big" ] || fail "unlock left the 100 MB lock"

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
