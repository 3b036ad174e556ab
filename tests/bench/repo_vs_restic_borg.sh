#!/bin/sh
# tests/bench/repo_vs_restic_borg.sh — arca's repository against restic and
# borg (Debian packages) on the same data and machine, in one run: a media
# tree (../shared/datasets/vectis-media.sh) and a `pg_dump -Fc -Z0` file of
# the Vectis-like database. For each tool: first snapshot, unchanged re-run,
# restore, repository size and peak RSS; then arca's ratios against restic
# with the issue's targets. Not part of `make check`.
#
#   tests/bench/repo_vs_restic_borg.sh BUILDDIR   (a configured and built tree)
#
# Environment: BENCH_MEDIA_MIB (default 1024), BENCH_MEDIA_DIR (reuse a
# generated tree), BENCH_SCALE (vectis-like.sql scale, default 1; 0 skips
# the dump), BENCH_DUMP_FILE (reuse a dump), BENCH_DATASETS (the directory
# holding vectis-media.sh and vectis-like.sql). Every tool's snapshots
# run on a warm page cache (the data is read once before each tool), with
# its default settings except compression where the tool has none by
# default (borg: zstd,3 like arca and restic). Restores start cold: the page
# cache is dropped before each (bench_run.sh: cold), as it is when a restore
# comes days after the backup.
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
DATASETS=${BENCH_DATASETS:-$ARCA_SRCDIR/../shared/datasets}
[ -r "$DATASETS/vectis-like.sql" ] || DATASETS=$ARCA_SRCDIR/tests/data   # the copies shipped in the tree
MEDIA_MIB=${BENCH_MEDIA_MIB:-1024}
SCALE=${BENCH_SCALE:-1}
command -v restic >/dev/null || skip "restic not installed"
command -v borg >/dev/null || skip "borg not installed"
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) is needed for peak RSS"

export RESTIC_PASSWORD=$ARCA_PASSPHRASE RESTIC_CACHE_DIR=$T/restic-cache
export BORG_PASSPHRASE=$ARCA_PASSPHRASE BORG_BASE_DIR=$T/borg-base
MISSED=0

. "$(dirname "$0")/../lib/bench_run.sh"   # run, secs, rss, ratio, cold
mibs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? b / 1048576 / s : 0) }'; }
size_of() { du -sb "$1" | cut -f1; }
verdict() { # verdict NAME VALUE OP LIMIT
	if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !(op == "<=" ? v <= l : v >= l) }'; then
		printf '  %-52s %7s  (want %s %s)  ok\n' "$1" "$2" "$3" "$4"
	else
		printf '  %-52s %7s  (want %s %s)  MISSED\n' "$1" "$2" "$3" "$4"
		MISSED=$((MISSED + 1))
	fi
}

# warm: the data set read once, into the page cache
warm() { cat "$data"/* "$data"/*/* > /dev/null 2>&1 || true; }

# bench LABEL DIR: the three tools on one data set
bench() {
	label=$1 data=$2
	bytes=$(size_of "$data")
	warm   # the page cache, for all (again before each tool: a restore drops it)

	step "$label: arca"
	write_engine_config
	cat >> "$ARCA_CONFIG" <<EOC

[target bench]
driver = files
destinations = local
path = $data
EOC
	rm -rf "$T/repo" "$T/state" "$T/out-arca" && mkdir -p "$T/repo" "$T/state"
	arca init > /dev/null || fail "arca init"
	run "$label-arca-first" "$ARCA" snapshot bench
	run "$label-arca-rerun" "$ARCA" snapshot bench
	cold
	run "$label-arca-restore" "$ARCA" restore bench --into "$T/out-arca"
	arca_size=$(size_of "$T/repo")
	diff -r "$data" "$T/out-arca" > /dev/null || fail "$label: arca restored tree differs"
	rm -rf "$T/out-arca"

	step "$label: restic"
	rm -rf "$T/restic" "$T/out-restic" "$RESTIC_CACHE_DIR"
	restic init -q -r "$T/restic" || fail "restic init"
	warm
	run "$label-restic-first" restic -q -r "$T/restic" backup "$data"
	run "$label-restic-rerun" restic -q -r "$T/restic" backup "$data"
	cold
	run "$label-restic-restore" restic -q -r "$T/restic" restore latest --target "$T/out-restic"
	restic_size=$(size_of "$T/restic")
	rm -rf "$T/out-restic"

	step "$label: borg"
	rm -rf "$T/borg" "$T/out-borg" "$BORG_BASE_DIR"
	borg init -e repokey-blake2 "$T/borg" > /dev/null 2>&1 || fail "borg init"
	warm
	run "$label-borg-first" borg create --compression zstd,3 "$T/borg::first" "$data"
	run "$label-borg-rerun" borg create --compression zstd,3 "$T/borg::second" "$data"
	mkdir -p "$T/out-borg"
	cold
	run "$label-borg-restore" sh -c "cd '$T/out-borg' && borg extract '$T/borg::second'"
	borg_size=$(size_of "$T/borg")
	rm -rf "$T/out-borg"

	echo
	echo "== $label: $(awk -v b="$bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }') =="
	printf '  %-7s %9s %7s %9s %10s %7s %10s %8s %8s %8s\n' tool "first s" "MiB/s" "rerun s" \
		"restore s" "MiB/s" "repo MiB" "RSS1 MiB" "RSS2 MiB" "RSS3 MiB"
	for tool in arca restic borg; do
		eval "sz=\$${tool}_size"
		printf '  %-7s %9s %7s %9s %10s %7s %10s %8s %8s %8s\n' "$tool" \
			"$(secs "$label-$tool-first")" "$(mibs "$bytes" "$(secs "$label-$tool-first")")" \
			"$(secs "$label-$tool-rerun")" "$(secs "$label-$tool-restore")" \
			"$(mibs "$bytes" "$(secs "$label-$tool-restore")")" \
			"$(awk -v b="$sz" 'BEGIN { printf "%.1f", b / 1048576 }')" \
			"$(rss "$label-$tool-first")" "$(rss "$label-$tool-rerun")" \
			"$(rss "$label-$tool-restore")"
	done
	echo "  ratios against restic (throughput: higher is better for arca):"
	verdict "$label first snapshot throughput arca/restic" \
		"$(ratio "$(secs "$label-restic-first")" "$(secs "$label-arca-first")")" ">=" 1.5
	if [ "$label" = media ]; then
		verdict "$label unchanged re-run speed arca/restic" \
			"$(ratio "$(secs "$label-restic-rerun")" "$(secs "$label-arca-rerun")")" ">=" 1
	fi
	verdict "$label restore throughput arca/restic" \
		"$(ratio "$(secs "$label-restic-restore")" "$(secs "$label-arca-restore")")" ">=" 1.5
	verdict "$label repository size arca/restic" "$(ratio "$arca_size" "$restic_size")" "<=" 1
	echo "  against borg (for information):"
	printf '  %-52s %7s\n' "$label first snapshot throughput arca/borg" \
		"$(ratio "$(secs "$label-borg-first")" "$(secs "$label-arca-first")")"
	printf '  %-52s %7s\n' "$label restore throughput arca/borg" \
		"$(ratio "$(secs "$label-borg-restore")" "$(secs "$label-arca-restore")")"
	printf '  %-52s %7s\n' "$label repository size arca/borg" "$(ratio "$arca_size" "$borg_size")"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
	"$(restic version | cut -d' ' -f1-2), $(borg --version)"

step "media tree"
if [ -n "${BENCH_MEDIA_DIR:-}" ]; then
	MEDIA=$BENCH_MEDIA_DIR
else
	MEDIA=$T/media
	sh "$DATASETS/vectis-media.sh" "$MEDIA" "$MEDIA_MIB" > /dev/null || fail "vectis-media.sh"
fi
bench media "$MEDIA"

if [ -n "${BENCH_DUMP_FILE:-}" ]; then
	mkdir -p "$T/dump" && cp "$BENCH_DUMP_FILE" "$T/dump/vectis.dump"
elif [ "$SCALE" != 0 ]; then
	step "pg_dump -Fc -Z0 of vectis-like.sql (scale $SCALE)"
	PG_DATASET=$DATASETS/vectis-like.sql
	. "$(dirname "$0")/../lib/pg.sh"
	pg_require
	pg_start bench "shared_buffers = 256MB" "max_wal_size = 4GB"
	as_pg "$PG_BIN/createdb" -h "$PG_HOME" -p "$PG_PORT" -U postgres vectis ||
		fail "createdb"
	pg_sql_file "$PG_PORT" vectis "$PG_DATASET" -v scale="$SCALE" > /dev/null ||
		fail "loading vectis-like.sql"
	mkdir -p "$T/dump" && [ "$(id -u)" = 0 ] && chown postgres: "$T/dump"
	as_pg "$PG_BIN/pg_dump" -h "$PG_HOME" -p "$PG_PORT" -U postgres -Fc -Z0 \
		-f "$T/dump/vectis.dump" vectis || fail "pg_dump"
	pg_stop "$PG_DATA"
fi
[ -f "$T/dump/vectis.dump" ] && bench dump "$T/dump"

echo
if [ "$MISSED" -gt 0 ]; then
	echo "$MISSED target(s) missed"
	exit 1
fi
pass "every target met"
