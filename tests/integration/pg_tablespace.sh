#!/bin/sh
# pg_tablespace: a physical backup of a cluster with a tablespace outside
# the data directory: the tablespace's files are stored under tblspc/OID/,
# verify checks them against the manifest, and a restore onto a machine
# where the location is empty puts them back behind the pg_tblspc link.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

pg_wal_start
as_pg mkdir -p "$T/pg/ts1"
{ echo; pg_wal_target; } >> "$ARCA_CONFIG"
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null

step "a table in a tablespace, backed up"
pg_sql $APP postgres "CREATE TABLESPACE ts1 LOCATION '$T/pg/ts1'"
pg_sql $APP postgres "CREATE TABLE far (id int, v text) TABLESPACE ts1"
pg_sql $APP postgres "INSERT INTO far SELECT g, md5(g::text) FROM generate_series(1, 5000) g"
WANT=$(pg_sql $APP postgres "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM far")
pg_arca snapshot app-wal >/dev/null 2>"$T/err" || { cat "$T/err"; fail "snapshot failed"; }
pg_arca verify app-wal >/dev/null 2>"$T/err" || { cat "$T/err"; fail "verify failed"; }
pg_switch_wait $APP >/dev/null

step "restore onto an empty location"
pg_stop "$app_DATA"
mv "$T/pg/ts1" "$T/pg/ts1.old"
expect_fail 0 pg_arca restore app-wal --into "$T/pg/restored" --start
[ -L "$T/pg/restored/pg_tblspc/$(ls "$T/pg/restored/pg_tblspc")" ] || fail "no pg_tblspc link"
[ -n "$(ls -A "$T/pg/ts1")" ] || fail "the tablespace location was not restored"
GOT=$(pg_sql $APP postgres "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM far")
[ "$GOT" = "$WANT" ] || fail "table in the tablespace differs: $GOT vs $WANT"
pg_stop "$T/pg/restored"

step "a location that is not empty is refused"
expect_fail 11 pg_arca restore app-wal --into "$T/pg/again"
expect_stderr "tablespace .* is not empty"
[ -z "$(ls -A "$T/pg/again" 2>/dev/null)" ] || fail "a refused restore left files behind"

pass "tablespace backed up, verified and restored"
