#!/bin/sh
# A file the files driver cannot read is left out, not the whole snapshot:
# the snapshot is recorded, marked partial in `arca list` (and --json) with
# the file's name, and the run exits 15 naming the file and the way out;
# `exclude` is that way out (then exit 0, not partial). A restore onto a full
# disk fails with exit 12 naming the file. (files_partial.sh: special files,
# unreadable directories, files that change size while they are read.)
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

step "an unreadable file is left out: the snapshot is recorded partial (exit 15)"
as_user "$ARCA" init > /dev/null || fail "arca init"
expect_fail 15 as_user "$ARCA" snapshot tree
expect_stderr "secret\.key not stored: cannot open: Permission denied"
expect_stderr "exclude"
expect_stderr "partial"
grep -q "PARTIAL" "$T/out" || fail "snapshot output does not say PARTIAL: $(cat "$T/out")"
as_user "$ARCA" list > "$T/list.txt" || fail "arca list"
grep -q "PARTIAL" "$T/list.txt" && grep -q "partial: 1 item left out: secret\.key" "$T/list.txt" ||
	fail "arca list does not mark the snapshot partial: $(cat "$T/list.txt")"
as_user "$ARCA" list --json > "$T/list.json" || fail "arca list --json"
python3 - "$T/list.json" <<'PY' || fail "list --json: $(cat "$T/list.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1, d
assert d[0]["partial"] == {"skipped": 1, "items": ["secret.key"]}, d[0]
PY
as_user "$ARCA" verify tree > /dev/null || fail "verify of a partial snapshot"
as_user "$ARCA" restore tree --into "$T/restored" > /dev/null || fail "restore of a partial snapshot"
[ "$(cat "$T/restored/readable")" = readable ] && [ -f "$T/restored/sub/inner" ] ||
	fail "files missing after restore of a partial snapshot"
[ ! -e "$T/restored/secret.key" ] || fail "a skipped file was restored"
rm -rf "$T/restored" && mkdir "$T/restored"
[ "$(id -u)" != 0 ] || chown 65534:65534 "$T/restored"

step "exclude skips it: exit 0, not partial"
echo 'exclude = *.key, /nothing/*' >> "$ARCA_CONFIG"
as_user "$ARCA" snapshot tree > "$T/out" || fail "snapshot with exclude"
! grep -q PARTIAL "$T/out" || fail "an excluded file made the snapshot partial"
[ "$(as_user "$ARCA" list tree | grep -c PARTIAL)" = 1 ] || fail "only the first snapshot is partial"
as_user "$ARCA" restore tree --into "$T/restored" > /dev/null || fail "restore"
[ -f "$T/restored/readable" ] && [ -f "$T/restored/sub/inner" ] || fail "files missing after restore"
[ ! -e "$T/restored/secret.key" ] || fail "an excluded file was restored"

step "restore onto a full filesystem"
if [ "$(id -u)" = 0 ] && mkdir "$T/small" && mount -t tmpfs -o size=1m tmpfs "$T/small" 2> /dev/null; then
	on_exit "umount '$T/small'"
	head -c 3145728 /dev/urandom > "$SRC/big"
	chown 65534:65534 "$SRC/big"
	as_user "$ARCA" snapshot tree > /dev/null || fail "snapshot with big file"
	chown 65534:65534 "$T/small"   # state_dir is nobody's: root would refuse it
	expect_fail 12 as_user "$ARCA" restore tree --into "$T/small/out"
	expect_stderr "big"
	expect_stderr "space"
else
	skip_step "not root or no tmpfs mount here: a restore onto a full filesystem is not tested"
fi

pass
