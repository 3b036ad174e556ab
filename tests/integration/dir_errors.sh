#!/bin/sh
# The dir destination under trouble: a missing directory is reported as
# what `arca init` creates (exit 8: no repository yet); `arca init` creates it; a full disk fails a
# snapshot with exit 12, records nothing, leaves no temporary files and the
# repository keeps working once space is back; a truncated object is
# reported as corrupt (exit 7), never restored short; an unwritable
# directory is reported by check (exit 5).
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC"
echo small > "$SRC/small"

step "a missing directory: check says init creates it, init creates it"
rmdir "$T/repo"
expect_fail 8 arca check
expect_stderr "dir $T/repo: the directory does not exist; .arca init. creates it"
expect_stderr "destination local holds no repository yet: .arca init. creates one"
grep -q "mkdir" "$T/err" && fail "check before init tells the user to mkdir what init creates"
arca init > /dev/null || fail "arca init into a missing directory"
[ -d "$T/repo" ] || fail "init did not create the directory"
[ "$(stat -c %a "$T/repo")" = 700 ] || fail "repository directory is not private (0700)"
arca check > /dev/null || fail "arca check after init"

step "a truncated object is corrupt, not short"
head -c 2097152 /dev/urandom > "$SRC/data"
arca snapshot tree > /dev/null || fail "snapshot"
cp -a "$T/repo" "$T/repo.good"
pack=$(find "$T/repo" -type f -size +1M | head -1)
[ -n "$pack" ] || { find "$T/repo" -type f -ls >&2; fail "no object over 1 MiB in the repository"; }
truncate -s 1000000 "$pack"
expect_fail 7 arca restore tree --into "$T/restored"
[ ! -e "$T/restored/data" ] || fail "a file was restored from a truncated object"
rm -rf "$T/repo" "$T/restored"
mv "$T/repo.good" "$T/repo"
arca restore tree --into "$T/restored" > /dev/null || fail "restore from the intact copy"
cmp "$SRC/data" "$T/restored/data" || fail "restored data differs"

step "a full disk fails the snapshot cleanly"
if [ "$(id -u)" = 0 ] && mkdir "$T/small" && mount -t tmpfs -o size=1m tmpfs "$T/small" 2> /dev/null; then
	on_exit "umount '$T/small'"
	sed -i "s|^path = $T/repo\$|path = $T/small/repo|" "$ARCA_CONFIG"
	# One worker: with two, the other worker's pack may be written before
	# the first hits ENOSPC, and it then fills the 1 MiB until a prune.
	sed -i '/^\[engine\]$/a workers = 1' "$ARCA_CONFIG"
	arca init > /dev/null || fail "init on the small filesystem"
	rm "$SRC/data"
	arca list --json > "$T/before.json"
	head -c 3145728 /dev/urandom > "$SRC/big"
	expect_fail 12 arca snapshot tree
	expect_stderr "No space left"
	[ -z "$(find "$T/small/repo" -name '.tmp.*')" ] || fail "temporary files left after ENOSPC"
	arca list --json > "$T/after.json"
	cmp -s "$T/before.json" "$T/after.json" || fail "a failed snapshot was recorded"
	rm "$SRC/big"
	arca snapshot tree > /dev/null || fail "snapshot once space is back"
else
	skip_step "not root or no tmpfs mount here: a full disk during a snapshot is not tested"
fi

step "an unwritable directory"
if [ "$(id -u)" = 0 ]; then
	chmod 0755 "$T/repo"
	chmod 0644 "$ARCA_CONFIG"
	sed -i "s|^path = $T/small/repo\$|path = $T/repo|" "$ARCA_CONFIG"
	expect_fail 5 runuser -u "$(id -nu 65534)" -- "$ARCA" check
	expect_stderr "dir $T/repo: not writable by uid 65534"
else
	chmod 0500 "$T/repo"
	on_exit "chmod 0700 '$T/repo'"
	expect_fail 5 arca check
	expect_stderr "not writable"
fi

pass
