#!/bin/sh
# pg_wal: WAL archiving through `arca wal-push` / `arca wal-get` with a real
# PostgreSQL 15 whose archive_command is arca.
#  - pushing an identical segment again succeeds; a different one with the
#    same name fails loudly; a segment of another cluster is refused;
#  - two wal-push of the same segment at once both succeed and store it once;
#  - wal-get restores byte-identical files (compared with what archive_command
#    pushed) and exits 8 quietly for files that do not exist (how recovery ends);
#  - a damaged or truncated WAL blob is refused by wal-get (7) and named by
#    verify --read-data;
#  - forget (retention last=1) removes the WAL older than the oldest kept
#    base backup and keeps what it needs;
#  - check notices an archive_command that fails.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

pg_wal_start "$T/pg/pushed"
pg_start other
cat >> "$ARCA_CONFIG" <<EOF

$(pg_wal_target "retention = last=1" "archive_timeout = 8s")

$(pg_wal_target | sed 's/^\[target app-wal\]$/[target app-wal2]/')
EOF
grep -q '^\[target app-wal2\]$' "$ARCA_CONFIG" || fail "test setup: no target app-wal2"
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null
mkdir -p "$T/pg/push" "$T/pg/foreign" "$T/pg/get"
[ "$(id -u)" = 0 ] && chown postgres: "$T/pg/push" "$T/pg/foreign" "$T/pg/get"

step "archive_command stores segments"
pg_sql $APP postgres "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10000) g"
FIRST=$(pg_switch_wait $APP)
pg_sql $APP postgres "INSERT INTO t SELECT generate_series(10001, 20000)"
SECOND=$(pg_switch_wait $APP)

step "wal-get returns the archived bytes; absent files exit 8 quietly"
pg_arca wal-get app-wal "$FIRST" "$T/pg/get/RECOVERYXLOG" || fail "wal-get $FIRST failed"
[ "$(stat -c %s "$T/pg/get/RECOVERYXLOG")" = 16777216 ] || fail "wal-get wrote a short file"
cmp "$T/pg/pushed/$FIRST" "$T/pg/get/RECOVERYXLOG" || fail "wal-get $FIRST differs from what was pushed"
pg_arca wal-get app-wal "$SECOND" "$T/pg/get/second" || fail "wal-get $SECOND failed"
cmp "$T/pg/pushed/$SECOND" "$T/pg/get/second" || fail "wal-get $SECOND differs from what was pushed"
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

step "two wal-push of one segment at once: both succeed, it is stored once"
# into target app-wal2 (same cluster, nothing archived yet): the first
# segment also races on the blob that records the cluster
blobs() { find "$T/repo/blobs" -type f | wc -l; }
before=$(blobs)
for seg in "$FIRST" "$SECOND"; do
	pg_arca wal-push app-wal2 "$T/pg/pushed/$seg" > "$T/p1.out" 2>&1 & p1=$!
	pg_arca wal-push app-wal2 "$T/pg/pushed/$seg" > "$T/p2.out" 2>&1 & p2=$!
	wait $p1 || { cat "$T/p1.out" >&2; fail "the first of two concurrent wal-push of $seg failed"; }
	wait $p2 || { cat "$T/p2.out" >&2; fail "the second of two concurrent wal-push of $seg failed"; }
	pg_arca wal-get app-wal2 "$seg" "$T/pg/get/twice" || fail "wal-get app-wal2 $seg"
	cmp "$T/pg/pushed/$seg" "$T/pg/get/twice" || fail "$seg pushed twice at once reads back differently"
done
# two segments and the cluster blob, each one object; nothing temporary left
[ "$(blobs)" = $((before + 3)) ] || { find "$T/repo/blobs" -type f >&2; fail "$before blob objects before, $(blobs) after"; }
[ -z "$(find "$T/repo" -name '.tmp.*')" ] || fail "temporary files left by the concurrent pushes"

step "a damaged or truncated WAL blob: wal-get refuses it (7), verify names it"
obj=$(find "$T/repo/blobs" -type f -path '*app-wal2*' -size +1k | head -1)
[ -n "$obj" ] || { find "$T/repo/blobs" -type f >&2; fail "no WAL blob object found for app-wal2"; }
objname=${obj#"$T/repo/"}
cp "$obj" "$T/blob.orig"
python3 - "$obj" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x10
open(p, 'wb').write(bytes(b))
PY
seg=$(echo "$objname" | grep -o '[0-9a-f]\{24\}$' | tr a-f A-F)
[ -n "$seg" ] || fail "cannot tell the segment of $objname"
for how in flipped truncated; do
	[ "$how" = truncated ] && head -c 1000 "$T/blob.orig" > "$obj"
	rm -f "$T/pg/get/bad"
	expect_fail 7 pg_arca wal-get app-wal2 "$seg" "$T/pg/get/bad"
	expect_stderr "$objname"
	[ ! -e "$T/pg/get/bad" ] || fail "wal-get wrote a $how segment"
	expect_fail 7 pg_arca verify --read-data
	grep -q "$objname" "$T/out" "$T/err" || { cat "$T/out" "$T/err" >&2; fail "verify did not name the $how blob $objname"; }
done
cp "$T/blob.orig" "$obj"
pg_arca verify --read-data > /dev/null 2>&1 || fail "verify after the blob was put back"

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
cmp "$T/pg/pushed/$KEEP" "$T/pg/get/kept" || fail "wal-get $KEEP differs from what was pushed"
BACKUP_FILE=$(pg_sql $APP postgres "SELECT last_archived_wal FROM pg_stat_archiver")
pg_arca wal-get app-wal "$BACKUP_FILE" "$T/pg/get/backup" || fail "wal-get $BACKUP_FILE"
cmp "$T/pg/pushed/$BACKUP_FILE" "$T/pg/get/backup" || fail "wal-get $BACKUP_FILE differs from what was pushed"
pg_arca verify app-wal >/dev/null 2>&1 || fail "verify fails after forget"

step "check notices a failing archive_command"
failed=$(pg_sql $APP postgres "SELECT failed_count FROM pg_stat_archiver")
pg_sql $APP postgres "ALTER SYSTEM SET archive_command = 'false'"
pg_sql $APP postgres "SELECT pg_reload_conf()" >/dev/null
# The archiver reloads when it gets to it: until it has failed once with
# the new command, write and switch a segment for it (no sleep as a guess)
i=0
while [ "$(pg_sql $APP postgres "SELECT failed_count > $failed FROM pg_stat_archiver")" != t ]; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "the archiver did not run the failing archive_command in 30 s"
	pg_sql $APP postgres "SELECT pg_create_restore_point('x'), pg_switch_wal()" > /dev/null
	sleep 0.1
done
expect_fail 8 pg_arca check app-wal
expect_stderr "did not reach the archive"

pass "wal-push idempotence and conflicts, wal-get, WAL retention, check"
