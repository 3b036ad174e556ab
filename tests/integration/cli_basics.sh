#!/bin/sh
# The CLI: --help/--version (every verb's help lists the global options),
# `arca plugins` loading dir and files from plugin_dir, config errors
# reported as FILE:LINE with nothing touched (also a password in a postgres
# conninfo), the first run printed by --help working in its order, global
# options after the verb, -v/-vv, unknown target names, a refused module
# (exit 14), the configured paths in the installed man pages, units and
# example, and the SDK example driver built out of tree.
. "$ARCA_SRCDIR/tests/lib/common.sh"

step "--version and --help"
write_engine_config   # plugin_dir: the drivers' own verbs (wal-push, wal-get) come from there
arca --version | grep -q '^arca .*ABI 1' || fail "--version"
arca --help | grep -q 'snapshot' || fail "--help lists verbs"
arca --help | grep -Eq '^  wal-push .*\(driver postgres\)' || fail "--help does not list the drivers' verbs"
for v in init snapshot list restore verify check plugins forget prune unlock key repair wal-push wal-get; do
	arca $v --help > "$T/help.txt"
	grep -q "Usage: arca $v" "$T/help.txt" || fail "arca $v --help"
	for o in 'before or after the verb' '-c, --config FILE' '-v, --verbose' '-q, --quiet' \
		'    --json ' '    --no-progress '; do
		grep -qF -- "$o" "$T/help.txt" || fail "arca $v --help does not list '$o'"
	done
done
# what ships: no verb, section or driver that does not exist
arca --help > "$T/help.txt"
for v in init snapshot restore; do arca $v --help >> "$T/help.txt"; done
grep -Ei 'arca drill|object storage' "$T/help.txt" &&
	fail "--help describes what does not ship"
grep -Eq '^  recover +the whole disaster-recovery runbook' "$T/help.txt" || fail "arca --help lacks recover"
expect_fail 2 arca snapshto
expect_stderr "did you mean 'snapshot'"
expect_fail 2 arca restore --bogus x
expect_fail 2 arca restore

step "arca plugins shows dir and files loaded from plugin_dir"
write_engine_config
arca plugins > "$T/plugins.txt"
grep -q "drivers in $PLUGIN_DIR" "$T/plugins.txt" || fail "plugin dir not shown"
grep -Eq '^  dir .*destination' "$T/plugins.txt" || fail "dir driver missing"
grep -Eq '^  files .*target' "$T/plugins.txt" || fail "files driver missing"
arca plugins --json > "$T/plugins.json"
python3 - "$T/plugins.json" "$PLUGIN_DIR" <<'PY' || fail "plugins --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["plugin_dir"] == sys.argv[2], d["plugin_dir"]
names = {x["name"]: x for x in d["drivers"]}
assert "dir" in names and "files" in names, names.keys()
assert names["dir"]["abi"] == 1 and "destination" in names["dir"]["kinds"]
assert names["files"]["path"].startswith(sys.argv[2])
assert any(o["name"] == "path" and o["required"] for o in names["files"]["target_options"])
PY

step "config errors: FILE:LINE, exit 3, nothing touched"
cat >> "$ARCA_CONFIG" <<EOC

[target tree]
driver = files
destinations = locl
pathh = $T/src
EOC
expect_fail 3 arca snapshot
expect_stderr "arca.ini:1[0-9]: .*unknown key 'pathh'.*did you mean 'path'"
expect_stderr "arca.ini:1[0-9]: .*locl.*did you mean 'local'"
expect_stderr "needs 'path'"
[ -z "$(ls -A "$T/repo")" ] || fail "a bad config touched the repository"
[ -z "$(ls -A "$T/state")" ] || fail "a bad config touched the state dir"

write_engine_config
cat >> "$ARCA_CONFIG" <<EOC

[target db]
driver = postgress
destinations = local
EOC
expect_fail 3 arca check
expect_stderr "unknown driver 'postgress'"
expect_stderr "installed drivers: .*dir"

write_engine_config
sed -i 's/^passphrase_env = ARCA_PASSPHRASE/passphrase = hunter2/' "$ARCA_CONFIG"
expect_fail 3 arca init
expect_stderr "arca.ini:8: .*passphrase"
grep -q hunter2 "$T/err" && fail "a secret was echoed back in an error"

step "missing config file"
expect_fail 3 arca -c "$T/nope.ini" list
expect_stderr "nope.ini"

step "the first run printed by arca --help works in its order; check before init says so"
write_engine_config
rmdir "$T/repo"
mkdir -p "$T/src"
echo hello > "$T/src/verbose-probe.txt"
files_target tree "$T/src"
expect_fail 8 arca check
expect_stderr "destination local holds no repository yet: .arca init. creates one"
grep -q mkdir "$T/err" && fail "check before init tells the user to mkdir what init creates"
first_run=$(arca --help | grep -E '^  arca init')
case "$first_run" in
*"arca init && arca check"*) ;;
*) fail "the first run printed by --help does not init before it checks: '$first_run'" ;;
esac
eval "$first_run" > "$T/first-run.out" || fail "the first run as printed: $first_run"
grep -q '^target tree: ok' "$T/first-run.out" || fail "the first run's check did not reach the target"

step "global options after the verb"
arca snapshot -q > "$T/out" 2> "$T/err" || { cat "$T/err" >&2; fail "arca snapshot -q"; }
[ ! -s "$T/err" ] || fail "arca snapshot -q printed: $(cat "$T/err")"
arca snapshot tree --json --no-progress > "$T/snap.json" || fail "arca snapshot TARGET --json"
python3 - "$T/snap.json" <<'PY' || fail "arca snapshot TARGET --json: not the JSON array"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1 and d[0]["target"] == "tree" and d[0]["id"], d
PY
[ "$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] ||
	fail "arca list --json after the verb"
ARCA_CONFIG="$T/nope.ini" arca list -c "$T/arca.ini" > /dev/null || fail "arca list -c FILE"
arca key list -q > /dev/null || fail "arca key list -q"
arca unlock --no-progress local > /dev/null || fail "arca unlock --no-progress DESTINATION"
expect_fail 2 arca snapshot --bogus

step "-v names every item, -vv adds debug messages"
arca snapshot tree > /dev/null 2> "$T/err0"
grep -q verbose-probe.txt "$T/err0" && fail "an item was named without -v"
arca snapshot tree -v > /dev/null 2> "$T/err1"
grep -q 'target tree: verbose-probe.txt' "$T/err1" || { cat "$T/err1" >&2; fail "-v does not name the items"; }
grep -q 'debug:' "$T/err1" && fail "-v printed debug messages"
arca -v restore tree --into "$T/restored" > /dev/null 2> "$T/err1"
grep -q 'target tree: verbose-probe.txt' "$T/err1" || fail "-v restore does not name the items"
arca -v snapshot tree -v > /dev/null 2> "$T/err2"
grep -q 'debug: loaded driver files' "$T/err2" || { cat "$T/err2" >&2; fail "-vv prints no debug messages"; }

step "unknown target and destination names: usage error with a suggestion"
expect_fail 2 arca snapshot tre
expect_stderr "no target 'tre' in .*arca.ini \(did you mean 'tree'\?\)"
expect_fail 2 arca list bogus
expect_stderr "no target 'bogus' in .*arca.ini \(its targets: tree\)"
expect_fail 2 arca unlock locl
expect_stderr "no destination 'locl' in .*did you mean 'local'"

step "a refused module is exit 14, also when the config names its driver"
mkdir "$T/plugins-refused"
cp "$PLUGIN_DIR"/*.so "$T/plugins-refused/"
chmod 755 "$T/plugins-refused" "$T/plugins-refused"/*.so
chmod g+w "$T/plugins-refused/files.so"
sed "s#^plugin_dir = .*#plugin_dir = $T/plugins-refused#" "$ARCA_CONFIG" > "$T/refused.ini"
line=$(grep -n '^driver = files' "$T/refused.ini" | cut -d: -f1)
expect_fail 14 arca -c "$T/refused.ini" snapshot
expect_stderr "module $T/plugins-refused/files.so refused: it .*is group-writable"
expect_stderr "refused.ini:$line: \[target tree\] names driver 'files', whose module .*files.so the loader refused"

if [ -e "$PLUGIN_DIR/postgres.so" ]; then
	step "a password inside a postgres conninfo: FILE:LINE, exit 3, before anything runs"
	cp "$ARCA_CONFIG" "$T/pw.ini"
	printf '\n[target db]\ndriver = postgres\ndestinations = local\nconninfo = host=127.0.0.1 user=backup password=hunter2 dbname=app\n' >> "$T/pw.ini"
	line=$(grep -n '^conninfo' "$T/pw.ini" | cut -d: -f1)
	expect_fail 3 arca -c "$T/pw.ini" check
	expect_stderr "pw.ini:$line: \[target db\]: conninfo contains a password"
	grep -q ': ok' "$T/out" && fail "check said ok before it reported the password"
	[ "$(grep -c 'target db' "$T/err")" = 1 ] || { cat "$T/err" >&2; fail "the target is reported more than once"; }
	grep -q hunter2 "$T/out" "$T/err" && fail "the password was echoed"
fi

step "installed man pages, units, example and help name the configured directories"
if [ -f "$ARCA_SRCDIR/config.status" ]; then
	echo "(the source tree is configured in place: no second build from it; skipped)"
else
	pb="$T/prefix-build"
	mkdir -p "$pb"
	(cd "$pb" && unset MAKEFLAGS MFLAGS MAKELEVEL &&
		CFLAGS=-O0 "$ARCA_SRCDIR/configure" -q --prefix=/opt/arca-test \
			--sysconfdir=/etc/arca-test --localstatedir="$T/var" --without-postgres &&
		make -s -C etc install DESTDIR="$T/dest" && make -s -C core arca) > "$pb/build.log" 2>&1 ||
		{ tail -30 "$pb/build.log" >&2; fail "configure --prefix=/opt/arca-test and install"; }
	d="$T/dest/opt/arca-test"
	for u in arca-snapshot.service arca-verify.service; do
		grep -q '^ExecStart=/opt/arca-test/bin/arca ' "$d/lib/systemd/system/$u" ||
			fail "$u does not run the configured bindir"
	done
	# retention runs after a complete (0) or partial (15) snapshot, not after a failure
	post=$(sed -n "s/^ExecStopPost=\/bin\/sh -c '\(.*\)'\$/\1/p" "$d/lib/systemd/system/arca-snapshot.service" |
		sed 's/\$\$/$/g; s|exec /opt/arca-test/bin/arca |echo |')
	ran=$(for st in 0 15 1 3 SIGTERM; do EXIT_STATUS=$st sh -c "$post"; done | grep -c ' forget$')
	[ "$ran" -eq 2 ] || fail "arca-snapshot.service runs forget after $ran of exits 0 15 1 3 SIGTERM (want 2)"
	grep -q '/etc/arca-test/arca/arca.ini' "$d/share/man/man1/arca.1" || fail "arca(1): config path"
	grep -q '/opt/arca-test/share/doc/arca/arca.ini.example' "$d/share/man/man1/arca.1" ||
		fail "arca(1): example path"
	grep -q '/etc/arca-test/arca/arca.ini' "$d/share/man/man5/arca.ini.5" || fail "arca.ini(5): config path"
	grep -q '^plugin_dir = /opt/arca-test/lib/arca$' "$d/share/doc/arca/arca.ini.example" ||
		fail "arca.ini.example: plugin_dir"
	# state_dir's default is $(localstatedir)/lib/arca, named the same everywhere
	sd="$T/var/lib/arca"
	grep -qx "state_dir = $sd" "$d/share/doc/arca/arca.ini.example" || fail "arca.ini.example: state_dir"
	grep -qF "default \\fI$sd\\fR" "$d/share/man/man5/arca.ini.5" || fail "arca.ini(5): state_dir default"
	grep -qxF ".I $sd" "$d/share/man/man1/arca.1" || fail "arca(1): state_dir in FILES"
	grep -qx "ReadWritePaths=-$sd" "$d/lib/systemd/system/arca-snapshot.service" ||
		fail "arca-snapshot.service: state_dir not writable under ProtectSystem"
	[ "$(stat -c %a "$T/dest$sd")" = 700 ] || fail "make install: state_dir not made 0700"
	grep -rnE '/usr/local|/usr/share|@[a-z_]+@' "$T/dest" && fail "a path written by hand or not substituted"
	grep -rn '/var/lib/arca' "$T/dest" | grep -vF "$sd" && fail "/var/lib/arca written by hand"
	grep -rniE 'arca drill' "$T/dest" && fail "installed files describe what does not ship"
	# no config: its plugin_dir holds modules of the test build (sanitized, maybe)
	ARCA_CONFIG=/nonexistent "$pb/core/arca" --help > "$T/help.txt"
	grep -qF 'cp /opt/arca-test/share/doc/arca/arca.ini.example /etc/arca-test/arca/arca.ini' "$T/help.txt" ||
		{ cat "$T/help.txt" >&2; fail "--help: first run paths"; }
	grep -qF 'else /etc/arca-test/arca/arca.ini)' "$T/help.txt" || fail "--help: default config path"
	grep -qF "default $sd." "$T/help.txt" || { cat "$T/help.txt" >&2; fail "--help: default state_dir"; }
	# and it is the one used: a config without state_dir (and no driver to
	# load, so this unsanitized build needs none of the test build's modules)
	mkdir -p "$T/no-modules"
	printf '[engine]\nplugin_dir = %s\n' "$T/no-modules" > "$T/no-state.ini"
	"$pb/core/arca" -c "$T/no-state.ini" list > "$T/out" 2> "$T/err" || true
	[ "$(stat -c %a "$sd" 2>/dev/null)" = 700 ] ||
		{ cat "$T/err" >&2; fail "arca did not make its default state_dir $sd (0700)"; }
	if [ -e "$PLUGIN_DIR/postgres.so" ]; then
		# the example validates against the drivers that ship
		sed -e "s#^plugin_dir = .*#plugin_dir = $PLUGIN_DIR#" -e "s#^state_dir = .*#state_dir = $T/state-ex#" \
			"$d/share/doc/arca/arca.ini.example" > "$T/example.ini"
		# it validates; then its passphrase_file (not on this host) is missing
		expect_fail 3 arca -c "$T/example.ini" list
		expect_stderr "cannot read passphrase_file"
		grep -q 'in the configuration' "$T/err" && { cat "$T/err" >&2; fail "arca.ini.example does not validate"; }
	fi
fi

rm -rf "$T/repo" "$T/state"   # the SDK step starts with a new repository

step "SDK: build the example driver out of tree and load it"
if command -v pkg-config >/dev/null && command -v cc >/dev/null; then
	# the installed SDK alone, found through pkg-config (the stage is a
	# `make install DESTDIR=...` of this build)
	pcdir=$ARCA_STAGE$ARCA_PREFIX/lib/pkgconfig
	[ -f "$pcdir/arca-plugin.pc" ] || fail "arca-plugin.pc is not installed in \$(libdir)/pkgconfig"
	[ -f "$ARCA_STAGE$ARCA_PREFIX/include/arca/plugin.h" ] ||
		fail "plugin.h is not installed as \$(includedir)/arca/plugin.h"
	mkdir -p "$T/sdk" "$T/plugins"
	cp "$ARCA_SRCDIR/sdk/example/command.c" "$ARCA_SRCDIR/sdk/example/Makefile" "$T/sdk/"
	(cd "$T/sdk" && PKG_CONFIG_PATH="$pcdir" make -s PKG_CONFIG="pkg-config --define-prefix" \
		CFLAGS="-O2 -Wall -Wextra -Werror") || fail "example driver does not build from the installed SDK"
	cp "$PLUGIN_DIR"/*.so "$T/plugins/" && cp "$T/sdk/command.so" "$T/plugins/" && chmod 755 "$T/plugins"/*.so
	arca plugins --plugin-dir "$T/plugins" | grep -Eq '^  command 1.0.0' || fail "example driver not loaded"
	write_engine_config
	sed -i "s#^plugin_dir = .*#plugin_dir = $T/plugins#" "$ARCA_CONFIG"
	printf 'hello from a command\n' > "$T/data.txt"
	cat >> "$ARCA_CONFIG" <<EOC

[target cmd]
driver = command
dump_command = cat $T/data.txt
restore_command = cat > $T/restored.txt
destinations = local
EOC
	arca init >/dev/null
	arca snapshot cmd >/dev/null
	arca restore cmd
	cmp "$T/data.txt" "$T/restored.txt" || fail "example driver round trip"
	# it declares (ABI 1.1) that it takes no restore option: --into is
	# refused, not silently ignored
	rm -f "$T/restored.txt"
	expect_fail 2 arca restore cmd --into "$T/elsewhere"
	expect_stderr "does not take --into"
	[ ! -e "$T/restored.txt" ] || fail "a refused restore ran restore_command"
	sed -i "s#^dump_command = .*#dump_command = sh -c 'echo partial; exit 3'#" "$ARCA_CONFIG"
	expect_fail 6 arca snapshot cmd
	expect_stderr "snapshot of cmd failed, nothing was recorded: 'sh -c 'echo partial; exit 3'' exited with status 3"
	[ "$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
		fail "a failed dump was recorded as a snapshot"
	: "${pcdir:=}"
else
	skip_step "no pkg-config or no cc: the SDK example driver is not built and loaded"
fi

step "restore options a target does not take are refused before anything is touched"
write_engine_config
files_target tree "$T/src"
cat >> "$ARCA_CONFIG" <<EOC

[target pglog]
driver = postgres
destinations = local
conninfo = host=127.0.0.1 port=1 dbname=nowhere user=nobody

[target pgphys]
driver = postgres
destinations = local
mode = physical
conninfo = host=127.0.0.1 port=1 dbname=nowhere user=nobody
EOC
expect_fail 2 "$ARCA" restore tree --into "$T/opt-out" --to-time 2026-01-01
expect_stderr "target tree \(driver files\) does not take --to-time; it takes --into, --overwrite"
[ ! -e "$T/opt-out" ] || fail "a refused restore created its directory"
expect_fail 2 "$ARCA" restore tree --no-archive
expect_stderr "does not take --no-archive"
expect_fail 2 "$ARCA" restore tree --start --to-lsn 0/1
expect_stderr "does not take --start"
expect_fail 2 "$ARCA" restore pglog --to-time 2026-01-01
expect_stderr "does not take --to-time here: that option needs mode=physical"
expect_fail 2 "$ARCA" restore pgphys --jobs 2
expect_stderr "needs mode=logical"
expect_fail 2 "$ARCA" restore pgphys --into "$T/opt-out" --to-time 2026-01-01 --to-lsn 0/1
expect_stderr "--to-time and --to-lsn exclude each other"
pass
