# tests/lib/bench_run.sh — sourced by benchmarks after common.sh: run a
# command timed, and read back its seconds and peak RSS.

# run NAME CMD...: run, record "seconds peak-RSS-KiB" in $T/m/NAME, and
# the CPU seconds process SERVER_PID (when set: the server all tools talk
# to) spent meanwhile in $T/m/NAME.srv
mkdir -p "$T/m"
server_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0; }
# Each command starts with no dirty pages of an earlier one (sync, untimed):
# their writeback would otherwise land on the next command's time, and a
# tool that fsyncs (arca does) waits behind it in the disk's queue.
run() {
	name=$1; shift
	sync
	[ -z "${SERVER_PID:-}" ] || t0=$(server_ticks)
	/usr/bin/time -f '%e %M' -o "$T/m/$name" "$@" > "$T/m/$name.out" 2>&1 ||
		{ tail -20 "$T/m/$name.out" >&2; fail "$name: $*"; }
	[ -z "${SERVER_PID:-}" ] ||
		awk -v a="$t0" -v b="$(server_ticks)" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.2f", (b - a) / hz }' > "$T/m/$name.srv"
}
# cold: drop the page cache (as root; else nothing), so that the next
# command reads its repository from disk, as a restore days after the backup
# does. arca's dir destination drops its packs from the cache once written
# (drop_cache = yes) and restic and borg keep theirs: a restore right after
# the backup would otherwise compare disk reads with memory reads.
cold() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
secs() { cut -d' ' -f1 "$T/m/$1"; }
# srv NAME: the server's CPU seconds during NAME
srv() { cat "$T/m/$1.srv" 2>/dev/null || echo -; }
rss() { awk '{ printf "%.0f", $2 / 1024 }' "$T/m/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
