#!/bin/sh
# The conformance kit (issue 15, item 9): the installed arca-driver-check
# passes dir, files, the SDK example (built from the installed SDK), the
# ABI 1.0 test driver compat10 as both kinds, meilisearch (against the
# protocol double), postgres (logical, when the PostgreSQL 15 binaries are
# there) and redis (when redis-server is); and it fails a driver that breaks
# the contract, naming what broke.
. "$ARCA_SRCDIR/tests/lib/common.sh"

KIT="$ARCA_STAGE$ARCA_BINDIR/arca-driver-check"
[ -x "$KIT" ] || fail "arca-driver-check is not installed in \$(bindir)"
kit() { "$KIT" --plugin-dir "$PLUGIN_DIR" "$@"; }
# kit_pass NAME ARGS...: every check passes
kit_pass() {
	kp_name=$1; shift
	kit "$@" > "$T/kit.out" 2>&1 || { cat "$T/kit.out" >&2; fail "$kp_name does not pass arca-driver-check"; }
	grep -q '^FAIL' "$T/kit.out" && { cat "$T/kit.out" >&2; fail "$kp_name: FAIL printed, exit 0"; }
	grep -Eq '^[0-9]+ checks passed, 0 failed$' "$T/kit.out" || fail "$kp_name: no summary"
	echo "$kp_name: $(tail -1 "$T/kit.out")"
}

step "usage"
"$KIT" --help | grep -q 'Usage: arca-driver-check' || fail "--help"
expect_fail 2 "$KIT"
expect_fail 2 "$KIT" relative.so

step "dir (a destination; round trip of a files snapshot through it)"
mkdir -p "$T/dirobjs"
printf 'path = %s\n' "$T/dirobjs" > "$T/dir.sec"
kit_pass dir "$PLUGIN_DIR/dir.so" "$T/dir.sec"
grep -q '^ok   the same from 8 threads at once' "$T/kit.out" || fail "dir: no concurrency check"
grep -q '^ok   sweep' "$T/kit.out" || fail "dir: sweep (1.1) not checked"
grep -q '^ok   ABI 1.1 ops: probe (conditional create yes' "$T/kit.out" ||
	fail "dir: the ABI 1.1 destination ops (probe, streamed put, batch remove) not checked"
grep -q '^ok   verify (every byte read back)' "$T/kit.out" || fail "dir: no round trip"

step "files (a target), compared after restore"
mkdir -p "$T/src/sub"
head -c 70000 /dev/urandom > "$T/src/a.bin"
echo hello > "$T/src/sub/b.txt"
ln -s a.bin "$T/src/link"
printf 'path = %s\n' "$T/src" > "$T/files.sec"
kit_pass files --after-restore "diff -r '$T/src' \"\$ARCA_CHECK_RESTORED\"" \
	"$PLUGIN_DIR/files.so" "$T/files.sec"
grep -Eq "^ok +health of the restored store" "$T/kit.out" || fail "files: no health check of the restored tree"
grep -q '^ok   cancellation mid-snapshot records nothing' "$T/kit.out" || fail "files: cancellation"

if [ -e "$PLUGIN_DIR/meilisearch.so" ]; then
	step "meilisearch (method = dump, against the protocol double), restored to a .dump"
	. "$ARCA_SRCDIR/tests/lib/meili.sh"
	meili_start ms
	$MEILI_TOOL load "$ms_URL" "$MEILI_KEY" 3000 || fail "meilisearch: load"
	export MEILI_API_KEY=$MEILI_KEY
	printf 'url = %s\napi_key_env = MEILI_API_KEY\ndump_dir = %s\n' "$ms_URL" "$T/ms-dumps" > "$T/ms.sec"
	kit_pass meilisearch --after-restore "python3 '$ARCA_SRCDIR/tests/lib/meili_tool.py' dump-members \"\$ARCA_CHECK_RESTORED\"/*.dump | grep -q '^indexes/movies/documents.jsonl '" \
		"$PLUGIN_DIR/meilisearch.so" "$T/ms.sec"
	grep -q '^ok   cancellation mid-snapshot records nothing' "$T/kit.out" || fail "meilisearch: cancellation"
	grep -Eq "^ok +health of the restored store" "$T/kit.out" || fail "meilisearch: no health check of the restored .dump"
fi

step "the SDK example, built from the installed SDK"
if command -v pkg-config >/dev/null && command -v cc >/dev/null; then
	pcdir=$ARCA_STAGE$ARCA_PREFIX/lib/pkgconfig
	mkdir -p "$T/sdk"
	cp "$ARCA_SRCDIR/sdk/example/command.c" "$ARCA_SRCDIR/sdk/example/Makefile" "$T/sdk/"
	(cd "$T/sdk" && PKG_CONFIG_PATH="$pcdir" make -s PKG_CONFIG="pkg-config --define-prefix" \
		CFLAGS="-O2 -Wall -Wextra -Werror") || fail "example driver does not build"
	head -c 100000 /dev/urandom > "$T/dump.bin"
	printf 'dump_command = cat %s\nrestore_command = cat > %s\n' "$T/dump.bin" "$T/dump.out" \
		> "$T/cmd.sec"
	kit_pass command --after-restore "cmp '$T/dump.bin' '$T/dump.out'" "$T/sdk/command.so" "$T/cmd.sec"
fi

mod="$ARCA_BUILDDIR/tests/unit/modules/.libs/compat10.so"
if [ -f "$mod" ]; then
	step "a driver built against ABI 1.0 passes, as a target and as a destination"
	echo data > "$T/c10.data"
	printf 'path = %s\n' "$T/c10.data" > "$T/c10t.sec"
	kit_pass "compat10 target" --restore-option into="$T/c10.out" \
		--after-restore "cmp '$T/c10.data' '$T/c10.out'" "$mod" "$T/c10t.sec"
	mkdir -p "$T/c10objs"
	printf 'path = %s\n' "$T/c10objs" > "$T/c10d.sec"
	kit_pass "compat10 destination" --kind destination "$mod" "$T/c10d.sec"

	step "a driver that breaks the contract fails, naming what broke"
	printf 'path = %s\nsecret_then_cancel = yes\n' "$T/c10.data" > "$T/bad.sec"
	expect_fail 1 "$KIT" --plugin-dir "$PLUGIN_DIR" "$mod" "$T/bad.sec"
	grep -q '^FAIL snapshot' "$T/out" || { cat "$T/out" >&2; fail "a failing snapshot passed"; }
	grep -q '^FAIL every failing return carries a message of its status: snapshot returned 10 (cancelled), but the message is of status 8' "$T/out" ||
		{ cat "$T/out" >&2; fail "a failure without its message passed"; }
fi

if [ -e "$PLUGIN_DIR/postgres.so" ] && [ -x /usr/lib/postgresql/15/bin/initdb ]; then
	step "postgres (logical), restored into a new database"
	. "$ARCA_SRCDIR/tests/lib/pg.sh"
	pg_require
	pg_start app
	pg_sql "$PG_PORT" postgres "CREATE DATABASE src" > /dev/null
	pg_sql "$PG_PORT" src "CREATE TABLE t(i int); INSERT INTO t SELECT generate_series(1, 5000)" > /dev/null
	printf 'conninfo = %s\n' "$(pg_conninfo "$PG_PORT" src)" > "$T/pg.sec"
	kit_pass postgres --restore-option into="$(pg_conninfo "$PG_PORT" dst)" \
		"$PLUGIN_DIR/postgres.so" "$T/pg.sec"
	grep -Eq "^ok +health of the restored store" "$T/kit.out" ||
		fail "postgres: no health check of the restored database"
	[ "$(pg_sql "$PG_PORT" dst "SELECT sum(i) FROM t")" = 12502500 ] ||
		fail "postgres: the restored database differs"
fi
if [ -e "$PLUGIN_DIR/redis.so" ] && command -v redis-server >/dev/null; then
	step "redis, restored to a directory and checked by redis-check-rdb"
	. "$ARCA_SRCDIR/tests/lib/redis.sh"
	redis_start kitsrc
	redis_populate "$kitsrc_PORT"
	printf 'port = %s\n' "$kitsrc_PORT" > "$T/redis.sec"
	kit_pass redis --restore-option into="$T/redis.out" \
		--after-restore "redis-check-rdb '$T/redis.out/dump.rdb' >/dev/null" \
		"$PLUGIN_DIR/redis.so" "$T/redis.sec"
fi
pass
