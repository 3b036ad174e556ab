#!/bin/sh
# Item names and metadata (issue 15, item 5), through the real binary and a
# test driver (tests/unit/modules/keys.c): STREAM items named by every kind
# of S3 key (leading '/', 'a//b', '..', '.', trailing '/', spaces,
# newlines, escape sequences, non-UTF-8, 1024 and 4096 bytes), tombstones,
# and items whose size, meta and checksum come with item_end_info, into two
# destinations at once; the driver's restore checks every name, type,
# attribute and byte, by item_next and by item_open. Then: no name reaches
# the terminal raw (list, --json, -v logs); a size item_end_info gets wrong
# records nothing; driver bugs are refused; and a snapshot holding
# '../../etc/x', '/etc/x' and friends, restored by the files driver (in
# place and --into DIR), writes nothing anywhere.
. "$ARCA_SRCDIR/tests/lib/common.sh"

mod="$ARCA_BUILDDIR/tests/unit/modules/.libs/keys.so"
[ -f "$mod" ] || skip "keys.so is not built (needs cmocka: tests/unit/loader.am)"

mkdir -p "$T/plugins" "$T/repo2"
cp "$PLUGIN_DIR"/dir.so "$PLUGIN_DIR"/files.so "$mod" "$T/plugins/"
chmod 755 "$T/plugins"/*.so
write_engine_config
sed -i "s#^plugin_dir = .*#plugin_dir = $T/plugins#" "$ARCA_CONFIG"
cat >> "$ARCA_CONFIG" <<EOC

[destination second]
driver = dir
path = $T/repo2
passphrase_env = ARCA_PASSPHRASE

[target keys]
driver = keys
destinations = local, second
EOC
arca init > /dev/null || fail "init"

# Bytes no output of arca may carry: ESC, BEL, CR, a C1 CSI (c2 9b), a
# right-to-left override (e2 80 ae), and the latin-1 bytes of the names.
raw_bytes() {
	LC_ALL=C grep -c "$(printf '\033\|\007\|\r\|\302\233\|\342\200\256\|\351\350\377')" "$1" || true
}

step "snapshot: every key, tombstone and item_end_info item, into two destinations"
arca -v snapshot keys > "$T/snap.out" 2>&1 || { cat "$T/snap.out" >&2; fail "snapshot"; }
[ "$(raw_bytes "$T/snap.out")" = 0 ] || fail "snapshot -v printed a name raw"
grep -Fq 'esc\x1b[31mred\x1b[0m' "$T/snap.out" || { cat "$T/snap.out" >&2; fail "-v does not show the escaped name"; }
grep -Fq 'latin1-\xe9\xe8\xff' "$T/snap.out" || fail "-v does not show non-UTF-8 bytes as \\xHH"
grep -Fq 'back\\slash\\x41' "$T/snap.out" || fail "-v does not double a backslash"

step "restore from each destination gives every item back exactly"
for from in local second; do
	rm -f "$T/ok.txt"
	arca restore keys --from "$from" --into "$T/ok.txt" > "$T/out" 2>&1 ||
		{ cat "$T/out" >&2; fail "restore from $from"; }
	[ "$(cat "$T/ok.txt")" = "ok 35" ] || fail "restore from $from checked: $(cat "$T/ok.txt")"
done

step "list --items: every item, names escaped, in text and --json"
arca list keys --items > "$T/items.txt" 2>&1 || { cat "$T/items.txt" >&2; fail "list --items"; }
arca --json list keys --items --from second > "$T/items.json" 2>&1 ||
	{ cat "$T/items.json" >&2; fail "list --items --json"; }
for f in "$T/items.txt" "$T/items.json"; do
	[ "$(raw_bytes "$f")" = 0 ] || { cat -v "$f" >&2; fail "$(basename "$f") carries a raw name"; }
done
[ "$(wc -l < "$T/items.txt")" = 36 ] || { head -c 3000 "$T/items.txt" >&2; fail "list --items: not 35 items and a header"; }
grep -Eq '^tombstone +0 B +2023-11-14T22:15:00Z +deleted/object$' "$T/items.txt" ||
	{ head -c 3000 "$T/items.txt" >&2; fail "list --items: no tombstone line"; }
grep -Fq ' new\x0aline' "$T/items.txt" || fail "list --items: newline not escaped"
python3 - "$T/items.json" <<'EOF' || fail "list --items --json"
import json, sys
items = json.load(open(sys.argv[1]))
assert len(items) == 35, len(items)
by = {}
for i in items:
    by.setdefault(i["name"], []).append(i)
    assert i["key"] is True, i
want = {
    "/leading-slash": "stream", "a//b": "stream", "..": "stream", ".": "stream",
    "trailing/": "stream", " ": "stream", "new\\x0aline": "stream",
    "tab\\x09here\\x0dcr": "stream", "esc\\x1b[31mred\\x1b[0m": "stream",
    "c1-csi-\\xc2\\x9b31m": "stream", "bidi-\\xe2\\x80\\xaetxt.exe": "stream",
    "back\\\\slash\\\\x41": "stream", "latin1-\\xe9\\xe8\\xff": "stream",
    "\u00fcber/\u65e5\u672c/\U0001f4e6.bin": "stream",
    "deleted/object": "tombstone", "/../tomb\\x0astone": "tombstone",
}
for name, typ in want.items():
    assert name in by and by[name][0]["type"] == typ, (name, by.get(name))
v = by["versioned/obj"]
assert [(x["type"], x["size"], x["meta"]) for x in v] == [
    ("stream", 100, "version=v1"), ("stream", 200, "version=v2"),
    ("tombstone", 0, "version=v3 delete-marker")], v
s = by["streamed/unknown-size"][0]
assert (s["size"], s["checksum"], s["meta"], s["mtime_nsec"]) == (
    300000, "md5:0123456789abcdef0123456789abcdef", 'version=v42 etag="abc"', 5), s
assert by["latin1-\\xe9\\xe8\\xff"][0]["checksum"] == "md5:\\xfe"
assert by["new\\x0aline"][0]["meta"] == "x-amz-meta-a=b\\x0ac"
assert sum(len(n) == 1024 for n in by) == 1, "the 1024-byte key"
EOF
expect_fail 2 arca list keys --items --from nowhere
expect_stderr "target keys has no destination 'nowhere'"
expect_fail 2 arca list keys --items extra-target

step "a second snapshot (fingerprints reused, each version of a key), verify --read-data, restore"
arca -v snapshot keys > "$T/snap2.out" 2>&1 || { cat "$T/snap2.out" >&2; fail "second snapshot"; }
for k in 'plain.txt' 'latin1-\xe9\xe8\xff' 'versioned/obj'; do
	grep -Fq "$k (unchanged)" "$T/snap2.out" || { cat "$T/snap2.out" >&2; fail "$k not reused"; }
done
[ "$(grep -Fc 'versioned/obj (unchanged)' "$T/snap2.out")" = 3 ] ||
	fail "not every version of versioned/obj was reused"
arca verify keys --read-data > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "verify"; }
rm -f "$T/ok.txt"
arca restore keys --into "$T/ok.txt" > /dev/null || fail "restore of the second snapshot"
[ "$(cat "$T/ok.txt")" = "ok 35" ] || fail "second snapshot checked: $(cat "$T/ok.txt")"

step "keys.so passes the conformance kit (round trip of every key through it)"
: > "$T/keys.sec"
"$ARCA_STAGE$ARCA_BINDIR/arca-driver-check" --plugin-dir "$PLUGIN_DIR" \
	--restore-option into="$T/kit-ok.txt" --after-restore "grep -qx 'ok 35' '$T/kit-ok.txt'" \
	"$mod" "$T/keys.sec" > "$T/kit.out" 2>&1 || { cat "$T/kit.out" >&2; fail "arca-driver-check keys.so"; }
[ "$(raw_bytes "$T/kit.out")" = 0 ] || fail "arca-driver-check printed a name raw"

step "driver bugs are refused and the item dropped; list shows its name escaped"
sed -i 's/^driver = keys$/driver = keys\nmode = misuse/' "$ARCA_CONFIG"
expect_fail 15 arca snapshot keys
arca list keys > "$T/list.txt" 2>&1 || fail "list"
arca --json list keys > "$T/list.json" 2>&1 || fail "list --json"
for f in "$T/list.txt" "$T/list.json" "$T/err" "$T/out"; do
	[ "$(raw_bytes "$f")" = 0 ] || { cat -v "$f" >&2; fail "$(basename "$f") carries a raw name"; }
done
grep -Fq 'misuse/\x1b]0;pwned\x07tomb\x0a\\' "$T/list.txt" ||
	{ cat "$T/list.txt" >&2; fail "list does not show the skipped name escaped"; }
python3 - "$T/list.json" <<'EOF' || fail "list --json does not give the escaped name"
import json, sys
snaps = json.load(open(sys.argv[1]))
partial = [s["partial"] for s in snaps if "partial" in s]
assert len(partial) == 2, partial  # one snapshot in each destination
for p in partial:
    assert p == {"skipped": 1, "items": ["misuse/\\x1b]0;pwned\\x07tomb\\x0a\\\\"]}, p
EOF
rm -f "$T/ok.txt"
arca restore keys --into "$T/ok.txt" > /dev/null || fail "restore of the partial snapshot"
[ "$(cat "$T/ok.txt")" = "ok 35" ] || fail "partial snapshot checked: $(cat "$T/ok.txt")"

step "item_end_info with a wrong size: exit 7, nothing recorded"
sed -i 's/^mode = misuse$/mode = mismatch/' "$ARCA_CONFIG"
before=$(arca --json list keys | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_fail 7 arca snapshot keys
expect_stderr 'lies/about-its-size: the driver says it has 999 bytes, 1000 were written'
after=$(arca --json list keys | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$before" = "$after" ] || fail "a snapshot was recorded ($before -> $after)"

step "keys that are paths out of the tree: the files driver writes nothing"
mkdir -p "$T/src" "$T/sandbox/a" "$T/outside"
cat >> "$ARCA_CONFIG" <<EOC

[target trav]
driver = keys
mode = traversal
outside = $T/outside/abs
destinations = local
EOC
arca snapshot trav > /dev/null || fail "snapshot of the traversal keys"
# the same target, now as the files driver sees it
sed -i "/^\[target trav\]/,\$ { s#^driver = keys#driver = files\npath = $T/src# ; /^mode = /d ; /^outside = /d }" "$ARCA_CONFIG"
etc_before=$(ls -la /etc/x 2>&1 || true)
touch "$T/marker"
expect_fail 7 arca restore trav --into "$T/sandbox/a/into"
# the driver's message quotes the name raw: the log defangs it
expect_stderr 'refusing item "\.\./\\x1b\]0;owned\\x07\\xc2\\x9b2J/x"'
[ "$(raw_bytes "$T/err")" = 0 ] || fail "the refusal printed a raw name"
expect_fail 7 arca restore trav
expect_stderr 'refusing item'
new=$(find "$T" -newer "$T/marker" ! -path "$T/state*" ! -path "$T/repo*" \
	! -path "$T/out" ! -path "$T/err" ! -path "$T" ! -path "$T/sandbox/a" ! -path "$T/src" \
	-print)
[ -z "$new" ] || fail "a refused restore left: $new"
[ ! -e "$T/outside/abs" ] && [ ! -e "$T/sandbox/etc/x" ] && [ ! -e "$T/sandbox/x" ] &&
	[ ! -e "$T/x" ] && [ ! -e "$T/etc/x" ] || fail "a key was written as a path"
[ "$(ls -la /etc/x 2>&1 || true)" = "$etc_before" ] || fail "/etc/x changed"
[ -z "$(ls -A "$T/src")" ] || fail "the in-place restore wrote into the target"
pass
