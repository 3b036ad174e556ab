#!/bin/sh
# The golden repository (tests/data/golden-v2: format 2, written by an
# earlier arca, see README.md there) still lists, verifies with --read-data
# and restores byte for byte; a new snapshot of the same tree stores no new
# pack data (its chunks are found: same boundaries, same ids). Repositories
# whose config claims format 3, or format 1 (also a real one written by the
# last format-1 arca), are refused with exit 9 naming the version, and
# nothing is written into them.
. "$ARCA_SRCDIR/tests/lib/common.sh"

G=$ARCA_SRCDIR/tests/data/golden-v2
unset ARCA_PASSPHRASE   # the key comes from passphrase_file only
cp "$G/key" "$T/key" && chmod 600 "$T/key"
mkdir -p "$T/state"

# golden_config INI REPO: a config with destination golden at REPO (opened
# with the golden key) and target golden backing up $T/tree to it.
golden_config() {
	cat > "$1" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state

[destination golden]
driver = dir
path = $2
passphrase_file = $T/key

[target golden]
driver = files
destinations = golden
path = $T/tree
EOC
}

# copy_repo FROM TO: a writable copy of a checked-in repository.
copy_repo() { cp -R "$1" "$2" && chmod -R u+w "$2"; }

# json_field EXPR: evaluate EXPR on `arca list --json` (l, oldest first).
json_field() {
	arca list --json | python3 -c 'import json, sys
l = sorted(json.load(sys.stdin), key=lambda s: (s["epoch"], s["id"]))
print(eval(sys.argv[1]))' "$1"
}

step "the golden tree"
python3 "$G/make_tree.py" "$T/tree"
tree_manifest "$T/tree" > "$T/tree.manifest"
diff -u "$G/tree.manifest" "$T/tree.manifest" >&2 ||
	fail "make_tree.py no longer makes the tree of tree.manifest"

copy_repo "$G/repo" "$T/repo"
golden_config "$ARCA_CONFIG" "$T/repo"

step "list"
arca list > "$T/list" 2> "$T/err" || { cat "$T/err" >&2; fail "list of the golden repository"; }
[ "$(json_field 'len(l)')" = 1 ] || { cat "$T/list" >&2; fail "expected one snapshot"; }
[ "$(json_field 'l[0]["target"]')" = golden ] || fail "the snapshot is not of target golden"
[ "$(json_field 'l[0]["items"]')" = 10 ] || fail "the snapshot does not have 10 items"
golden_id=$(json_field 'l[0]["id"]')
[ "$golden_id" = "$(ls "$G/repo/snapshots")" ] || fail "listed id $golden_id is not the object's"

step "verify --read-data"
arca verify --read-data > "$T/verify" 2>&1 || { cat "$T/verify" >&2; fail "verify --read-data"; }

step "restore, byte for byte"
arca restore golden --into "$T/restored" > /dev/null || fail "restore of the golden snapshot"
tree_manifest "$T/restored" > "$T/restored.manifest"
diff -u "$G/tree.manifest" "$T/restored.manifest" >&2 ||
	fail "the restored tree differs from tree.manifest"
cmp "$T/tree/genome.txt" "$T/restored/genome.txt" || fail "genome.txt differs"

step "a new snapshot of the same tree deduplicates against the golden data"
# A fresh state_dir: no metadata cache, so every file is read, chunked and
# looked up again; only chunk boundaries and ids equal to the golden ones
# make this store nothing.
rm -rf "$T/state" && mkdir "$T/state"
find "$T/repo/packs" -type f | sort > "$T/packs.before"
arca snapshot golden > /dev/null || fail "snapshot into the golden repository"
[ "$(json_field 'len(l)')" = 2 ] || fail "expected two snapshots"
new=$(json_field 'l[1]["new_bytes"]')
bytes=$(json_field 'l[1]["bytes"]')
[ "$bytes" = "$(json_field 'l[0]["bytes"]')" ] || fail "the new snapshot has $bytes bytes"
[ "$new" -eq 0 ] || fail "the new snapshot stored $new new bytes of $bytes (no dedup)"
find "$T/repo/packs" -type f | sort > "$T/packs.after"
diff -u "$T/packs.before" "$T/packs.after" >&2 || fail "the new snapshot wrote pack data"
[ "$(find "$T/repo/snapshots" -type f | wc -l)" -eq 2 ] || fail "no new manifest object"
arca verify --read-data > /dev/null 2>&1 || fail "verify after the new snapshot"

step "format versions this arca does not read are refused (exit 9)"
# refused WHAT REPO VERSION PATTERN: list and snapshot exit 9 naming the
# version, and leave REPO as it was.
refused() {
	golden_config "$T/$1.ini" "$2"
	rm -rf "$T/state" && mkdir "$T/state"
	(cd "$2" && find . | sort) > "$T/$1.before"
	ARCA_CONFIG="$T/$1.ini" expect_fail 9 "$ARCA" list
	expect_stderr "format version $3"
	expect_stderr "$4"
	ARCA_CONFIG="$T/$1.ini" expect_fail 9 "$ARCA" snapshot golden
	expect_stderr "format version $3"
	(cd "$2" && find . | sort) > "$T/$1.after"
	diff -u "$T/$1.before" "$T/$1.after" >&2 || fail "$1: arca wrote into the repository"
}
copy_repo "$G/repo" "$T/v3"
sed -i 's/"version": 2,/"version": 3,/' "$T/v3/config"
grep -q '"version": 3,' "$T/v3/config" || fail "could not edit the copy's config"
refused v3 "$T/v3" 3 "upgrade arca"
copy_repo "$G/repo" "$T/v1-edited"
sed -i 's/"version": 2,/"version": 1,/' "$T/v1-edited/config"
refused v1-edited "$T/v1-edited" 1 "version 1 is not read any more"
copy_repo "$G/v1-repo" "$T/v1"
refused v1 "$T/v1" 1 "version 1 is not read any more"
pass
