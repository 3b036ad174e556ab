#!/bin/sh
# The CLI without any repository data: --help/--version, `arca plugins`
# loading dir and files from plugin_dir, config errors reported as FILE:LINE
# with nothing touched, and the SDK example driver built out of tree.
. "$ARCA_SRCDIR/tests/lib/common.sh"

step "--version and --help"
arca --version | grep -q '^arca .*ABI 1' || fail "--version"
arca --help | grep -q 'snapshot' || fail "--help lists verbs"
for v in init snapshot list restore verify check plugins forget prune unlock key wal-push wal-get; do
	arca $v --help | grep -q "Usage: arca $v" || fail "arca $v --help"
done
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

step "SDK: build the example driver out of tree and load it"
if command -v pkg-config >/dev/null && command -v cc >/dev/null; then
	pcdir=$(dirname "$(find "$ARCA_STAGE" -name arca-plugin.pc | head -1)")
	mkdir -p "$T/sdk" "$T/plugins"
	cp "$ARCA_SRCDIR/sdk/example/command.c" "$ARCA_SRCDIR/sdk/example/Makefile" "$T/sdk/"
	cflags="-I$(find "$ARCA_STAGE" -path '*/include/arca' -type d | head -1)/.."
	(cd "$T/sdk" && make -s PKG_CFLAGS="$cflags" CFLAGS="-O2 -Wall -Wextra -Werror") || fail "example driver does not build"
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
	sed -i "s#^dump_command = .*#dump_command = sh -c 'echo partial; exit 3'#" "$ARCA_CONFIG"
	expect_fail 6 arca snapshot cmd
	expect_stderr "snapshot of cmd failed, nothing was recorded: 'sh -c 'echo partial; exit 3'' exited with status 3"
	[ "$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
		fail "a failed dump was recorded as a snapshot"
	: "${pcdir:=}"
else
	skip_step "no pkg-config or no cc: the SDK example driver is not built and loaded"
fi
pass
