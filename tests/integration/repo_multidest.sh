#!/bin/sh
# Several destinations per target: two dir destinations, "a" on the test's
# filesystem and "b" on a 1 MiB tmpfs that is filled or remounted read-only
# (the tests run as root, and chmod does not stop root).
#  - a snapshot lands in both with one recovery point; restore --from picks
#    the destination; an unknown --from is a usage error (2), and a snapshot
#    id of the other destination is not found (8);
#  - restore without --from falls through to b when a cannot be reached,
#    saying so; --from a then fails naming a;
#  - check with b read-only exits 6 naming b, still reports a, writes nothing;
#  - a snapshot while b is read-only is refused (6) before anything is
#    written: neither destination lists it, no lock is left;
#  - a snapshot that fails in b (disk full, 12): what a recorded is said in
#    the error and restores whole; b lists nothing new and keeps no
#    temporary files; after arca prune b both take the next snapshot;
#  - a destination added to a target that has snapshots gets every item's
#    content while the others reuse theirs (this failed with exit 1,
#    "item_write to an item reported unchanged").
. "$ARCA_SRCDIR/tests/lib/common.sh"

[ "$(id -u)" = 0 ] || skip "needs root to mount the tmpfs that holds destination b"
mkdir "$T/small"
mount -t tmpfs -o size=1m tmpfs "$T/small" 2> /dev/null || skip "cannot mount a tmpfs here"
on_exit "umount '$T/small'"

SRC=$T/src
A=$T/a
B=$T/small/b
mkdir -p "$SRC/sub" "$T/state"
echo hello > "$SRC/hello"
head -c 200000 /dev/urandom > "$SRC/sub/data"
ln -s hello "$SRC/link"
cat > "$ARCA_CONFIG" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state
; one worker: the pack that hits ENOSPC in b is the only one written
workers = 1

[destination a]
driver = dir
path = $A
passphrase_env = ARCA_PASSPHRASE

[destination b]
driver = dir
path = $B
passphrase_env = ARCA_PASSPHRASE

[target tree]
driver = files
destinations = a, b
path = $SRC
EOC

# listed DEST: the ids of target tree's snapshots in DEST, oldest first
listed() {
	arca list --json | python3 -c '
import json, sys
print(" ".join(s["id"] for s in json.load(sys.stdin) if s["destination"] == sys.argv[1]))' "$1"
}
# objects DIR: every file below DIR with its size and mtime (what "wrote
# nothing" compares)
objects() { (cd "$1" && find . -type f -printf '%p %s %T@\n' | sort); }
restore_same() { # restore_same WHAT ARGS...: restore into $T/r and compare with the source
	rs_what=$1; shift
	rm -rf "$T/r"
	arca restore tree --into "$T/r" "$@" > "$T/restore.out" 2> "$T/restore.err" ||
		{ cat "$T/restore.err" >&2; fail "$rs_what: restore $*"; }
	tree_manifest "$SRC" > "$T/src.manifest"
	tree_manifest "$T/r" > "$T/r.manifest"
	diff "$T/src.manifest" "$T/r.manifest" >&2 || fail "$rs_what: the restored tree differs from the source"
}

step "init both; a snapshot lands in both with one recovery point"
arca init > /dev/null || fail "init"
arca snapshot tree > /dev/null || fail "snapshot into a and b"
arca list --json > "$T/list.json"
python3 - "$T/list.json" <<'PY' || fail "list --json after the first snapshot"
import json, sys
l = json.load(open(sys.argv[1]))
assert sorted(s["destination"] for s in l) == ["a", "b"], l
a, b = sorted(l, key=lambda s: s["destination"])
assert a["recovery_point"] == b["recovery_point"], (a, b)
assert a["items"] == b["items"] == 5 and a["bytes"] == b["bytes"], (a, b)
assert a["id"] != b["id"], "each repository names its own snapshot"
PY
ida=$(listed a) idb=$(listed b)

step "restore --from each destination"
restore_same "--from a" --from a
grep -q "restoring snapshot $(echo "$ida" | cut -c1-12) from destination a" "$T/restore.err" ||
	{ cat "$T/restore.err" >&2; fail "restore --from a did not read a"; }
restore_same "--from b" --from b
grep -q "restoring snapshot $(echo "$idb" | cut -c1-12) from destination b" "$T/restore.err" ||
	{ cat "$T/restore.err" >&2; fail "restore --from b did not read b"; }
expect_fail 2 arca restore tree --into "$T/r2" --from c
expect_stderr "target tree has no destination 'c' \(its destinations: a, b\)"
expect_fail 8 arca restore tree --into "$T/r2" --from b --snapshot "$ida"
expect_stderr "no snapshot $ida of target tree"
[ ! -e "$T/r2" ] || fail "a refused restore created its target directory"

step "a cannot be reached: restore falls through to b and says so"
mv "$A" "$A.away"
restore_same "a away"
grep -q "destination a cannot serve this restore (.*); trying b" "$T/restore.err" ||
	{ cat "$T/restore.err" >&2; fail "no warning that a could not serve the restore"; }
grep -q "from destination b" "$T/restore.err" || { cat "$T/restore.err" >&2; fail "not restored from b"; }
expect_fail 8 arca restore tree --into "$T/r2" --from a
expect_stderr "repository in destination a: destination a holds no repository"
mv "$A.away" "$A"

step "check with b read-only: exit 6 naming b, a still checked, nothing written"
mount -o remount,ro "$T/small"
objects "$A" > "$T/a.before"
expect_fail 6 arca check
expect_stderr "destination b: dir $B: the filesystem is mounted read-only"
grep -q "^destination a: ok" "$T/out" || { cat "$T/out" >&2; fail "check did not report destination a"; }
grep -q "^destination b: ok" "$T/out" && fail "check reported the read-only destination b as ok"
objects "$A" > "$T/a.after"
diff "$T/a.before" "$T/a.after" >&2 || fail "check wrote to destination a"

step "a snapshot while b is read-only: refused before anything is written"
echo "second" > "$SRC/second"
expect_fail 6 arca snapshot tree
expect_stderr "snapshot of tree: destination b: writing locks/[0-9a-f]+: .*Read-only file system"
[ "$(listed a)" = "$ida" ] && [ "$(listed b)" = "$idb" ] || fail "a refused snapshot was recorded"
objects "$A" > "$T/a.after"
diff "$T/a.before" "$T/a.after" >&2 || fail "a snapshot refused for b wrote to destination a"
mount -o remount,rw "$T/small"

step "a snapshot that fails in b (disk full): what a recorded is said, b records nothing"
head -c 3145728 /dev/urandom > "$SRC/big"
expect_fail 12 arca snapshot tree
expect_stderr "No space left on device"
expect_stderr "destination b: .*$B"
# Destinations commit in their order in the config: a, listed first, had
# committed before b failed. The message must not say "nothing was recorded".
expect_stderr "snapshot of tree failed; it was recorded in destination a only"
grep -q "nothing was recorded" "$T/err" && { cat "$T/err" >&2; fail "the error says nothing was recorded, but a recorded it"; }
set -- $(listed a)
[ $# = 2 ] && [ "$1" = "$ida" ] || fail "destination a lists '$*' after the run that failed in b"
ida2=$2
[ "$(listed b)" = "$idb" ] || fail "destination b lists a snapshot of the run that failed there"
[ -z "$(find "$B" -name '.tmp.*')" ] || fail "temporary files left in b after ENOSPC"
restore_same "what a recorded" --from a --snapshot "$ida2"
arca verify --read-data > "$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; fail "verify after the failure in b"; }

step "space is back (prune b, smaller data): both take the next snapshot"
rm "$SRC/big"
arca prune b > "$T/prune.out" 2>&1 || { cat "$T/prune.out" >&2; fail "prune b"; }
echo third > "$SRC/third"
arca snapshot tree > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot once b has space"; }
[ "$(listed a | wc -w)" = 3 ] && [ "$(listed b | wc -w)" = 2 ] || fail "a: $(listed a); b: $(listed b)"
restore_same "b after the failure" --from b

step "a destination added to the target gets all the content"
mkdir "$T/c"
cat >> "$ARCA_CONFIG" <<EOC

[destination c]
driver = dir
path = $T/c
passphrase_env = ARCA_PASSPHRASE
EOC
sed -i 's/^destinations = a, b$/destinations = a, b, c/' "$ARCA_CONFIG"
arca init c > /dev/null || fail "init c"
arca snapshot tree > "$T/out" 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot with a new, empty destination"; }
[ "$(listed c | wc -w)" = 1 ] || fail "destination c lists '$(listed c)'"
restore_same "c, added later" --from c
restore_same "a, which reused its items" --from a
arca verify --read-data > "$T/verify.out" 2>&1 || { cat "$T/verify.out" >&2; fail "verify of a, b and c"; }
left=$(find "$A/locks" "$B/locks" "$T/c/locks" -type f)
[ -z "$left" ] || fail "locks left behind: $left"

pass "restore --from, fall-through, check and snapshot with b down, ENOSPC in b, a new destination"
