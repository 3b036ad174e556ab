#!/bin/sh
# pg_errors: the clear errors of mode = physical against a real PostgreSQL 15:
# wrong password (5), a role without REPLICATION (5), wal_level = minimal
# (3), archive_mode = off (3), an unreachable server (4). Each names the
# cause and the fix, leaks no password and records no snapshot.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

write_engine_config
[ "$(id -u)" = 0 ] && chown -R postgres: "$T/repo" "$T/state"
pg_start db "wal_level = minimal" "max_wal_senders = 0" "archive_mode = off"
DB=$db_PORT
pg_sql $DB postgres "CREATE ROLE backup LOGIN REPLICATION PASSWORD 'Backup-Pw-1'"
pg_sql $DB postgres "CREATE ROLE plain LOGIN PASSWORD 'Plain-Pw-2'"
export ARCA_TEST_BACKUP_PW=Backup-Pw-1 ARCA_TEST_PLAIN_PW=Plain-Pw-2 ARCA_TEST_WRONG_PW=Wrong-Pw-3
closed_port DOWN
for tgt in "good backup BACKUP" "wrong backup WRONG" "norepl plain PLAIN"; do
	set -- $tgt
	cat >> "$ARCA_CONFIG" <<EOF

[target $1]
driver = postgres
destinations = local
mode = physical
conninfo = $(pg_conninfo $DB postgres $2)
password_env = ARCA_TEST_$3_PW
EOF
done
cat >> "$ARCA_CONFIG" <<EOF

[target down]
driver = postgres
destinations = local
mode = physical
conninfo = $(pg_conninfo $DOWN postgres backup)
password_env = ARCA_TEST_BACKUP_PW
EOF
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null
snapshots() { pg_arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
no_secret() {
	! grep -q -e Backup-Pw-1 -e Plain-Pw-2 -e Wrong-Pw-3 "$T/out" "$T/err" ||
		fail "a password appears in the output"
}

step "wal_level = minimal"
expect_fail 3 pg_arca snapshot good
expect_stderr "wal_level is minimal"
expect_stderr "wal_level = replica"
expect_fail 3 pg_arca check good
expect_stderr "wal_level is minimal"

step "archive_mode = off"
pg_sql $DB postgres "ALTER SYSTEM SET wal_level = replica"
pg_sql $DB postgres "ALTER SYSTEM SET max_wal_senders = 5"
as_pg "$PG_BIN/pg_ctl" -D "$db_DATA" -w -t 60 restart -l "$T/pg/db/server.log" >/dev/null
expect_fail 3 pg_arca snapshot good
expect_stderr "archive_mode is off"
expect_stderr "archive_command = 'arca wal-push good %p'"

step "wrong password"
pg_sql $DB postgres "ALTER SYSTEM SET archive_mode = on"
pg_sql $DB postgres "ALTER SYSTEM SET archive_command = '$ARCA -c $ARCA_CONFIG wal-push good %p'"
as_pg "$PG_BIN/pg_ctl" -D "$db_DATA" -w -t 60 restart -l "$T/pg/db/server.log" >/dev/null
expect_fail 5 pg_arca snapshot wrong
expect_stderr "password authentication failed for user \"backup\""
no_secret

step "no REPLICATION privilege"
expect_fail 5 pg_arca snapshot norepl
expect_stderr "REPLICATION"
no_secret

step "server unreachable"
expect_fail 4 pg_arca snapshot down
expect_stderr "port $DOWN"

[ "$(snapshots)" = 0 ] || fail "a failed physical snapshot was recorded"

step "the good target works once the settings are right"
pg_arca snapshot good >"$T/out" 2>&1 || { cat "$T/out"; fail "physical snapshot failed"; }
no_secret
[ "$(snapshots)" = 1 ] || fail "expected one snapshot"

pass "physical errors: wal_level, archive_mode, password, REPLICATION, unreachable"
