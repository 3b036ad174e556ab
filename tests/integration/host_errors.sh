#!/bin/sh
# Host calls are honest about errors (issue 15, item 7): the message a
# failing host call leaves is about that failure only. The compat10 test
# driver asks host->secret for its optional, unset `token` (NOT_FOUND, which
# it expects and goes past) and then stops as a driver does after
# host->cancelled(), returning ARCA_ERR_CANCELLED without a message. The
# secret's message used to resurface as the reason of the cancellation.
. "$ARCA_SRCDIR/tests/lib/common.sh"

mod="$ARCA_BUILDDIR/tests/unit/modules/.libs/compat10.so"
[ -f "$mod" ] || skip "compat10.so is not built (needs cmocka: tests/unit/loader.am)"
mkdir -p "$T/plugins"
cp "$PLUGIN_DIR"/dir.so "$mod" "$T/plugins/"
chmod 755 "$T/plugins"/*.so
write_engine_config
sed -i "s#^plugin_dir = .*#plugin_dir = $T/plugins#" "$ARCA_CONFIG"
echo data > "$T/data"
cat >> "$ARCA_CONFIG" <<EOC

[target t]
driver = compat10
path = $T/data
destinations = local
secret_then_cancel = yes
EOC
arca init > /dev/null

step "an expected NOT_FOUND from host->secret is not the message of a later cancellation"
expect_fail 10 arca snapshot t
grep -q 'token' "$T/err" && { cat "$T/err" >&2; fail "the secret's NOT_FOUND resurfaced"; }
expect_stderr "snapshot of t failed, nothing was recorded: interrupted"
[ "$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] ||
	fail "a cancelled snapshot was recorded"

step "the same driver without the detour snapshots"
sed -i 's/^secret_then_cancel = yes/secret_then_cancel = no/' "$ARCA_CONFIG"
arca snapshot t > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot"; }
pass
