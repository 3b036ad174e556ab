#!/bin/sh
# pg_logical: mode = logical against a real PostgreSQL 15.
#  - round trip of vectis-like.sql (small scale) compared by schema, per-table
#    row counts and checksums: parallel restore into a new database, streamed
#    restore (--jobs 1), restore over the original, restore onto a fresh
#    server where globals.sql recreates the role;
#  - verify reads the dump back; a damaged dump is reported;
#  - `arca health` connects to a restored database and queries it; a missing
#    database (8) and a closed port (4) are not healthy;
#  - pg_dump dying mid-stream (killed, or failing) records no snapshot and
#    says why; wrong password; a password inside conninfo.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

step "start PostgreSQL and load vectis-like.sql (scale 0.02)"
pg_start app
pg_start fresh
APP=$app_PORT
pg_sql $APP postgres "CREATE ROLE vectis LOGIN PASSWORD 'vectis-pw'"
pg_sql $APP postgres "CREATE DATABASE vectis OWNER vectis"
# The database's own properties, which a restore onto a fresh server keeps.
pg_sql $APP postgres "CREATE ROLE vectis_reader"
pg_sql $APP postgres "GRANT CONNECT ON DATABASE vectis TO vectis_reader"
pg_sql $APP postgres "REVOKE TEMPORARY ON DATABASE vectis FROM PUBLIC"
pg_sql $APP postgres "ALTER DATABASE vectis SET work_mem = '7MB'"
pg_sql $APP postgres "COMMENT ON DATABASE vectis IS 'Vectis; the app''s data'"
# owner, encoding, locale, privileges, settings and comment of database $2,
# with its own name written as DB so that copies compare equal
db_props() {
	pg_sql "$1" postgres "SELECT pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding),
		d.datcollate, d.datctype, d.datlocprovider, (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(d.datacl) a)::text,
		(SELECT array_agg(x ORDER BY x) FROM pg_db_role_setting s, unnest(s.setconfig) x
		 WHERE s.setdatabase = d.oid AND s.setrole = 0)::text,
		shobj_description(d.oid, 'pg_database')
		FROM pg_database d WHERE d.datname = '$2'"
}
pg_sql_file $APP vectis "$PG_DATASET" -v scale=0.02 -c "SET ROLE vectis" >"$T/load.log" 2>&1 ||
	{ cat "$T/load.log" >&2; fail "loading the dataset failed"; }
echo vectis-pw > "$T/pg/vectis.pw"
echo Wr0ngSecret > "$T/pg/wrong.pw"
chmod 600 "$T/pg/vectis.pw" "$T/pg/wrong.pw"
[ "$(id -u)" = 0 ] && chown postgres: "$T/pg/vectis.pw" "$T/pg/wrong.pw"

# A pg_dump that dies after 200 kB, and one that fails with a message.
mkdir -p "$T/bin-killed" "$T/bin-failing"
for p in pg_dumpall pg_restore psql; do
	ln -s "$PG_BIN/$p" "$T/bin-killed/$p"
	ln -s "$PG_BIN/$p" "$T/bin-failing/$p"
done
cat > "$T/bin-killed/pg_dump" <<EOF
#!/bin/sh
"$PG_BIN/pg_dump" "\$@" | head -c 200000
kill -9 \$\$
EOF
cat > "$T/bin-failing/pg_dump" <<EOF
#!/bin/sh
"$PG_BIN/pg_dump" "\$@" | head -c 100000
echo "pg_dump: error: simulated failure: could not read table orders" >&2
exit 1
EOF
chmod 755 "$T/bin-killed/pg_dump" "$T/bin-failing/pg_dump"

write_engine_config
cat >> "$ARCA_CONFIG" <<EOF

[target app-db]
driver = postgres
destinations = local
mode = logical
conninfo = $(pg_conninfo $APP vectis vectis)
password_file = $T/pg/vectis.pw
globals = yes

[target killed]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP vectis vectis)
password_file = $T/pg/vectis.pw
pg_bin_dir = $T/bin-killed

[target failing]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP vectis vectis)
password_file = $T/pg/vectis.pw
pg_bin_dir = $T/bin-failing

[target wrong-pw]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP vectis vectis)
password_file = $T/pg/wrong.pw
EOF
chmod 644 "$ARCA_CONFIG"
[ "$(id -u)" = 0 ] && chown -R postgres: "$T/repo" "$T/state"
pg_arca init >/dev/null

snapshots() { pg_arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

step "check reaches the server"
pg_arca check app-db >/dev/null 2>&1 || { pg_arca check app-db; fail "check app-db failed"; }

step "snapshot"
pg_db_fingerprint $APP vectis > "$T/fp.orig"
pg_arca snapshot app-db >/dev/null || fail "snapshot app-db failed"
[ "$(snapshots)" = 1 ] || fail "expected 1 snapshot after the first run"
pg_arca verify app-db >/dev/null 2>&1 || { pg_arca verify app-db; fail "verify failed"; }

step "restore --jobs 2 into a new database (the copy in memory; run as cron may, stdin closed)"
log_lines=$(wc -l < "$T/pg/app/server.log")
PGOPTIONS="-c log_statement=all" pg_arca -vv restore app-db --into "$(pg_conninfo $APP copy_j2)" \
	--jobs 2 <&- >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "restore -j2"; }
grep -q "copying the dump to memory" "$T/err" || { cat "$T/err" >&2; fail "no copy in memory"; }
cp "$T/err" "$T/copy_j2.err"
grep -q "5 data offsets set; tables ordered by their work" "$T/err" ||
	{ cat "$T/err" >&2; fail "data offsets not set, or the tables not ordered"; }
# pg_restore loads the table with the most work first: order_items (fewest
# bytes, most rows, an index and two foreign keys), products (most bytes,
# fewest rows) after the two others.
tail -n +"$log_lines" "$T/pg/app/server.log" | grep -o 'COPY public\.[a-z_]*' | head -3 |
	sed -n 3p | grep -qx "COPY public.products" ||
	{ tail -n +"$log_lines" "$T/pg/app/server.log" | grep 'COPY public' >&2; fail "load order"; }
pg_db_fingerprint $APP copy_j2 > "$T/fp.j2"
diff "$T/fp.orig" "$T/fp.j2" >&2 || fail "parallel restore differs from the original"
db_props $APP vectis > "$T/props.orig"
grep -q "vectis_reader=c/vectis" "$T/props.orig" || { cat "$T/props.orig" >&2; fail "test setup: no grant"; }
db_props $APP copy_j2 > "$T/props.j2"
diff "$T/props.orig" "$T/props.j2" >&2 || fail "a new database does not get the original's properties"

step "health: the restored database serves, a missing one and a closed port do not"
pg_arca health app-db --into "$(pg_conninfo $APP copy_j2)" >"$T/out" 2>&1 ||
	{ cat "$T/out" >&2; fail "health of the restored database"; }
grep -q "target app-db: healthy" "$T/out" || { cat "$T/out" >&2; fail "health said no healthy"; }
pg_arca -v health app-db >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "health of app-db"; }
grep -q 'database "vectis" .* answers queries: PostgreSQL 15.*accepting writes, [1-9][0-9]* tables' "$T/err" ||
	{ cat "$T/err" >&2; fail "health -v does not say what it saw"; }
expect_fail 8 pg_arca health app-db --into "$(pg_conninfo $APP never_restored)"
expect_stderr 'target app-db is not healthy: .*database "never_restored" does not exist'
closed_port nowhere
expect_fail 4 pg_arca health app-db --into "$(pg_conninfo $nowhere vectis)"
expect_stderr "target app-db is not healthy: .*cannot connect to PostgreSQL"
expect_fail 2 pg_arca health app-db --to-time now
expect_stderr "arca health: unknown option '--to-time'"

step "restore into a missing database the role may not create: the server's reason"
expect_fail 5 pg_arca restore app-db --into "$(pg_conninfo $APP nocreate vectis)" --jobs 2
expect_stderr 'database "nocreate" does not exist and creating it failed'
expect_stderr "permission denied to create database"

step "restore --jobs 1 (streamed) into a new database"
pg_arca restore app-db --into "$(pg_conninfo $APP copy_j1)" --jobs 1 >/dev/null 2>&1 ||
	fail "streamed restore failed"
pg_db_fingerprint $APP copy_j1 > "$T/fp.j1"
diff "$T/fp.orig" "$T/fp.j1" >&2 || fail "streamed restore differs from the original"

step "restore over the damaged original: refused without --overwrite, nothing touched"
pg_sql $APP vectis "DELETE FROM order_items WHERE order_id % 3 = 0; DROP TABLE words CASCADE;
	UPDATE products SET price_cents = 0; CREATE TABLE added_later (x int);
	INSERT INTO added_later VALUES (42)"
pg_db_fingerprint $APP vectis > "$T/fp.damaged"
expect_fail 11 pg_arca restore app-db
expect_stderr 'database "vectis" is not empty \(it holds [0-9]+ tables, views or sequences'
expect_stderr "--overwrite"
expect_stderr "--into 'dbname=NEWNAME'"
pg_db_fingerprint $APP vectis > "$T/fp.after-refusal"
diff "$T/fp.damaged" "$T/fp.after-refusal" >&2 || fail "a refused restore changed the database"
[ "$(pg_sql $APP vectis "SELECT x FROM added_later")" = 42 ] || fail "the refused restore lost a row"
expect_fail 11 pg_arca restore app-db --into "$(pg_conninfo $APP copy_j1)"
expect_stderr 'database "copy_j1" is not empty'

step "restore --overwrite over the damaged original (the copy in the scratch directory)"
sed -i '/^\[target app-db\]$/a restore_copy = disk' "$ARCA_CONFIG"
pg_arca -vv restore app-db --overwrite >/dev/null 2>"$T/err" ||
	{ cat "$T/err" >&2; fail "restore --overwrite into the original database failed"; }
sed -i '/^restore_copy = disk$/d' "$ARCA_CONFIG"
grep -q -- '--overwrite: replacing what database "vectis" holds' "$T/err" ||
	{ cat "$T/err" >&2; fail "--overwrite did not say what it replaces"; }
grep -q "copying the dump to .*/restore.pgdump" "$T/err" ||
	{ cat "$T/err" >&2; fail "restore_copy = disk did not copy to the scratch directory"; }
grep -q "data offsets set" "$T/err" || { cat "$T/err" >&2; fail "no data offsets were set"; }
pg_sql $APP vectis "DROP TABLE added_later"
pg_db_fingerprint $APP vectis > "$T/fp.back"
diff "$T/fp.orig" "$T/fp.back" >&2 || fail "restore over the original differs"

step "a file size limit below the planned copy's holes: copied again as it is"
# the copy_j2 restore said how large its copy was, and how large it read
sizes=$(grep -o 'the copy of [0-9]* bytes reads as [0-9]*' "$T/copy_j2.err" | tr -dc '0-9 ')
set -- $sizes
[ $# = 2 ] && [ "$2" -gt $(($1 + $1 / 2)) ] || fail "the planned copy has no holes: $sizes"
limit_kib=$((($1 + $2) / 2 / 1024))
pg_sql $APP postgres "DROP DATABASE copy_j2" >/dev/null
sed -i '/^\[target app-db\]$/a restore_copy = disk' "$ARCA_CONFIG"
(ulimit -f "$limit_kib" && pg_arca -vv restore app-db --into "$(pg_conninfo $APP copy_j2)" \
	--jobs 2 >/dev/null 2>"$T/err") || { cat "$T/err" >&2; fail "restore under a file size limit"; }
sed -i '/^restore_copy = disk$/d' "$ARCA_CONFIG"
grep -q "larger than .* allows; copying it again as it is" "$T/err" ||
	{ cat "$T/err" >&2; fail "the copy did not fall back"; }
pg_db_fingerprint $APP copy_j2 > "$T/fp.j2"
diff "$T/fp.orig" "$T/fp.j2" >&2 || fail "restore under a file size limit differs"

step "restore onto a fresh server: globals recreate the role"
[ -z "$(pg_sql $fresh_PORT postgres "SELECT 1 FROM pg_roles WHERE rolname = 'vectis'")" ] ||
	fail "fresh server already has the role"
pg_arca restore app-db --into "$(pg_conninfo $fresh_PORT vectis)" >/dev/null 2>&1 ||
	fail "restore onto the fresh server failed"
[ "$(pg_sql $fresh_PORT postgres "SELECT 1 FROM pg_roles WHERE rolname = 'vectis'")" = 1 ] ||
	fail "globals.sql did not recreate role vectis"
pg_db_fingerprint $fresh_PORT vectis > "$T/fp.fresh"
diff "$T/fp.orig" "$T/fp.fresh" >&2 || fail "restore onto the fresh server differs"
db_props $fresh_PORT vectis > "$T/props.fresh"
diff "$T/props.orig" "$T/props.fresh" >&2 ||
	fail "the database on the fresh server lost its owner, privileges, settings or comment"

step "pg_dump killed mid-stream: no snapshot, and the error says so"
expect_fail 6 pg_arca snapshot killed
expect_stderr "snapshot of killed failed, nothing was recorded"
expect_stderr "pg_dump of database \"vectis\" failed after [0-9]+ bytes: pg_dump was killed by signal 9"
[ "$(snapshots)" = 1 ] || fail "a snapshot was recorded although pg_dump was killed"

step "pg_dump failing: its message is shown"
expect_fail 6 pg_arca snapshot failing
expect_stderr "snapshot of failing failed, nothing was recorded"
expect_stderr "pg_dump exited with status 1; its last words: pg_dump: error: simulated failure: could not read table orders"
[ "$(snapshots)" = 1 ] || fail "a snapshot was recorded although pg_dump failed"

step "wrong password"
expect_fail 5 pg_arca snapshot wrong-pw
expect_stderr "password authentication failed"
expect_stderr "password_file"
grep -q "Wr0ngSecret" "$T/err" "$T/out" && fail "the password appears in the output"
[ "$(snapshots)" = 1 ] || fail "a snapshot was recorded with a wrong password"

step "a password inside conninfo is refused"
cp "$ARCA_CONFIG" "$T/good.ini"
cat >> "$ARCA_CONFIG" <<EOF

[target inline-pw]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP vectis vectis) password=S3cretInline
EOF
expect_fail 3 pg_arca snapshot inline-pw
expect_stderr "\\[target inline-pw\\]: conninfo contains a password; remove it and use password_file"
grep -q "S3cretInline" "$T/err" "$T/out" && fail "the inline password is echoed"
cp "$T/good.ini" "$ARCA_CONFIG"

pass "logical round trip, globals, failures"
