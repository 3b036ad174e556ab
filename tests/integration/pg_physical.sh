#!/bin/sh
# pg_physical: mode = physical against a real PostgreSQL 15 archiving its
# WAL with `arca wal-push`.
#  - check forces a WAL switch and sees the segment arrive;
#  - a base backup (least-privilege role) verifies against its manifest, and
#    a restored copy passes PostgreSQL's own pg_verifybackup;
#  - rows committed at known times, then point-in-time restores (--start)
#    to the end of the archive, to a time, to an LSN and to a transaction id
#    between them show exactly the rows before the target;
#  - `arca health --into DATADIR` of a restored server: healthy while it
#    runs, 4 once stopped; a standby only with --standby;
#  - a non-empty target directory and a full disk are refused clearly;
#  - a segment lost in the middle of the WAL chain is named by wal-get and
#    restore, and verify fails (exit 7) naming it, the snapshot that needs
#    it and the way out; after a new base backup verify passes and warns
#    that the older backup cannot recover past the gap, until that snapshot
#    is forgotten; verify --read-data reads the chain back and names a
#    damaged segment;
#  - after a failover (timeline 2) a restore to an LSN on timeline 2 follows
#    the history file, and verify follows the switch.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

write_engine_config
pg_passphrase_file
[ "$(id -u)" = 0 ] && chown -R postgres: "$T/repo" "$T/state"
mkdir -p "$T/bin"
cat > "$T/bin/arca-wal-push" <<EOF
#!/bin/sh
# archive_command of the test cluster. Only the original cluster archives:
# restored copies would add their own timelines. A file skip-SEGMENT makes
# one segment "lost" (archive_command lying), to test a hole in the chain.
[ "\$PWD" = "$T/pg/app/data" ] || exit 0
[ -f "$T/bin/skip-\${2##*/}" ] && exit 0
exec "$ARCA" -c "$ARCA_CONFIG" wal-push "\$1" "\$2"
EOF
chmod 755 "$T/bin" "$T/bin/arca-wal-push"
pg_start app "wal_level = replica" "archive_mode = on" \
	"archive_command = '$T/bin/arca-wal-push app-wal %p'"
APP=$app_PORT
pg_sql $APP postgres "CREATE ROLE arca_backup LOGIN REPLICATION PASSWORD 'backup-pw'"
pg_sql $APP postgres "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO arca_backup;
	GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO arca_backup;
	GRANT pg_read_all_settings, pg_monitor TO arca_backup"
export ARCA_TEST_PG_PW=backup-pw
cat >> "$ARCA_CONFIG" <<EOF

[target app-wal]
driver = postgres
destinations = local
mode = physical
conninfo = $(pg_conninfo $APP postgres arca_backup)
password_env = ARCA_TEST_PG_PW
archive_timeout = 30s
recovery_timeout = 120s
EOF
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null

rows() { pg_sql $1 postgres "SELECT count(*) || ' ' || coalesce(max(id), 0) FROM t"; }

step "check: WAL switch reaches the archive"
pg_arca check app-wal >"$T/out" 2>&1 || { cat "$T/out"; fail "check app-wal failed"; }

step "base backup, verify"
pg_sql $APP postgres "CREATE TABLE t (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp(),
	pad text DEFAULT repeat('x', 200))"
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(1, 100)"
pg_arca snapshot app-wal >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "physical snapshot failed"; }
SNAP1=$(awk '$1 == "snapshot" { print substr($2, 1, 12) }' "$T/out")
[ -n "$SNAP1" ] || { cat "$T/out"; fail "snapshot printed no id"; }
pg_arca verify app-wal >"$T/out" 2>&1 || { cat "$T/out"; fail "verify failed"; }
grep -q "without a gap" "$T/out" || { cat "$T/out"; fail "verify did not check the WAL chain"; }

step "restored copy passes pg_verifybackup"
pg_arca restore app-wal --into "$T/pg/copy" >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore without --start failed"; }
as_pg "$PG_BIN/pg_verifybackup" -n "$T/pg/copy" >"$T/out" 2>&1 ||
	{ cat "$T/out"; fail "pg_verifybackup rejects the restored data directory"; }
[ -f "$T/pg/copy/recovery.signal" ] || fail "no recovery.signal"
grep -q "^restore_command = '.*wal-get app-wal %f %p'" "$T/pg/copy/postgresql.auto.conf" ||
	fail "no restore_command in postgresql.auto.conf"
[ "$(stat -c %a "$T/pg/copy")" = 700 ] || fail "data directory mode is not 0700"
[ "$(stat -c %U "$T/pg/copy/global/pg_control")" = "$(stat -c %U "$T/pg/app/data/global/pg_control")" ] ||
	fail "restored files have the wrong owner"

step "rows committed at known times"
# one transaction: its id is the target of --to-xid below
XID1=$(pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(101, 200); SELECT pg_current_xact_id()")
case "$XID1" in '' | *[!0-9]*) fail "not a transaction id: '$XID1'" ;; esac
sleep 1.1
T1=$(pg_sql $APP postgres "SELECT clock_timestamp()")
sleep 1.1
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(201, 300)"
LSN2=$(pg_sql $APP postgres "SELECT pg_current_wal_lsn()")
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(301, 400)"
pg_switch_wait $APP >/dev/null
[ "$(rows $APP)" = "400 400" ] || fail "unexpected source rows: $(rows $APP)"
pg_stop "$T/pg/app/data"

step "restore to the end of the archive (--start)"
pg_arca restore app-wal --into "$T/pg/latest" --start >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore --start to the end failed"; }
[ "$(rows $APP)" = "400 400" ] || fail "restore to the end has rows '$(rows $APP)', want 400"
[ "$(pg_sql $APP postgres "SHOW archive_mode")" = on ] || fail "a recovery stopped archiving"
pg_arca health app-wal --into "$T/pg/latest" >"$T/out" 2>&1 ||
	{ cat "$T/out" >&2; fail "health of the restored server (by its data directory)"; }
pg_stop "$T/pg/latest"
expect_fail 4 pg_arca health app-wal --into "$T/pg/latest"
expect_stderr "target app-wal is not healthy: .*no PostgreSQL server runs on $T/pg/latest"

step "health: a standby is in recovery, healthy only with --standby"
pg_arca restore app-wal --into "$T/pg/standby" >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore for a standby failed"; }
as_pg rm "$T/pg/standby/recovery.signal"
as_pg touch "$T/pg/standby/standby.signal"
on_exit "pg_stop '$T/pg/standby'"
as_pg "$PG_BIN/pg_ctl" -D "$T/pg/standby" -l "$T/pg/standby/standby.log" -w -t 120 start \
	>/dev/null || { cat "$T/pg/standby/standby.log"; fail "the standby did not start"; }
expect_fail 6 pg_arca health app-wal --into "$T/pg/standby"
expect_stderr "target app-wal is not healthy: .* is in recovery: .* give --standby"
pg_arca health app-wal --into "$T/pg/standby" --standby >"$T/out" 2>&1 ||
	{ cat "$T/out"; fail "health --standby of a standby"; }
pg_stop "$T/pg/standby"

step "restore to a time between the inserts (a drill: --no-archive)"
pg_arca restore app-wal --into "$T/pg/at-time" --to-time "$T1" --start --no-archive \
	>/dev/null 2>"$T/err" || { cat "$T/err"; fail "restore --to-time failed"; }
[ "$(rows $APP)" = "200 200" ] || fail "restore --to-time '$T1' has rows '$(rows $APP)', want 200"
[ "$(pg_sql $APP postgres "SHOW archive_mode")" = off ] || fail "--no-archive left archiving on"
pg_stop "$T/pg/at-time"

step "restore to an LSN"
pg_arca restore app-wal --into "$T/pg/at-lsn" --to-lsn "$LSN2" --start >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore --to-lsn failed"; }
[ "$(rows $APP)" = "300 300" ] || fail "restore --to-lsn $LSN2 has rows '$(rows $APP)', want 300"
pg_stop "$T/pg/at-lsn"

step "restore to a transaction id (--to-xid: that transaction included)"
expect_fail 3 pg_arca restore app-wal --into "$T/pg/at-xid" --to-xid 12x --start
expect_stderr "--to-xid 12x: expected a transaction id"
pg_arca restore app-wal --into "$T/pg/at-xid" --to-xid "$XID1" --start >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore --to-xid failed"; }
[ "$(rows $APP)" = "200 200" ] || fail "restore --to-xid $XID1 has rows '$(rows $APP)', want 200"
pg_stop "$T/pg/at-xid"

step "a non-empty target directory is refused"
expect_fail 11 pg_arca restore app-wal --into "$T/pg/at-lsn"
expect_stderr "not empty"

step "a full disk during restore"
if [ "$(id -u)" = 0 ] && mkdir -p "$T/small" && mount -t tmpfs -o size=64m,nr_inodes=400 tmpfs "$T/small" 2>/dev/null; then
	on_exit "umount '$T/small'"
	chown postgres: "$T/small"
	expect_fail 12 pg_arca restore app-wal --into "$T/small/data"
	expect_stderr "disk full|not enough space"
	[ -z "$(ls -A "$T/small/data" 2>/dev/null)" ] || fail "a partial restore was left behind"
	umount "$T/small"
	mount -t tmpfs -o size=8m tmpfs "$T/small"
	chown postgres: "$T/small"
	expect_fail 12 pg_arca restore app-wal --into "$T/small/data"
	expect_stderr "not enough space"
	umount "$T/small"
else
	skip_step "not root or no tmpfs mount here: a full disk during a physical restore is not tested"
fi

step "a segment lost in the middle of the chain is named"
pg_ctl_start() { as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$1/../server.log" -w -t 60 start >/dev/null; }
pg_ctl_start "$T/pg/app/data"
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(401, 500)"
pg_switch_wait $APP >/dev/null
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(501, 600)"
LOST=$(pg_sql $APP postgres "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
touch "$T/bin/skip-$LOST"
[ "$(pg_switch_wait $APP)" = "$LOST" ] || fail "expected to switch out $LOST"
rm "$T/bin/skip-$LOST"
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(601, 700)"
pg_switch_wait $APP >/dev/null
pg_stop "$T/pg/app/data"
expect_fail 8 pg_arca wal-get app-wal "$LOST" "$T/pg/x"
expect_stderr "$LOST.*missing"
expect_fail 8 pg_arca restore app-wal --into "$T/pg/hole"
expect_stderr "$LOST is missing"
[ -z "$(ls -A "$T/pg/hole" 2>/dev/null)" ] || fail "a refused restore wrote files"

step "verify fails on the broken chain: the gap, the snapshot that needs it, what to do"
expect_fail 7 pg_arca verify app-wal
expect_stderr "segment $LOST is missing from the archive"
expect_stderr "snapshot $SNAP1 .*needs it"
expect_stderr "Take a new base backup with arca snapshot app-wal"

step "after a new base backup verify passes, and warns about the older one's gap"
pg_ctl_start "$T/pg/app/data"
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(701, 800)"
pg_arca snapshot app-wal >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "second base backup failed"; }
SNAP2=$(awk '$1 == "snapshot" { print substr($2, 1, 12) }' "$T/out")
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(801, 900)"
NEWEST=$(pg_switch_wait $APP)
pg_arca verify app-wal >"$T/out" 2>&1 || { cat "$T/out"; fail "verify fails after a new base backup"; }
grep -q "WAL segment $LOST is missing.*snapshot $SNAP1 .*the oldest kept" "$T/out" ||
	{ cat "$T/out"; fail "verify does not warn that $SNAP1 cannot recover past $LOST"; }

step "verify --read-data reads the chain back and names a damaged segment"
pg_arca verify --read-data app-wal >"$T/out" 2>&1 || { cat "$T/out"; fail "verify --read-data failed"; }
grep -q "each read back with a valid header" "$T/out" || { cat "$T/out"; fail "verify --read-data read no WAL"; }
OBJ=$T/repo/blobs/app-wal/wal_2f$(echo "$NEWEST" | tr A-F a-f)
[ -f "$OBJ" ] || { find "$T/repo/blobs" >&2; fail "no blob object for $NEWEST"; }
cp -p "$OBJ" "$T/blob.orig"
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    n = len(f.read()) // 2
    f.seek(n)
    b = f.read(1)[0]
    f.seek(n)
    f.write(bytes([b ^ 0xFF]))' "$OBJ"
cmp -s "$OBJ" "$T/blob.orig" && fail "the byte flip changed nothing"
expect_fail 7 pg_arca verify --read-data app-wal
expect_stderr "the WAL chain is broken: segment $NEWEST cannot be read"
expect_stderr "snapshot $SNAP2 .*needs it"
cp -p "$T/blob.orig" "$OBJ"

step "once the snapshot taken before the gap is forgotten, verify is clean"
pg_arca forget --snapshot "$SNAP1" >/dev/null 2>&1 || fail "forget --snapshot $SNAP1 failed"
pg_arca verify --read-data app-wal >"$T/out" 2>&1 || { cat "$T/out"; fail "verify failed after forget"; }
grep -q "$LOST" "$T/out" && { cat "$T/out"; fail "verify still reports $LOST"; }
grep -q "without a gap" "$T/out" || { cat "$T/out"; fail "verify did not check the WAL chain"; }

step "after a failover (a new timeline) restores follow the WAL onto it"
# The original stops; a copy recovered to the end of the archive in its
# place is promoted to timeline 2 and archives on (a failover). A restore to
# an LSN written on timeline 2 past timeline 1's last segment must follow
# the history file, as recovery does, not stop at timeline 1's end.
pg_stop "$T/pg/app/data"
mv "$T/pg/app/data" "$T/pg/app/data.tl1"
pg_arca restore app-wal --into "$T/pg/app/data" --start >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore in place of the original (the failover) failed"; }
[ "$(rows $APP)" = "900 900" ] || fail "the promoted copy has rows '$(rows $APP)', want 900"
[ "$(pg_sql $APP postgres "SELECT timeline_id FROM pg_control_checkpoint()")" -ge 2 ] ||
	fail "the promoted copy is still on timeline 1"
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(901, 1000)"
pg_switch_wait $APP >/dev/null
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(1001, 1100)"
LSN3=$(pg_sql $APP postgres "SELECT pg_current_wal_lsn()")
pg_sql $APP postgres "INSERT INTO t (id) SELECT generate_series(1101, 1200)"
pg_switch_wait $APP >/dev/null
pg_stop "$T/pg/app/data"
ls "$T/repo/blobs/app-wal" | grep -q 'wal_2f00000002\.history' ||
	{ ls "$T/repo/blobs/app-wal" >&2; fail "timeline 2's history file was not archived"; }
pg_arca restore app-wal --into "$T/pg/tl2" --to-lsn "$LSN3" --start --no-archive \
	>/dev/null 2>"$T/err" || { cat "$T/err"; fail "restore --to-lsn on timeline 2 failed"; }
[ "$(rows $APP)" = "1100 1100" ] || fail "restore --to-lsn $LSN3 (timeline 2) has rows '$(rows $APP)', want 1100"
pg_stop "$T/pg/tl2"
pg_arca verify app-wal >"$T/out" 2>&1 || { cat "$T/out"; fail "verify fails after the failover"; }
grep -q "across timeline switches" "$T/out" || { cat "$T/out"; fail "verify did not follow the timeline switch"; }

pass "base backup, manifest verify, PITR to time/LSN/xid/end, refusals, WAL hole named by restore and verify, PITR across a failover's new timeline"
