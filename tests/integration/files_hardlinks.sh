#!/bin/sh
# files target: hard links survive a round trip. A tree with a linked pair,
# a linked triple across subdirectories, linked empty files, and files whose
# other links are outside the tree or excluded is snapshotted; the later
# paths of each inode are stored as content-less items. Restored into an
# empty directory, over an existing restore with --overwrite, and from an
# unchanged second snapshot, the paths share inodes exactly as in the source
# (lone paths come back as plain files), with content, modes, mtimes and
# owners intact. Where the filesystem refuses a link (a mount point inside
# the restore root: EXDEV, root only) the file is copied with a warning.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src

json_field() { # json_field FILE PYTHON-EXPR (d is the parsed document)
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# link_groups DIR [SKIP]: one line per regular file: its path and the paths
# below DIR that share its inode (its own included), so two trees print the
# same lines exactly when their files are linked alike. SKIP: a top-level
# directory left out.
link_groups() {
	python3 - "$1" "${2:-}" <<'PY'
import collections, os, stat, sys
root, skip = sys.argv[1], sys.argv[2]
by_inode, paths = collections.defaultdict(list), []
for top, dirs, files in os.walk(root):
    if top == root and skip in dirs:
        dirs.remove(skip)
    for name in files:
        p = os.path.join(top, name)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode):
            rel = os.path.relpath(p, root)
            by_inode[(st.st_dev, st.st_ino)].append(rel)
            paths.append((rel, (st.st_dev, st.st_ino)))
for rel, key in sorted(paths):
    print(repr(rel), sorted(by_inode[key]))
PY
}

# nlink DIR PATH
nlink() { stat -c %h "$1/$2"; }
same_inode() { [ "$(stat -c '%d:%i' "$1")" = "$(stat -c '%d:%i' "$2")" ]; }

src_manifest() { tree_manifest "$SRC" --owner; }

check_tree() { # check_tree DIR WHAT: content/metadata and link groups as in the source
	tree_manifest "$1" --owner > "$T/got.manifest"
	if ! diff -u "$T/src.manifest" "$T/got.manifest" > "$T/diff"; then
		head -40 "$T/diff" >&2
		fail "$2: restored tree differs from the source"
	fi
	link_groups "$1" > "$T/got.links"
	if ! diff -u "$T/src.links" "$T/got.links" > "$T/diff"; then
		cat "$T/diff" >&2
		fail "$2: restored hard links differ from the source"
	fi
}

step "a tree with hard links"
write_engine_config
files_target tree "$SRC" 'exclude = /skipped'
mkdir -p "$SRC/sub1" "$SRC/sub2/deeper" "$SRC/skipped" "$T/outside"
head -c 300000 /dev/urandom > "$SRC/pair-a"
ln "$SRC/pair-a" "$SRC/sub1/pair-b"                   # a pair across directories
head -c 2000000 /dev/urandom > "$SRC/sub1/t1"
ln "$SRC/sub1/t1" "$SRC/sub2/t2"                      # a triple: first path in sub1,
ln "$SRC/sub1/t1" "$SRC/sub2/deeper/t3"               # later ones elsewhere
chmod 0640 "$SRC/sub1/t1"
touch -d '2003-04-05 06:07:08.5' "$SRC/sub1/t1"
: > "$SRC/empty-1" && ln "$SRC/empty-1" "$SRC/sub2/empty-2"   # empty files link too
chmod 0444 "$SRC/empty-1"
echo "only one path inside" > "$SRC/lone-outside"
ln "$SRC/lone-outside" "$T/outside/partner"           # its partner is outside the tree
echo "partner excluded" > "$SRC/lone-excluded"
ln "$SRC/lone-excluded" "$SRC/skipped/partner"        # ... or excluded from it
echo plain > "$SRC/sub1/plain"
cp "$SRC/pair-a" "$SRC/same-content-not-linked"       # equal content is not a link
if [ "$(id -u)" = 0 ]; then
	echo owned > "$SRC/sub2/owned" && ln "$SRC/sub2/owned" "$SRC/sub1/owned-too"
	chown 65534:65534 "$SRC/sub2/owned"
else
	skip_step "not root: a hard-linked file owned by another user is not in the tree"
fi
touch -d '2011-11-11 11:11:11' "$SRC/sub1" "$SRC/sub2" "$SRC/sub2/deeper"
[ "$(nlink "$SRC" lone-outside)" = 2 ] && [ "$(nlink "$SRC" sub2/deeper/t3)" = 3 ] ||
	fail "the test filesystem did not make the links"
# the source as the snapshot sees it: without the excluded directory
src_manifest | grep -v ' skipped' > "$T/src.manifest"
link_groups "$SRC" skipped > "$T/src.links"
grep -q "'sub2/deeper/t3' \['sub1/t1', 'sub2/deeper/t3', 'sub2/t2'\]" "$T/src.links" ||
	fail "link_groups does not see the triple"
n_items=$(( $(wc -l < "$T/src.manifest") + 1 ))
unique_bytes=$(( 300000 + 2000000 + 300000 + $(cat "$SRC/lone-outside" "$SRC/lone-excluded" "$SRC/sub1/plain" | wc -c) ))
if [ "$(id -u)" = 0 ]; then unique_bytes=$((unique_bytes + 6)); fi   # owned

step "snapshot: later links are stored without content"
arca init > /dev/null || fail "arca init"
arca --json snapshot tree > "$T/snap1.json" 2> "$T/snap1.err" || { cat "$T/snap1.err" >&2; fail "snapshot"; }
id1=$(json_field "$T/snap1.json" 'd[0]["id"]')
[ "$(json_field "$T/snap1.json" 'd[0]["items"]')" -eq "$n_items" ] ||
	fail "snapshot stored $(json_field "$T/snap1.json" 'd[0]["items"]') items, want $n_items"
[ "$(json_field "$T/snap1.json" 'd[0]["bytes"]')" -eq "$unique_bytes" ] ||
	fail "snapshot holds $(json_field "$T/snap1.json" 'd[0]["bytes"]') bytes, want $unique_bytes (each linked file once)"
! grep -qi warn "$T/snap1.err" || { cat "$T/snap1.err" >&2; fail "snapshot warned"; }

step "verify accepts the link items"
arca verify tree --read-data > /dev/null 2> "$T/verify.err" || { cat "$T/verify.err" >&2; fail "verify --read-data"; }

step "restore into an empty directory: same inodes shared"
arca restore tree --into "$T/r" > /dev/null 2> "$T/restore.err" || { cat "$T/restore.err" >&2; fail "restore"; }
! grep -qi "warn" "$T/restore.err" || { cat "$T/restore.err" >&2; fail "restore warned"; }
check_tree "$T/r" "restore --into"
same_inode "$T/r/sub1/t1" "$T/r/sub2/deeper/t3" || fail "t1 and t3 are not one inode"
[ "$(nlink "$T/r" sub1/t1)" = 3 ] || fail "t1 has $(nlink "$T/r" sub1/t1) links, want 3"
[ "$(nlink "$T/r" pair-a)" = 2 ] || fail "pair-a has $(nlink "$T/r" pair-a) links, want 2"
[ "$(nlink "$T/r" lone-outside)" = 1 ] || fail "lone-outside is linked in the restore"
[ "$(nlink "$T/r" lone-excluded)" = 1 ] || fail "lone-excluded is linked in the restore"
[ "$(nlink "$T/r" same-content-not-linked)" = 1 ] || fail "equal content was restored linked"
[ -z "$(find "$T/r" -name '.arca-restore.*')" ] || fail "temporary files left in the restore"

step "restore --overwrite over an existing, altered restore"
rm "$T/r/sub1/pair-b" && echo "a separate file now" > "$T/r/sub1/pair-b"   # link broken
rm "$T/r/sub2/t2" && mkdir -p "$T/r/sub2/t2/in-the-way"           # a directory in the way
ln -f "$T/r/sub1/plain" "$T/r/lone-outside"                          # a wrong link
echo stale > "$T/r/sub1/t1"                                          # content of a triple changed
arca restore tree --into "$T/r" --overwrite > /dev/null 2> "$T/restore.err" ||
	{ cat "$T/restore.err" >&2; fail "restore --overwrite"; }
check_tree "$T/r" "restore --overwrite"
[ -z "$(find "$T/r" -name '.arca-restore.*')" ] || fail "temporary files left by --overwrite"

step "an unchanged second snapshot (metadata cache) restores the same links"
arca --json snapshot tree > "$T/snap2.json" || fail "second snapshot"
[ "$(json_field "$T/snap2.json" 'd[0]["new_bytes"]')" -lt 1048576 ] || fail "unchanged re-run stored new data"
arca restore tree --snapshot latest --into "$T/r2" > /dev/null 2> "$T/restore.err" ||
	{ cat "$T/restore.err" >&2; fail "restore of snapshot 2"; }
check_tree "$T/r2" "restore of the second snapshot"

step "a changed link set: links follow the source"
rm "$SRC/sub2/t2"                                  # the triple becomes a pair
rm "$SRC/pair-a"                                   # the pair's first path goes: pair-b is alone
echo "now linked" > "$SRC/sub2/new-first"
ln "$SRC/sub2/new-first" "$SRC/new-second"         # a new pair; new-second comes first in the walk
src_manifest | grep -v ' skipped' > "$T/src.manifest"
link_groups "$SRC" skipped > "$T/src.links"
arca snapshot tree > /dev/null 2>&1 || fail "third snapshot"
arca restore tree --snapshot latest --into "$T/r3" > /dev/null 2> "$T/restore.err" ||
	{ cat "$T/restore.err" >&2; fail "restore of snapshot 3"; }
check_tree "$T/r3" "restore of the changed tree"
[ "$(nlink "$T/r3" sub1/pair-b)" = 1 ] || fail "pair-b should be a plain file now"
same_inode "$T/r3/new-second" "$T/r3/sub2/new-first" || fail "the new pair is not linked"
arca verify tree --read-data > /dev/null 2>&1 || fail "verify of the third snapshot"

step "a filesystem that refuses the link: copied, with a warning"
if [ "$(id -u)" != 0 ] || ! mkdir -p "$T/r4/sub2/deeper" || ! mount -t tmpfs arca-test "$T/r4/sub2/deeper" 2>/dev/null; then
	skip_step "not root or no tmpfs mount here: a filesystem refusing the link (EXDEV) is not tested"
else
	on_exit "umount '$T/r4/sub2/deeper'"
	# t3 sits on the tmpfs, its first path t1 does not: link(2) says EXDEV
	arca restore tree --snapshot "$id1" --into "$T/r4" --overwrite > /dev/null 2> "$T/restore.err" ||
		{ cat "$T/restore.err" >&2; fail "restore across a mount point"; }
	grep -q "sub2/deeper/t3 as a hard link to sub1/t1: .*separate copy of that file" "$T/restore.err" ||
		{ cat "$T/restore.err" >&2; fail "no warning about the copy of t3"; }
	cmp "$T/r4/sub1/t1" "$T/r4/sub2/deeper/t3" || fail "the copy of t3 differs from t1"
	[ "$(stat -c '%a %Y' "$T/r4/sub2/deeper/t3")" = "$(stat -c '%a %Y' "$SRC/sub1/t1")" ] ||
		fail "the copy of t3 lacks t1's mode and mtime"
	! same_inode "$T/r4/sub1/t1" "$T/r4/sub2/deeper/t3" || fail "t3 linked across a mount point?"
	same_inode "$T/r4/sub1/t1" "$T/r4/sub2/t2" || fail "t2 should still be linked to t1"
	umount "$T/r4/sub2/deeper"
fi

pass "$n_items items, links restored as in the source"
