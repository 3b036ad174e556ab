# tests/lib/common.sh — sourced by every integration test.
#
# Gives: $ARCA (the staged binary), $PLUGIN_DIR (staged modules), $T (a
# fresh temp dir removed on exit), arca() (runs the binary with $T/arca.ini),
# fail/pass/skip, and helpers to compare trees and to find free ports.
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
pass() { echo "PASS: $TEST_NAME${1:+: $1}"; exit 0; }
step() { echo "--- $*"; }

arca() { "$ARCA" "$@"; }

# expect_fail CODE CMD... : the command must exit with CODE (or non-zero if CODE is '!')
expect_fail() {
	want=$1; shift
	set +e; "$@" >"$T/out" 2>"$T/err"; got=$?; set -e
	if [ "$want" = '!' ]; then [ "$got" -ne 0 ] || fail "expected failure: $*"; 
	elif [ "$got" -ne "$want" ]; then cat "$T/out" "$T/err" >&2; fail "expected exit $want, got $got: $*"; fi
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

# tree_manifest DIR: one line per entry with type, mode, size, mtime, link
# target and content hash; identical trees give identical output.
tree_manifest() {
	(cd "$1" && find . -mindepth 1 -printf '%y %m %s %T@ %l %p\n' | LC_ALL=C sort -k6 |
	while IFS= read -r line; do
		p=${line#* * * * * }; t=${line%% *}
		case "$t" in f) h=$(sha256sum < "$p" | cut -c1-64);; *) h=-;; esac
		echo "$line $h"
	done)
}

free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}
