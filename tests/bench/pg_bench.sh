#!/bin/sh
# tests/bench/pg_bench.sh — the postgres driver against the platform's own
# recipe (pg_dump -Fc) and pgBackRest, on the same data and machine, in one
# run; prints each figure and its ratio. Not part of `make check`.
#
#   tests/bench/pg_bench.sh BUILDDIR        (a configured and built tree)
#
# Environment: BENCH_SCALE (vectis-like.sql scale, default 1), BENCH_PGBENCH
# (pgbench -i scale, default 50), BENCH_WAL (segments for wal-push, default
# 200), BENCH_REPEAT (runs of the logical snapshot and restore comparisons,
# default 3: each pair runs interleaved and the medians are compared, since
# one run on a shared 2-core machine moves by 10-20%).
# Needs PostgreSQL 15, pgbackrest; runs as root (servers as postgres).
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require
SCALE=${BENCH_SCALE:-1}
PGBENCH_SCALE=${BENCH_PGBENCH:-50}
NWAL=${BENCH_WAL:-200}
REPEAT=${BENCH_REPEAT:-3}
command -v pgbackrest >/dev/null || skip "pgbackrest not installed"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f MiB", a / 1048576 }'; }
repo_bytes() { du -sb "${1:-$T/repo}" | cut -f1; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Timed steps start with the archiver caught up: archive_command (both
# tools' wal-push) would otherwise compete for the two cores.
# And with nothing dirty left to write back: a checkpoint, then sync.
quiesce() {
	pg_sql $APP postgres "CHECKPOINT" >/dev/null
	PG_ARCHIVE_WAIT=600 pg_switch_wait $APP >/dev/null
	sync
}
verdict() { # verdict NAME VALUE OP LIMIT
	if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !(op == "<=" ? v <= l : v >= l) }'; then
		printf '  %-58s %8s  (want %s %s)  ok\n' "$1" "$2" "$3" "$4"
	else
		printf '  %-58s %8s  (want %s %s)  MISSED\n' "$1" "$2" "$3" "$4"
		MISSED=$((MISSED + 1))
	fi
}
MISSED=0
nproc_note="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"

write_engine_config
# Both tools as their docs recommend for a WAL-archiving host, and both
# encrypted: arca with a generated key (HKDF, no per-command scrypt),
# pgBackRest with a random cipher pass.
ARCA_PASSPHRASE=$("$ARCA" key generate) || fail "arca key generate"
export ARCA_PASSPHRASE
# WAL and base backups go to their own repository, so the logical figures
# below count only the logical snapshots' bytes (archive_command keeps
# pushing segments into the WAL repository while they run).
mkdir -p "$T/walrepo"
cat >> "$ARCA_CONFIG" <<EOF

[destination wal]
driver = dir
path = $T/walrepo
passphrase_env = ARCA_PASSPHRASE
EOF
[ "$(id -u)" = 0 ] && chown -R postgres: "$T/repo" "$T/walrepo" "$T/state"
mkdir -p "$T/pgbr/repo" "$T/pgbr/log" "$T/pgbr/spool" "$T/files"
[ "$(id -u)" = 0 ] && chown -R postgres: "$T/pgbr" "$T/files"

pg_start app "wal_level = replica" "archive_mode = on" "max_wal_size = 4GB" \
	"archive_command = '$T/files/arca-wal-push-app-wal+pgbackrest %p %f'" "shared_buffers = 256MB" \
	"checkpoint_timeout = 30min"
APP=$app_PORT
cat > "$T/pgbr/pgbackrest.conf" <<EOF
[global]
repo1-path=$T/pgbr/repo
repo1-retention-full=2
log-path=$T/pgbr/log
lock-path=$T/pgbr/log
spool-path=$T/pgbr/spool
compress-type=zst
process-max=2
start-fast=y
log-level-console=warn
log-level-file=off
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$(openssl rand -base64 48)

[bench]
pg1-path=$app_DATA
pg1-port=$APP
pg1-socket-path=$T/pg/app
pg1-user=postgres
EOF
PGBR="pgbackrest --config=$T/pgbr/pgbackrest.conf --stanza=bench"
# archive_command feeds both tools: each needs its WAL for its backups.
cat > "$T/files/arca-wal-push-app-wal+pgbackrest" <<EOF
#!/bin/sh
"$ARCA" -c "$ARCA_CONFIG" wal-push app-wal "\$1" || exit 1
$PGBR archive-push "\$1" || exit 1
EOF
chmod 755 "$T/files/arca-wal-push-app-wal+pgbackrest"
cat >> "$ARCA_CONFIG" <<EOF

[target app-db]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP vectis)

[target app-wal]
driver = postgres
destinations = wal
mode = physical
conninfo = $(pg_conninfo $APP postgres)

[target bench-wal]
driver = postgres
destinations = wal
mode = physical
conninfo = $(pg_conninfo $APP postgres)
EOF
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null
as_pg $PGBR stanza-create >/dev/null || fail "pgbackrest stanza-create failed"

echo "== postgres driver benchmark ($nproc_note; vectis-like scale $SCALE, pgbench -s $PGBENCH_SCALE)"
echo "-- loading vectis-like.sql (scale $SCALE)"
pg_sql $APP postgres "CREATE DATABASE vectis"
t=$(now)
pg_sql_file $APP vectis "$PG_DATASET" -v scale="$SCALE" >"$T/load.log" 2>&1 ||
	{ cat "$T/load.log" >&2; fail "loading the dataset failed"; }
echo "   loaded in $(secs "$t") s, database $(pg_sql $APP postgres "SELECT pg_size_pretty(pg_database_size('vectis'))")"
pg_sql $APP vectis "CHECKPOINT" >/dev/null
quiesce
DUMP_ARGS="-h 127.0.0.1 -p $APP -U postgres -d vectis"

echo "-- logical snapshot ($REPEAT runs each, interleaved; medians compared)"
t=$(now); as_pg "$PG_BIN/pg_dump" -Fc $DUMP_ARGS -f "$T/files/vectis.dump"; T_FC=$(secs "$t")
S_FC=$(stat -c %s "$T/files/vectis.dump")
RAWS=; ARCAS=; run=0
while [ $run -lt "$REPEAT" ]; do
	quiesce
	t=$(now); as_pg "$PG_BIN/pg_dump" -Fc -Z0 $DUMP_ARGS >/dev/null; RAWS="$RAWS $(secs "$t")"
	if [ $run -gt 0 ]; then # every run is a first snapshot, into an empty repository
		rm -rf "$T/repo"; mkdir "$T/repo"
		[ "$(id -u)" = 0 ] && chown postgres: "$T/repo"
		pg_arca init local >/dev/null || fail "arca init failed"
	fi
	quiesce
	B0=$(repo_bytes)
	t=$(now); pg_arca snapshot app-db >/dev/null 2>"$T/err" || { cat "$T/err"; fail "arca snapshot failed"; }
	ARCAS="$ARCAS $(secs "$t")"
	S_ARCA=$(( $(repo_bytes) - B0 ))
	run=$((run + 1))
done
T_RAW=$(median $RAWS); T_ARCA=$(median $ARCAS)
echo "   pg_dump -Fc -Z0 > /dev/null   $T_RAW s  (runs:$RAWS)"
echo "   pg_dump -Fc (the seed's)       $T_FC s, $(mib "$S_FC")"
echo "   arca snapshot                  $T_ARCA s  (runs:$ARCAS), $(mib "$S_ARCA") stored"

echo "-- next day: 1% of the rows updated"
# A day in a shop changes its newest rows: recent orders change status,
# their items, recently active users, recently edited products. "Newest"
# is the last 1% of each table's pages (the ids there were inserted last).
tail_update() { # TABLE SET-CLAUSE
	blk=$(pg_sql $APP vectis "SELECT pg_relation_size('$1') / 8192 * 99 / 100")
	pg_sql $APP vectis "UPDATE $1 SET $2 WHERE ctid >= '($blk,0)'::tid" >/dev/null
}
tail_update users "last_login = now()"
tail_update products "price_cents = price_cents + 1"
tail_update orders "status = 'delivered'"
tail_update order_items "qty = qty + 1"
quiesce
B1=$(repo_bytes)
t=$(now); pg_arca snapshot app-db >/dev/null 2>"$T/err" || { cat "$T/err"; fail "second snapshot failed"; }
T_ARCA2=$(secs "$t")
S_ARCA2=$(( $(repo_bytes) - B1 ))
echo "   arca snapshot                  $T_ARCA2 s, $(mib "$S_ARCA2") stored"
# The same volume of changes scattered uniformly over the tables, for
# comparison: no chunking dedups this well (printed, not judged).
pg_sql $APP vectis "UPDATE orders SET total_cents = total_cents + 1 WHERE id % 100 = 7" >/dev/null
B2=$(repo_bytes)
pg_arca snapshot app-db >/dev/null 2>"$T/err" || { cat "$T/err"; fail "third snapshot failed"; }
S_ARCA3=$(( $(repo_bytes) - B2 ))
echo "   (1% of orders scattered)       $(mib "$S_ARCA3") stored"

echo "-- logical restore ($REPEAT runs each, interleaved; medians compared)"
# Each restore writes ~1 GB of WAL; quiesce lets the archiver push it
# before the next timed run instead of during it. Both tools restore into
# an empty database created just before (untimed): CREATE DATABASE is a
# checkpoint that writes out whatever the previous restore left dirty.
# Their WAL is not what is measured here: with archive_command pushing
# each segment through arca and pgBackRest, a restore's ~60 segments kept
# both cores busy for ~18 core-s during the timed runs (19 s runs next to
# 13 s ones). Archiving is a no-op until the physical steps.
pg_sql $APP postgres "ALTER SYSTEM SET archive_command = '/bin/true'" >/dev/null
pg_sql $APP postgres "SELECT pg_reload_conf()" >/dev/null
# Each timed run starts alone on the server: the other tool's database
# dropped, its own created, everything written out.
PGRS=; ARS=; run=0
while [ $run -lt "$REPEAT" ]; do
	pg_sql $APP postgres "CREATE DATABASE r_pgrestore"
	quiesce
	t=$(now); as_pg "$PG_BIN/pg_restore" -j2 -h 127.0.0.1 -p $APP -U postgres -d r_pgrestore \
		"$T/files/vectis.dump"; PGRS="$PGRS $(secs "$t")"
	pg_sql $APP postgres "DROP DATABASE r_pgrestore" >/dev/null
	pg_sql $APP postgres "CREATE DATABASE r_arca"
	quiesce
	t=$(now)
	pg_arca restore app-db --into "$(pg_conninfo $APP r_arca)" --jobs 2 >/dev/null 2>"$T/err" ||
		{ cat "$T/err"; fail "arca restore failed"; }
	ARS="$ARS $(secs "$t")"
	pg_sql $APP postgres "DROP DATABASE r_arca" >/dev/null
	run=$((run + 1))
done
T_PGR=$(median $PGRS); T_AR=$(median $ARS)
pg_sql $APP postgres "ALTER SYSTEM RESET archive_command" >/dev/null
pg_sql $APP postgres "SELECT pg_reload_conf()" >/dev/null
echo "   pg_restore -j2 (local file)    $T_PGR s  (runs:$PGRS)"
echo "   arca restore --jobs 2          $T_AR s  (runs:$ARS)"

echo "-- physical backup of pgbench -i -s $PGBENCH_SCALE"
pg_sql $APP postgres "CREATE DATABASE bench"
as_pg "$PG_BIN/pgbench" -i -q -s "$PGBENCH_SCALE" -h 127.0.0.1 -p $APP -U postgres bench \
	>"$T/pgbench.log" 2>&1 || { cat "$T/pgbench.log"; fail "pgbench -i failed"; }
pg_sql $APP postgres "CHECKPOINT" >/dev/null
quiesce
echo "   cluster: $(du -sh "$app_DATA" | cut -f1)"
B3=$(repo_bytes "$T/walrepo")
t=$(now); pg_arca snapshot app-wal >/dev/null 2>"$T/err" || { cat "$T/err"; fail "physical snapshot failed"; }
T_PHYS=$(secs "$t")
S_PHYS=$(( $(repo_bytes "$T/walrepo") - B3 ))
pg_sql $APP postgres "CHECKPOINT" >/dev/null
quiesce
t=$(now); as_pg $PGBR --type=full backup || fail "pgbackrest backup failed"
T_PGBR=$(secs "$t")
S_PGBR=$(du -sb "$T/pgbr/repo/backup" | cut -f1)
echo "   arca snapshot (physical)       $T_PHYS s, $(mib "$S_PHYS") stored"
echo "   pgbackrest --type=full         $T_PGBR s, $(mib "$S_PGBR") stored"

echo "-- wal-push of $NWAL segments"
# Real segments with incompressible-ish rows, collected by a plain copy.
mkdir -p "$T/files/wal"; [ "$(id -u)" = 0 ] && chown postgres: "$T/files/wal"
pg_sql $APP postgres "ALTER SYSTEM SET archive_command = 'cp %p $T/files/wal/%f'"
pg_sql $APP postgres "SELECT pg_reload_conf()" >/dev/null
pg_sql $APP bench "CREATE TABLE walgen (id bigint, payload text)"
while [ "$(ls "$T/files/wal" | grep -c '^[0-9A-F]\{24\}$')" -lt "$NWAL" ]; do
	pg_sql $APP bench "INSERT INTO walgen SELECT g, md5(random()::text) || repeat(md5(g::text), 3)
		FROM generate_series(1, 200000) g" >/dev/null
done
PG_ARCHIVE_WAIT=600 pg_switch_wait $APP >/dev/null
pg_stop "$app_DATA"
ls "$T/files/wal" | grep '^[0-9A-F]\{24\}$' | head -n "$NWAL" > "$T/files/wal.list"
# The same files were archived by both tools already: push them into fresh
# archives (a new arca target; a new pgBackRest stanza on the same cluster).
sed -i "s|^repo1-path=.*|repo1-path=$T/pgbr/repo2|" "$T/pgbr/pgbackrest.conf"
mkdir -p "$T/pgbr/repo2"; [ "$(id -u)" = 0 ] && chown postgres: "$T/pgbr/repo2"
as_pg $PGBR --no-online stanza-create >/dev/null || fail "second stanza-create failed"
t=$(now)
while read -r f; do
	pg_arca wal-push bench-wal "$T/files/wal/$f" || fail "arca wal-push $f failed"
done < "$T/files/wal.list"
T_WP=$(secs "$t")
t=$(now)
while read -r f; do
	as_pg $PGBR --pg1-path="$app_DATA" archive-push "$T/files/wal/$f" || fail "pgbackrest archive-push $f failed"
done < "$T/files/wal.list"
T_PGWP=$(secs "$t")
echo "   arca wal-push x$NWAL            $T_WP s"
echo "   pgbackrest archive-push x$NWAL  $T_PGWP s"

echo "== ratios"
verdict "logical snapshot / pg_dump -Fc -Z0 > /dev/null (time)" "$(ratio "$T_ARCA" "$T_RAW")" "<=" 1.25
verdict "pg_dump -Fc / logical snapshot (speed-up)" "$(ratio "$T_FC" "$T_ARCA")" ">=" 4
verdict "stored size / pg_dump -Fc file" "$(ratio "$S_ARCA" "$S_FC")" "<=" 1
verdict "next-day stored bytes / first snapshot's (1% of rows)" "$(ratio "$S_ARCA2" "$S_ARCA")" "<=" 0.10
echo    "  (same, 1% of orders scattered uniformly: $(ratio "$S_ARCA3" "$S_ARCA"); informational)"
verdict "logical restore / pg_restore -j2 (time)" "$(ratio "$T_AR" "$T_PGR")" "<=" 1
verdict "physical backup / pgbackrest full (time)" "$(ratio "$T_PHYS" "$T_PGBR")" "<=" 1
verdict "wal-push x$NWAL / pgbackrest archive-push (time)" "$(ratio "$T_WP" "$T_PGWP")" "<=" 1
echo "== $MISSED targets missed"
[ "$MISSED" = 0 ]
