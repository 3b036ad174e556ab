#!/bin/sh
# tests/bench/meilisearch.sh — the meilisearch driver on 1,000,000 documents
# in three indexes served by the protocol double (tests/meili_double.py; no
# real Meilisearch can be installed here). Measures, with GNU time:
#  - method = export: documents per second, arca's peak RSS;
#  - restore through the API into a fresh double: documents per second,
#    peak RSS (target: under 128 MiB for both);
#  - method = dump: time against the recipe it replaces (POST /dumps, wait,
#    copy the .dump), stored bytes against the .dump's size;
#  - the bytes a second snapshot stores after 1% of one index's documents
#    changed, for both methods.
# Not part of `make check`.
#
#   tests/bench/meilisearch.sh BUILDDIR      (BENCH_DOCS=N for another size)
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/meili.sh"
N=${BENCH_DOCS:-1000000}
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) is needed for peak RSS"
. "$ARCA_SRCDIR/tests/lib/bench_run.sh"
last_field() {
	arca list --json "$1" | python3 -c 'import json,sys
l = json.load(sys.stdin); l.sort(key=lambda s: s["epoch"]); print(l[-1][sys.argv[1]])' "$2"
}

export MEILI_API_KEY=$MEILI_KEY
meili_start src
echo "loading $N documents into the double..."
$MEILI_TOOL load "$src_URL" "$MEILI_KEY" "$N" || fail "load"
write_engine_config
cat >> "$ARCA_CONFIG" <<EOC

[destination api]
driver = dir
path = $T/repo-api
passphrase_env = ARCA_PASSPHRASE

[target dump]
driver = meilisearch
destinations = local
url = $src_URL
api_key_env = MEILI_API_KEY
restore_api_key_env = MEILI_API_KEY
dump_dir = $T/src-dumps

[target export]
driver = meilisearch
destinations = api
url = $src_URL
api_key_env = MEILI_API_KEY
restore_api_key_env = MEILI_API_KEY
method = export
EOC
export ARCA_TEST_FAST_KDF=1
arca init > /dev/null || fail "init"

# the recipe: POST /dumps, wait for the task, copy the .dump
cat > "$T/recipe.sh" <<EOS
tid=\$(curl -sf -XPOST -H "Authorization: Bearer $MEILI_KEY" "$src_URL/dumps" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["taskUid"])')
while ! curl -sf -H "Authorization: Bearer $MEILI_KEY" "$src_URL/tasks/\$tid" | grep -q '"status":"succeeded"'; do
	sleep 0.05
done
cp "$T"/src-dumps/*.dump "$T/recipe.dump" && rm -f "$T"/src-dumps/*.dump
EOS
run recipe sh "$T/recipe.sh"
run dump "$ARCA" snapshot dump
run export "$ARCA" snapshot export
meili_start fresh
run restore "$ARCA" restore export --into "$fresh_URL"
meili_stop "$fresh_PID"
dump_stored=$(last_field dump new_bytes)
dump_size=$(stat -c %s "$T/recipe.dump")
$MEILI_TOOL change "$src_URL" "$MEILI_KEY" users 1 || fail "change"
run dump2 "$ARCA" snapshot dump
run export2 "$ARCA" snapshot export
d2=$(last_field dump new_bytes); e2=$(last_field export new_bytes)
e_total=$(last_field export bytes)

echo
echo "meilisearch driver, $N documents in 3 indexes (protocol double), $(date -u +%F)"
awk -v n="$N" -v t="$(secs export)" 'BEGIN { printf "export snapshot:     %6.1f s  %8.0f docs/s\n", t, n / t }'
awk -v n="$N" -v t="$(secs restore)" 'BEGIN { printf "restore (API):       %6.1f s  %8.0f docs/s\n", t, n / t }'
echo "peak RSS: export $(rss export) MiB, restore $(rss restore) MiB, dump snapshot $(rss dump) MiB (target < 128)"
awk -v a="$(secs dump)" -v b="$(secs recipe)" 'BEGIN { printf "dump snapshot / recipe (POST /dumps + cp): %.2f (%.1f s vs %.1f s)\n", a / b, a, b }'
awk -v a="$dump_stored" -v b="$dump_size" 'BEGIN { printf "stored / .dump size: %.2f (%d vs %d bytes)\n", a / b, a, b }'
echo "second snapshot after 1% of users changed: dump $d2 new bytes, export $e2 new bytes (of $e_total)"
[ "$(rss export)" -lt 128 ] && [ "$(rss restore)" -lt 128 ] || echo "MISSED: peak RSS over 128 MiB"
pass
