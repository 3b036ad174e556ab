#!/bin/sh
# The files driver refuses to record an incomplete backup: a file it cannot
# read fails the snapshot (exit 5, naming the file and the way out) and no
# snapshot is listed; `exclude` is that way out. A restore onto a full disk
# fails with exit 12 naming the file.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC/sub"
echo readable > "$SRC/readable"
echo inner > "$SRC/sub/inner"
echo "no one may read this" > "$SRC/secret.key"

# As root, run arca as nobody so a root-only file is unreadable; otherwise
# an unreadable file of our own does the same.
if [ "$(id -u)" = 0 ]; then
	command -v runuser > /dev/null || skip "runuser is needed to drop privileges"
	mkdir "$T/restored"
	chown -R 65534:65534 "$SRC" "$T/repo" "$T/state" "$T/restored"
	chown 0:0 "$SRC/secret.key"
	chmod 0600 "$SRC/secret.key"
	chmod 0644 "$ARCA_CONFIG"
	as_user() { runuser -u "$(id -nu 65534)" -- "$@"; }
else
	chmod 0000 "$SRC/secret.key"
	as_user() { "$@"; }
fi
on_exit "chmod 0600 '$SRC/secret.key'"

step "an unreadable file fails the snapshot and records nothing"
as_user "$ARCA" init > /dev/null || fail "arca init"
expect_fail 5 as_user "$ARCA" snapshot tree
expect_stderr "secret\.key"
expect_stderr "exclude"
as_user "$ARCA" list --json > "$T/list.json" || fail "arca list"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(len(d) != 0)' "$T/list.json" ||
	fail "a failed snapshot was recorded: $(cat "$T/list.json")"

step "exclude skips it"
echo 'exclude = *.key, /nothing/*' >> "$ARCA_CONFIG"
as_user "$ARCA" snapshot tree > /dev/null || fail "snapshot with exclude"
as_user "$ARCA" restore tree --into "$T/restored" > /dev/null || fail "restore"
[ -f "$T/restored/readable" ] && [ -f "$T/restored/sub/inner" ] || fail "files missing after restore"
[ ! -e "$T/restored/secret.key" ] || fail "an excluded file was restored"

step "restore onto a full filesystem"
if [ "$(id -u)" = 0 ] && mkdir "$T/small" && mount -t tmpfs -o size=1m tmpfs "$T/small" 2> /dev/null; then
	on_exit "umount '$T/small'"
	head -c 3145728 /dev/urandom > "$SRC/big"
	chown 65534:65534 "$SRC/big"
	as_user "$ARCA" snapshot tree > /dev/null || fail "snapshot with big file"
	expect_fail 12 "$ARCA" restore tree --into "$T/small/out"
	expect_stderr "big"
	expect_stderr "space"
else
	skip_step "not root or no tmpfs mount here: a restore onto a full filesystem is not tested"
fi

pass
