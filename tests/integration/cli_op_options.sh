#!/bin/sh
# Operation options are the drivers' (issue 15, item 2): core names no
# driver option (the grep below), and the engine parses, checks and hands
# over whatever a target's driver declares for snapshot, restore, verify,
# check and health, through the test module opts11 (tests/unit/modules):
#  - declared options reach the driver by name (host->option), flags as
#    "yes", with --name VALUE and --name=VALUE; verify's own --snapshot and
#    --read-data reach it too; global options after the verb still count;
#  - an option a target does not take is refused before anything is done
#    (exit 2), naming what it takes and the targets that take it; so are a
#    `when` the target's config does not meet and options that exclude
#    each other;
#  - `arca VERB --help` lists each driver's options;
#  - host->item_rewind: a restore reads the items, rewinds, and reads the
#    first one again;
#  - `arca health` of a files target: 0 for a readable tree (--into a
#    restored copy too), 8 for a missing one, 5 for an unreadable file.
. "$ARCA_SRCDIR/tests/lib/common.sh"

step "core/ names no driver option or verb"
if grep -rn 'to-time\|to-lsn\|to-xid\|no-archive\|wal-push\|wal-get' "$ARCA_SRCDIR/core/"; then
	fail "core/ names a driver's option or verb (above)"
fi

mod="$ARCA_BUILDDIR/tests/unit/modules/.libs/opts11.so"
[ -f "$mod" ] || skip "opts11.so is not built (needs cmocka: tests/unit/loader.am)"
mkdir -p "$T/plugins"
cp "$PLUGIN_DIR"/dir.so "$PLUGIN_DIR"/files.so "$mod" "$T/plugins/"
chmod 755 "$T/plugins"/*.so
write_engine_config
cp "$ARCA_CONFIG" "$T/installed.ini" # the drivers as installed
sed -i "s#^plugin_dir = .*#plugin_dir = $T/plugins#" "$ARCA_CONFIG"
mkdir -p "$T/src"
echo hello > "$T/src/file.txt"
files_target tree "$T/src"
cat >> "$ARCA_CONFIG" <<EOC

[target full]
driver = opts11
destinations = local
log = $T/full.log

[target quick]
driver = opts11
destinations = local
mode = quick
log = $T/quick.log
EOC
arca init > /dev/null

step "declared options reach the driver, for every operation"
arca snapshot full --label nightly > /dev/null || fail "snapshot --label"
arca snapshot quick --fast > /dev/null || fail "snapshot --fast where mode=quick"
arca snapshot --label=weekly full > /dev/null || fail "snapshot --label=VALUE before the target"
arca check full --probe disk > /dev/null || fail "check --probe"
arca verify full --deep --read-data=50 --snapshot latest > /dev/null || fail "verify --deep"
arca verify full > /dev/null || fail "verify"
arca restore full --into "$T/read.txt" > /dev/null || fail "restore --into"
arca health full --into "$T/read.txt" > /dev/null || fail "health --into"
cat > "$T/want.log" <<EOF
snapshot label=nightly
snapshot label=weekly
check probe=disk
verify deep=yes snapshot=latest read-data=50
verify
restore into=$T/read.txt
health into=$T/read.txt
EOF
diff "$T/want.log" "$T/full.log" || fail "the driver was handed other options (diff above)"
[ "$(cat "$T/quick.log")" = "snapshot fast=yes" ] || fail "quick got '$(cat "$T/quick.log")'"

step "global options after the verb still count: -c, --no-lock"
cp "$ARCA_CONFIG" "$T/other.ini"
ARCA_CONFIG=/nonexistent "$ARCA" verify full --deep -c "$T/other.ini" --no-lock >/dev/null 2>"$T/err" ||
	{ cat "$T/err" >&2; fail "verify with -c and --no-lock after the verb"; }
grep -q -- "--no-lock: reading without a lock" "$T/err" || { cat "$T/err" >&2; fail "--no-lock after the verb was lost"; }
sed -i '$d' "$T/full.log" # that verify's line

step "item_rewind: the restore read the items, rewound, and read the first again"
printf 'a:first item\nb:second item\nrewound a:first item\n' > "$T/want.txt"
cmp "$T/want.txt" "$T/read.txt" || { cat "$T/read.txt"; fail "restore after item_rewind read other items"; }

step "options a target does not take are refused before anything is done"
before=$(wc -l < "$T/full.log")
expect_fail 2 arca snapshot tree --label x
expect_stderr "target tree \(driver files\) does not take --label; it takes nothing else. Targets that take it: full, quick"
expect_fail 2 arca snapshot full --fast
expect_stderr "target full \(driver opts11\) does not take --fast here: that option needs mode=quick"
expect_fail 2 arca snapshot quick full --fast
expect_stderr "target full \(driver opts11\) does not take --fast here: that option needs mode=quick; it takes --label. Targets that take it: quick"
expect_fail 2 arca snapshot quick --fast --label x
expect_stderr "--fast and --label exclude each other: give one"
expect_fail 2 arca check full --deep
expect_stderr "arca check: unknown option '--deep'"
expect_fail 2 arca verify tree --deep
expect_stderr "target tree \(driver files\) does not take --deep; it takes nothing else, besides --read-data and --snapshot. Targets that take it: full, quick"
expect_fail 2 arca restore full --overwrite
expect_stderr "target full \(driver opts11\) does not take --overwrite; it takes --into, besides --snapshot and --from. Targets that take it: tree"
expect_fail 2 arca snapshot full --bogus
expect_stderr "arca snapshot: unknown option '--bogus'"
expect_fail 2 arca snapshot full --label
expect_stderr "arca snapshot: --label needs a value"
[ "$(wc -l < "$T/full.log")" = "$before" ] || fail "a refused command ran the driver"

step "VERB --help lists each driver's options"
# flat: the help of an option may wrap onto the next lines
flat() { tr '\n' ' ' | tr -s ' '; }
arca snapshot --help > "$T/help.txt"
grep -q "Options of driver opts11" "$T/help.txt" || { cat "$T/help.txt"; fail "snapshot --help"; }
flat < "$T/help.txt" | grep -Eq -- "--label VALUE a label for the snapshot \(not with --fast\)" ||
	{ cat "$T/help.txt"; fail "snapshot --help lacks --label"; }
flat < "$T/help.txt" | grep -Eq -- "--fast skip the slow parts \(only where mode=quick\) \(not with --label\)" ||
	{ cat "$T/help.txt"; fail "snapshot --help lacks --fast"; }
awk '/^Options of driver/ { d = 1 } /^Global options/ { d = 0 } d && length > 79' "$T/help.txt" |
	grep -q . && { cat "$T/help.txt"; fail "an option's help is not wrapped"; }
arca health --help | grep -q -- "--into VALUE" || fail "health --help lacks the drivers' --into"
arca restore --help | grep -q "Options of driver files" || fail "restore --help lacks the files driver"
if [ -f "$PLUGIN_DIR/postgres.so" ]; then
	"$ARCA" -c "$T/installed.ini" restore --help > "$T/help.txt"
	flat < "$T/help.txt" |
		grep -Eq -- "--to-time VALUE recover to this time.*\(only where mode=physical\) \(not with --to-lsn, --to-xid\)" ||
		{ cat "$T/help.txt"; fail "restore --help lacks the postgres driver's --to-time"; }
	"$ARCA" -c "$T/installed.ini" health --help | grep -q -- "--standby" ||
		fail "health --help lacks the postgres driver's --standby"
fi

step "health of a files target"
arca snapshot tree > /dev/null
arca health tree > "$T/out" || fail "health of a readable tree"
grep -q "target tree: healthy" "$T/out" || { cat "$T/out"; fail "health said '$(cat "$T/out")'"; }
arca restore tree --into "$T/copy" > /dev/null
arca health tree --into "$T/copy" > /dev/null || fail "health --into a restored copy"
expect_fail 8 arca health tree --into "$T/nowhere"
expect_stderr "target tree is not healthy: files $T/nowhere: No such file or directory"
arca health tree --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d == {"target": "tree", "healthy": True, "status": 0}, d' ||
	fail "health --json of a healthy tree"
set +e; arca health tree --into "$T/nowhere" --json > "$T/out" 2>/dev/null; set -e
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not d["healthy"] and d["status"] == 8 and "No such file" in d["error"], d' "$T/out" ||
	fail "health --json of a missing tree: $(cat "$T/out")"
# an unreadable file: root opens every file, so as root a uid of its own asks
chmod 000 "$T/copy/file.txt"
if [ "$(id -u)" = 0 ]; then
	nuid=64000
	while getent passwd "$nuid" > /dev/null; do nuid=$((nuid + 1)); done
	mkdir -p "$T/nstate"
	chown "$nuid:$nuid" "$T/nstate"
	sed "s|^state_dir = .*|state_dir = $T/nstate|" "$ARCA_CONFIG" > "$T/n.ini"
	chmod 644 "$T/n.ini"
	expect_fail 5 setpriv --reuid "$nuid" --regid "$nuid" --clear-groups \
		"$ARCA" -c "$T/n.ini" health tree --into "$T/copy"
else
	expect_fail 5 arca health tree --into "$T/copy"
fi
expect_stderr "target tree is not healthy: files $T/copy/file.txt: cannot be opened: Permission denied"
chmod 644 "$T/copy/file.txt"
expect_fail 2 arca health tree full
expect_stderr "name exactly one TARGET"
pass
