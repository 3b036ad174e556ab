#!/bin/sh
# state_dir: arca creates it 0700; one that others could change (group- or
# world-writable, or owned by another user) is refused with exit 3, naming
# its path, owner and mode and the chmod/chown that fixes it. Nothing planted
# in the cache is followed: a symlink at a cache file, at the metadata cache
# or at a cache directory leaves its target untouched, and a FIFO there does
# not hang arca.
. "$ARCA_SRCDIR/tests/lib/common.sh"

write_engine_config
mkdir -p "$T/src"
head -c 300000 /dev/urandom > "$T/src/a"
echo hello > "$T/src/b"
files_target tree "$T/src"
arca init > /dev/null || fail "init"

mode_of() { stat -c %a "$1"; }

step "a missing state_dir is created 0700"
rm -rf "$T/state"   # init left the pin of destination local there
arca snapshot tree > /dev/null || fail "snapshot creating state_dir"
[ "$(mode_of "$T/state")" = 700 ] || fail "state_dir created with mode $(mode_of "$T/state")"

step "a world-writable state_dir is refused (exit 3)"
chmod 777 "$T/state"
expect_fail 3 "$ARCA" list
expect_stderr "state_dir $T/state refused"
expect_stderr "the directory $T/state \(owned by uid $(id -u) \($(id -un)\)\) is group- and world-writable \(mode 0777\)"
expect_stderr "chmod go-w $T/state"
chmod 770 "$T/state"
expect_fail 3 "$ARCA" snapshot tree
expect_stderr "is group-writable \(mode 0770\)"
chmod 700 "$T/state"
arca list > /dev/null || fail "list once state_dir is 0700 again"

step "a state_dir owned by another user is refused (exit 3)"
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
	chown nobody "$T/state"
	expect_fail 3 "$ARCA" list
	expect_stderr "state_dir $T/state refused: .*is owned by uid [0-9]+ \(nobody\)"
	expect_stderr "mode 0700"
	expect_stderr "chown root $T/state"
	chown 0 "$T/state"
else
	echo "(not root: skipped)"
fi

step "a writable parent of state_dir is refused, a sticky one is not"
mkdir -p "$T/shared/state"
chmod 777 "$T/shared"
sed -i "s|^state_dir = .*|state_dir = $T/shared/state|" "$ARCA_CONFIG"
expect_fail 3 "$ARCA" list
expect_stderr "$T/shared \(a parent of $T/shared/state\).*world-writable"
chmod 1777 "$T/shared"
arca list > /dev/null || fail "list with a sticky parent"
sed -i "s|^state_dir = .*|state_dir = $T/state|" "$ARCA_CONFIG"

# The cache as a snapshot and a list leave it.
arca snapshot tree > /dev/null || fail "snapshot"
arca list > /dev/null || fail "list"
cache=$(find "$T/state" -mindepth 1 -maxdepth 1 -type d ! -name tmp ! -name pins)
[ -d "$cache/index" ] && [ -d "$cache/summaries" ] && [ -d "$cache/meta" ] ||
	fail "cache layout: $(find "$T/state")"
echo "precious" > "$T/victim"
victim_sum=$(sha256sum < "$T/victim")
victim_untouched() {
	[ -f "$T/victim" ] && [ "$(sha256sum < "$T/victim")" = "$victim_sum" ] ||
		fail "the symlink's target was written: $*"
}

step "a symlink at a cache file is not followed"
for f in "$cache"/index/* "$cache"/summaries/* "$cache"/meta/*; do
	rm -f "$f"
	ln -s "$T/victim" "$f"
done
arca list > /dev/null || fail "list with symlinks in the cache"
echo more >> "$T/src/b"
arca snapshot tree > /dev/null || fail "snapshot with symlinks in the cache"
arca list > /dev/null || fail "list after"
victim_untouched "cache files"
links=$(find "$cache" -type l)
[ -z "$links" ] || fail "symlinks left in the cache (not replaced): $links"

step "a symlink at a cache directory is not followed"
mkdir "$T/victim-dir"
rm -rf "$cache/summaries" "$cache/index" "$cache/meta"
for d in summaries index meta; do ln -s "$T/victim-dir" "$cache/$d"; done
arca list > /dev/null || fail "list with a symlinked cache directory"
echo again >> "$T/src/b"
arca snapshot tree > /dev/null || fail "snapshot with a symlinked cache directory"
arca snapshot tree > /dev/null || fail "second snapshot with a symlinked cache directory"
[ -z "$(ls -A "$T/victim-dir")" ] || fail "files written through a symlinked directory: $(ls "$T/victim-dir")"

step "a FIFO at a cache file does not hang arca"
rm -f "$cache/summaries" "$cache/index" "$cache/meta"
arca list > /dev/null || fail "list refilling the cache"
for f in "$cache"/summaries/*; do
	rm -f "$f"
	mkfifo "$f"
done
timeout 60 "$ARCA" list > /dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "list with a FIFO in the cache"; }
[ -z "$(find "$cache" -type p)" ] || fail "FIFO left in the cache"
victim_untouched "end"
pass
