#!/bin/sh
# Read-only operations work on media that cannot be written: restore,
# verify and list of a repository on a read-only mount or a full file
# system go ahead without a lock (one warning), --no-lock asks for that up
# front, and when the storage turns read-only under a snapshot the real
# failure is what the user reads.
. "$ARCA_SRCDIR/tests/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root for read-only bind mounts and tmpfs"

SRC=$T/src
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC/d"
head -c 2000000 /dev/urandom > "$SRC/big"
echo small > "$SRC/d/small"
arca init > /dev/null || fail "init"
arca snapshot tree > /dev/null || fail "snapshot"

step "a read-only repository: list, restore and verify work, with one warning"
mkdir "$T/ro"
mount --bind "$T/repo" "$T/ro" && mount -o remount,ro,bind "$T/ro" || fail "read-only bind mount"
on_exit "umount '$T/ro'"
sed -i "s|^path = $T/repo$|path = $T/ro|" "$ARCA_CONFIG"
arca list > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "list on read-only media"; }
arca restore tree --into "$T/r1" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore on read-only media"; }
grep -q "reading without a lock" "$T/err" || { cat "$T/err" >&2; fail "no warning that no lock was taken"; }
[ "$(tree_manifest "$SRC")" = "$(tree_manifest "$T/r1")" ] || fail "restore from read-only media differs"
arca verify --read-data > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify on read-only media"; }
grep -q "reading without a lock" "$T/err" || { cat "$T/err" >&2; fail "verify: no warning"; }
arca --no-lock verify > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify --no-lock"; }
grep -q -- "--no-lock: reading without a lock" "$T/err" || { cat "$T/err" >&2; fail "--no-lock said nothing"; }
expect_fail 6 "$ARCA" snapshot tree
expect_stderr "Read-only file system|read-only"
umount "$T/ro"
sed -i "s|^path = $T/ro$|path = $T/repo|" "$ARCA_CONFIG"

step "the storage turns read-only under a snapshot: its failure is what is shown"
echo more > "$SRC/new"
head -c 1000000 /dev/urandom >> "$SRC/new"
mount --bind "$T/repo/packs" "$T/repo/packs" && mount -o remount,ro,bind "$T/repo/packs" ||
	fail "read-only packs"
on_exit "umount '$T/repo/packs'"
expect_fail 6 "$ARCA" snapshot tree
expect_stderr "packs"
expect_stderr "Read-only file system"
grep -q "remov.*lock" "$T/err" && { cat "$T/err" >&2; fail "the lock's clean-up hides the failure"; }
umount "$T/repo/packs"
[ -z "$(ls "$T/repo/locks")" ] || fail "a lock was left behind"

step "a full file system: restore and verify work"
mkdir "$T/small"
mount -t tmpfs -o size=8m tmpfs "$T/small" || fail "tmpfs"
on_exit "umount '$T/small'"
cp -a "$T/repo" "$T/small/repo"
head -c 16000000 /dev/zero > "$T/small/filler" 2> /dev/null || true
sed -i "s|^path = $T/repo$|path = $T/small/repo|" "$ARCA_CONFIG"
arca restore tree --into "$T/r2" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore from a full disk"; }
grep -q "reading without a lock" "$T/err" || { cat "$T/err" >&2; fail "full disk: no warning"; }
arca verify --read-data > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify on a full disk"; }

pass
