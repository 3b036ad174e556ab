#!/bin/sh
# tests/bench/small_files.sh — many small files: the files driver with
# parallel items (jobs = N worker threads sending files by handle, ABI 1.1)
# against the files driver one file at a time (jobs = 1: the 1.0 item calls,
# the path before parallel items) and against restic, on the same data in
# one run. The tree (tests/lib/small_files.py) holds BENCH_FILES files of
# 1-16 KiB, the same bytes, modes and mtimes for the same count. For each:
# first snapshot, unchanged re-run, restore into a new directory (arca:
# --jobs N, resp. 1), peak RSS; every restore is compared with the source
# (arca's field for field: content, mode, mtime, owner). Not part of
# `make check`.
#
#   tests/bench/small_files.sh BUILDDIR   (a configured and built tree)
#
# Environment: BENCH_FILES (default 200000), BENCH_JOBS (default 4: the
# files driver's default jobs), BENCH_DIR (reuse a generated tree). Every
# tool's snapshot runs on a warm page cache and its restore on a cold one
# (bench_run.sh: cold), each into a fresh repository, restic with its
# default settings.
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
FILES=${BENCH_FILES:-200000}
JOBS=${BENCH_JOBS:-4}
command -v restic >/dev/null || skip "restic not installed"
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) is needed for peak RSS"
export RESTIC_PASSWORD=$ARCA_PASSPHRASE RESTIC_CACHE_DIR=$T/restic-cache

. "$(dirname "$0")/../lib/bench_run.sh"   # run, secs, rss, ratio
per_s() { awk -v n="$FILES" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
	"$(restic version | cut -d' ' -f1-2)"

if [ -n "${BENCH_DIR:-}" ]; then
	DATA=$BENCH_DIR
else
	step "generating $FILES files of 1-16 KiB"
	DATA=$T/data
	python3 "$ARCA_SRCDIR/tests/lib/small_files.py" "$DATA" "$FILES" 1 || fail "small_files.py"
fi
BYTES=$(du -sb --apparent-size "$DATA" | cut -f1)
# warm: the tree read once, into the page cache (again before each tool's
# snapshot: a restore before it drops the cache)
warm() { find "$DATA" -type f -print0 | xargs -0 cat > /dev/null; }
tree_manifest "$DATA" --owner > "$T/src.manifest"   # also warms the page cache

# arca LABEL JOBS: a fresh repository, snapshot, re-run, restore --jobs JOBS
arca_run() {
	label=$1 jobs=$2
	step "arca, jobs = $jobs"
	rm -rf "$T/repo" "$T/state" "$T/out"
	write_engine_config
	files_target bench "$DATA" "jobs = $jobs"
	arca init > /dev/null || fail "arca init"
	warm
	run "$label-first" "$ARCA" snapshot bench
	run "$label-rerun" "$ARCA" snapshot bench
	cold
	run "$label-restore" "$ARCA" restore bench --into "$T/out" --jobs "$jobs"
	tree_manifest "$T/out" --owner | diff -q "$T/src.manifest" - > /dev/null ||
		fail "$label: the restored tree differs from the source"
	rm -rf "$T/out" "$T/repo"
}
arca_run par "$JOBS"
arca_run seq 1

step "restic"
rm -rf "$T/restic" "$T/out" "$RESTIC_CACHE_DIR"
restic init -q -r "$T/restic" || fail "restic init"
warm
run restic-first restic -q -r "$T/restic" backup "$DATA"
run restic-rerun restic -q -r "$T/restic" backup "$DATA"
cold
run restic-restore restic -q -r "$T/restic" restore latest --target "$T/out"
diff -rq "$DATA" "$T/out$DATA" > /dev/null || fail "restic: the restored tree differs"
rm -rf "$T/out" "$T/restic"

echo
echo "== $FILES files, $(awk -v b="$BYTES" 'BEGIN { printf "%.1f MiB", b / 1048576 }') =="
printf '  %-16s %9s %8s %9s %10s %8s %8s %8s %8s\n' tool "first s" "files/s" "rerun s" \
	"restore s" "files/s" "RSS1 MiB" "RSS2 MiB" "RSS3 MiB"
for t in par seq restic; do
	case $t in
	par) name="arca jobs=$JOBS" ;;
	seq) name="arca jobs=1" ;;
	*) name=restic ;;
	esac
	printf '  %-16s %9s %8s %9s %10s %8s %8s %8s %8s\n' "$name" \
		"$(secs "$t-first")" "$(per_s "$(secs "$t-first")")" "$(secs "$t-rerun")" \
		"$(secs "$t-restore")" "$(per_s "$(secs "$t-restore")")" \
		"$(rss "$t-first")" "$(rss "$t-rerun")" "$(rss "$t-restore")"
done
echo "  speed ratios (time of the other / time of arca jobs=$JOBS: above 1, arca jobs=$JOBS is faster):"
for op in first rerun restore; do
	printf '  %-40s %6s\n' "$op: vs arca jobs=1 (before)" \
		"$(ratio "$(secs "seq-$op")" "$(secs "par-$op")")"
	printf '  %-40s %6s\n' "$op: vs restic" "$(ratio "$(secs "restic-$op")" "$(secs "par-$op")")"
done
pass
