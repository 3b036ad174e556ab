#!/bin/sh
# Items by handle (ABI 1.1 item_begin_h ...), from a driver's own threads:
# the handles test driver (tests/unit/modules/handles.c) sends 600 items
# from 4 threads at once, one of them larger than a handle's buffer (it
# streams while the others buffer), and skips two; a restore reads every
# item back through read handles on 4 threads and finds each byte as sent.
# An unchanged re-run reuses every item (fingerprints per handle); a
# snapshot that returns with a handle open, mixes item_begin with open
# handles, or fails in one thread records nothing, with the reason. With
# ARCA_ITEM_KEEP_ATTRS (ABI 1.1) the metadata item_end_info_h gives is
# recorded, an unchanged item keeps the stored one (not the provisional one
# it was begun with), a wrong size drops that item only, and the snapshot's
# note (snapshot_note) is shown by arca list.
. "$ARCA_SRCDIR/tests/lib/common.sh"

mod="$ARCA_BUILDDIR/tests/unit/modules/.libs/handles.so"
[ -f "$mod" ] || skip "handles.so is not built (needs cmocka: tests/unit/loader.am)"
mkdir -p "$T/plugins"
cp "$PLUGIN_DIR"/dir.so "$mod" "$T/plugins/"
chmod 755 "$T/plugins"/*.so
write_engine_config
sed -i "s#^plugin_dir = .*#plugin_dir = $T/plugins#" "$ARCA_CONFIG"
cat >> "$ARCA_CONFIG" <<EOC

[target h]
driver = handles
destinations = local
EOC
arca init > /dev/null

json_field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
snapshots() { arca list --json > "$T/list.json" && json_field "$T/list.json" 'len(d)'; }
# what the driver generates (handles.c: item_size), less the two it skips
expected=$(python3 -c '
n = b = 0
for k in range(4):
    for j in range(150):
        if (k, j) in ((2, 3), (3, 5)):
            continue
        n += 1
        m = (k * 7919 + j * 104729) % 65537
        b += 9 * 1024 * 1024 + 1 if (k, j) == (1, 7) else m if j % 5 else 65536 + m * 3
print("items %d bytes %d bad 0" % (n, b))')

step "4 threads, 600 items at once: recorded, partial for the two skipped"
expect_fail 15 arca --json snapshot h
cp "$T/out" "$T/snap1.json"
[ "$(json_field "$T/snap1.json" 'd[0]["items"]')" = 598 ] || fail "stored $(json_field "$T/snap1.json" 'd[0]["items"]') items, want 598"
[ "$(json_field "$T/snap1.json" 'd[0]["partial"]["skipped"]')" = 2 ] || fail "skipped count"

step "read back by handle on 4 threads: every byte as sent"
arca restore h --into "$T/counts" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore"; }
[ "$(cat "$T/counts")" = "$expected" ] || fail "restore read '$(cat "$T/counts")', want '$expected'"

step "unchanged re-run: every item reused"
expect_fail 15 arca --json snapshot h
new=$(json_field "$T/out" 'd[0]["new_bytes"]')
[ "$new" -lt 65536 ] || fail "an unchanged re-run stored $new new bytes"
arca restore h --into "$T/counts2" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore 2"; }
[ "$(cat "$T/counts2")" = "$expected" ] || fail "restore of the re-run read '$(cat "$T/counts2")'"
arca verify --read-data > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "verify --read-data"; }

n=$(snapshots)
step "a snapshot returning with a handle open records nothing"
sed -i '/^\[target h\]/a misuse = open' "$ARCA_CONFIG"
expect_fail 1 arca snapshot h
expect_stderr "returned with 1 item open by handle"
[ "$(snapshots)" = "$n" ] || fail "a snapshot with a handle open was recorded"

step "item_begin while handles are open is refused, nothing recorded"
sed -i 's/^misuse = open/misuse = mix/' "$ARCA_CONFIG"
expect_fail 1 arca snapshot h
expect_stderr "item_begin\\(mixed\\) while items are open by handle"
[ "$(snapshots)" = "$n" ] || fail "a mixed snapshot was recorded"

step "a failure in one driver thread fails the snapshot with its message"
sed -i 's/^misuse = mix/misuse = fail/; s/^\[target h\]/[target h]\nversion = 2/' "$ARCA_CONFIG"
expect_fail 6 arca snapshot h
expect_stderr "handles: test failure of t0/i009"
[ "$(snapshots)" = "$n" ] || fail "a failed snapshot was recorded"

step "ARCA_ITEM_KEEP_ATTRS: item_end_info_h gives the metadata; unchanged, the stored one is kept"
sed -i 's/^misuse = fail/misuse = none/; s/^version = 2/version = 3\nkeep = yes/' "$ARCA_CONFIG"
expect_fail 15 arca snapshot h
arca list h --items --meta > "$T/items"
[ "$(grep -c 'final t[0-9]/i[0-9]* 3' "$T/items")" = 598 ] || fail "item_end_info_h's metadata not recorded"
! grep -q provisional "$T/items" || fail "provisional metadata recorded"
arca list h > "$T/ls"
grep -q '^ *run: 3$' "$T/ls" || { cat "$T/ls"; fail "the snapshot's note is not shown"; }
expect_fail 15 arca --json snapshot h
new=$(json_field "$T/out" 'd[0]["new_bytes"]')
[ "$new" -lt 65536 ] || fail "an unchanged re-run stored $new new bytes"
arca list h --items --meta > "$T/items"
[ "$(grep -c 'final t[0-9]/i[0-9]* 3' "$T/items")" = 598 ] || fail "unchanged items lost their stored metadata"
! grep -q provisional "$T/items" || fail "an unchanged item got the provisional metadata"
arca restore h --into "$T/counts3" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "restore 3"; }
[ "$(cat "$T/counts3")" = "$expected" ] || fail "restore of the kept run read '$(cat "$T/counts3")'"

step "item_end_info_h with a wrong size: that item is not recorded, the others are"
sed -i 's/^misuse = none/misuse = size/; s/^version = 3/version = 4/' "$ARCA_CONFIG"
expect_fail 15 arca snapshot h
expect_stderr "t1/i002 not stored: item t1/i002: the driver says it has"
arca list h --items > "$T/items"
! grep -q 't1/i002' "$T/items" || fail "the item of a wrong size was recorded"
[ "$(grep -c ' t[0-9]/i[0-9]*$' "$T/items")" = 597 ] || fail "not the 597 other items"
pass
