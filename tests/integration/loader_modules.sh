#!/bin/sh
# A command loads only the driver modules its config names (core/loader.h):
# each module maps its libraries (libpq, libcurl, hiredis, Kerberos, LDAP)
# into the process. Checked through the dynamic linker itself (LD_DEBUG):
#  - `arca list` of a files target maps dir.so and files.so, and none of the
#    other modules nor their libraries; a broken module it does not use
#    neither warns nor fails it;
#  - `arca plugins` and `arca VERB --help` still load and list every module;
#  - a module named otherwise than its driver is still found (the whole
#    directory is loaded when NAME.so does not hold driver NAME);
#  - an option or verb of a driver no target uses is refused naming it;
#  - a config naming a driver no module provides: FILE:LINE, the installed
#    drivers listed, exit 3; one whose module is refused: exit 14;
#  - the sanitizer build of arca keeps __tls_get_addr unintercepted by
#    default (core/main.c: LeakSanitizer's exit scan crashed on it).
. "$ARCA_SRCDIR/tests/lib/common.sh"

# The shared objects the dynamic linker loaded for a command (its stderr
# goes to $T/err, its stdout to $T/out).
loaded() {
	LD_DEBUG=files LD_DEBUG_OUTPUT="$T/ld" "$ARCA" "$@" > "$T/out" 2> "$T/err" || return $?
	cat "$T"/ld.* | sed -n 's/.*file=\([^ ;]*\).*/\1/p' | sort -u > "$T/loaded.txt"
	rm -f "$T"/ld.*
}

mkdir -p "$T/plugins" "$T/src"
cp "$PLUGIN_DIR"/*.so "$T/plugins/"
chmod 755 "$T/plugins" && chmod 644 "$T/plugins"/*.so
write_engine_config
sed -i "s#^plugin_dir = .*#plugin_dir = $T/plugins#" "$ARCA_CONFIG"
echo hello > "$T/src/a.txt"
files_target tree "$T/src"
arca init > /dev/null
arca snapshot > /dev/null

step "arca list of a files target maps dir.so and files.so only"
loaded list || { cat "$T/err" >&2; fail "list"; }
grep -q "tree" "$T/out" || fail "list did not list the snapshot"
grep -q "/dir.so$" "$T/loaded.txt" || { cat "$T/loaded.txt"; fail "dir.so was not loaded"; }
grep -q "/files.so$" "$T/loaded.txt" || { cat "$T/loaded.txt"; fail "files.so was not loaded"; }
if grep -E "/(postgres|redis|s3|meilisearch)\.so$|libpq|libcurl|hiredis|libkrb5|libldap" "$T/loaded.txt"; then
	fail "arca list mapped modules or libraries its config does not use (above)"
fi
n_list=$(wc -l < "$T/loaded.txt")

step "arca plugins and VERB --help load every module"
loaded plugins || fail "plugins"
for m in "$T"/plugins/*.so; do
	grep -q "^$m$" "$T/loaded.txt" || fail "arca plugins did not load $m"
	name=$(basename "$m" .so)
	grep -q "^  $name " "$T/out" || { cat "$T/out"; fail "arca plugins does not list $name"; }
done
[ "$(wc -l < "$T/loaded.txt")" -gt "$n_list" ] || fail "plugins loaded no more than list"
if [ -f "$T/plugins/postgres.so" ]; then
	arca restore --help | grep -q "Options of driver postgres" || fail "restore --help lacks postgres's options"
else
	skip_step "postgres.so is not built: the help of an unused driver's options"
fi

step "a broken module the config does not use is not even opened"
cp "$T/plugins/dir.so" "$T/plugins/broken.so"
chmod 664 "$T/plugins/broken.so"
loaded list || { cat "$T/err" >&2; fail "list with a refused module it does not use"; }
[ ! -s "$T/err" ] || { cat "$T/err"; fail "list warned about a module it does not use"; }
arca plugins > "$T/out"
grep -q "refused $T/plugins/broken.so: .*group-writable" "$T/out" || { cat "$T/out"; fail "plugins does not show the refusal"; }
rm "$T/plugins/broken.so"

step "an option or verb of a driver no target uses is named as that driver's"
if [ -f "$T/plugins/postgres.so" ]; then
	expect_fail 2 arca restore tree --to-time 2026-01-01
	expect_stderr "arca restore: target tree \(driver files\) does not take --to-time; it takes --into, --overwrite, --jobs, besides --snapshot and --from. It is an option of driver postgres, which no target of $ARCA_CONFIG uses"
	expect_fail 9 arca wal-push tree /nowhere
	expect_stderr "driver files of target tree has no 'wal-push' command \(it is a verb of driver postgres\)"
else
	skip_step "postgres.so is not built: an unused driver's option and verb"
fi
expect_fail 2 arca restore tree --bogus
expect_stderr "arca restore: unknown option '--bogus'"
expect_fail 2 arca no-such-verb tree
expect_stderr "unknown verb 'no-such-verb': neither arca nor driver files of target tree has it"

step "a module named otherwise than its driver is found"
mv "$T/plugins/files.so" "$T/plugins/zz-files-build.so"
loaded list || { cat "$T/err" >&2; fail "list with files in zz-files-build.so"; }
grep -q "/zz-files-build.so$" "$T/loaded.txt" || fail "zz-files-build.so was not loaded"

step "a driver no module provides: FILE:LINE, the installed ones, exit 3"
rm "$T/plugins/zz-files-build.so"
line=$(grep -n '^driver = files' "$ARCA_CONFIG" | cut -d: -f1)
expect_fail 3 arca list
expect_stderr "^$ARCA_CONFIG:$line: unknown driver 'files'.*; installed drivers: dir"
expect_stderr "1 problem in the configuration; nothing was done"
cp "$PLUGIN_DIR/files.so" "$T/plugins/files.so"
chmod 666 "$T/plugins/files.so"
expect_fail 14 arca list
expect_stderr "driver module $T/plugins/files.so refused: it .*world-writable"
expect_stderr "$ARCA_CONFIG:$line: \[target tree\] names driver 'files', whose module $T/plugins/files.so the loader refused"
chmod 644 "$T/plugins/files.so"
arca list > /dev/null || fail "list with files.so back"

step "sanitizer build: __tls_get_addr is not intercepted by default"
if ldd "$ARCA" | grep -q libasan; then
	ASAN_OPTIONS=help=1 "$ARCA" --version > "$T/out" 2>&1 || fail "arca --version with ASAN_OPTIONS=help=1"
	grep -A1 "^[[:space:]]*intercept_tls_get_addr$" "$T/out" | grep -q "Current Value: false" ||
		{ grep -A1 intercept_tls_get_addr "$T/out"; fail "arca's ASan default options lack intercept_tls_get_addr=0"; }
fi

pass
