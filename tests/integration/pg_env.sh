#!/bin/sh
# pg_env: the programs the postgres driver runs get none of arca's secrets,
# and only from directories no one else can write.
#  - pg_bin_dir holds wrappers that record their environment and exec the
#    real program. A logical snapshot, verify, check and restore (pg_dump,
#    pg_dumpall, psql, pg_restore) and a physical restore --start (pg_ctl,
#    pg_controldata, and the server itself) see neither ARCA_PASSPHRASE's
#    value, nor the variables other targets' password_env name (one of them
#    a libpq variable, PGAPPNAME), nor any ARCA_* or unrelated variable;
#    pg_dump still gets PATH, the user's libpq variables and its target's
#    password as PGPASSWORD, and the restores compare equal;
#  - a world-writable pg_bin_dir, a world-writable program, a program owned
#    by another user and a program found on PATH in a world-writable
#    directory are refused with exit 3, naming the path and the fix;
#  - restore --start with the passphrase only in ARCA_PASSPHRASE fails
#    (the server cannot have it) and says to use passphrase_file.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require

pg_wal_start
pg_sql $APP postgres "CREATE ROLE shop LOGIN PASSWORD 'Shop-Pw-1'"
pg_sql $APP postgres "CREATE DATABASE shop OWNER shop"
pg_sql $APP shop "SET ROLE shop;
	CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10, 2));
	CREATE INDEX ON items (name);
	INSERT INTO items SELECT g, md5(g::text), g / 7.0 FROM generate_series(1, 20000) g"

# Secrets in arca's environment: the passphrase (common.sh), this target's
# password, two other targets' passwords (one in a libpq variable), and
# variables no child has any use for.
export ARCA_TEST_SHOP_PW=Shop-Pw-1 ARCA_TEST_OTHER_PW=Other-Secret-7 PGAPPNAME=Third-Secret-8
export ARCA_TEST_DECOY=Decoy-Value-5 UNRELATED_SECRET=Unrelated-Value-6
# a libpq variable of the user's own, wanted by the children that connect
export PGCONNECT_TIMEOUT=17
SECRETS="$ARCA_PASSPHRASE|Other-Secret-7|Third-Secret-8|Decoy-Value-5|Unrelated-Value-6"

# pg_bin_dir: wrappers that record "# ARGS" and env into $T/envlog/NAME.PID
mkdir -p "$T/pgbin" "$T/envlog"
for p in pg_dump pg_dumpall pg_restore psql pg_ctl pg_controldata; do
	cat > "$T/pgbin/$p" <<EOF
#!/bin/sh
{ echo "# \$*"; env; } > "$T/envlog/$p.\$\$"
exec "$PG_BIN/$p" "\$@"
EOF
done
chmod 755 "$T/pgbin" "$T/pgbin"/*
[ "$(id -u)" = 0 ] && chown postgres: "$T/envlog"

{
	echo
	pg_wal_target "pg_bin_dir = $T/pgbin"
	cat <<EOF

[target shop]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP shop shop)
password_env = ARCA_TEST_SHOP_PW
globals = yes
restore_globals = yes
pg_bin_dir = $T/pgbin

[target other]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP shop other)
password_env = ARCA_TEST_OTHER_PW

[target third]
driver = postgres
destinations = local
conninfo = $(pg_conninfo $APP shop third)
password_env = PGAPPNAME
EOF
} >> "$ARCA_CONFIG"
chmod 644 "$ARCA_CONFIG"
pg_arca init >/dev/null

# leaks FILE...: print the lines of recorded environments that hold a
# secret or a variable no child should get
leaks() { grep -HE -e "$SECRETS" -e '^(ARCA_|UNRELATED_SECRET=)' "$@"; }
# envs PROGRAM: the environments PROGRAM was started with so far
envs() { ls "$T/envlog/$1".* 2>/dev/null; }
# those of the programs that connected to a server (-d CONNINFO), and the others
connecting() { grep -l -e '^# .* -d ' "$T/envlog"/*; }
not_connecting() { grep -L -e '^# .* -d ' "$T/envlog"/*; }

step "the leak detector finds the secrets in arca's own environment"
env > "$T/arca.env"
[ "$(leaks "$T/arca.env" | wc -l)" -ge 6 ] || fail "the leak detector misses secrets"

step "logical snapshot, check and verify"
pg_db_fingerprint $APP shop > "$T/fp.orig"
pg_arca snapshot shop >/dev/null 2>"$T/err" || { cat "$T/err"; fail "snapshot failed"; }
pg_arca check shop >/dev/null 2>"$T/err" || { cat "$T/err"; fail "check failed"; }
pg_arca verify shop >/dev/null 2>"$T/err" || { cat "$T/err"; fail "verify failed"; }

step "logical restore (globals replayed by psql) into a new database"
pg_arca restore shop --into "$(pg_conninfo $APP shop_copy)" >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore failed"; }
pg_db_fingerprint $APP shop_copy > "$T/fp.copy"
diff "$T/fp.orig" "$T/fp.copy" >&2 || fail "the restored database differs"

step "physical snapshot and restore --start"
pg_arca snapshot app-wal >/dev/null 2>"$T/err" || { cat "$T/err"; fail "physical snapshot failed"; }
WANT=$(pg_sql $APP shop "SELECT count(*), sum(price) FROM items")
pg_switch_wait $APP >/dev/null
pg_stop "$app_DATA"
pg_arca restore app-wal --into "$T/pg/restored" --start >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "restore --start failed"; }
[ "$(pg_sql $APP shop "SELECT count(*), sum(price) FROM items")" = "$WANT" ] ||
	fail "the restored cluster differs"
# the server arca started: its own environment, read while it runs
tr '\0' '\n' < "/proc/$(head -1 "$T/pg/restored/postmaster.pid")/environ" > "$T/envlog/server.env"
pg_stop "$T/pg/restored"

step "restore --start with the passphrase only in ARCA_PASSPHRASE: the error says why"
sed -i "s#^passphrase_file = $T/passphrase\$#passphrase_env = ARCA_PASSPHRASE#" "$ARCA_CONFIG"
expect_fail 8 pg_arca restore app-wal --into "$T/pg/no-passphrase" --start
expect_stderr "passphrase_env names the variable ARCA_PASSPHRASE"
expect_stderr "gets no ARCA_PASSPHRASE, so its restore_command needs passphrase_file"
pg_stop "$T/pg/no-passphrase"
sed -i "s#^passphrase_env = ARCA_PASSPHRASE\$#passphrase_file = $T/passphrase#" "$ARCA_CONFIG"

step "every program ran from pg_bin_dir"
for p in pg_dump pg_dumpall pg_restore psql pg_ctl pg_controldata; do
	[ -n "$(envs $p)" ] || fail "$p did not run from pg_bin_dir"
done
[ "$(envs pg_restore | wc -l)" -ge 2 ] || fail "expected pg_restore for verify and restore"

step "no secret reached a child or the server"
if leaks "$T/envlog"/*; then
	fail "secrets or unrelated variables reached the programs (above)"
fi
[ "$(connecting | wc -l)" = 4 ] || fail "expected pg_dump, pg_dumpall, psql, pg_restore to connect"
# the snapshot connects as the target's role: its password from arca; the
# restore --into as postgres: the password from the user's PGPASSFILE
for f in $(connecting); do
	grep -q "^PGCONNECT_TIMEOUT=17$" "$f" || fail "$f lacks the user's libpq variable"
	grep -q "^PGPASSFILE=$PGPASSFILE$" "$f" || fail "$f lacks the user's PGPASSFILE"
	grep -q "^PATH=" "$f" || fail "$f lacks PATH"
done
[ "$(connecting | grep -c /pg_dump)" = 2 ] || fail "expected pg_dump and pg_dumpall to connect"
for f in $(connecting | grep /pg_dump); do
	grep -q "^PGPASSWORD=Shop-Pw-1$" "$f" || fail "$f did not get its target's password"
done
# the others (pg_dump --version, verify's pg_restore, pg_ctl, pg_controldata
# and the server) get no libpq variables at all
[ "$(not_connecting | wc -l)" -ge 5 ] || fail "expected 5 or more programs that do not connect"
for f in $(not_connecting); do
	grep -q "^PATH=" "$f" || fail "$f lacks PATH"
	! grep -E "^PG(PASSWORD|PASSFILE|CONNECT_TIMEOUT)=" "$f" || fail "$f has libpq variables"
done

step "a world-writable pg_bin_dir is refused"
ran=$(ls "$T/envlog" | wc -l)
snaps() { pg_arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
before=$(snaps)
refused() { # TARGET DIR: a target like shop, using pg_bin_dir DIR
	printf '\n[target %s]\ndriver = postgres\ndestinations = local\nconninfo = %s\n' \
		"$1" "$(pg_conninfo $APP shop shop)" >> "$ARCA_CONFIG"
	printf 'password_env = ARCA_TEST_SHOP_PW\npg_bin_dir = %s\n' "$2" >> "$ARCA_CONFIG"
}
as_pg "$PG_BIN/pg_ctl" -D "$app_DATA" -l "$T/pg/app/server.log" -w -t 60 start >/dev/null
cp -a "$T/pgbin" "$T/open-dir"
chmod 777 "$T/open-dir"
refused open-dir "$T/open-dir"
expect_fail 3 pg_arca snapshot open-dir
expect_stderr "refusing to run $T/open-dir/pg_dump \(found in pg_bin_dir\)"
expect_stderr "the directory $T/open-dir is group- and world-writable \(mode 0777\)"
expect_stderr "chmod go-w $T/open-dir"

step "a world-writable program is refused"
cp -a "$T/pgbin" "$T/open-file"
chmod 777 "$T/open-file/pg_dump"
refused open-file "$T/open-file"
expect_fail 3 pg_arca snapshot open-file
expect_stderr "the program $T/open-file/pg_dump is group- and world-writable \(mode 0777\)"
expect_stderr "chmod go-w $T/open-file/pg_dump"

if [ "$(id -u)" = 0 ]; then
	step "a program owned by another user is refused"
	cp -a "$T/pgbin" "$T/other-owner"
	chown nobody "$T/other-owner/pg_dump"
	refused other-owner "$T/other-owner"
	expect_fail 3 pg_arca snapshot other-owner
	expect_stderr "pg_dump is owned by uid [0-9]+ \(nobody\), not by root or by uid [0-9]+ \(postgres\)"
	expect_stderr "chown root $T/other-owner/pg_dump"
fi

step "on PATH: a program in a world-writable directory is refused, a safe one runs"
mkdir -p "$T/no-bin" "$T/open-path"
cp -a "$T/pgbin/pg_dump" "$T/open-path/"
chmod 755 "$T/no-bin"
chmod 757 "$T/open-path"
refused via-path "$T/no-bin"
expect_fail 3 as_pg env PATH="$T/open-path:$PATH" "$ARCA" check via-path
expect_stderr "refusing to run $T/open-path/pg_dump \(found on PATH\)"
expect_stderr "the directory $T/open-path is world-writable \(mode 0757\)"
as_pg env PATH="$T/pgbin:$PATH" "$ARCA" check via-path >/dev/null 2>"$T/err" ||
	{ cat "$T/err"; fail "check with pg_dump from a safe PATH directory failed"; }

[ "$(ls "$T/envlog" | wc -l)" = $((ran + 1)) ] ||
	fail "a refused program ran (or the safe one on PATH did not)"
[ "$(snaps)" = "$before" ] || fail "a refused snapshot was recorded"

pass "children get no secrets; unsafe programs are refused"
