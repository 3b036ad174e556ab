#!/bin/sh
# A files restore writes into a staging directory beside DIR and moves it
# into place only when every item was read: ^C in the middle (exit 10) and
# a corrupt chunk (exit 7) leave DIR as it was (absent, an empty directory,
# or with --overwrite the old tree) and no staging directory behind, and the
# same command then succeeds. A corrupt chunk names the other destination
# that holds the snapshot and the --from that reads it. A non-empty DIR is
# still refused without --overwrite, and left alone.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
MIB=${FILES_STAGING_MIB:-128}

same_tree() { # same_tree DIR WHAT
	tree_manifest "$1" --owner > "$T/got.manifest"
	if ! diff -u "$T/src.manifest" "$T/got.manifest" > "$T/diff"; then
		head -40 "$T/diff" >&2
		fail "$2: restored tree differs from the source"
	fi
	[ "$(stat -c '%a %y' "$1")" = "$(stat -c '%a %y' "$SRC")" ] ||
		fail "$2: the root's mode and mtime are $(stat -c '%a %y' "$1"), want $(stat -c '%a %y' "$SRC")"
}

no_staging() { # no_staging WHAT: no staging directory beside or in a restore root
	left=$(find "$T" -maxdepth 2 -name '*.arca-restore.*')
	[ -z "$left" ] || fail "$1: staging directory left behind: $left"
}

# interrupt DIR ARGS...: run `arca restore tree --into DIR ARGS`, send it
# SIGINT once 8 MiB have been written (into a staging directory beside or
# inside DIR, or into DIR itself), and wait: $T/out, $T/err and the exit
# code in $T/rc; fails when the restore ended before it was interrupted.
interrupt() {
	python3 - "$ARCA" "$T" "$@" <<'PY' || fail "could not interrupt the restore"
import os, signal, subprocess, sys, time
arca, t, into, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
parent, base = os.path.split(into)
def written():
    roots = [into] + [os.path.join(d, n) for d in (parent, into) if os.path.isdir(d)
                      for n in os.listdir(d) if ".arca-restore." in n]
    total = 0
    for r in roots:
        for top, dirs, files in os.walk(r):
            for n in files:
                try:
                    total += os.lstat(os.path.join(top, n)).st_size
                except FileNotFoundError:
                    pass
    return total
with open(t + "/out", "wb") as out, open(t + "/err", "wb") as err:
    p = subprocess.Popen([arca, "restore", "tree", "--into", into] + args, stdout=out, stderr=err)
    deadline = time.time() + 300
    while p.poll() is None and time.time() < deadline:
        try:
            if written() >= 8 << 20:
                break
        except OSError:
            pass
        time.sleep(0.005)
    if p.poll() is not None:
        sys.exit("the restore ended (exit %d) before it could be interrupted" % p.returncode)
    p.send_signal(signal.SIGINT)
    rc = p.wait()
open(t + "/rc", "w").write("%d\n" % rc)
PY
	[ "$(cat "$T/rc")" = 10 ] || { cat "$T/err" >&2; fail "interrupted restore exited $(cat "$T/rc"), want 10"; }
	expect_stderr "interrupted"
}

step "a tree of $MIB MiB, two destinations"
write_engine_config
mkdir -p "$T/far"
cat >> "$ARCA_CONFIG" << EOC

[destination far]
driver = dir
path = $T/far
passphrase_env = ARCA_PASSPHRASE
EOC
files_target tree "$SRC"
sed -i 's/^destinations = local$/destinations = local, far/' "$ARCA_CONFIG"
mkdir -p "$SRC/data" "$SRC/ro/inner"
for i in 1 2 3 4; do head -c $((MIB * 1048576 / 4)) /dev/urandom > "$SRC/data/part$i"; done
echo small > "$SRC/ro/inner/file"
ln "$SRC/ro/inner/file" "$SRC/linked"
ln -s data/part1 "$SRC/link"
chmod 0555 "$SRC/ro/inner" "$SRC/ro"
touch -d '2004-05-06 07:08:09.123456789' "$SRC/ro/inner" "$SRC/ro" "$SRC/data"
chmod 0750 "$SRC" && touch -d '2003-02-01 00:00:00.5' "$SRC"
tree_manifest "$SRC" --owner > "$T/src.manifest"
arca init > /dev/null || fail "init"
arca snapshot tree > /dev/null || fail "snapshot"

step "^C while restoring into a new directory: exit 10, nothing left, the retry works"
interrupt "$T/new"
[ ! -e "$T/new" ] || fail "an interrupted restore left $T/new ($(du -sh "$T/new" | cut -f1))"
no_staging "interrupted restore into a new directory"
arca restore tree --into "$T/new" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "retry after ^C"; }
same_tree "$T/new" "retry after ^C"
no_staging "restore into a new directory"

step "^C while restoring into an empty directory: it stays as it was"
mkdir "$T/empty" && chmod 0751 "$T/empty" && touch -d '2002-02-02 02:02:02' "$T/empty"
before=$(stat -c '%i %a %y' "$T/empty")
interrupt "$T/empty"
[ "$(stat -c '%i %a %y' "$T/empty")" = "$before" ] || fail "the empty directory changed: $(stat -c '%i %a %y' "$T/empty"), was $before"
[ -z "$(ls -A "$T/empty")" ] || fail "the empty directory is not empty: $(ls -A "$T/empty")"
no_staging "interrupted restore into an empty directory"
arca restore tree --into "$T/empty" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "retry into the empty directory"; }
same_tree "$T/empty" "retry into the empty directory"
# the same directory, not one renamed over it (a shell's cwd, its ACLs)
[ "$(stat -c %i "$T/empty")" = "${before%% *}" ] || fail "the empty directory was replaced, not filled"

step "a non-empty directory without --overwrite is refused and left alone"
mkdir -p "$T/used/sub" && echo keep > "$T/used/sub/keep" && echo data > "$T/used/data"
touch -d '2001-01-01 01:01:01' "$T/used/sub" "$T/used"
tree_manifest "$T/used" --owner > "$T/used.manifest"
used_stat=$(stat -c '%i %a %y' "$T/used")
expect_fail 11 arca restore tree --into "$T/used"
expect_stderr "not empty"
expect_stderr "overwrite"
tree_manifest "$T/used" --owner | diff -u "$T/used.manifest" - >&2 || fail "a refused restore changed $T/used"
[ "$(stat -c '%i %a %y' "$T/used")" = "$used_stat" ] || fail "a refused restore touched $T/used itself"
no_staging "a refused restore"

step "^C during --overwrite: the old tree stays as it was"
interrupt "$T/used" --overwrite
tree_manifest "$T/used" --owner | diff -u "$T/used.manifest" - >&2 || fail "an interrupted --overwrite changed $T/used"
[ "$(stat -c '%i %a %y' "$T/used")" = "$used_stat" ] || fail "an interrupted --overwrite touched $T/used itself"
no_staging "interrupted --overwrite"

step "a corrupt chunk: exit 7, nothing written, the other destination named"
flip() { # flip FILE OFFSET
	python3 - "$1" "$2" << 'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read())
b[off] ^= 0x10
open(p, 'wb').write(bytes(b))
PY
}
pack=$(find "$T/repo/packs" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
chmod u+w "$pack"
flip "$pack" $(($(stat -c %s "$pack") / 2))
expect_fail 7 arca restore tree --into "$T/damaged"
expect_stderr "$(basename "$pack")"
expect_stderr "destination far"
expect_stderr "--from far"
[ ! -e "$T/damaged" ] || fail "a restore that met a corrupt chunk left $T/damaged"
no_staging "restore of a corrupt chunk"
expect_fail 7 arca restore tree --into "$T/damaged" --from local
expect_stderr "--from far"
[ ! -e "$T/damaged" ] || fail "a restore --from local that met a corrupt chunk left $T/damaged"
arca restore tree --into "$T/damaged" --from far > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore --from far"; }
same_tree "$T/damaged" "restore --from far"
no_staging "restore --from far"

pass "interrupted and damaged restores left nothing; retries restored $MIB MiB"
