#!/bin/sh
# recover: `arca recover` runs the runbook of [recovery]. A files target, a
# real redis-server and (where PostgreSQL 15 is installed) a logical postgres
# target are snapshotted together (one recovery point), then media alone (a
# newer point that lacks the others); every store is wiped (files removed,
# FLUSHALL, DROP DATABASE). recover picks the newest point that holds every
# target and restores all from it (tree manifest, DEBUG DIGEST and the
# database's schema + row checksums equal that moment's), runs a meilisearch
# target's fallback (rebuild_command: it has no snapshot) and the hooks in
# order, with no secret in their environment; the health step asks every
# store, the search engine (the Meilisearch double) too. --dry-run changes
# nothing; a point that lacks a target is refused, naming it (--partial
# restores what it holds); a non-empty place is refused without --overwrite (exit 11) and
# replaced with it; a failing hook stops the run with its exit code and a
# resume command that works; so does SIGTERM while a hook runs (exit 10, the
# hook's process group stopped too); a store that does not serve after
# post_hook (Redis shut down, the search engine stopped) stops the run at the
# health step; --json gives one document.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/redis.sh"
redis_require

export SECRET_TOKEN=hunter2-not-for-hooks
LOG="$T/hooks.log"
write_engine_config
redis_start src
mkdir -p "$T/media/sub"
head -c 300000 /dev/urandom > "$T/media/sub/photo.bin"
echo "first" > "$T/media/a.txt"
files_target media "$T/media"
redis_target cache "$src_PORT"
HAVE_MEILI=
if [ -e "$PLUGIN_DIR/meilisearch.so" ]; then
	HAVE_MEILI=1
	# a search engine without a snapshot: recover runs its fallback
	# (rebuild_command), then the health step asks the server (the
	# Meilisearch double, holding three indexes) whether it serves
	. "$(dirname "$0")/../lib/meili.sh"
	meili_start search
	$MEILI_TOOL load "$search_URL" "$MEILI_KEY" 30 || fail "load the search engine"
	printf '%s\n' "$MEILI_KEY" > "$T/meili.key"
	chmod 600 "$T/meili.key"
	printf '\n[target search]\ndriver = meilisearch\ndestinations = local\nurl = %s\napi_key_file = %s\nmethod = export\nrebuild_command = echo "rebuild $ARCA_TARGET" >> %s\n' \
		"$search_URL" "$T/meili.key" "$LOG" >> "$ARCA_CONFIG"
else
	skip_step "the meilisearch driver is not built: no fallback step"
fi
# PostgreSQL (the runbook's app database) where its binaries are: a logical
# target whose database is dropped and comes back
HAVE_PG=
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -x "$PG_BIN/pg_dump" ] && { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; }; then
	HAVE_PG=1
	. "$(dirname "$0")/../lib/pg.sh"
	pg_require
	pg_start app
	pg_sql "$app_PORT" postgres "CREATE DATABASE vectis"
	pg_sql "$app_PORT" vectis "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g"
	printf '%s\n' "$PG_SUPERPASS" > "$T/pg.pw"
	chmod 600 "$T/pg.pw"
	printf '\n[target app-db]\ndriver = postgres\nmode = logical\ndestinations = local\nconninfo = %s\npassword_file = %s\n' \
		"$(pg_conninfo "$app_PORT" vectis)" "$T/pg.pw" >> "$ARCA_CONFIG"
else
	skip_step "no PostgreSQL 15 binaries in $PG_BIN: no database target"
fi
hook() { # NAME: appends NAME and the recovery point, keeps the environment
	printf '%s = echo "%s $ARCA_RECOVERY_POINT" >> %s && env > %s/env.%s\n' "$1" "$1" "$LOG" "$T" "$1"
}
{
	printf '\n[recovery]\norder = media, cache%s%s\n' "${HAVE_PG:+, app-db}" "${HAVE_MEILI:+, search}"
	hook pre_hook
	hook post_hook
	hook verify_hook
} >> "$ARCA_CONFIG"
arca init >/dev/null

step "snapshot together, then media alone"
rcli "$src_PORT" set k1 v1 >/dev/null
rcli "$src_PORT" -n 2 debug populate 1000 key 16 >/dev/null
arca snapshot media cache ${HAVE_PG:+app-db} >/dev/null 2>"$T/err" || { cat "$T/err"; fail "snapshot"; }
RP1=$(arca list --json cache | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["recovery_point"])')
tree_manifest "$T/media" > "$T/media.rp1"
DIGEST1=$(redis_digest "$src_PORT")
[ -z "$HAVE_PG" ] || pg_db_fingerprint "$app_PORT" vectis > "$T/db.rp1"
echo "second" > "$T/media/a.txt"
echo "new" > "$T/media/b.txt"
arca snapshot media >/dev/null 2>"$T/err" || { cat "$T/err"; fail "snapshot media"; }
RP2=$(arca list --json media | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["recovery_point"])')
[ "$RP1" != "$RP2" ] || fail "two runs share a recovery point"
MEDIA_ID1=$(arca list --json media | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
CACHE_ID1=$(arca list --json cache | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

step "--dry-run: the plan from the newest complete point, nothing run"
tree_manifest "$T/media" > "$T/media.before"
arca recover --dry-run >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; fail "dry run"; }
cat "$T/out"
N=$((6 + ${HAVE_MEILI:-0} + ${HAVE_PG:-0}))
grep -q "^recovery point $RP1 " "$T/out" || fail "the dry run does not use the newest complete point $RP1"
grep -q "^step 1/$N: pre_hook: echo" "$T/out" || fail "no pre_hook step 1/$N"
grep -q "^step 2/$N: restore media from snapshot $(echo "$MEDIA_ID1" | cut -c1-12) .* in destination local" "$T/out" ||
	fail "media's step does not name its snapshot of $RP1"
grep -q "^step 3/$N: restore cache from snapshot $(echo "$CACHE_ID1" | cut -c1-12) " "$T/out" || fail "no cache step"
[ -z "$HAVE_MEILI" ] || grep -q "^step $((N - 3))/$N: rebuild search: no snapshot" "$T/out" || fail "no fallback step"
grep -q "^step $N/$N: verify_hook: " "$T/out" || fail "verify_hook is not the last step"
grep -q "^step $((N - 1))/$N: health: is each recovered store serving? (.arca health. of media, cache${HAVE_PG:+, app-db}${HAVE_MEILI:+, search})\$" "$T/out" ||
	fail "no health step before verify_hook"
[ ! -e "$LOG" ] || fail "the dry run ran a hook"
tree_manifest "$T/media" | cmp -s - "$T/media.before" || fail "the dry run changed media"
[ "$(rcli "$src_PORT" get k1)" = v1 ] || fail "the dry run changed the cache"

step "--json: one document"
arca recover --dry-run --json >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "dry run --json"; }
python3 - "$T/out" "$RP1" "$MEDIA_ID1" <<'PY' || fail "--json document"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["recovery_point"] == sys.argv[2] and d["dry_run"] is True, d
kinds = [(s["name"], s["kind"], s["status"]) for s in d["steps"]]
assert kinds[0] == ("pre_hook", "hook", "planned"), kinds
assert d["steps"][1]["snapshot"] == sys.argv[3] and d["steps"][1]["destination"] == "local", d
assert kinds[-1][0] == "verify_hook", kinds
PY

step "a recovery point that lacks a target is refused, naming it"
expect_fail 8 arca recover --recovery-point "$(echo "$RP2" | cut -c1-8)" --dry-run
cat "$T/err"
expect_stderr "lacks a snapshot of cache"
expect_stderr "--partial"
arca recover --recovery-point "$RP2" --partial --dry-run >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "--partial"; }
grep -q "left out (--partial): cache" "$T/out" || { cat "$T/out"; fail "--partial does not name what is left out"; }

step "wipe both stores; arca recover brings back the same moment"
rm -rf "$T/media"/* "$T/media/sub"
rcli "$src_PORT" flushall >/dev/null
[ -z "$HAVE_PG" ] || pg_sql "$app_PORT" postgres "DROP DATABASE vectis"
arca recover >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; fail "recover"; }
cat "$T/out"
tree_manifest "$T/media" | cmp -s - "$T/media.rp1" || fail "media differs from the recovery point's"
[ "$(redis_digest "$src_PORT")" = "$DIGEST1" ] || fail "the cache's DEBUG DIGEST differs from the recovery point's"
if [ -n "$HAVE_PG" ]; then
	pg_db_fingerprint "$app_PORT" vectis | cmp -s - "$T/db.rp1" || fail "the database differs from the recovery point's"
fi
grep -q "^step 2/$N: media done in [0-9.]* s" "$T/out" || fail "no result line for media"
for t in media cache ${HAVE_PG:+app-db} ${HAVE_MEILI:+search}; do
	grep -q "^  $t: serving\$" "$T/out" || fail "the health step did not find $t serving"
done
if [ -n "$HAVE_MEILI" ]; then
	grep -q "target search: Meilisearch .* at $search_URL: available, 3 index(es), 30 document(s)" "$T/err" ||
		{ cat "$T/err"; fail "the health step does not say what the search engine serves"; }
fi
grep -q "^recovered from recovery point $(echo "$RP1" | cut -c1-12)" "$T/out" || fail "no final line"
if [ -n "$HAVE_MEILI" ]; then
	printf 'pre_hook %s\nrebuild search\npost_hook %s\nverify_hook %s\n' "$RP1" "$RP1" "$RP1" > "$T/want"
else
	printf 'pre_hook %s\npost_hook %s\nverify_hook %s\n' "$RP1" "$RP1" "$RP1" > "$T/want"
fi
cmp -s "$LOG" "$T/want" || { diff "$T/want" "$LOG"; fail "hooks did not run in order with the recovery point"; }
for h in pre_hook post_hook verify_hook; do
	! grep -q "hunter2\|correct horse" "$T/env.$h" || fail "a secret reached $h's environment"
	names=$(sed 's/=.*//' "$T/env.$h" | grep -v -x -E 'PATH|HOME|LANG|ARCA_RECOVERY_POINT|ARCA_CONFIG|ARCA_HOOK|PWD|OLDPWD|SHLVL|_' || true)
	[ -z "$names" ] || fail "$h got more than its minimal environment: $names"
	grep -q "^ARCA_CONFIG=$ARCA_CONFIG\$" "$T/env.$h" || fail "$h lacks ARCA_CONFIG"
done

step "a non-empty place is refused without --overwrite, replaced with it"
echo "changed" > "$T/media/a.txt"
: > "$LOG"
expect_fail 11 arca recover
cat "$T/err"
expect_stderr "stopped at step 2/$N \\(media\\), exit 11"
expect_stderr "not done: media \\(failed\\), cache"
expect_stderr "--overwrite replaces"
expect_stderr "resume with:"
grep -q "^step 2/$N: media FAILED, exit 11" "$T/out" || { cat "$T/out"; fail "no FAILED line"; }
[ "$(cat "$T/media/a.txt")" = changed ] || fail "a refused restore changed media"
[ "$(cat "$LOG")" = "pre_hook $RP1" ] || fail "steps after the failure ran"
arca recover --overwrite >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; fail "recover --overwrite"; }
tree_manifest "$T/media" | cmp -s - "$T/media.rp1" || fail "--overwrite did not bring media back"

step "a failing hook stops the run with its exit code; the printed command resumes"
sed -i 's/^post_hook = .*/post_hook = echo post_hook >> '"$(echo "$LOG" | sed 's/[\/&]/\\&/g')"' \&\& exit 42/' "$ARCA_CONFIG"
: > "$LOG"
expect_fail 42 arca recover --overwrite
cat "$T/out" "$T/err"
expect_stderr "stopped at step $((N - 2))/$N \\(post_hook\\), exit 42"
expect_stderr "post_hook .* exited with 42"
RESUME=$(sed -n 's/^    \(arca .*\)$/\1/p' "$T/err")
echo "$RESUME" | grep -q -- "--recovery-point $RP1 --from post_hook --overwrite" || fail "resume command: $RESUME"
grep -q "^verify_hook" "$LOG" && fail "verify_hook ran after post_hook failed"
sed -i 's/ \&\& exit 42$//' "$ARCA_CONFIG"
: > "$LOG"
eval "$RESUME" >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; fail "the resume command failed"; }
printf 'post_hook\nverify_hook %s\n' "$RP1" > "$T/want"
cmp -s "$LOG" "$T/want" || { diff "$T/want" "$LOG"; fail "the resume did not run just post_hook and verify_hook"; }
grep -q "^step 1/$N: pre_hook" "$T/out" && fail "the resume ran pre_hook"

step "--json after a failure: one document on stdout, the hook's output on stderr"
sed -i 's/^verify_hook = .*/verify_hook = echo noise-from-the-hook \&\& exit 3/' "$ARCA_CONFIG"
expect_fail 3 arca recover --json --from verify_hook
grep -q noise-from-the-hook "$T/err" || fail "the hook's output is not on stderr"
python3 - "$T/out" "$RP1" <<'PY' || { cat "$T/out"; fail "--json document after a failure"; }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and d["dry_run"] is False and d["recovery_point"] == sys.argv[2], d
st = {s["name"]: s for s in d["steps"]}
assert st["pre_hook"]["status"] == "skipped" and st["post_hook"]["status"] == "skipped", st
v = st["verify_hook"]
assert v["status"] == "failed" and v["exit"] == 3 and "exited with 3" in v["error"], v
assert "--from verify_hook" in d["resume"], d["resume"]
PY

if [ -n "$HAVE_MEILI" ]; then
	step "a search engine that is down after the rebuild stops the run at the health step (4)"
	meili_stop "$search_PID"
	expect_fail 4 arca recover --from health
	expect_stderr "target search is not serving after the recovery \\(.arca health search.\\): cannot reach Meilisearch"
	expect_stderr "stopped at step $((N - 1))/$N \\(health\\), exit 4"
	grep -q "^  cache: serving\$" "$T/out" || fail "cache was not checked before search"
fi

step "a store that does not serve after post_hook stops the run at the health step"
sed -i "s/^post_hook = .*/post_hook = redis-cli -h 127.0.0.1 -p $src_PORT shutdown nosave || true/" "$ARCA_CONFIG"
expect_fail 4 arca recover --from post_hook
expect_stderr "target cache is not serving after the recovery \\(.arca health cache.\\)"
expect_stderr "stopped at step $((N - 1))/$N \\(health\\), exit 4"
expect_stderr "recover --recovery-point $RP1 --from health\$"
grep -q "^  media: serving\$" "$T/out" || fail "media was not checked before cache"

step "SIGTERM while a hook runs: the hook is stopped, exit 10, the resume command"
sed -i "s|^pre_hook = .*|pre_hook = echo \\$\\$ > $T/started.tmp \\&\\& mv $T/started.tmp $T/started \\&\\& exec sleep 60|" "$ARCA_CONFIG"
rm -f "$T/started"
set +e
"$ARCA" recover >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ ! -e "$T/started" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$T/started" ] || fail "pre_hook did not start"
kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $pid 2>/dev/null && { kill -9 $pid; fail "arca recover did not stop within 10 s of SIGTERM"; }
wait $pid
got=$?
set -e
[ $got -eq 10 ] || { cat "$T/out" "$T/err"; fail "SIGTERM during a hook: exit $got, not 10"; }
expect_stderr "stopped at step 1/$N \\(pre_hook\\), exit 10"
expect_stderr "--from pre_hook"
i=0
while kill -0 "$(cat "$T/started")" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$(cat "$T/started")" 2>/dev/null && fail "the hook outlived the run"

step "no recovery point holds every target: refused, naming what it lacks"
mkdir -p "$T/never"
files_target never "$T/never"
sed -i 's/^order = .*/order = media, cache, never/' "$ARCA_CONFIG"
expect_fail 8 arca recover
expect_stderr "no recovery point holds a snapshot of every target to recover: the newest, [0-9a-f]{12} .* lacks cache, never \\(no snapshot at all\\)"
expect_stderr "--recovery-point ID .* --partial"
[ ! -s "$LOG" ] || [ "$(wc -l < "$LOG")" -eq 2 ] || fail "a refused recover ran a hook"
arca recover --partial --dry-run >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "--partial"; }
grep -q "^recovery point $RP2 " "$T/out" || fail "--partial does not take the newest point"
grep -q "left out (--partial): never" "$T/out" || fail "--partial does not name never"
sed -i 's/^order = .*/order = media, cache/' "$ARCA_CONFIG"

step "usage errors"
expect_fail 2 arca recover --from nosuch --dry-run
expect_stderr "names no step of this recovery"
expect_fail 2 arca recover media
expect_stderr "takes no TARGET"
sed -i 's/^order = .*/order = media, cahce/' "$ARCA_CONFIG"
expect_fail 3 arca recover --dry-run
expect_stderr "arca.ini:[0-9]*: 'order' in \\[recovery\\] names \\[target cahce\\].*did you mean 'cache'"

pass
