# tests/lib/pg.sh — throwaway PostgreSQL 15 clusters for integration tests.
# Source after common.sh. Clusters live under $T/pg (owned by postgres
# when the tests run as root: the server refuses to run as root), listen
# on 127.0.0.1 on a free port and are stopped by the common.sh exit hook.
#
#   pg_require                 skip (77) when the PostgreSQL 15 binaries are absent
#   pg_start NAME [LINE...]    initdb + start; extra postgresql.conf lines;
#                              sets PG_PORT/PG_DATA/PG_HOME and NAME_PORT/NAME_DATA
#   pg_stop DATADIR            fast shutdown (no-op when not running)
#   pg_sql PORT DB SQL...      psql -At as the postgres superuser (unix socket)
#   pg_sql_file PORT DB FILE [psql args]
#   as_pg CMD...               run as postgres when root
#   pg_arca ARGS...            the staged arca, as postgres when root (the
#                              repository is shared with archive_command)
#   pg_conninfo PORT DB [USER] libpq conninfo over TCP (password from PGPASSFILE)
#   pg_db_fingerprint PORT DB  schema + per-table row counts and md5 of rows
#   pg_passphrase_file         the repository passphrase from a file the postgres
#                              user reads, not ARCA_PASSPHRASE: a server that
#                              `restore --start` starts gets no arca secrets in its
#                              environment, yet its restore_command runs arca
#   pg_wal_start [COPY_DIR]    engine config (pg_passphrase_file) + cluster "app"
#                              archiving to target app-wal through arca wal-push;
#                              sets APP (its port); with COPY_DIR a copy of each
#                              pushed file lands there
#   pg_wal_target [LINE...]    prints the [target app-wal] section (physical, of
#                              "app"), extra lines appended

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DATASET=${PG_DATASET:-$ARCA_SRCDIR/tests/data/vectis-like.sql}
PG_SUPERPASS="pg-test-$$-secret"

pg_require() {
	for p in initdb pg_ctl postgres psql pg_dump pg_restore pg_dumpall; do
		[ -x "$PG_BIN/$p" ] || skip "PostgreSQL 15 binaries not found in $PG_BIN (apt-get install postgresql-15)"
	done
	[ -r "$PG_DATASET" ] || fail "dataset $PG_DATASET not found (set PG_DATASET)"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || skip "running as root but there is no postgres user"
	fi
	mkdir -p "$T/pg"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$T/pg"
	fi
	# The password of the postgres role, for TCP connections (scram).
	printf '*:*:*:postgres:%s\n' "$PG_SUPERPASS" > "$T/pg/pgpass"
	chmod 600 "$T/pg/pgpass"
	[ "$(id -u)" = 0 ] && chown postgres: "$T/pg/pgpass"
	export PGPASSFILE="$T/pg/pgpass"
	return 0
}

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_arca() { as_pg "$ARCA" "$@"; }

pg_start() {
	name=$1; shift
	home="$T/pg/$name"
	port=$(free_port)
	as_pg mkdir -p "$home"
	printf '%s\n' "$PG_SUPERPASS" > "$T/pg/$name.pw"
	[ "$(id -u)" = 0 ] && chown postgres: "$T/pg/$name.pw"
	as_pg "$PG_BIN/initdb" -D "$home/data" -U postgres --pwfile="$T/pg/$name.pw" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
		>"$home/initdb.log" 2>&1 || { cat "$home/initdb.log" >&2; fail "initdb $name failed"; }
	rm -f "$T/pg/$name.pw"
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$home'"
		echo "shared_buffers = 64MB"
		echo "max_wal_size = 256MB"
		echo "log_min_messages = warning"
		for line in "$@"; do echo "$line"; done
	} | as_pg tee -a "$home/data/postgresql.conf" >/dev/null
	# The port was free when free_port asked; a server of a parallel test
	# (make -j2) may have taken it since: then another port, a few times.
	tries=1
	until as_pg "$PG_BIN/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 start >/dev/null; do
		if [ $tries -ge 5 ] || ! grep -q "could not bind .*Address already in use" "$home/server.log"; then
			cat "$home/server.log" >&2
			fail "starting PostgreSQL $name failed"
		fi
		echo "PostgreSQL $name: port $port was taken meanwhile; trying another"
		as_pg mv "$home/server.log" "$home/server.log.$tries"
		port=$(free_port)
		echo "port = $port" | as_pg tee -a "$home/data/postgresql.conf" >/dev/null
		tries=$((tries + 1))
	done
	on_exit "pg_stop '$home/data'"
	PG_PORT=$port; PG_DATA="$home/data"; PG_HOME=$home
	eval "${name}_PORT=$port; ${name}_DATA='$home/data'"
}

pg_stop() {
	if [ -f "$1/postmaster.pid" ]; then
		as_pg "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$PG_BIN/pg_ctl" -D "$1" -m immediate -w stop >/dev/null 2>&1 || true
	fi
}

pg_sql() {
	port=$1; db=$2; shift 2
	as_pg "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres \
		-d "$db" -c "$*"
}

pg_sql_file() {
	port=$1; db=$2; file=$3; shift 3
	as_pg "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres \
		-d "$db" "$@" -f "$file"
}

pg_conninfo() { echo "host=127.0.0.1 port=$1 dbname=$2 user=${3:-postgres}"; }

pg_passphrase_file() {
	printf '%s\n' "$ARCA_PASSPHRASE" > "$T/passphrase"
	chmod 600 "$T/passphrase"
	[ "$(id -u)" = 0 ] && chown postgres: "$T/passphrase"
	sed -i "s#^passphrase_env = ARCA_PASSPHRASE\$#passphrase_file = $T/passphrase#" "$ARCA_CONFIG"
	grep -q "^passphrase_file = " "$ARCA_CONFIG" || fail "pg_passphrase_file: no passphrase_env line"
}

# The engine config (repository and state shared with the postgres user,
# whose archive_command writes to them) and the cluster "app" whose WAL
# archive is target app-wal. With COPY_DIR, archive_command first copies
# each file there: the bytes that were pushed, for comparisons.
pg_wal_start() {
	write_engine_config
	pg_passphrase_file
	[ "$(id -u)" = 0 ] && chown -R postgres: "$T/repo" "$T/state"
	pws_copy=
	if [ -n "${1:-}" ]; then
		as_pg mkdir -p "$1"
		pws_copy="cp %p $1/%f && "
	fi
	pg_start app "wal_level = replica" "archive_mode = on" \
		"archive_command = '$pws_copy$ARCA -c $ARCA_CONFIG wal-push app-wal %p'"
	APP=$app_PORT
}

pg_wal_target() {
	cat <<EOF
[target app-wal]
driver = postgres
destinations = local
mode = physical
conninfo = $(pg_conninfo $APP postgres)
EOF
	for line in "$@"; do echo "$line"; done
}

# Everything that must survive a round trip, in one comparable text: the
# schema (pg_dump --schema-only) and for each table its row count and the
# md5 of its rows in a stable order.
pg_db_fingerprint() {
	port=$1; db=$2
	as_pg "$PG_BIN/pg_dump" --schema-only --no-owner -h 127.0.0.1 -p "$port" -U postgres "$db" |
		grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict'
	for tbl in $(pg_sql "$port" "$db" "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename)
			FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
			ORDER BY 1"); do
		pg_sql "$port" "$db" "SELECT '$tbl', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))
			FROM $tbl t"
	done
}

# pg_switch_wait PORT: switch to a new WAL segment and wait until the
# archiver has archived the one switched out (PG_ARCHIVE_WAIT seconds,
# default 30); prints its name.
pg_switch_wait() {
	seg=$(pg_sql "$1" postgres "SELECT pg_walfile_name(pg_switch_wal())")
	i=0
	while [ "$(pg_sql "$1" postgres "SELECT coalesce(last_archived_wal >= '$seg', false)
			FROM pg_stat_archiver")" != t ]; do
		i=$((i + 1))
		[ $i -le $((${PG_ARCHIVE_WAIT:-30} * 10)) ] || fail "WAL segment $seg was not archived \
in ${PG_ARCHIVE_WAIT:-30} s: $(pg_sql "$1" postgres "SELECT last_failed_wal, last_failed_time
			FROM pg_stat_archiver")"
		sleep 0.1
	done
	echo "$seg"
}
