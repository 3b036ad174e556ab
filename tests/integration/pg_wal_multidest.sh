#!/bin/sh
# WAL archiving into a target with two destinations. The promise (arca(1)):
# wal-push "exits 0 once the segment is durable in every destination".
# "local" is on the test's filesystem, "b" on a tmpfs that is remounted
# read-only, then filled (the tests run as root: chmod does not stop root).
#  - segments archived by PostgreSQL's archive_command are in both, byte for
#    byte (wal-get through a configuration that names only one of them);
#  - with b read-only the archiver's wal-push fails: PostgreSQL counts the
#    failure and keeps the segment (.ready), and wal-push of it exits 6
#    naming b; local already holds it (blobs are written in the order of
#    `destinations`), which is harmless: the retry pushes identical bytes;
#  - with b full, wal-push exits 12;
#  - once b has room again the archiver's retries succeed and both
#    destinations hold every segment.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require
[ "$(id -u)" = 0 ] || skip "needs root to mount the tmpfs that holds destination b"
mkdir "$T/small"
mount -t tmpfs -o size=64m tmpfs "$T/small" 2> /dev/null || skip "cannot mount a tmpfs here"
on_exit "umount '$T/small'"

write_engine_config
cat >> "$ARCA_CONFIG" <<EOF

[destination b]
driver = dir
path = $T/small/b
passphrase_env = ARCA_PASSPHRASE
EOF
chown -R postgres: "$T/repo" "$T/state" "$T/small"
pg_start app "wal_level = replica" "archive_mode = on" \
	"archive_command = '$ARCA -c $ARCA_CONFIG wal-push app-wal %p'"
APP=$app_PORT
cat >> "$ARCA_CONFIG" <<EOF

$(pg_wal_target | sed 's/^destinations = local$/destinations = local, b/')
EOF
grep -q "^destinations = local, b$" "$ARCA_CONFIG" || fail "test setup: the target has not two destinations"
# One configuration per destination, to read what each one holds.
for d in local b; do
	sed "s/^destinations = local, b$/destinations = $d/" "$ARCA_CONFIG" > "$T/only-$d.ini"
done
chmod 644 "$ARCA_CONFIG" "$T/only-local.ini" "$T/only-b.ini"
pg_arca init > /dev/null || fail "init"
mkdir -p "$T/pg/get" && chown postgres: "$T/pg/get"

# in_both SEG: wal-get SEG from each destination alone; both hold it, equal
in_both() {
	for d in local b; do
		rm -f "$T/pg/get/$d"
		pg_arca -c "$T/only-$d.ini" wal-get app-wal "$1" "$T/pg/get/$d" 2> "$T/err" ||
			{ cat "$T/err" >&2; fail "destination $d does not hold $1"; }
	done
	[ "$(stat -c %s "$T/pg/get/local")" = 16777216 ] || fail "$1 from local is not 16 MiB"
	cmp "$T/pg/get/local" "$T/pg/get/b" || fail "$1 differs between local and b"
}
archiver() { pg_sql $APP postgres "SELECT $1 FROM pg_stat_archiver"; }
# wait_failed COUNT [SEG]: until the archiver has failed more than COUNT
# times in all (the last time on SEG)
wait_failed() {
	i=0
	while [ "$(archiver "failed_count > $1 ${2:+AND last_failed_wal = '$2'}")" != t ]; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "the archiver did not fail${2:+ on $2} in 30 s: $(archiver 'failed_count, last_failed_wal, last_archived_wal')"
		sleep 0.1
	done
}

step "archived segments are in both destinations, byte for byte"
pg_sql $APP postgres "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10000) g"
SEG1=$(pg_switch_wait $APP)
in_both "$SEG1"

step "b read-only: the archiver's wal-push fails and PostgreSQL keeps the segment"
mount -o remount,ro "$T/small"
failed=$(archiver failed_count)
pg_sql $APP postgres "INSERT INTO t SELECT generate_series(10001, 20000)"
SEG2=$(pg_sql $APP postgres "SELECT pg_walfile_name(pg_switch_wal())")
wait_failed "$failed" "$SEG2"
[ "$(archiver "coalesce(last_archived_wal < '$SEG2', true)")" = t ] || fail "$SEG2 reported archived"
[ -f "$app_DATA/pg_wal/archive_status/$SEG2.ready" ] || fail "PostgreSQL no longer keeps $SEG2 for a retry"
expect_fail 6 pg_arca wal-push app-wal "$app_DATA/pg_wal/$SEG2"
expect_stderr "destination b: .*Read-only file system"
expect_fail 8 pg_arca -c "$T/only-b.ini" wal-get app-wal "$SEG2" "$T/pg/get/x"
# What is recorded: local, first in `destinations`, took the segment before
# b refused it. Harmless: PostgreSQL retries, and re-pushing identical bytes
# succeeds.
pg_arca -c "$T/only-local.ini" wal-get app-wal "$SEG2" "$T/pg/get/x" ||
	fail "local does not hold $SEG2 (blobs are written in the order of destinations)"

step "b full: wal-push exits 12"
mount -o remount,rw "$T/small"
dd if=/dev/zero of="$T/small/filler" bs=1M > /dev/null 2>&1 || true
failed=$(archiver failed_count)
pg_sql $APP postgres "INSERT INTO t SELECT generate_series(20001, 30000)"
SEG3=$(pg_sql $APP postgres "SELECT pg_walfile_name(pg_switch_wal())")
# the archiver works in order: it fails on SEG2 (or on SEG3, if a retry of
# SEG2 slipped in while b was writable and empty)
expect_fail 12 pg_arca wal-push app-wal "$app_DATA/pg_wal/$SEG3"
expect_stderr "destination b: .*No space left on device"
[ "$(archiver "coalesce(last_archived_wal < '$SEG3', true)")" = t ] || fail "$SEG3 reported archived while b is full"
expect_fail 8 pg_arca -c "$T/only-b.ini" wal-get app-wal "$SEG3" "$T/pg/get/x"

wait_failed "$failed"

step "b has room again: the archiver catches up, both hold every segment"
rm "$T/small/filler"
SEG4=$(pg_switch_wait $APP)
for s in "$SEG2" "$SEG3" "$SEG4"; do in_both "$s"; done

pass "wal-push is durable in both destinations or fails (6 read-only, 12 full)"
