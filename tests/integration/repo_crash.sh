#!/bin/sh
# Crash safety: kill -9 at random moments of snapshots and of prunes. After
# each kill the repository verifies with --read-data, the interrupted
# snapshot is not listed, and the next snapshot succeeds and restores.
# REPO_CRASH_ROUNDS (default 6) kills of each kind.
. "$ARCA_SRCDIR/tests/lib/common.sh"

ROUNDS=${REPO_CRASH_ROUNDS:-6}
SRC=$T/src
write_engine_config
cat >> "$ARCA_CONFIG" <<EOC
pack_size = 4M

[target tree]
driver = files
destinations = local
path = $SRC
retention = last=1
EOC
mkdir -p "$SRC"
prev=
new_data() { # new_data ROUND: replace the previous round's big files
	[ -z "$prev" ] || rm -f "$SRC"/r"$prev"-*
	for i in 1 2 3 4; do head -c 12000000 /dev/urandom > "$SRC/r$1-f$i"; done
	for i in $(seq 1 20); do echo "small $1 $i" > "$SRC/small-$1-$i"; done
	prev=$1
}
new_data 0
arca init > /dev/null || fail "init"
arca snapshot tree > /dev/null || fail "first snapshot"

# A random delay of 0.000..MAX seconds (MAX in ms), as an argument for sleep.
rand_delay() { echo "$(od -An -N2 -tu2 /dev/urandom | tr -d ' ') $1" | awk '{printf "%.3f", ($1 % $2) / 1000}'; }
# kill_at DELAY PID: kill -9 PID after DELAY if it still runs; 0 if killed
kill_at() {
	sleep "$1"
	kill -0 "$2" 2> /dev/null && kill -9 "$2" 2> /dev/null
}

# check_after WHAT: verify, count listed snapshots, snapshot again, restore
check_after() {
	arca verify --read-data > "$T/verify.out" 2>&1 ||
		{ cat "$T/verify.out" >&2; fail "$1: verify --read-data after kill -9"; }
	before=$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	arca snapshot tree > "$T/snap.out" 2>&1 || { cat "$T/snap.out" >&2; fail "$1: snapshot after kill"; }
	after=$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$after" -eq $((before + 1)) ] || fail "$1: $before snapshots before, $after after"
	rm -rf "$T/restored"
	arca restore tree --into "$T/restored" > "$T/restore.out" 2>&1 ||
		{ cat "$T/restore.out" >&2; fail "$1: restore"; }
	diff -r "$SRC" "$T/restored" > /dev/null || fail "$1: restored tree differs"
}

killed_snap=0
for r in $(seq 1 "$ROUNDS"); do
	new_data "$r"
	n_before=$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	delay=$(rand_delay 500)
	"$ARCA" snapshot tree > /dev/null 2>&1 & pid=$!
	if kill_at "$delay" $pid; then killed_snap=$((killed_snap + 1)); fi
	wait $pid 2> /dev/null || true
	n_after=$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	# Killed before its manifest landed: not listed; after: listed whole.
	[ "$n_after" -ge "$n_before" ] && [ "$n_after" -le $((n_before + 1)) ] ||
		fail "snapshot round $r: $n_before snapshots before, $n_after after"
	check_after "snapshot round $r"
done

killed_prune=0
for r in $(seq 1 "$ROUNDS"); do
	new_data "p$r"
	arca snapshot tree > /dev/null || fail "prune round $r: snapshot"
	arca forget tree > /dev/null || fail "prune round $r: forget"
	delay=$(rand_delay 400)
	"$ARCA" prune --repack-threshold 5 > /dev/null 2>&1 & pid=$!
	if kill_at "$delay" $pid; then killed_prune=$((killed_prune + 1)); fi
	wait $pid 2> /dev/null || true
	check_after "prune round $r"
done
arca forget tree > /dev/null && arca prune > /dev/null || fail "final prune"
arca verify --read-data > /dev/null || fail "final verify"
echo "killed $killed_snap snapshots and $killed_prune prunes while running"
[ $((killed_snap + killed_prune)) -gt 0 ] || fail "no process was killed while running (too fast?)"
pass "$killed_snap snapshots and $killed_prune prunes killed"

