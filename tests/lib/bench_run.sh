# tests/lib/bench_run.sh — sourced by benchmarks after common.sh: run a
# command timed, and read back its seconds and peak RSS.

# run NAME CMD...: run, record "seconds peak-RSS-KiB" in $T/m/NAME
mkdir -p "$T/m"
run() {
	name=$1; shift
	/usr/bin/time -f '%e %M' -o "$T/m/$name" "$@" > "$T/m/$name.out" 2>&1 ||
		{ tail -20 "$T/m/$name.out" >&2; fail "$name: $*"; }
}
secs() { cut -d' ' -f1 "$T/m/$1"; }
rss() { awk '{ printf "%.0f", $2 / 1024 }' "$T/m/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
