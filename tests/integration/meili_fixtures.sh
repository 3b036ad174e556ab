#!/bin/sh
# Real dumps written by Meilisearch (tests/data/meilisearch-dumps: v6 from
# 1.8/1.13/1.16, v5, v4): the protocol double re-dumps the v6 ones with
# the same members; arca stores each (the double serving it as the dump
# it wrote), verifies it, restores it through the API into a fresh double
# with every index, primary key, setting and document, and converts it back
# to a .dump whose members equal the original's.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/meili.sh"
D=$ARCA_SRCDIR/tests/data/meilisearch-dumps
export MEILI_API_KEY=$MEILI_KEY

members() { $MEILI_TOOL dump-members "$1" | grep -v '^metadata.json ' | sort; }

step "the double re-dumps real v6 dumps with the same members (metadata.json's date aside)"
for f in "$D"/v6*.dump; do
	n=$(basename "$f" .dump)
	meili_start re --import-dump "$f"
	curl -sf -XPOST -H "Authorization: Bearer $MEILI_KEY" "$re_URL/dumps" > /dev/null || fail "$n: POST /dumps"
	i=0; while [ -z "$(ls "$T/re-dumps")" ] || [ -n "$(ls "$T"/re-dumps/*.tmp 2>/dev/null)" ]; do
		i=$((i + 1)); [ $i -lt 300 ] || fail "$n: no dump in 30s"; sleep 0.1; done
	members "$f" > "$T/a"; members "$T"/re-dumps/*.dump > "$T/b"
	diff "$T/a" "$T/b" || fail "$n: the double's re-dump differs"
	meili_stop "$re_PID"; rm -f "$T"/re-dumps/*
done

write_engine_config
arca init > /dev/null || fail "init"
i=0
for f in "$D"/*.dump; do
	n=$(basename "$f" .dump)
	i=$((i + 1))
	step "$n"
	meili_start "src$i" --dump-file "$f"
	eval "url=\$src${i}_URL"
	cat >> "$ARCA_CONFIG" <<EOC

[target fx$i]
driver = meilisearch
destinations = local
url = $url
api_key_env = MEILI_API_KEY
restore_api_key_env = MEILI_API_KEY
dump_dir = $T/src$i-dumps
EOC
	arca snapshot "fx$i" > /dev/null || fail "$n: snapshot"
	arca verify "fx$i" > /dev/null || fail "$n: verify"
	meili_start fresh
	arca restore "fx$i" --into "$fresh_URL" > /dev/null || fail "$n: restore through the API"
	$MEILI_TOOL fixture-compare "$f" "$fresh_URL" "$MEILI_KEY" || fail "$n: restored server differs"
	meili_stop "$fresh_PID"
	arca restore "fx$i" --into "$T/back$i" > /dev/null || fail "$n: restore --into DIR"
	$MEILI_TOOL dump-members "$f" | sort > "$T/a"
	$MEILI_TOOL dump-members "$T"/back$i/*.dump | sort > "$T/b"
	diff "$T/a" "$T/b" || fail "$n: the .dump written back differs from the original"
done

step "a damaged document line fails verify"
python3 - "$D/v6_v1.13.0_batches_and_enqueued_tasks.dump" "$T/bad.dump" <<'PY'
import io, sys, tarfile
src, dst = sys.argv[1:]
with tarfile.open(src, "r:gz") as a, tarfile.open(dst, "w:gz") as b:
    for m in a.getmembers():
        data = a.extractfile(m).read() if m.isfile() else None
        if m.name.endswith("kefir/documents.jsonl"):
            data = b'{"id":1,"dog":"kefir"}\n{"id":2,"dog":\n'
            m.size = len(data)
        b.addfile(m, io.BytesIO(data) if data is not None else None)
PY
meili_start bad --dump-file "$T/bad.dump"
cat >> "$ARCA_CONFIG" <<EOC

[target bad]
driver = meilisearch
destinations = local
url = $bad_URL
api_key_env = MEILI_API_KEY
dump_dir = $T/bad-dumps
EOC
arca snapshot bad > /dev/null || fail "snapshot of the damaged dump"
expect_fail 7 arca verify bad
expect_stderr "indexes/kefir/documents.jsonl:2"
pass
