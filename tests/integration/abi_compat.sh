#!/bin/sh
# ABI compatibility (issue 15, item 10): a module built against the ABI 1.0
# header (tests/unit/modules/compat10.c, from the fixture plugin_v1_0.h) is
# loaded by the real binary and round-trips, as a target and as a
# destination, through every command that reads a 1.1 member of a driver's
# tables (--help's verbs, the operations' options, verify's verify_oldest,
# forget's after_forget, prune's and unlock's sweep, health). compat10 keeps its ops
# tables in heap blocks of exactly their 1.0 size, so in the ASan build a
# read past a table's struct_size fails the command.
. "$ARCA_SRCDIR/tests/lib/common.sh"

mod="$ARCA_BUILDDIR/tests/unit/modules/.libs/compat10.so"
[ -f "$mod" ] || skip "compat10.so is not built (needs cmocka: tests/unit/loader.am)"

mkdir -p "$T/plugins" "$T/objs"
cp "$PLUGIN_DIR"/dir.so "$mod" "$T/plugins/"
chmod 755 "$T/plugins"/*.so

step "the 1.0 module loads next to the in-tree drivers"
write_engine_config
sed -i "s#^plugin_dir = .*#plugin_dir = $T/plugins#" "$ARCA_CONFIG"
arca plugins > "$T/plugins.txt" 2>&1 || { cat "$T/plugins.txt" >&2; fail "arca plugins"; }
grep -Eq '^  compat10 1.0.0' "$T/plugins.txt" || { cat "$T/plugins.txt" >&2; fail "compat10 not listed"; }
grep -q refused "$T/plugins.txt" && fail "a module was refused"
arca --help > /dev/null || fail "arca --help (reads every driver's verbs)"

step "snapshot and restore through a 1.0 target and a 1.0 destination"
head -c 300000 /dev/urandom > "$T/data.bin"
cat >> "$ARCA_CONFIG" <<EOC

[destination old]
driver = compat10
path = $T/objs
passphrase_env = ARCA_PASSPHRASE

[target t10]
driver = compat10
path = $T/data.bin
destinations = old, local
retention = last=1
EOC
arca init > /dev/null || fail "init"
arca check > /dev/null || fail "check"
arca snapshot t10 > /dev/null || fail "snapshot through a 1.0 target"
[ -n "$(find "$T/objs" -type f)" ] || fail "the 1.0 destination holds nothing"
for from in old local; do
	rm -f "$T/restored.bin"
	arca restore t10 --from "$from" --into "$T/restored.bin" > /dev/null ||
		fail "restore from $from"
	cmp "$T/data.bin" "$T/restored.bin" || fail "round trip from $from differs"
done

step "verify, forget, prune and unlock with 1.0 tables"
echo more >> "$T/data.bin"
arca snapshot t10 > /dev/null || fail "second snapshot"
arca verify t10 --read-data > /dev/null || fail "verify (verify_oldest is 1.1)"
arca forget t10 > /dev/null || fail "forget (after_forget is 1.1)"
arca prune > /dev/null || fail "prune (sweep is 1.1)"
arca unlock > /dev/null || fail "unlock (sweep is 1.1)"
rm -f "$T/restored.bin"
arca restore t10 --from old --into "$T/restored.bin" > /dev/null || fail "restore after prune"
cmp "$T/data.bin" "$T/restored.bin" || fail "round trip after forget and prune differs"

step "operation options and health with 1.0 tables"
for verb in snapshot restore verify check health; do
	arca "$verb" --help > /dev/null || fail "$verb --help (reads every driver's ${verb}_options)"
done
arca check t10 > /dev/null || fail "check (check_options is 1.1)"
expect_fail 9 arca health t10
expect_stderr "health of target t10: driver compat10 of target t10 cannot tell whether its store is serving"
expect_fail 2 arca snapshot t10 --into x
expect_stderr "arca snapshot: unknown option '--into'"
pass
