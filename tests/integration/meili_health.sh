#!/bin/sh
# `arca health` of a meilisearch target against tests/meili_double.py: a
# server that says "available" and whose /stats answers with the target's key
# is healthy (exit 0, its indexes and documents counted); --index names
# indexes that must exist (a missing one: 8); a wrong key (5), no key (5), a
# key without stats.get (5, the action named), a server that is not there
# (4) and a web server that is no Meilisearch (6) are not; an empty server is
# healthy with a warning; tasks still enqueued or processing are a warning,
# or with --wait-tasks waited for (the counts then include what they added)
# and, still there when the bound passes, a failure (6); --into URL looks at
# the server a restore wrote into, with restore_api_key; --into DIR reads the
# .dump a restore wrote there to its end (cut short: 6; none: 8).
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/meili.sh"
export MEILI_API_KEY=$MEILI_KEY WRONG_KEY=not-the-key NOSTATS_KEY=no-stats-key-0123

meili_start src --api-key "$NOSTATS_KEY:version,tasks.get,indexes.get"
meili_start empty
meili_start stalled --stall-task documentAdditionOrUpdate
meili_start slow --slow-task documentAdditionOrUpdate:1.5
$MEILI_TOOL load "$src_URL" "$MEILI_KEY" 30 || fail "load"
port=$(free_port)
write_engine_config
target() { # NAME URL KEYVAR [LINE...]
	tn=$1 tu=$2 tk=$3; shift 3
	printf '\n[target %s]\ndriver = meilisearch\ndestinations = local\nurl = %s\nmethod = export\n' "$tn" "$tu" >> "$ARCA_CONFIG"
	[ -z "$tk" ] || printf 'api_key_env = %s\n' "$tk" >> "$ARCA_CONFIG"
	for l in "$@"; do printf '%s\n' "$l" >> "$ARCA_CONFIG"; done
}
target good "$src_URL" MEILI_API_KEY "restore_api_key_env = MEILI_API_KEY"
target wrong "$src_URL" WRONG_KEY
target nokey "$src_URL" ""
target nostats "$src_URL" NOSTATS_KEY
target down "http://127.0.0.1:$port" MEILI_API_KEY
target empty "$empty_URL" MEILI_API_KEY
target stalled "$stalled_URL" MEILI_API_KEY
target slow "$slow_URL" MEILI_API_KEY
arca init > /dev/null || fail "init"
api() { # URL METHOD PATH [BODY]: one call with the master key
	curl -sf -X "$2" -H "Authorization: Bearer $MEILI_KEY" -H 'Content-Type: application/json' \
		${4:+-d "$4"} "$1$3" > /dev/null || fail "$2 $3 on $1"
}

step "a serving server: healthy, its indexes and documents counted"
arca health good >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; fail "health of good"; }
grep -q "^target good: healthy (driver meilisearch)$" "$T/out" || { cat "$T/out"; fail "no healthy line"; }
grep -q "Meilisearch 1.13.0 at $src_URL: available, 3 index(es), 30 document(s)" "$T/err" ||
	{ cat "$T/err"; fail "health does not say what it saw"; }
grep -q "warning" "$T/err" && { cat "$T/err"; fail "a warning for a healthy server"; }

step "--index: each named index exists, else 8"
arca health good --index movies,books 2>"$T/err" >/dev/null || { cat "$T/err"; fail "--index movies,books"; }
grep -q "index movies: 15 document(s)" "$T/err" || { cat "$T/err"; fail "movies not counted"; }
grep -q "index books: 10 document(s)" "$T/err" || { cat "$T/err"; fail "books not counted"; }
expect_fail 8 arca health good --index movies,nosuch
expect_stderr "target good is not healthy: Meilisearch at $src_URL has no index nosuch \(it has 3: [a-z, ]+\)"
expect_fail 3 arca health good --index 'bad/uid'
expect_stderr "is not an index uid"

step "a wrong key, no key, a key without stats.get: 5"
expect_fail 5 arca health wrong
expect_stderr "refused the API key for GET /version.*invalid_api_key\); the key is wrong"
expect_fail 5 arca check wrong
expect_stderr "refused the API key for GET /version.*invalid_api_key\); the key is wrong"
expect_fail 5 arca health nokey
expect_stderr "missing_authorization_header.*api_key_file"
expect_fail 5 arca health nostats
expect_stderr "refused GET /stats.*lacks the .stats.get. action"

step "a server that is not there: 4"
expect_fail 4 arca health down
expect_stderr "target down is not healthy: cannot reach Meilisearch at http://127.0.0.1:$port \(GET /health\)"

step "a web server that is no Meilisearch: 6"
mkdir -p "$T/www"
www_start "$T/www"
target web "http://127.0.0.1:$WWW_PORT" MEILI_API_KEY
expect_fail 6 arca health web
expect_stderr "answers GET /health with 404: is it a Meilisearch server"

step "an empty server: healthy, with a warning"
arca health empty 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health of an empty server"; }
grep -q "warning: .*available, 0 index(es), 0 document(s)" "$T/err" || { cat "$T/err"; fail "no warning for no index"; }

step "tasks still processing: a warning; --wait-tasks fails when they outlast it"
api "$stalled_URL" POST /indexes '{"uid":"late","primaryKey":"id"}'
i=0
until curl -sf -H "Authorization: Bearer $MEILI_KEY" "$stalled_URL/indexes/late" > /dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "index late was not created"; sleep 0.1
done
api "$stalled_URL" POST /indexes/late/documents '[{"id":1},{"id":2}]'
arca health stalled --index late 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health with a task processing"; }
grep -q "warning: .*1 task(s) enqueued or processing, the newest task 1 (documentAdditionOrUpdate of index late, processing).*--wait-tasks" "$T/err" ||
	{ cat "$T/err"; fail "the processing task is not named"; }
expect_fail 6 arca health stalled --wait-tasks 1
expect_stderr "still has 1 task\(s\) enqueued or processing after 1s \(--wait-tasks\), the newest task 1"
expect_fail 3 arca health stalled --wait-tasks soon
expect_stderr "--wait-tasks soon: give seconds"

step "--wait-tasks waits for a queue that drains: the counts include what it added"
api "$slow_URL" POST /indexes/late/documents '[{"id":1},{"id":2},{"id":3}]'
arca health slow --wait-tasks 1m --index late 2>"$T/err" >/dev/null || { cat "$T/err"; fail "--wait-tasks 1m"; }
grep -q "index late: 3 document(s)" "$T/err" || { cat "$T/err"; fail "the counts were taken before the queue drained"; }
grep -q "warning" "$T/err" && { cat "$T/err"; fail "a warning after the queue drained"; }

step "--into URL: the server a restore wrote into, with restore_api_key"
arca snapshot good > /dev/null 2>&1 || fail "snapshot good"
arca restore good --into "$empty_URL" > /dev/null 2>&1 || fail "restore --into"
arca health good --into "$empty_URL" --index users 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health --into"; }
grep -q "at $empty_URL: available, 3 index(es), 30 document(s)" "$T/err" || { cat "$T/err"; fail "health --into did not look there"; }
grep -q "index users: 5 document(s)" "$T/err" || { cat "$T/err"; fail "users not counted"; }

step "--into DIR: the .dump a restore wrote there reads to its end"
arca restore good --into "$T/dumps" > /dev/null 2>&1 || fail "restore --into DIR"
arca health good --into "$T/dumps" --index movies,users 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health --into DIR"; }
grep -q "$T/dumps/.*\.dump: a V6 dump (Meilisearch .*) that reads to its end: 3 index(es), 30 document(s)" "$T/err" ||
	{ cat "$T/err"; fail "health --into DIR does not say what it read"; }
expect_fail 8 arca health good --into "$T/dumps" --index nosuch
expect_stderr "\.dump has no index nosuch \(it has 3\)"
expect_fail 3 arca health good --into "$T/dumps" --wait-tasks 5
expect_stderr "--wait-tasks looks at a running server's task queue"
f=$(ls "$T/dumps"/*.dump)
head -c "$(($(stat -c %s "$f") / 2))" "$f" > "$f.cut" && mv "$f.cut" "$f"
expect_fail 6 arca health good --into "$T/dumps"
expect_stderr "does not read as a dump"
mkdir "$T/nodump"
expect_fail 8 arca health good --into "$T/nodump"
expect_stderr "holds no \.dump: .arca restore good --into"

sed -i 's/^restore_api_key_env = MEILI_API_KEY$/restore_api_key_env = WRONG_KEY/' "$ARCA_CONFIG"
expect_fail 5 arca health good --into "$empty_URL"
expect_stderr "Meilisearch at $empty_URL refused the API key"
expect_fail 3 arca health good --into relative/dir
expect_stderr "--into takes http\(s\)://HOST:PORT"
pass
