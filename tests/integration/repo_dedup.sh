#!/bin/sh
# Deduplication and sizes: an unchanged re-run stores < 1% new bytes, also
# without the metadata cache (state_dir deleted: content is read again and
# deduplicated); a 1% edit in the middle of a large file stores new bytes
# in proportion (the edit plus the chunks around it); a multi-GiB sparse
# file round-trips and stores almost nothing.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
SPARSE_GIB=${REPO_DEDUP_SPARSE_GIB:-2}
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC"
head -c 67108864 /dev/urandom > "$SRC/big"
for i in $(seq 1 50); do head -c $((i * 1000)) /dev/urandom > "$SRC/small$i"; done
arca init > /dev/null || fail "init"

# last_field FIELD: the field of the newest snapshot in `arca list --json`
last_field() {
	arca list --json | python3 -c 'import json,sys
l = json.load(sys.stdin); l.sort(key=lambda s: s["epoch"]); print(l[-1][sys.argv[1]])' "$1"
}

arca snapshot tree > /dev/null || fail "first snapshot"
total=$(last_field bytes)

step "unchanged re-run, with and without the metadata cache"
arca snapshot tree > /dev/null || fail "unchanged snapshot"
new=$(last_field new_bytes)
[ "$new" -lt $((total / 100)) ] || fail "unchanged re-run stored $new of $total bytes"
rm -rf "$T/state" && mkdir "$T/state"
arca snapshot tree > /dev/null || fail "snapshot without state_dir"
new=$(last_field new_bytes)
[ "$new" -lt $((total / 100)) ] || fail "re-run without cache stored $new of $total bytes"

step "a 1% edit in the middle of a 64 MiB file"
head -c 671088 /dev/urandom | dd of="$SRC/big" bs=1 seek=30000000 conv=notrunc status=none
arca snapshot tree > /dev/null || fail "snapshot after edit"
new=$(last_field new_bytes)
# At most the edit plus one maximal chunk on each side (4 MiB) plus overhead.
[ "$new" -gt 600000 ] || fail "edit stored only $new bytes"
[ "$new" -lt 10000000 ] || fail "a 1% edit stored $new bytes"
echo "1% edit (655 KiB) stored $new new bytes"

step "a ${SPARSE_GIB} GiB sparse file"
truncate -s "${SPARSE_GIB}G" "$SRC/sparse"
printf head | dd of="$SRC/sparse" conv=notrunc status=none
printf tail >> "$SRC/sparse"
arca snapshot tree > /dev/null || fail "snapshot with sparse file"
new=$(last_field new_bytes)
[ "$new" -lt 10000000 ] || fail "sparse file stored $new bytes"
arca restore tree --into "$T/restored" > /dev/null || fail "restore"
cmp "$SRC/sparse" "$T/restored/sparse" || fail "sparse file differs"
cmp "$SRC/big" "$T/restored/big" || fail "edited file differs"
arca verify --read-data > /dev/null || fail "verify"
pass
