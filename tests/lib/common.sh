# tests/lib/common.sh — sourced by every integration test.
#
# Gives: $ARCA (the staged binary), $PLUGIN_DIR (staged modules), $T (a
# fresh temp dir removed on exit), arca() (runs the binary with $T/arca.ini),
# fail/pass/skip/skip_step, and helpers to compare trees and to find free ports.
# Exit codes follow automake: 0 pass, 77 skip, anything else fail.
set -eu

: "${ARCA_STAGE:?run through make check or tests/run}"
ARCA="$ARCA_STAGE$ARCA_BINDIR/arca"
PLUGIN_DIR="$ARCA_STAGE$ARCA_PKGLIBDIR"
T=$(mktemp -d "${TMPDIR:-/tmp}/arca-test.XXXXXX")
chmod 755 "$T"
export ARCA_CONFIG="$T/arca.ini"
export ARCA_PASSPHRASE="correct horse battery staple"
TEST_NAME=$(basename "$0" .sh)

cleanup_hooks=""
on_exit() { cleanup_hooks="$1; $cleanup_hooks"; }
_cleanup() {
	rc=$?
	eval "$cleanup_hooks" >/dev/null 2>&1 || true
	if [ "$rc" -eq 0 ] || [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T"; else echo "kept $T"; fi
	exit $rc
}
trap _cleanup EXIT

fail() { echo "FAIL: $TEST_NAME: $*" >&2; exit 1; }
skip() { echo "SKIP: $TEST_NAME: $*" >&2; exit 77; }
steps_skipped=0
pass() {
	if [ "$steps_skipped" -gt 0 ]; then
		echo "PASS: $TEST_NAME${1:+: $1} ($steps_skipped step(s) skipped, see SKIP-STEP lines)"
	else
		echo "PASS: $TEST_NAME${1:+: $1}"
	fi
	exit 0
}
step() { echo "--- $*"; }
# skip_step WHY: the current step cannot run here (not root, no tmpfs, no
# compiler): the test goes on, and the log gets one "SKIP-STEP: TEST: WHY"
# line, which tests/run counts in its "N skipped". A whole test that cannot
# run calls skip (exit 77) instead. With ARCA_TESTS_NO_SKIP=1 a skipped step
# fails the test (for machines, like CI, where every step must run).
skip_step() {
	[ -z "${ARCA_TESTS_NO_SKIP:-}" ] || fail "a step was skipped and ARCA_TESTS_NO_SKIP is set: $*"
	echo "SKIP-STEP: $TEST_NAME: $*"
	steps_skipped=$((steps_skipped + 1))
}

arca() { "$ARCA" "$@"; }

# expect_fail CODE CMD... : the command must exit with exactly CODE (the
# README's exit code table); follow it with expect_stderr to name the
# failure. A crash or a sanitizer report never passes as "some failure".
expect_fail() {
	want=$1; shift
	case "$want" in
	'' | *[!0-9]*) fail "expect_fail needs an exit code, not '$want': $*" ;;
	esac
	set +e; "$@" >"$T/out" 2>"$T/err"; got=$?; set -e
	if [ "$got" -ne "$want" ]; then cat "$T/out" "$T/err" >&2; fail "expected exit $want, got $got: $*"; fi
}
# expect_stderr PATTERN : the last expect_fail's stderr matches (grep -E)
expect_stderr() { grep -Eq -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks /$1/"; }; }

# Base config with a local dir destination; tests append sections.
write_engine_config() {
	mkdir -p "$T/state" "$T/repo"
	cat > "$ARCA_CONFIG" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state

[destination local]
driver = dir
path = $T/repo
passphrase_env = ARCA_PASSPHRASE
EOC
}

# files_target NAME PATH [LINE...]: append a [target NAME] of the files
# driver, backed up to destination local, plus any extra key = value lines
# (a destinations = line replaces the default one).
files_target() {
	ft_name=$1 ft_path=$2; shift 2
	{
		printf '\n[target %s]\ndriver = files\n' "$ft_name"
		sets_key destinations "$@" || printf 'destinations = local\n'
		printf 'path = %s\n' "$ft_path"
		for ft_line in "$@"; do printf '%s\n' "$ft_line"; done
	} >> "$ARCA_CONFIG"
}

# sets_key KEY [LINE...]: whether one of the config LINEs sets KEY (for
# helpers whose extra lines replace their default for a key: a key set
# twice in a section is an error)
sets_key() {
	sk_key=$1; shift
	for sk_line in "$@"; do
		case $sk_line in "$sk_key="* | "$sk_key "*=*) return 0 ;; esac
	done
	return 1
}

# tree_manifest DIR [--owner]: one line per entry below DIR (DIR itself
# excluded), sorted by path: type (find's %y letters), mode, size (- for
# directories, whose size depends on the filesystem), mtime to the
# nanosecond, path, link target (- when none) and content hash (- when no
# content); with --owner also uid:gid. Paths and targets are escaped, so
# spaces, newlines and non-UTF-8 bytes cannot make two trees look alike.
# Identical trees give identical output.
tree_manifest() {
	python3 - "$1" "${2:-}" <<'PY'
import hashlib, os, stat, sys

root, owner = os.fsencode(sys.argv[1]), sys.argv[2] == "--owner"

def esc(b):
    s = b.decode("utf-8", "backslashreplace").encode("unicode_escape").decode("ascii")
    return s.replace(" ", "\\x20")   # fields stay space-separated

def kind(m):
    for test, c in ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"),
                    (stat.S_ISFIFO, "p"), (stat.S_ISSOCK, "s"), (stat.S_ISCHR, "c"),
                    (stat.S_ISBLK, "b")):
        if test(m):
            return c
    return "?"

def fail(err):
    raise err

lines = []
for top, dirs, files in os.walk(root, onerror=fail):
    for name in dirs + files:
        path = os.path.join(top, name)
        st = os.lstat(path)
        t = kind(st.st_mode)
        size = "-" if t == "d" else str(st.st_size)
        mtime = "%d.%09d" % divmod(st.st_mtime_ns, 10**9)
        link = esc(os.readlink(path)) if t == "l" else "-"
        digest = "-"
        if t == "f":
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digest = h.hexdigest()
        rel = os.path.relpath(path, root)
        fields = [t, "%o" % stat.S_IMODE(st.st_mode), size, mtime, esc(rel), link, digest]
        if owner:
            fields.append("%d:%d" % (st.st_uid, st.st_gid))
        lines.append((rel, " ".join(fields)))
for _, line in sorted(lines):
    print(line)
PY
}

# free_port: a port free at the time of asking. A server started in a
# parallel test (make -j2) may take it before ours binds: whoever starts a
# server on it retries with another port when the bind fails (pg_start).
free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# www_start DIR: serve DIR with python's http.server on 127.0.0.1 (a web
# server that is no server of the driver's kind); sets WWW_PORT once it
# accepts connections. It binds a port of the kernel's choosing itself and
# writes it to a file, so no parallel test can take the port between a
# free_port and the bind. Its log: $T/www.log.
www_start() {
	rm -f "$T/www.port"
	python3 - "$1" "$T/www.port" >"$T/www.log" 2>&1 <<'PY' &
import functools, http.server, os, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # listening from here
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
PY
	ws_pid=$!
	on_exit "kill $ws_pid"
	ws_i=0
	until [ -s "$T/www.port" ]; do
		kill -0 $ws_pid 2>/dev/null || { cat "$T/www.log" >&2; fail "http.server did not start"; }
		ws_i=$((ws_i + 1)); [ $ws_i -lt 100 ] || fail "http.server did not start"; sleep 0.1
	done
	WWW_PORT=$(cat "$T/www.port")
}

# closed_port VAR: sets VAR to a port on 127.0.0.1 where connections are
# refused for the rest of the test: a socket stays bound there without
# listening (and without SO_REUSEADDR), so no server of a parallel test can
# take the port, as it could one from free_port.
closed_port() {
	rm -f "$T/closed_port.$1"
	python3 - "$T/closed_port.$1" <<'PY' &
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
parent = os.getppid()
while os.getppid() == parent:   # until the test is gone
    time.sleep(1)
PY
	on_exit "kill $! 2>/dev/null"
	cp_i=0
	while [ ! -s "$T/closed_port.$1" ]; do
		cp_i=$((cp_i + 1))
		[ "$cp_i" -le 200 ] || fail "closed_port: no port bound in 10 s"
		sleep 0.05
	done
	eval "$1=\$(cat \"\$T/closed_port.$1\")"
}
