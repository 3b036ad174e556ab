#!/bin/sh
# pg_wal: WAL archiving through `arca wal-push` / `arca wal-get` with a real
# PostgreSQL 15 whose archive_command is arca.
#  - pushing an identical segment again succeeds; a different one with the
#    same name fails loudly; a segment of another cluster is refused;
#  - wal-get restores byte-identical files and exits 8 quietly for files
#    that do not exist (how recovery ends);
#  - forget (retention last=1) removes the WAL older than the oldest kept
#    base backup and keeps what it needs;
#  - check notices an archive_command that fails.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

pg_wal_start
pg_start other
cat >> "$ARCA_CONFIG" <<EOF

$(pg_wal_target "retention = last=1" "archive_timeout = 8s")
EOF
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null
mkdir -p "$T/pg/push" "$T/pg/foreign" "$T/pg/get"
[ "$(id -u)" = 0 ] && chown postgres: "$T/pg/push" "$T/pg/foreign" "$T/pg/get"

step "archive_command stores segments"
pg_sql $APP postgres "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10000) g"
FIRST=$(pg_switch_wait $APP)
pg_sql $APP postgres "INSERT INTO t SELECT generate_series(10001, 20000)"
pg_switch_wait $APP >/dev/null

step "wal-get returns the archived bytes; absent files exit 8 quietly"
pg_arca wal-get app-wal "$FIRST" "$T/pg/get/RECOVERYXLOG" || fail "wal-get $FIRST failed"
[ "$(stat -c %s "$T/pg/get/RECOVERYXLOG")" = 16777216 ] || fail "wal-get wrote a short file"
expect_fail 8 pg_arca wal-get app-wal 0000000100000000000000F0 "$T/pg/get/RECOVERYXLOG"
grep -qi "error" "$T/err" && { cat "$T/err"; fail "a missing segment at the end is reported as an error"; }
expect_fail 8 pg_arca wal-get app-wal 00000009.history "$T/pg/get/RECOVERYHISTORY"
[ ! -e "$T/pg/get/RECOVERYHISTORY" ] || fail "wal-get created a file for a missing history file"
expect_fail 3 pg_arca wal-get app-wal ../../etc/passwd "$T/pg/get/x"

step "pushing an identical segment again succeeds"
as_pg cp "$T/pg/get/RECOVERYXLOG" "$T/pg/push/$FIRST"
pg_arca wal-push app-wal "$T/pg/push/$FIRST" || fail "re-pushing an identical segment failed"
pg_arca wal-push app-wal "$T/pg/push/$FIRST" || fail "re-pushing an identical segment twice failed"

step "a different segment with the same name fails loudly"
printf X | as_pg dd of="$T/pg/push/$FIRST" bs=1 seek=100000 conv=notrunc 2>/dev/null
expect_fail 11 pg_arca wal-push app-wal "$T/pg/push/$FIRST"
expect_stderr "$FIRST.*DIFFERENT"
pg_arca wal-get app-wal "$FIRST" "$T/pg/get/again" || fail "wal-get after the refused push failed"
cmp -s "$T/pg/get/RECOVERYXLOG" "$T/pg/get/again" || fail "the refused push changed the archive"

step "a segment of another cluster is refused"
OTHER_SEG=$(ls "$T/pg/other/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | head -1)
cp "$T/pg/other/data/pg_wal/$OTHER_SEG" "$T/pg/foreign/$OTHER_SEG"
[ "$(id -u)" = 0 ] && chown postgres: "$T/pg/foreign/$OTHER_SEG"
expect_fail 11 pg_arca wal-push app-wal "$T/pg/foreign/$OTHER_SEG"
expect_stderr "system_identifier"
expect_fail 3 pg_arca wal-push app-wal "$T/pg/get/RECOVERYXLOG"
expect_stderr "not a WAL file name"

step "forget drops the WAL the kept base backup does not need"
pg_arca snapshot app-wal >/dev/null 2>&1 || fail "first base backup failed"
pg_sql $APP postgres "INSERT INTO t SELECT generate_series(20001, 30000)"
pg_switch_wait $APP >/dev/null
pg_arca snapshot app-wal >/dev/null 2>&1 || fail "second base backup failed"
KEEP=$(pg_sql $APP postgres "SELECT last_archived_wal FROM pg_stat_archiver")
case "$KEEP" in *.backup) KEEP=${KEEP%%.*};; *) fail "last archived is $KEEP, not a backup history file";; esac
pg_arca forget app-wal >"$T/out" 2>&1 || { cat "$T/out"; fail "forget failed"; }
grep -q "removed [1-9][0-9]* WAL files older than $KEEP" "$T/out" || { cat "$T/out"; fail "forget removed no WAL"; }
expect_fail 8 pg_arca wal-get app-wal "$FIRST" "$T/pg/get/old"
pg_arca wal-get app-wal "$KEEP" "$T/pg/get/kept" || fail "forget removed $KEEP, which the kept backup needs"
pg_arca verify app-wal >/dev/null 2>&1 || fail "verify fails after forget"

step "check notices a failing archive_command"
pg_sql $APP postgres "ALTER SYSTEM SET archive_command = 'false'"
pg_sql $APP postgres "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
expect_fail 8 pg_arca check app-wal
expect_stderr "did not reach the archive"

pass "wal-push idempotence and conflicts, wal-get, WAL retention, check"
