#!/bin/sh
# pg_clusters: the platform's two PostgreSQL clusters in one config, as the
# seed describes them: the app DB (daily dump kept longer, plus WAL and base
# backups) and the Temporal DB (its own server, kept shorter). One
# `arca snapshot` runs all three targets (two instances of the driver side
# by side) into one recovery point; forget applies each target's own
# retention; the kept snapshots restore.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

pg_wal_start
pg_start temporal
TMP=$temporal_PORT
pg_sql $APP postgres "CREATE DATABASE vectis"
pg_sql_file $APP vectis "$PG_DATASET" -v scale=0.005 >"$T/load.log" 2>&1 ||
	{ cat "$T/load.log" >&2; fail "loading the dataset failed"; }
pg_sql $TMP postgres "CREATE DATABASE temporal"
pg_sql $TMP temporal "CREATE TABLE executions (run_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	workflow text NOT NULL, state bytea, started timestamptz DEFAULT now())"
pg_sql $TMP temporal "INSERT INTO executions (workflow, state)
	SELECT 'order-' || g, sha256(g::text::bytea) FROM generate_series(1, 2000) g"
cat >> "$ARCA_CONFIG" <<EOF

# app DB: the daily dump (the platform keeps 30 days; here the last 3 runs)
[target app-db]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP vectis)
retention = last=3

# app DB: base backups + WAL for point-in-time recovery
$(pg_wal_target "retention = last=2")

# Temporal's own server (the platform keeps 14 days; here the last run)
[target temporal-db]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $TMP temporal)
retention = last=1
EOF
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null
count() { # count TARGET: snapshots of that target
	pg_arca list --json | python3 -c "import json,sys
print(sum(1 for s in json.load(sys.stdin) if s['target'] == '$1'))"
}

step "three runs of 'arca snapshot' over all targets"
for run in 1 2 3; do
	pg_sql $APP vectis "INSERT INTO users (email, password_hash, created_at)
		VALUES ('run$run@example.com', 'x', now())"
	pg_sql $TMP temporal "INSERT INTO executions (workflow) VALUES ('run-$run')"
	[ $run = 1 ] && pg_db_fingerprint $APP vectis > "$T/app.run1"
	pg_arca snapshot >"$T/out" 2>&1 || { cat "$T/out"; fail "snapshot run $run failed"; }
done
for tgt in app-db app-wal temporal-db; do
	[ "$(count $tgt)" = 3 ] || fail "$tgt has $(count $tgt) snapshots, want 3"
done
pg_arca list --json | python3 -c 'import json,sys
by = {}
for s in json.load(sys.stdin):
    by.setdefault(s["recovery_point"], set()).add(s["target"])
assert len(by) == 3 and all(len(t) == 3 for t in by.values()), by' ||
	fail "the three targets of one run do not share a recovery point"

step "forget applies each target's own retention"
pg_arca forget >"$T/out" 2>&1 || { cat "$T/out"; fail "forget failed"; }
[ "$(count app-db)" = 3 ] || fail "app-db kept $(count app-db), want 3"
[ "$(count app-wal)" = 2 ] || fail "app-wal kept $(count app-wal), want 2"
[ "$(count temporal-db)" = 1 ] || fail "temporal-db kept $(count temporal-db), want 1"
pg_arca prune >/dev/null 2>&1 || fail "prune failed"
pg_arca verify >"$T/out" 2>&1 || { cat "$T/out"; fail "verify after forget/prune failed"; }

step "the kept snapshots restore"
pg_db_fingerprint $TMP temporal > "$T/temporal.now"
pg_arca restore temporal-db --into "$(pg_conninfo $TMP temporal_copy)" >/dev/null 2>&1 ||
	fail "restoring temporal-db failed"
pg_db_fingerprint $TMP temporal_copy > "$T/temporal.copy"
diff "$T/temporal.now" "$T/temporal.copy" >&2 || fail "temporal restore differs"
OLDEST=$(pg_arca list --json | python3 -c 'import json,sys
print([s["id"] for s in json.load(sys.stdin) if s["target"] == "app-db"][0])')
pg_arca restore app-db --snapshot "$OLDEST" --into "$(pg_conninfo $APP vectis_run1)" \
	>/dev/null 2>&1 || fail "restoring the oldest app-db snapshot failed"
pg_db_fingerprint $APP vectis_run1 > "$T/app.copy"
diff "$T/app.run1" "$T/app.copy" >&2 || fail "the oldest app-db snapshot is not run 1's state"

pass "two clusters, three targets, one recovery point, own retention"
