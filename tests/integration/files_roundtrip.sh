#!/bin/sh
# files target + dir destination, end to end: a tree with awkward names,
# sizes around the chunker's boundaries, deep directories, every kind of
# symlink, a FIFO, read-only files and directories, set-id bits and old mtimes is
# snapshotted, listed, restored and compared byte for byte and field for
# field (type, mode, size, mtime to the nanosecond, link target, owner,
# content hash). Restore refuses a non-empty directory without --overwrite;
# an unchanged re-run (metadata cache) and an older snapshot restore exactly.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
BIG_MIB=${FILES_ROUNDTRIP_BIG_MIB:-64}

json_field() { # json_field FILE PYTHON-EXPR (d is the parsed document)
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# The source manifest without what the files driver does not store (sockets).
src_manifest() { tree_manifest "$SRC" --owner | grep -Ev '^s '; }

same_tree() { # same_tree MANIFEST DIR WHAT
	tree_manifest "$2" --owner > "$T/got.manifest"
	if ! diff -u "$1" "$T/got.manifest" > "$T/diff"; then
		head -40 "$T/diff" >&2
		fail "$3: restored tree differs from the source"
	fi
}

make_tree() {
	d=$1
	mkdir -p "$d"
	: > "$d/empty"
	printf x > "$d/one"
	head -c 1048575 /dev/urandom > "$d/mib-1"
	head -c 1048576 /dev/urandom > "$d/mib"
	head -c 1048577 /dev/urandom > "$d/mib+1"
	head -c 4194303 /dev/urandom > "$d/4mib-1"
	head -c 4194304 /dev/urandom > "$d/4mib"
	head -c 4194305 /dev/urandom > "$d/4mib+1"
	head -c $((BIG_MIB * 1048576)) /dev/urandom > "$d/big.bin"
	cat "$d/4mib" "$d/4mib" > "$d/dup-content"       # dedups against 4mib
	truncate -s 16M "$d/sparse" && printf tail >> "$d/sparse"
	p=$d/deep
	for i in $(seq 1 30); do p=$p/level$i; done
	mkdir -p "$p"
	echo bottom > "$p/bottom.txt"
	ln -s bottom.txt "$p/rel-link"
	ln -s ../../deep "$d/deep/level1/up-link"
	ln -s /etc/hostname "$d/abs-link"
	ln -s "no such target, with spaces" "$d/dangling link"
	echo spaces > "$d/name with  two spaces"
	echo cafe > "$d/café ☕.txt"
	echo dash > "$d/-leading-dash"
	echo dashes > "$d/--also-dashes"
	printf 'new\nline' > "$d/$(printf 'new\nline')"
	mkdir "$d/modes"
	echo a > "$d/modes/0600" && chmod 0600 "$d/modes/0600"
	echo b > "$d/modes/0755" && chmod 0755 "$d/modes/0755"
	echo c > "$d/modes/0444" && chmod 0444 "$d/modes/0444"
	echo e > "$d/modes/4755" && chmod 4755 "$d/modes/4755"
	mkdir -p "$d/modes/ro-dir/sub"
	echo inside > "$d/modes/ro-dir/f"
	echo deeper > "$d/modes/ro-dir/sub/g"
	chmod 0555 "$d/modes/ro-dir/sub" "$d/modes/ro-dir"
	mkdir "$d/empty dir" && chmod 0700 "$d/empty dir"
	if [ "$(id -u)" = 0 ]; then
		echo owned > "$d/owned-by-nobody"
		chown 65534:65534 "$d/owned-by-nobody"
		ln -s one "$d/link-owned-by-nobody"
		chown -h 65534:65534 "$d/link-owned-by-nobody"
	fi
	mkfifo -m 0604 "$d/a-fifo"                         # stored and restored as a fifo
	touch -h -d '2001-02-03 04:05:06.123456789' "$d/one" "$d/abs-link" "$d/a-fifo"
	touch -d '1999-12-31 23:59:59' "$d/modes/0444" "$d/empty dir"
	touch -h -d '2010-01-01 00:00:00' "$d/dangling link"
	touch -d '2020-05-05 05:05:05.5' "$d/modes/ro-dir/sub" "$d/modes/ro-dir" "$d/deep/level1"
	touch -d '1970-01-01 00:00:01' "$d/deep"
}

step "config and a tree of $BIG_MIB MiB and more"
write_engine_config
files_target tree "$SRC"
make_tree "$SRC"
[ "$(id -u)" = 0 ] || skip_step "not root: files and symlinks owned by another user are not in the tree"
# the root's own mode and mtime are stored too (item ".")
chmod 0750 "$SRC" && touch -d '2001-02-03 04:05:06' "$SRC"
src_manifest > "$T/src.manifest"
n_items=$(( $(wc -l < "$T/src.manifest") + 1 ))

step "init, check, snapshot"
arca init > "$T/init.out" || fail "arca init"
arca check tree > /dev/null || fail "arca check tree"
arca --json snapshot tree > "$T/snap1.json" || fail "first snapshot"
id1=$(json_field "$T/snap1.json" 'd[0]["id"]')
[ -n "$id1" ] || fail "snapshot printed no id"
[ "$(json_field "$T/snap1.json" 'd[0]["items"]')" -eq "$n_items" ] ||
	fail "snapshot stored $(json_field "$T/snap1.json" 'd[0]["items"]') items, the tree has $n_items"
# the repository holds no leftovers of unfinished writes
[ -z "$(find "$T/repo" -name '.tmp.*')" ] || fail "temporary files left in the repository"

step "list --json shows the snapshot"
arca list --json > "$T/list.json" || fail "arca list --json"
json_field "$T/list.json" \
	'[s for s in d if s["target"] == "tree" and s["id"] == "'"$id1"'" and s["driver"] == "files"][0]["items"]' \
	> /dev/null || { cat "$T/list.json" >&2; fail "list --json lacks snapshot $id1 of tree"; }

step "restore --into an empty place, compare"
arca restore tree --into "$T/restored" > /dev/null || fail "restore --into"
same_tree "$T/src.manifest" "$T/restored" "restore --into"
[ "$(stat -c '%a %Y' "$T/restored")" = "$(stat -c '%a %Y' "$SRC")" ] ||
	fail "root directory metadata: $(stat -c '%a %Y' "$T/restored"), want $(stat -c '%a %Y' "$SRC")"
[ "$(du -k "$T/restored/sparse" | cut -f1)" -lt 1024 ] || fail "sparse file restored dense"

step "restore over a non-empty directory needs --overwrite"
expect_fail 11 arca restore tree --into "$T/restored"
expect_stderr "overwrite"
expect_fail 11 arca restore tree                     # the configured path holds the tree
expect_stderr "not empty"
: > "$T/a-file"
expect_fail 11 arca restore tree --into "$T/a-file"
chmod u+w "$T/restored/modes/0444"
echo changed > "$T/restored/modes/0444"
chmod 0444 "$T/restored/modes/0444"
rm "$T/restored/one"
ln -s elsewhere "$T/restored/one"                         # a symlink where a file was
rm -f "$T/restored/abs-link" && mkdir "$T/restored/abs-link"   # a directory where a symlink was
rm "$T/restored/modes/0600" && mkdir -p "$T/restored/modes/0600/sub"   # ... and where a nested file was
arca restore tree --into "$T/restored" --overwrite > /dev/null || fail "restore --overwrite"
same_tree "$T/src.manifest" "$T/restored" "restore --overwrite"

step "verify --read-data"
arca verify tree --read-data > /dev/null || fail "verify --read-data"
arca verify > /dev/null || fail "verify (structure)"

step "an unchanged second snapshot is listed and restores the same tree"
arca --json snapshot tree > "$T/snap2.json" || fail "second snapshot"
id2=$(json_field "$T/snap2.json" 'd[0]["id"]')
[ "$id2" != "$id1" ] || fail "second snapshot has the first one's id"
# the metadata cache recognised every file: (almost) nothing new was stored
new2=$(json_field "$T/snap2.json" 'd[0]["new_bytes"]')
[ "$new2" -lt 1048576 ] || fail "unchanged re-run stored $new2 new bytes"
arca list --json > "$T/list.json"
[ "$(json_field "$T/list.json" 'len([s for s in d if s["target"] == "tree"])')" -eq 2 ] ||
	fail "list does not show two snapshots of tree"
rm -rf "$T/restored"
arca restore tree --snapshot "$id2" --into "$T/restored" > /dev/null || fail "restore of snapshot 2"
same_tree "$T/src.manifest" "$T/restored" "restore of the unchanged snapshot"

step "a changed tree; the old snapshot still restores the old tree"
echo "new content" > "$SRC/one"
rm "$SRC/mib"
mkdir "$SRC/added" && echo added > "$SRC/added/file"
src_manifest > "$T/src3.manifest"
arca snapshot tree > /dev/null || fail "third snapshot"
rm -rf "$T/restored"
arca restore tree --snapshot latest --into "$T/restored" > /dev/null || fail "restore latest"
same_tree "$T/src3.manifest" "$T/restored" "restore of the changed tree"
rm -rf "$T/restored"
arca restore tree --snapshot "$id1" --into "$T/restored" > /dev/null || fail "restore of snapshot 1"
same_tree "$T/src.manifest" "$T/restored" "restore of the first snapshot"
rm -rf "$T/restored"

step "bad requests fail with the documented codes"
expect_fail 8 arca restore tree --snapshot 0000000000000000dead --into "$T/none"
[ ! -e "$T/none" ] || [ -z "$(ls -A "$T/none")" ] || fail "a failed restore wrote files"

pass "$n_items items round-tripped"
