#!/bin/sh
# files target, parallel items (jobs > 1: worker threads send files by
# handle, ABI 1.1 item_begin_h; restore writes them from read handles). A
# deterministic tree of thousands of small files (1-16 KiB, varied modes and
# mtimes) with large files among them (past the engine's per-handle buffer:
# written straight through while small ones wait), hard links and a symlink
# is snapshotted with 8 workers and restored with 8 and with 1; each restore
# equals the source byte for byte and field for field (mode, mtime to the
# nanosecond, owner). A snapshot made one file at a time restores in
# parallel alike. An unchanged re-run stores nothing new (the fingerprint
# shortcut works per handle) and verify --read-data passes. A parallel
# snapshot interrupted with SIGINT exits 10 and records nothing, and the
# repository still verifies.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
COUNT=${FILES_PARALLEL_COUNT:-4000}

json_field() { # json_field FILE PYTHON-EXPR (d is the parsed document)
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

same_tree() { # same_tree DIR WHAT
	tree_manifest "$1" --owner > "$T/got.manifest"
	if ! diff -u "$T/src.manifest" "$T/got.manifest" > "$T/diff"; then
		head -40 "$T/diff" >&2
		fail "$2: restored tree differs from the source"
	fi
	[ "$(stat -c %i "$1/links/a")" = "$(stat -c %i "$1/links/b")" ] ||
		fail "$2: links/a and links/b are no longer one inode"
}

snapshots() { arca list --json > "$T/list.json" && json_field "$T/list.json" 'len(d)'; }

step "a tree of $COUNT small files, large ones among them, links"
python3 "$ARCA_SRCDIR/tests/lib/small_files.py" "$SRC" "$COUNT" 7 || fail "making the tree"
mkdir -p "$SRC/big" "$SRC/links"
head -c 9437185 /dev/urandom > "$SRC/big/9mib+1"    # past one handle's 8 MiB
head -c 20971520 /dev/urandom > "$SRC/big/20mib"
: > "$SRC/big/empty"
echo linked > "$SRC/links/a" && ln "$SRC/links/a" "$SRC/links/b"
ln -s ../big/20mib "$SRC/links/sym"
chmod 0750 "$SRC" && touch -d '2003-02-01 00:00:00.5' "$SRC"
tree_manifest "$SRC" --owner > "$T/src.manifest"
n_items=$(($(wc -l < "$T/src.manifest") + 1))     # and the root "."

write_engine_config
files_target tree "$SRC" "jobs = 8"
files_target seq "$SRC" "jobs = 1"
arca init > /dev/null || fail "init"

step "snapshot with 8 workers: every item stored"
arca --json snapshot tree > "$T/snap1.json" || fail "parallel snapshot"
[ "$(json_field "$T/snap1.json" 'd[0]["items"]')" -eq "$n_items" ] ||
	fail "snapshot stored $(json_field "$T/snap1.json" 'd[0]["items"]') items, the tree has $n_items"

step "restore with 8 workers (the target's jobs) and with --jobs 1: equal to the source"
arca restore tree --into "$T/par" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "parallel restore"; }
same_tree "$T/par" "parallel restore"
arca restore tree --into "$T/one" --jobs 1 > /dev/null 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "restore --jobs 1"; }
same_tree "$T/one" "restore --jobs 1"

step "a snapshot made one file at a time restores in parallel alike"
arca snapshot seq > /dev/null || fail "sequential snapshot"
arca restore seq --into "$T/seq" --jobs 16 > /dev/null 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "restore --jobs 16"; }
same_tree "$T/seq" "parallel restore of a sequential snapshot"

step "restore --overwrite in parallel over a changed copy"
rm -rf "$T/par/d00/e001" && echo changed > "$T/par/big/20mib"
rm "$T/par/big/empty" && mkdir "$T/par/big/empty" && echo in-the-way > "$T/par/big/empty/x"   # a directory in a file's place
arca restore tree --into "$T/par" --overwrite > /dev/null 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "parallel restore --overwrite"; }
same_tree "$T/par" "parallel restore --overwrite"

step "unchanged re-run: nothing read again, nothing new stored"
arca --json snapshot tree > "$T/snap2.json" || fail "second snapshot"
[ "$(json_field "$T/snap2.json" 'd[0]["items"]')" -eq "$n_items" ] || fail "second snapshot item count"
new=$(json_field "$T/snap2.json" 'd[0]["new_bytes"]')
[ "$new" -lt 65536 ] || fail "an unchanged tree stored $new new bytes"
arca restore tree --into "$T/again" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore of the re-run"; }
same_tree "$T/again" "restore of the unchanged re-run"
arca verify --read-data > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify --read-data"; }

step "SIGINT during a parallel snapshot: exit 10, nothing recorded"
before=$(snapshots)
# new content, so the run reads everything again and lasts
python3 "$ARCA_SRCDIR/tests/lib/small_files.py" "$SRC/more" "$COUNT" 8 || fail "more files"
for i in 1 2 3 4 5 6; do head -c 16777216 /dev/urandom > "$SRC/more/big$i"; done
python3 - "$ARCA" "$T" <<'PY' || fail "could not interrupt the snapshot"
import os, signal, subprocess, sys, time
arca, t = sys.argv[1], sys.argv[2]
def read_bytes(pid):
    try:
        for line in open("/proc/%d/io" % pid):
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
with open(t + "/out", "wb") as out, open(t + "/err", "wb") as err:
    p = subprocess.Popen([arca, "snapshot", "tree"], stdout=out, stderr=err)
    deadline = time.time() + 300
    while p.poll() is None and time.time() < deadline and read_bytes(p.pid) < (4 << 20):
        time.sleep(0.002)
    if p.poll() is not None:
        sys.exit("the snapshot ended (exit %d) before it could be interrupted" % p.returncode)
    p.send_signal(signal.SIGINT)
    rc = p.wait()
open(t + "/rc", "w").write("%d\n" % rc)
PY
[ "$(cat "$T/rc")" = 10 ] || { cat "$T/err" >&2; fail "interrupted snapshot exited $(cat "$T/rc"), want 10"; }
expect_stderr "interrupted"
expect_stderr "nothing was recorded"
[ "$(snapshots)" = "$before" ] || fail "an interrupted snapshot was recorded"
arca verify > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify after the interrupted snapshot"; }

step "the next snapshot completes and restores"
arca snapshot tree > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot after ^C"; }
tree_manifest "$SRC" --owner > "$T/src.manifest"
arca restore tree --into "$T/after" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore after ^C"; }
same_tree "$T/after" "restore after the interrupted snapshot"

pass
