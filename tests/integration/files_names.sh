#!/bin/sh
# File names are bytes, not text: a files snapshot must restore every name
# Linux allows, including ones that are not UTF-8 (latin-1 trees from old
# servers), control characters, glob and escape characters, and names of
# the maximum length, and symlink targets that are not UTF-8 either.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
files_target names "$SRC"

step "a tree of awkward names"
mkdir -p "$SRC"
n() { printf "$1"; }    # a name from printf escapes
echo latin1 > "$SRC/$(n 'caf\351 cr\350me')"
echo bad > "$SRC/$(n 'invalid-\377\376')"
mkdir "$SRC/$(n 'dir-\351')" && echo inner > "$SRC/$(n 'dir-\351')/$(n 'f\344')"
ln -s "$(n 'target-\377')" "$SRC/$(n 'link-\376')"
echo tab > "$SRC/$(n 'tab\there')"
echo ctl > "$SRC/$(n 'ctl\001\002\177')"
echo bs > "$SRC/$(n 'back\\\\slash')"
echo glob > "$SRC/*?[a]"
echo pct > "$SRC/100%.txt"
echo lead > "$SRC/ leading space"
echo trail > "$SRC/trailing space "
echo dash > "$SRC/-"
echo dot > "$SRC/..."
mkdir "$SRC/.tmp.looks-temporary" && echo x > "$SRC/.tmp.looks-temporary/y"
long=$(printf 'L%.0s' $(seq 1 255))
echo long > "$SRC/$long"
echo emoji > "$SRC/$(n '\360\237\215\225 pizza')"
tree_manifest "$SRC" --owner > "$T/src.manifest"
n_items=$(wc -l < "$T/src.manifest")

step "snapshot, restore, compare"
arca init > /dev/null || fail "arca init"
arca snapshot names > /dev/null || fail "snapshot"
arca restore names --into "$T/restored" > /dev/null || fail "restore"
tree_manifest "$T/restored" --owner > "$T/got.manifest"
diff -u "$T/src.manifest" "$T/got.manifest" >&2 || fail "restored names differ"
arca verify names --read-data > /dev/null || fail "verify --read-data"

pass "$n_items awkward names round-tripped"
