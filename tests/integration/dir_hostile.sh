#!/bin/sh
# The dir destination on storage an attacker can write: symlinks, FIFOs
# and links to secrets planted in the repository directory are reported
# (exit 7, naming them), never followed, read or deleted through.
#   1. packs -> a directory of victim files: prune and snapshot fail, the
#      victim files stay;
#   2. packs/00..ff -> an outside directory: a snapshot writes nothing there;
#   3. a FIFO named config: list fails at once instead of hanging;
#   4. config -> a file holding a secret: the error names the link and does
#      not show the secret;
#   5. symlinks at snapshots/<id> and index/<id>: list and verify skip them
#      with a warning.
# The configured path itself may be a symlink: that one is followed.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
REPO=$T/repo
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC/sub"
echo small > "$SRC/small"
head -c 300000 /dev/urandom > "$SRC/sub/data"
arca init > /dev/null || fail "arca init"
arca snapshot tree > /dev/null || fail "first snapshot"
cp -a "$REPO" "$T/repo.good"

# Put the intact repository back after an attack.
reset_repo() {
	rm -rf "$REPO"
	cp -a "$T/repo.good" "$REPO"
}
# A name like a pack's, made from $1.
hexname() { printf '%s' "$1" | sha256sum | cut -c1-64; }

step "1. packs is a symlink to a directory of victim files"
mkdir "$T/victim"
cp -a "$REPO/packs/." "$T/victim/"
for v in one two; do
	h=$(hexname "$v")
	mkdir -p "$T/victim/$(echo "$h" | cut -c1-2)"
	echo "victim $v" > "$T/victim/$(echo "$h" | cut -c1-2)/$h"
done
find "$T/victim" -type f | sort > "$T/victim.before"
rm -rf "$REPO/packs"
ln -s "$T/victim" "$REPO/packs"
expect_fail 7 arca prune
expect_stderr "packs is not a directory \(a symbolic link\)"
echo more > "$SRC/more"
expect_fail 7 arca snapshot tree
expect_stderr "packs is not a directory \(a symbolic link\)"
find "$T/victim" -type f | sort > "$T/victim.after"
cmp -s "$T/victim.before" "$T/victim.after" || {
	diff "$T/victim.before" "$T/victim.after" >&2
	fail "files in the symlinked directory were deleted or added"
}
[ -L "$REPO/packs" ] || fail "the symlink itself was removed"

step "2. packs/00 .. packs/ff are symlinks to an outside directory"
reset_repo
mkdir "$T/outside"
mkdir "$T/moved"
mv "$REPO/packs"/* "$T/moved/"
for i in $(seq 0 255); do
	ln -s "$T/outside" "$REPO/packs/$(printf %02x "$i")"
done
head -c 200000 /dev/urandom > "$SRC/new"
expect_fail 7 arca snapshot tree
expect_stderr "packs/[0-9a-f]{2} is not a directory \(a symbolic link\)"
[ -z "$(ls -A "$T/outside")" ] || { ls -la "$T/outside" >&2; fail "a snapshot wrote outside the repository"; }
rm "$SRC/new"

step "3. a FIFO named config"
reset_repo
rm "$REPO/config"
mkfifo "$REPO/config"
set +e
timeout 20 "$ARCA" list > "$T/out" 2> "$T/err"
rc=$?
set -e
[ "$rc" -ne 124 ] || fail "arca list hung on a FIFO named config"
[ "$rc" -eq 7 ] || { cat "$T/err" >&2; fail "arca list on a FIFO config: exit $rc, want 7"; }
expect_stderr "config is not a regular file \(a FIFO\); the repository may have been tampered with"

step "4. config is a symlink to a secret"
reset_repo
echo "swordfish is the password" > "$T/secret"
chmod 600 "$T/secret"
rm "$REPO/config"
ln -s "$T/secret" "$REPO/config"
expect_fail 7 arca list
expect_stderr "config is not a regular file \(a symbolic link\)"
if grep -q swordfish "$T/err" "$T/out"; then
	cat "$T/err" >&2
	fail "the error shows the content of the file the symlink names"
fi
expect_fail 7 arca snapshot tree
if grep -q swordfish "$T/err" "$T/out"; then
	cat "$T/err" >&2
	fail "snapshot shows the content of the file the symlink names"
fi

step "5. symlinks at snapshots/<id> and index/<id>"
reset_repo
snap=$(cd "$REPO/snapshots" && ls | head -1)
[ -n "$snap" ] || fail "no snapshot object"
mkdir "$T/planted"
mv "$REPO/snapshots/$snap" "$T/planted/snap"
ln -s "$T/planted/snap" "$REPO/snapshots/$snap"
arca list --json > "$T/list.json" 2> "$T/err" || { cat "$T/err" >&2; fail "arca list"; }
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/list.json")
[ "$n" = 0 ] || fail "list followed the symlink at snapshots/$snap ($n snapshots listed)"
expect_stderr "skipping snapshots/$snap: a symbolic link"
expect_fail 8 arca restore tree --into "$T/restored"
expect_stderr "no snapshot of target tree"
[ ! -e "$T/restored/small" ] || fail "restore read a snapshot through a symlink"

reset_repo
idx=$(cd "$REPO/index" && ls | head -1)
[ -n "$idx" ] || fail "no index object"
mv "$REPO/index/$idx" "$T/planted/index"
ln -s "$T/planted/index" "$REPO/index/$idx"
set +e
arca verify > "$T/out" 2> "$T/err"
set -e
expect_stderr "skipping index/$idx: a symbolic link"
# Without the index, the snapshot's chunks are unknown: reading it fails.
# Items are verified in parallel, so either one may be reported first.
expect_fail 7 arca verify tree --read-data
expect_stderr "skipping index/$idx: a symbolic link"
expect_stderr "item '(small|sub/data)': chunk [0-9a-f]{64} is not in the index of destination local"
[ -L "$REPO/index/$idx" ] && [ -f "$T/planted/index" ] || fail "the planted index or its link was removed"

step "the intact repository still works, also through a configured symlink"
reset_repo
arca verify tree --read-data > /dev/null || fail "verify of the intact repository"
arca prune > /dev/null || fail "prune of the intact repository"
# The admin's path may itself be a symlink: only links below it are refused.
ln -s "$REPO" "$T/repo.link"
sed -i "s|^path = $REPO\$|path = $T/repo.link|" "$ARCA_CONFIG"
grep -q "^path = $T/repo.link\$" "$ARCA_CONFIG" || fail "could not point path at the symlink"
echo later > "$SRC/later"
arca snapshot tree > /dev/null || fail "snapshot through a symlinked root"
arca verify tree --read-data > /dev/null || fail "verify through a symlinked root"

pass
