#!/bin/sh
# files target, what cannot be stored as it is:
#  - A file and a directory arca may not read (as root: arca runs as nobody),
#    a FIFO, a socket and, as root, a character and a block device: the
#    snapshot is recorded, partial (exit 15), naming the file and the
#    directory; the socket is named at normal verbosity and not stored.
#    `arca list` marks it PARTIAL and names what it lacks, `list --json` has
#    "partial"; verify passes; a restore brings back everything else byte
#    for byte with its metadata (tree_manifest --owner), the FIFO as a FIFO
#    and the devices with their numbers (as root). Restored as nobody, the
#    devices are named in a warning and left out.
#  - Files that shrink and grow while arca reads them (arca is stopped with
#    SIGSTOP once it has read part of one, the file is truncated or grown,
#    and arca goes on): each is stored as read, its size what was read, with
#    a warning naming it; the restore gives the file exactly as it is now (no
#    zero-filled tail, no cut).
. "$ARCA_SRCDIR/tests/lib/common.sh"

# ---- part 1: files that change size while they are read ----------------

LIVE=$T/live
mkdir -p "$LIVE" "$T/live-state" "$T/live-repo"
cat > "$T/live.ini" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/live-state

[destination local]
driver = dir
path = $T/live-repo
passphrase_env = ARCA_PASSPHRASE

[target live]
driver = files
destinations = local
path = $LIVE
EOC
live() { ARCA_CONFIG=$T/live.ini "$ARCA" "$@"; }

# change_while_read PID PATH ACTION...: for each PATH in turn (the walk's
# order), wait until arca (PID) has read part of it, stop arca, shrink the
# file to what arca has read plus 12345 bytes (ACTION shrink) or append
# 1 MiB + 7 bytes (grow), and let arca go on. Exit 3 when arca had read the
# whole file before it could be stopped (the caller tries again).
change_while_read() {
	python3 - "$@" <<'PY'
import os, signal, sys, time
pid, jobs = int(sys.argv[1]), list(zip(sys.argv[2::2], sys.argv[3::2]))

def alive():
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

def read_pos(path):
    """arca's offset in path, or None while it does not have it open"""
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path:
                    with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                        for line in f:
                            if line.startswith("pos:"):
                                return int(line.split()[1])
            except OSError:
                pass
    except OSError:
        pass
    return None

def all_stopped():
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in "tT":
                    return False
        except FileNotFoundError:
            pass
    return True

for path, action in jobs:
    path = os.path.realpath(path)
    size = os.path.getsize(path)
    deadline = time.time() + 120
    # past its first read: arca has taken the file's size (fstat) already
    while True:
        pos = read_pos(path)
        if pos:
            break
        if not alive() or time.time() > deadline:
            sys.exit("arca never read %s" % path)
        time.sleep(0.0005)
    os.kill(pid, signal.SIGSTOP)
    try:
        while not all_stopped():
            time.sleep(0.001)
        pos = read_pos(path)
        if pos is None or pos >= size:
            print("missed %s: arca had read it all (%s of %d bytes)" % (path, pos, size))
            sys.exit(3)
        if action == "shrink":
            os.truncate(path, pos + 12345)
        else:
            with open(path, "ab") as f:
                f.write(os.urandom(1048576 + 7))
        print("%s %s at byte %d of %d" % (path, action, pos, size))
    finally:
        os.kill(pid, signal.SIGCONT)
PY
}

changing_files() {
	live init > /dev/null || fail "arca init (live)"
	attempt=0
	while :; do
		attempt=$((attempt + 1))
		# fresh files each attempt, so none is taken from the metadata cache
		rm -f "$LIVE/grows" "$LIVE/shrinks"
		head -c 67108864 /dev/urandom > "$LIVE/grows"
		head -c 67108864 /dev/urandom > "$LIVE/shrinks"
		# arca at the lowest priority, so the watcher keeps up with it
		ARCA_CONFIG=$T/live.ini nice -n 19 "$ARCA" snapshot live > "$T/live.out" \
			2> "$T/live.err" &
		pid=$!
		set +e
		change_while_read "$pid" "$LIVE/grows" grow "$LIVE/shrinks" shrink > "$T/changed"
		changed=$?
		wait "$pid"
		rc=$?
		set -e
		cat "$T/changed"
		[ "$rc" = 0 ] || { cat "$T/live.err" >&2; fail "snapshot of changing files exited $rc"; }
		[ "$changed" = 0 ] && break
		[ "$changed" = 3 ] && [ "$attempt" -lt 3 ] ||
			fail "could not change the files while arca read them"
		echo "(arca was too quick; again)"
	done
	grows=$(stat -c %s "$LIVE/grows")
	shrinks=$(stat -c %s "$LIVE/shrinks")
	grep -q "grows grew while it was being read: stored the $grows bytes read, not the 67108864" \
		"$T/live.err" || { cat "$T/live.err" >&2; fail "no warning naming the file that grew"; }
	grep -q "shrinks shrank while it was being read: stored the $shrinks bytes read, not the 67108864" \
		"$T/live.err" || { cat "$T/live.err" >&2; fail "no warning naming the file that shrank"; }
	! grep -q PARTIAL "$T/live.out" || fail "a file that changed size made the snapshot partial"
	live list --json > "$T/live.json"
	python3 - "$T/live.json" "$grows" "$shrinks" <<'PY' || fail "stored sizes: $(cat "$T/live.json")"
import json, sys
d = json.load(open(sys.argv[1]))
# ".", grows, shrinks: the sizes as read
assert d[-1]["items"] == 3 and d[-1]["bytes"] == int(sys.argv[2]) + int(sys.argv[3]), d[-1]
assert "partial" not in d[-1], d[-1]
PY
	live verify live > /dev/null || fail "verify of the snapshot of changing files"
	live restore live --into "$T/live-out" > /dev/null || fail "restore of changing files"
	for f in grows shrinks; do
		cmp "$LIVE/$f" "$T/live-out/$f" || fail "$f restored differs from the file as it is now"
	done
}

step "a file that shrinks and one that grows while they are read"
# arca makes itself not dumpable: only root sees its descriptors in /proc
if [ "$(id -u)" = 0 ]; then
	changing_files
else
	echo "(not root: arca's reading cannot be watched; not tested)"
fi

# ---- part 2: unreadable entries and special files ------------------------

SRC=$T/src
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC/sub" "$SRC/private"
echo readable > "$SRC/readable"
head -c 300000 /dev/urandom > "$SRC/sub/data"
echo "no one may read this" > "$SRC/secret.key"
echo inner > "$SRC/private/inner"
mkfifo -m 0640 "$SRC/sub/pipe"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SRC/sock"
devices=no
if [ "$(id -u)" = 0 ] && mknod -m 0620 "$SRC/sub/null" c 1 3 2> /dev/null &&
	mknod -m 0600 "$SRC/sub/loop" b 7 200 2> /dev/null; then
	devices=yes
else
	rm -f "$SRC/sub/null"
	echo "(not root, or mknod refused: device nodes not tested)"
fi
touch -d '2004-05-06 07:08:09.25' "$SRC/sub/pipe"

# As root, run arca as nobody so that root-only entries are unreadable;
# otherwise entries of our own with mode 0 do the same. The restores that
# make devices run as root, with a state_dir of root's own.
if [ "$(id -u)" = 0 ]; then
	command -v runuser > /dev/null || skip "runuser is needed to drop privileges"
	chown -R 65534:65534 "$SRC" "$T/repo" "$T/state"
	chown 0:0 "$SRC/secret.key" "$SRC/private"
	chmod 0600 "$SRC/secret.key"
	chmod 0700 "$SRC/private"
	chmod 0644 "$ARCA_CONFIG"
	as_user() { runuser -u "$(id -nu 65534)" -- "$@"; }
	mkdir -p "$T/root-state"
	sed "s|^state_dir = .*|state_dir = $T/root-state|" "$ARCA_CONFIG" > "$T/root.ini"
	as_restorer() { ARCA_CONFIG=$T/root.ini "$@"; }
else
	chmod 0000 "$SRC/secret.key" "$SRC/private"
	on_exit "chmod 0700 '$SRC/private'; chmod 0600 '$SRC/secret.key'"
	as_user() { "$@"; }
	as_restorer() { "$@"; }
fi

step "unreadable entries are left out: the snapshot is recorded partial (exit 15)"
as_user "$ARCA" init > /dev/null || fail "arca init"
expect_fail 15 as_user "$ARCA" snapshot tree
expect_stderr "secret\.key not stored: cannot open: Permission denied"
expect_stderr "private not stored: cannot open directory: Permission denied"
expect_stderr "sock is a socket; not stored"
expect_stderr "1 special file not stored"
expect_stderr "recorded partial: 2 items left out"
grep -q "PARTIAL" "$T/out" || fail "snapshot output does not say PARTIAL: $(cat "$T/out")"
! grep -q "sub/pipe\|sub/null\|sub/loop" "$T/err" || fail "a fifo or device was reported: $(cat "$T/err")"

step "arca list marks it partial and names what was left out"
as_user "$ARCA" list tree > "$T/list.txt" || fail "arca list"
cat "$T/list.txt"
grep -q "  PARTIAL$" "$T/list.txt" || fail "arca list does not mark the snapshot PARTIAL"
grep -q "partial: 2 items left out: private, secret\.key$" "$T/list.txt" ||
	fail "arca list does not name what was left out"
as_user "$ARCA" list --json > "$T/list.json" || fail "arca list --json"
python3 - "$T/list.json" "$devices" <<'PY' || fail "list --json: $(cat "$T/list.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1, d
assert d[0]["partial"] == {"skipped": 2, "items": ["private", "secret.key"]}, d[0]
# ".", readable, sub, sub/data, sub/pipe (+ sub/loop, sub/null)
assert d[0]["items"] == (7 if sys.argv[2] == "yes" else 5), d[0]
PY
as_user "$ARCA" verify tree > /dev/null || fail "verify of a partial snapshot"

step "a restore brings back everything else, byte for byte"
# what was left out, and the socket, are not expected back
expected() {
	tree_manifest "$SRC" --owner |
		awk '$5 != "secret.key" && $5 != "sock" && $5 != "private" && $5 !~ /^private\//'
}
if [ "$(id -u)" != 0 ]; then   # tree_manifest reads everything
	chmod 0700 "$SRC/private" && chmod 0600 "$SRC/secret.key"
fi
expected > "$T/src.manifest"
grep -q " sub/data " "$T/src.manifest" || fail "tree_manifest of the source failed"
as_restorer "$ARCA" restore tree --into "$T/restored" > /dev/null || fail "restore"
tree_manifest "$T/restored" --owner > "$T/got.manifest"
diff -u "$T/src.manifest" "$T/got.manifest" || fail "restored tree differs from the source"
[ -p "$T/restored/sub/pipe" ] || fail "the fifo was not restored as a fifo"
if [ "$devices" = yes ]; then
	for dev in null loop; do
		[ "$(stat -c '%F %t:%T' "$T/restored/sub/$dev")" = "$(stat -c '%F %t:%T' "$SRC/sub/$dev")" ] ||
			fail "device $dev restored as $(stat -c '%F %t:%T' "$T/restored/sub/$dev")"
	done

	step "restored as nobody, the devices are named and left out"
	mkdir "$T/restored-nobody" && chown 65534:65534 "$T/restored-nobody"
	as_user "$ARCA" restore tree --into "$T/restored-nobody" > /dev/null 2> "$T/err" ||
		{ cat "$T/err" >&2; fail "restore as nobody"; }
	expect_stderr "sub/null is a character device \(1:3\) and cannot be made here"
	expect_stderr "sub/loop is a block device \(7:200\) and cannot be made here"
	[ ! -e "$T/restored-nobody/sub/null" ] && [ -p "$T/restored-nobody/sub/pipe" ] &&
		cmp "$SRC/sub/data" "$T/restored-nobody/sub/data" || fail "restore as nobody: wrong tree"
fi

pass
