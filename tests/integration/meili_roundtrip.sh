#!/bin/sh
# Meilisearch (against tests/meili_double.py, a protocol double: no real
# server can be installed here): both methods round trip 100,000 documents
# in three indexes with custom settings into a fresh server; a change to one
# index stores about that index's new bytes only; verify; --index; a
# restore into an index that holds documents is refused without
# --overwrite; --into DIR writes a .dump the double imports; --rebuild.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/meili.sh"
N=${MEILI_DOCS:-100000}

meili_start src --max-limit 500   # page_size 700 meets the cap
export MEILI_API_KEY=$MEILI_KEY
write_engine_config
cat >> "$ARCA_CONFIG" <<EOC

[target search]
driver = meilisearch
destinations = local
url = $src_URL
api_key_env = MEILI_API_KEY
restore_api_key_env = MEILI_API_KEY
method = dump
dump_dir = $T/src-dumps
rebuild_command = echo "rebuilt \$ARCA_TARGET key=\${MEILI_API_KEY:-none}" > $T/rebuilt

[destination api]
driver = dir
path = $T/repo-api
passphrase_env = ARCA_PASSPHRASE

[target search-api]
driver = meilisearch
destinations = api
url = $src_URL
api_key_env = MEILI_API_KEY
restore_api_key_env = MEILI_API_KEY
method = export
page_size = 700
EOC
$MEILI_TOOL load "$src_URL" "$MEILI_KEY" "$N" || fail "loading $N documents"
arca init > /dev/null || fail "init"
arca check search search-api > /dev/null || fail "check"

last_field() {
	arca list --json "$1" | python3 -c 'import json,sys
l = json.load(sys.stdin); l.sort(key=lambda s: s["epoch"]); print(l[-1][sys.argv[1]])' "$2"
}

for t in search search-api; do
	step "$t: snapshot, verify, restore into a fresh server"
	arca snapshot $t > /dev/null || fail "$t: snapshot"
	arca verify $t > "$T/verify.out" 2>&1 || { cat "$T/verify.out"; fail "$t: verify"; }
	meili_start fresh
	arca restore $t --into "$fresh_URL" > /dev/null || fail "$t: restore into a fresh server"
	$MEILI_TOOL compare "$src_URL" "$MEILI_KEY" "$fresh_URL" "$MEILI_KEY" || fail "$t: restored server differs"
	step "$t: an index with documents is refused without --overwrite; --index restores one"
	expect_fail 11 arca restore $t --into "$fresh_URL"
	expect_stderr "index .* holds [0-9]+ documents; give --overwrite"
	[ $t = search-api ] || expect_stderr "arca rebuild search \\(runs rebuild_command\\)"
	arca restore $t --into "$fresh_URL" --index books --overwrite > /dev/null || fail "$t: --index --overwrite"
	$MEILI_TOOL compare "$src_URL" "$MEILI_KEY" "$fresh_URL" "$MEILI_KEY" books || fail "$t: books differ"
	expect_fail 8 arca restore $t --into "$fresh_URL" --index nosuch
	expect_stderr "no index nosuch .*movies"
	meili_stop "$fresh_PID"
done
[ -z "$(ls "$T/src-dumps")" ] || fail "remove_dump = yes left $(ls "$T/src-dumps")"

step "a change to 1% of one index stores about that index's new bytes"
for t in search search-api; do
	arca snapshot $t > /dev/null || fail "$t: second snapshot"
	unchanged=$(last_field $t new_bytes)
	echo "$t: unchanged re-run stored $unchanged new bytes"
done
$MEILI_TOOL change "$src_URL" "$MEILI_KEY" users 1 || fail "change"
# each method has its own repository: the figures are its own
for t in search search-api; do
	total=$(last_field $t bytes)
	arca snapshot $t > /dev/null || fail "$t: snapshot after the change"
	new=$(last_field $t new_bytes)
	echo "$t: 1% of users changed: $new new bytes of $total"
	[ "$new" -gt 1000 ] || fail "$t: the change stored only $new bytes"
	[ "$new" -lt $((total / 10)) ] || fail "$t: a 1% change of one index stored $new of $total bytes"
done
meili_start fresh2
arca restore search-api --into "$fresh2_URL" > /dev/null || fail "restore after the change"
$MEILI_TOOL compare "$src_URL" "$MEILI_KEY" "$fresh2_URL" "$MEILI_KEY" || fail "changed index differs"

step "--into DIR writes a .dump that the double imports"
arca restore search --into "$T/dumpout" > "$T/tofile.out" || fail "restore --into DIR"
grep -q "meilisearch --import-dump $T/dumpout/.*\.dump" "$T/tofile.out" || fail "no import command printed"
dump=$(ls "$T"/dumpout/*.dump)
meili_start imported --import-dump "$dump"
$MEILI_TOOL compare "$src_URL" "$MEILI_KEY" "$imported_URL" "$MEILI_KEY" || fail "imported .dump differs"

step "--rebuild runs rebuild_command without the API key in its environment"
arca restore search --rebuild > /dev/null || fail "--rebuild"
grep -qx "rebuilt search key=none" "$T/rebuilt" || fail "rebuild_command: $(cat "$T/rebuilt")"
expect_fail 2 arca restore search --rebuild --index books
pass
