#!/bin/sh
# Passphrases: a wrong or missing passphrase is a clear error (exit 5);
# keys can be added, listed, removed and changed; an unencrypted repository
# works without one; init refuses an existing repository.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
cat >> "$ARCA_CONFIG" <<EOC

[target tree]
driver = files
destinations = local
path = $SRC
EOC
mkdir -p "$SRC" && echo hello > "$SRC/a"
arca init > /dev/null || fail "init"
expect_fail 11 "$ARCA" init
expect_stderr "already holds a repository"
arca snapshot tree > /dev/null || fail "snapshot"

step "wrong passphrase"
ARCA_PASSPHRASE=wrong expect_fail 5 "$ARCA" list
expect_stderr "wrong passphrase for repository in destination local"
ARCA_PASSPHRASE= expect_fail 3 "$ARCA" list
expect_stderr "empty"

step "key add, list, passwd, remove"
ARCA_NEW_PASSPHRASE="second one" arca key add > "$T/add" || fail "key add"
arca key list > "$T/keys" || fail "key list"
[ "$(grep -c '^[ *] ' "$T/keys")" -eq 2 ] || { cat "$T/keys" >&2; fail "expected 2 keys"; }
ARCA_PASSPHRASE="second one" arca list > /dev/null || fail "second passphrase does not open"
ARCA_PASSPHRASE="second one" ARCA_NEW_PASSPHRASE="third" arca key passwd > /dev/null ||
	fail "key passwd"
ARCA_PASSPHRASE="second one" expect_fail 5 "$ARCA" list
ARCA_PASSPHRASE="third" arca list > /dev/null || fail "new passphrase does not open"
arca list > /dev/null || fail "first passphrase no longer opens"
other=$(ARCA_PASSPHRASE=third arca key list | awk '$1 == "*" {print $2}')
[ -n "$other" ] || fail "no current key shown"
arca key remove "$other" > /dev/null || fail "key remove"
ARCA_PASSPHRASE=third expect_fail 5 "$ARCA" list
expect_fail 11 "$ARCA" key remove "$(arca key list | awk '$1 == "*" {print $2}')"
expect_stderr "only key"

step "encryption = none"
mkdir -p "$T/plain"
cat >> "$ARCA_CONFIG" <<EOC

[destination plain]
driver = dir
path = $T/plain
encryption = none

[target tree2]
driver = files
destinations = plain
path = $SRC
EOC
ARCA_PASSPHRASE= arca init plain > /dev/null || fail "init without encryption"
ARCA_PASSPHRASE= arca snapshot tree2 > /dev/null || fail "snapshot without encryption"
[ ! -d "$T/plain/keys" ] || [ -z "$(ls "$T/plain/keys")" ] || fail "keys/ in a plain repository"
grep -q '"encryption": "none"' "$T/plain/config" || fail "config does not say none"
step "config switched to none in an encrypted repository is refused"
chmod u+w "$T/repo/config"
sed -i 's/"aes-256-gcm"/"none"/' "$T/repo/config"
expect_fail 7 "$ARCA" snapshot tree
expect_stderr "refusing to write unencrypted data"
pass
