#!/bin/sh
# Crash safety: kill -9 at random moments of snapshots and of prunes. After
# each kill the repository verifies with --read-data, the interrupted
# snapshot is not listed (or is listed whole), and the next snapshot
# succeeds and restores.
#
# Every child's exit status is classified: killed by this test (SIGKILL
# after we sent it), finished on its own with 0, or anything else (a
# failure of its own, a sanitizer report): the test fails. Each kind must
# have been killed while running at least REPO_CRASH_MIN_KILLS times
# (default half the rounds). Prunes are asserted to have packs to repack
# when they are killed, and an unkilled calibration prune to repack some.
#
# REPO_CRASH_ROUNDS (default 6) rounds of each kind. The random delays are
# printed ("round N: ... delay D s"); to replay a failing run give them back:
#   REPO_CRASH_SNAP_DELAYS="0.120 0.431" REPO_CRASH_PRUNE_DELAYS="0.050" ...
# (missing values are drawn at random).
. "$ARCA_SRCDIR/tests/lib/common.sh"

ROUNDS=${REPO_CRASH_ROUNDS:-6}
MIN_KILLS=${REPO_CRASH_MIN_KILLS:-$(( (ROUNDS + 1) / 2 ))}
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
now_ms() { echo $(($(date +%s%N) / 1000000)); }
count() { arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

new_data 0
arca init > /dev/null || fail "init"
t0=$(now_ms)
arca snapshot tree > /dev/null || fail "first snapshot"
# The window kills are drawn from: as long as an unkilled run took. A run
# that finishes before its kill shrinks it for the rounds that follow.
snap_window=$(($(now_ms) - t0))
echo "an unkilled snapshot took $snap_window ms"

# A random delay of 0.000..MAX ms, as an argument for sleep; the Nth word
# of REPLAY instead when there is one.
rand_delay() { # rand_delay MAX N REPLAY
	given=$(echo "$3" | awk -v n="$2" '{print $n}')
	if [ -n "$given" ]; then echo "$given"; return; fi
	echo "$(od -An -N2 -tu2 /dev/urandom | tr -d ' ') $1" | awk '{printf "%.3f", ($1 % ($2 + 1)) / 1000}'
}

# shrink DELAY: the next window (ms) after a run finished within DELAY s
shrink() { awk -v d="$1" 'BEGIN {w = d * 1000 * 0.8; printf "%d", w < 20 ? 20 : w}'; }

# run_and_kill WHAT DELAY CMD...: run CMD in the background, SIGKILL it
# after DELAY seconds, and classify its end: sets outcome to "killed" (it
# died of our SIGKILL) or "done" (it had finished with status 0); any other
# status fails the test with the child's output.
run_and_kill() {
	rk_what=$1 rk_delay=$2; shift 2
	"$@" > "$T/child.out" 2> "$T/child.err" & rk_pid=$!
	sleep "$rk_delay"
	# The child is not reaped before `wait`, so $rk_pid is still ours; a
	# SIGKILL sent to a child that has already exited changes nothing.
	rk_sent=0
	kill -9 "$rk_pid" 2> /dev/null && rk_sent=1
	set +e
	wait "$rk_pid"
	rk_status=$?
	set -e
	case "$rk_status" in
	0) outcome=done ;;
	137)
		[ "$rk_sent" = 1 ] || fail "$rk_what: died of a SIGKILL this test did not send"
		outcome=killed ;;
	*)
		cat "$T/child.out" "$T/child.err" >&2
		fail "$rk_what: exited with status $rk_status on its own (delay $rk_delay s; not killed by the test)" ;;
	esac
	echo "$rk_what: delay $rk_delay s: $outcome"
}

# check_after WHAT: verify, snapshot again (one more listed), restore
check_after() {
	arca verify --read-data > "$T/verify.out" 2>&1 ||
		{ cat "$T/verify.out" >&2; fail "$1: verify --read-data after kill -9"; }
	before=$(count)
	arca snapshot tree > "$T/snap.out" 2>&1 || { cat "$T/snap.out" >&2; fail "$1: snapshot after kill"; }
	after=$(count)
	[ "$after" -eq $((before + 1)) ] || fail "$1: $before snapshots before, $after after"
	rm -rf "$T/restored"
	arca restore tree --into "$T/restored" > "$T/restore.out" 2>&1 ||
		{ cat "$T/restore.out" >&2; fail "$1: restore"; }
	diff -r "$SRC" "$T/restored" > /dev/null || fail "$1: restored tree differs"
}

killed_snap=0
for r in $(seq 1 "$ROUNDS"); do
	new_data "$r"
	n_before=$(count)
	delay=$(rand_delay "$snap_window" "$r" "${REPO_CRASH_SNAP_DELAYS:-}")
	run_and_kill "snapshot round $r" "$delay" "$ARCA" snapshot tree
	n_after=$(count)
	if [ "$outcome" = killed ]; then
		killed_snap=$((killed_snap + 1))
		# Killed before its manifest landed: not listed; after: listed whole
		# (verify --read-data in check_after reads every listed snapshot).
		[ "$n_after" -eq "$n_before" ] || [ "$n_after" -eq $((n_before + 1)) ] ||
			fail "snapshot round $r: $n_before snapshots before, $n_after after the kill"
	else
		[ "$n_after" -eq $((n_before + 1)) ] ||
			fail "snapshot round $r: finished with 0 but $n_before snapshots before, $n_after after"
		snap_window=$(shrink "$delay")
	fi
	check_after "snapshot round $r"
done

# prune_setup NAME: new data, a snapshot and forget (retention last=1), so
# the next prune deletes packs and repacks the partly used ones.
prune_setup() {
	new_data "$1"
	arca snapshot tree > /dev/null || fail "prune round $1: snapshot"
	arca forget tree > /dev/null || fail "prune round $1: forget"
	arca --json prune --dry-run --repack-threshold 5 > "$T/dry.json" || fail "prune round $1: prune --dry-run"
	repack=$(python3 -c 'import json,sys; d = json.load(open(sys.argv[1]))[0]; print(d["packs_repacked"])' "$T/dry.json")
	[ "$repack" -ge 1 ] || { cat "$T/dry.json" >&2; fail "prune round $1: the prune would repack nothing"; }
}

step "calibration: an unkilled prune repacks"
prune_setup p0
t0=$(now_ms)
arca --json prune --repack-threshold 5 > "$T/prune.json" || fail "calibration prune"
prune_window=$(($(now_ms) - t0))
python3 - "$T/prune.json" <<'PY' || fail "the calibration prune did not repack and free"
import json, sys
d = json.load(open(sys.argv[1]))[0]
assert d["packs_repacked"] >= 1 and d["packs_deleted"] >= 1 and d["bytes_freed"] > 0, d
PY
echo "an unkilled prune took $prune_window ms"
check_after "calibration prune"

killed_prune=0
for r in $(seq 1 "$ROUNDS"); do
	prune_setup "p$r"
	delay=$(rand_delay "$prune_window" "$r" "${REPO_CRASH_PRUNE_DELAYS:-}")
	run_and_kill "prune round $r" "$delay" "$ARCA" prune --repack-threshold 5
	if [ "$outcome" = killed ]; then
		killed_prune=$((killed_prune + 1))
	else
		prune_window=$(shrink "$delay")
	fi
	check_after "prune round $r"
done
arca forget tree > /dev/null && arca prune > /dev/null || fail "final prune"
# what the killed writers left mid-put: prune removes it (their processes are gone)
left=$(find "$T/repo" -name '.tmp.*')
[ -z "$left" ] || fail "temporary files of killed writers are left after prune: $left"
arca verify --read-data > /dev/null || fail "final verify"
echo "killed $killed_snap snapshots and $killed_prune prunes while running"
[ "$killed_snap" -ge "$MIN_KILLS" ] ||
	fail "only $killed_snap of $ROUNDS snapshots were killed while running (at least $MIN_KILLS needed)"
[ "$killed_prune" -ge "$MIN_KILLS" ] ||
	fail "only $killed_prune of $ROUNDS prunes were killed while running (at least $MIN_KILLS needed)"
pass "$killed_snap snapshots and $killed_prune prunes killed"
