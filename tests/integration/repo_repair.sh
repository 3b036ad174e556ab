#!/bin/sh
# Healing a damaged repository: bit rot in a pack is dropped from the index
# by `repair packs` (naming the snapshot, item and bytes lost), the next
# snapshot stores the data again, `repair snapshots --forget` rewrites the
# damaged snapshot without what was lost, and verify --read-data is clean
# again; a snapshot object deleted from the storage is put back from this
# host's cache by `repair snapshots`.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC/d"
head -c 6000000 /dev/urandom > "$SRC/big"
echo small > "$SRC/d/small"
arca init > /dev/null || fail "init"
arca snapshot tree > /dev/null || fail "snapshot"

step "bit rot in a pack: repair packs drops the chunk and names what was lost"
pack=$(find "$T/repo/packs" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
size=$(stat -c %s "$pack")
chmod u+w "$pack"
printf '\377' | dd of="$pack" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_fail 7 "$ARCA" verify --read-data
arca repair packs > "$T/out" 2> "$T/err" || { cat "$T/out" "$T/err" >&2; fail "repair packs"; }
grep -q "1 damaged chunks dropped" "$T/out" || { cat "$T/out" >&2; fail "repair packs did not drop one chunk"; }
grep -Eq "item 'big': bytes [0-9]+ to [0-9]+ cannot be restored" "$T/err" ||
	{ cat "$T/err" >&2; fail "the lost byte range of 'big' is not named"; }

step "the next snapshot stores the data again, which heals the old snapshot too"
arca snapshot tree > /dev/null || fail "snapshot after repair"
arca restore tree --into "$T/r1" > /dev/null || fail "restore of the new snapshot"
[ "$(tree_manifest "$SRC")" = "$(tree_manifest "$T/r1")" ] || fail "the new snapshot differs from the source"
arca verify --read-data > "$T/out" 2> "$T/err" || { cat "$T/out" "$T/err" >&2; fail "verify after the data was stored again"; }

step "data that is gone from the source: repair snapshots --forget rewrites the snapshot"
head -c 3000000 /dev/urandom > "$SRC/old"
touch "$T/marker"; sleep 1
arca snapshot tree > /dev/null || fail "snapshot with 'old'"
rm "$SRC/old"
pack=$(find "$T/repo/packs" -type f -newer "$T/marker" -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
[ -n "$pack" ] || fail "no pack written for 'old'"
size=$(stat -c %s "$pack")
chmod u+w "$pack"
printf '\377' | dd of="$pack" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
arca repair packs > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "repair packs (2)"; }
grep -q "item 'old'" "$T/err" || { cat "$T/err" >&2; fail "the damaged item 'old' is not named"; }
expect_fail 7 "$ARCA" verify
arca repair snapshots --forget > "$T/out" 2> "$T/err" ||
	{ cat "$T/out" "$T/err" >&2; fail "repair snapshots"; }
grep -q "1 rewritten without what was lost" "$T/out" || { cat "$T/out" "$T/err" >&2; fail "no snapshot rewritten"; }
arca verify --read-data > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify after repair snapshots"; }
n=$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "expected 3 snapshots (two intact, one repaired), found $n"
newest=$(arca list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
arca restore tree --snapshot "$newest" --into "$T/r2" > /dev/null || fail "restore of the repaired snapshot"
cmp "$SRC/big" "$T/r2/big" || fail "the repaired snapshot lost an intact item"
[ ! -e "$T/r2/old" ] || fail "the repaired snapshot still has the damaged item"

step "a snapshot object deleted from the storage is put back from the cache"
victim=$(find "$T/repo/snapshots" -type f | head -n 1)
cp "$victim" "$T/victim.copy"
rm -f "$victim"
expect_fail 7 "$ARCA" verify
grep -q "disappeared from destination local without arca forget" "$T/out" ||
	{ cat "$T/out" >&2; fail "verify does not name the deleted snapshot"; }
arca repair snapshots > "$T/out" 2> "$T/err" || { cat "$T/out" "$T/err" >&2; fail "repair snapshots (put back)"; }
grep -q "put back from this host's cache" "$T/err" || { cat "$T/err" >&2; fail "no snapshot put back"; }
cmp "$victim" "$T/victim.copy" || fail "the snapshot put back differs from the original"
arca verify --read-data > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify after put back"; }

pass
