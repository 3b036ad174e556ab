#!/bin/sh
# Damage to any repository object is found by `arca verify --read-data`,
# which exits 7 and names the object (and, for packs, the snapshot and item
# that lose data); config too; a damaged key object exits 5 (it cannot be
# told from a wrong passphrase) naming the key objects tried. Damage to
# blobs/ (WAL segments) is in pg_wal.sh. Structure-only verify catches truncated packs and missing
# objects. A bit flip in every position of every object is covered by the
# unit test test_repo_damage; here, through the CLI and the dir driver, a
# few positions and truncations of each real object.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC/d"
head -c 3000000 /dev/urandom > "$SRC/big"
for i in 1 2 3 4 5; do echo "file $i" > "$SRC/d/f$i"; done
arca init > /dev/null || fail "init"
arca snapshot tree > /dev/null || fail "snapshot"
arca verify --read-data > /dev/null || fail "verify of a fresh repository"

# expect_damage OBJECT WHAT: verify --read-data fails with 7 and names OBJECT
expect_damage() {
	base=$(basename "$1")
	expect_fail 7 "$ARCA" verify --read-data
	grep -q "$base" "$T/out" "$T/err" || { cat "$T/out" "$T/err" >&2; fail "$2: $base not named"; }
}

flip() { # flip FILE OFFSET
	python3 - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read())
b[off] ^= 0x10
open(p, 'wb').write(bytes(b))
PY
}

n_objects=0
for obj in $(find "$T/repo/packs" "$T/repo/index" "$T/repo/snapshots" -type f | sort); do
	size=$(stat -c %s "$obj")
	cp "$obj" "$T/orig"
	chmod u+w "$obj"
	for off in 0 $((size / 3)) $((size / 2)) $((size - 9)) $((size - 1)); do
		flip "$obj" "$off"
		expect_damage "$obj" "flip at $off of $obj"
		cp "$T/orig" "$obj"
	done
	for len in 0 1 $((size / 2)) $((size - 1)); do
		head -c "$len" "$T/orig" > "$obj"
		expect_damage "$obj" "truncation to $len of $obj"
		cp "$T/orig" "$obj"
	done
	n_objects=$((n_objects + 1))
done
[ "$n_objects" -ge 3 ] || fail "expected pack, index and snapshot objects, found $n_objects"

step "damage to config: every flip and truncation found (7), config named"
# config is hashed into every key and pinned in state_dir on first use
obj=$T/repo/config
size=$(stat -c %s "$obj")
cp "$obj" "$T/orig"
for off in 0 $((size / 3)) $((size / 2)) $((size - 9)) $((size - 1)); do
	flip "$obj" "$off"
	expect_fail 7 "$ARCA" verify --read-data
	expect_stderr "destination local: (object config |the repository's config object)"
	cp "$T/orig" "$obj"
done
for len in 0 1 $((size / 2)) $((size - 1)); do
	head -c "$len" "$T/orig" > "$obj"
	expect_fail 7 "$ARCA" verify --read-data
	expect_stderr "destination local: object config "
	cp "$T/orig" "$obj"
done

step "damage to keys/: refused, the key object named"
# A damaged sealed key cannot be told from a wrong passphrase (both fail
# authentication): exit 5, and the error names the key objects it tried.
# (The informational fields created, host and version are not
# authenticated; damage there is harmless and not reported.)
key=$(find "$T/repo/keys" -type f)
[ "$(echo "$key" | wc -l)" = 1 ] || fail "expected one key object: $key"
kname=keys/$(basename "$key")
cp "$key" "$T/orig"
hexflip() { # hexflip FILE FIELD N: change the Nth hex digit of FIELD's value
	python3 - "$@" <<'PY'
import sys
p, field, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = bytearray(open(p, 'rb').read())
i = b.index(('"%s": "' % field).encode()) + len(field) + 5 + n
assert chr(b[i]) in "0123456789abcdef", chr(b[i])
b[i] = ord('1') if b[i] != ord('1') else ord('2')
open(p, 'wb').write(bytes(b))
PY
}
dlen=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"]))' "$key")
for where in "data 0" "data $((dlen / 2))" "data $((dlen - 1))" "salt 0" "salt 63"; do
	hexflip "$key" $where
	expect_fail 5 "$ARCA" verify --read-data
	expect_stderr "no key in keys/ opens with it; tried $kname: if the passphrase is right, those key objects are damaged"
	cp "$T/orig" "$key"
done
size=$(stat -c %s "$key")
for len in 0 1 $((size / 2)) $((size - 1)); do
	head -c "$len" "$T/orig" > "$key"
	expect_fail 5 "$ARCA" verify --read-data
	expect_stderr "key $kname is not a valid key object \\(skipped\\)"
	expect_stderr "tried $kname"
	cp "$T/orig" "$key"
done
arca verify --read-data > /dev/null || fail "verify after config and keys were put back"

step "a damaged pack names the snapshot and item that lose data"
# the largest pack, in its middle: a chunk of 'big' (with two workers the
# tiny files may sit in a pack of their own, which find can list first)
pack=$(find "$T/repo/packs" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
cp "$pack" "$T/orig"
flip "$pack" $(($(stat -c %s "$pack") / 2))
expect_damage "$pack" "flip in pack"
grep -q "item 'big'" "$T/out" || { cat "$T/out" >&2; fail "damaged item not named"; }
snap=$(basename "$(find "$T/repo/snapshots" -type f | head -1)")
grep -q "$snap" "$T/out" || fail "damaged snapshot not named"
step "restore of the damaged item fails with 7 naming the pack"
expect_fail 7 "$ARCA" restore tree --into "$T/restored"
expect_stderr "$(basename "$pack")"
cp "$T/orig" "$pack"

step "structure check: a missing pack and a truncated pack"
mv "$pack" "$T/moved"
expect_fail 7 "$ARCA" verify
grep -q "missing" "$T/out" || fail "missing pack not reported"
mv "$T/moved" "$pack"
head -c 1000 "$T/orig" > "$pack"
expect_fail 7 "$ARCA" verify
grep -q "$(basename "$pack")" "$T/out" || fail "truncated pack not named"
cp "$T/orig" "$pack"
arca verify --read-data > /dev/null || fail "verify after repair"

step "a damaged index: prune refuses, repair index rebuilds it from the packs"
idx=$(find "$T/repo/index" -type f | head -n 1)
chmod u+w "$idx"; printf 'garbage' > "$idx"
rm -rf "$T/state"/*   # as on a new host: no cached copy of the index
expect_fail 7 "$ARCA" prune
expect_stderr "arca repair index"
arca repair index > "$T/repair" || { cat "$T/repair" >&2; fail "repair index"; }
grep -q "index rebuilt from [1-9][0-9]* pack" "$T/repair" || fail "repair did not report packs"
arca --json repair index > "$T/repair.json" || { cat "$T/repair.json" >&2; fail "repair --json"; }
python3 - "$T/repair.json" <<'PY' || fail "repair index --json is not what it should be"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is True, r
d = r["destinations"]
assert len(d) == 1 and d[0]["destination"] == "local" and d[0]["rebuilt"] is True, d
assert d[0]["packs"] > 0 and d[0]["damaged_packs"] == [], d
PY
[ ! -e "$idx" ] || fail "the damaged index object is still there"
arca verify --read-data > /dev/null || fail "verify after repair index"
arca prune > /dev/null || fail "prune after repair index"
arca restore tree --into "$T/after-repair" > /dev/null || fail "restore after repair index"
[ "$(tree_manifest "$SRC")" = "$(tree_manifest "$T/after-repair")" ] ||
	fail "restore after repair index differs from the source"
expect_fail 2 "$ARCA" repair
expect_stderr "arca repair index"

step "index objects deleted from the storage: prune keeps the packs they named"
packs_before=$(find "$T/repo/packs" -type f | sort)
rm -f "$T/repo/index/"*
rm -rf "$T/state"/*
arca prune > "$T/prune.out" 2> "$T/prune.err" || { cat "$T/prune.err" >&2; fail "prune"; }
grep -q "packs in no index are kept" "$T/prune.err" || { cat "$T/prune.err" >&2; fail "prune gave no warning"; }
[ "$(find "$T/repo/packs" -type f | sort)" = "$packs_before" ] || fail "prune deleted packs of kept snapshots"
arca repair index > /dev/null || fail "repair index after deletion"
arca restore tree --into "$T/after-delete" > /dev/null || fail "restore after index deletion"
[ "$(tree_manifest "$SRC")" = "$(tree_manifest "$T/after-delete")" ] ||
	fail "restore after index deletion differs from the source"

step "a pack deleted from the storage: the next snapshot stores its data again"
gone=$(find "$T/repo/packs" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
rm -f "$gone"
arca snapshot tree > "$T/snap.out" 2> "$T/snap.err" || { cat "$T/snap.err" >&2; fail "snapshot after a pack was deleted"; }
grep -q "missing (deleted or lost)" "$T/snap.err" || { cat "$T/snap.err" >&2; fail "the missing pack was not reported"; }
arca restore tree --into "$T/after-pack" > /dev/null || fail "restore of the snapshot taken after the pack was deleted"
[ "$(tree_manifest "$SRC")" = "$(tree_manifest "$T/after-pack")" ] ||
	fail "the snapshot taken after the pack was deleted differs from the source"

pass "$n_objects objects, every flip and truncation named"
