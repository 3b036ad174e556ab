#!/bin/sh
# Passphrases: a wrong or missing passphrase is a clear error (exit 5);
# keys can be added, listed, removed and changed; an unencrypted repository
# works without one; init refuses an existing repository; a generated key
# (arca key generate) works in place of a passphrase, through HKDF; several
# destinations reading their passphrase from one variable all open (arca
# takes it from its environment once, for all of them, then removes it).
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC" && echo hello > "$SRC/a"
arca init > /dev/null || fail "init"
[ -n "$(find "$T/state" -name key-hint)" ] || fail "init did not record the key it made (key-hint)"
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
ARCA_PASSPHRASE="second one" ARCA_NEW_PASSPHRASE="third passphrase" arca key passwd > /dev/null ||
	fail "key passwd"
ARCA_PASSPHRASE="second one" expect_fail 5 "$ARCA" list
ARCA_PASSPHRASE="third passphrase" arca list > /dev/null || fail "new passphrase does not open"
arca list > /dev/null || fail "first passphrase no longer opens"
other=$(ARCA_PASSPHRASE="third passphrase" arca key list | awk '$1 == "*" {print $2}')
[ -n "$other" ] || fail "no current key shown"
arca key remove "$other" > /dev/null || fail "key remove"
ARCA_PASSPHRASE="third passphrase" expect_fail 5 "$ARCA" list
expect_fail 11 "$ARCA" key remove "$(arca key list | awk '$1 == "*" {print $2}')"
expect_stderr "only key"

step "the key that opened is read first next time; a stale or planted hint is only a guess"
hint=$(find "$T/state" -name key-hint)
[ -n "$hint" ] || fail "no key-hint in the state dir"
# hint_is ID: the hint names the key ID (key list shows 12 digits)
hint_is() { case "$(cat "$hint")" in "keys/$1"????????????????????????????????????????????????????) return 0 ;; esac; return 1; }
current=$(arca key list | awk '$1 == "*" {print $2}')
hint_is "$current" || { cat "$hint"; fail "key-hint does not name the key that opened"; }
# another host's key, named by the hint: the listing still finds ours
ARCA_NEW_PASSPHRASE="fourth passphrase" arca key add > /dev/null || fail "key add (fourth)"
fourth=$(ARCA_PASSPHRASE="fourth passphrase" arca key list | awk '$1 == "*" {print $2}')
hint_is "$fourth" || fail "key-hint does not follow the key that opened"
arca list > /dev/null || fail "a hint naming another passphrase's key stops the listing"
hint_is "$current" || fail "key-hint not moved back"
# the hinted key removed: the listing finds the rest
ARCA_PASSPHRASE="fourth passphrase" arca list > /dev/null
arca key remove "$fourth" > /dev/null || fail "key remove (fourth)"
arca list > /dev/null || fail "a hint naming a removed key stops the listing"
# garbage and a path out of keys/ are ignored
for bad in "../config" "keys/../../etc/passwd" "$(head -c 200 /dev/zero | tr '\0' a)"; do
	printf '%s\n' "$bad" > "$hint"
	arca list > /dev/null || fail "a hint of '$bad' stops the open"
done
hint_is "$current" || fail "a bad key-hint is not replaced"
ARCA_PASSPHRASE=wrong expect_fail 5 "$ARCA" list
expect_stderr "wrong passphrase for repository in destination local"

step "a short new passphrase is refused"
ARCA_NEW_PASSPHRASE="short" expect_fail 3 "$ARCA" key add
expect_stderr "use at least 10"

step "generated keys"
"$ARCA" key generate > "$T/k1" || fail "key generate"
"$ARCA" key generate > "$T/k2" || fail "key generate (second)"
grep -qx 'arca-key1-[0-9a-f]\{64\}' "$T/k1" || { cat "$T/k1" >&2; fail "malformed generated key"; }
cmp -s "$T/k1" "$T/k2" && fail "two generated keys are equal"
ARCA_NEW_PASSPHRASE_FILE="$T/k1" arca key add > /dev/null || fail "key add (generated key)"
grep -l '"hkdf-sha256"' "$T/repo/keys/"* > /dev/null || fail "generated key not stored with HKDF"
ARCA_PASSPHRASE="$(cat "$T/k1")" arca list > /dev/null || fail "generated key does not open"
ARCA_PASSPHRASE="$(cat "$T/k2")" expect_fail 5 "$ARCA" list
expect_stderr "wrong key for repository"
ARCA_PASSPHRASE="arca-key1-0123" expect_fail 3 "$ARCA" list
expect_stderr "not a key made by arca key generate"
# A destination whose passphrase_file holds a generated key, from init on.
mkdir -p "$T/keyed"; chmod 600 "$T/k2"
cat >> "$ARCA_CONFIG" <<EOC

[destination keyed]
driver = dir
path = $T/keyed
passphrase_file = $T/k2

[target tree3]
driver = files
destinations = keyed
path = $SRC
EOC
arca init keyed > /dev/null || fail "init with a generated key"
grep -q '"hkdf-sha256"' "$T/keyed/keys/"* || fail "init did not use HKDF for a generated key"
grep -q '"scrypt"' "$T/keyed/keys/"* && fail "init used scrypt for a generated key"
arca snapshot tree3 > /dev/null || fail "snapshot with a generated key"
arca restore tree3 --into "$T/out3" > /dev/null || fail "restore with a generated key"
cmp "$SRC/a" "$T/out3/a" || fail "restored file differs"

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
step "destinations sharing a passphrase variable all open"
mkdir -p "$T/twin1" "$T/twin2" "$T/fallback"
cat >> "$ARCA_CONFIG" <<EOC

[destination twin1]
driver = dir
path = $T/twin1
passphrase_env = SHARED_PASS

[destination twin2]
driver = dir
path = $T/twin2
passphrase_env = SHARED_PASS

# no passphrase_file/_env: ARCA_PASSPHRASE, which local names too
[destination fallback]
driver = dir
path = $T/fallback

[target twins]
driver = files
destinations = local, twin1, twin2, fallback
path = $SRC
EOC
export SHARED_PASS="shared secret"
arca init twin1 twin2 fallback > "$T/out" || fail "init of destinations sharing a variable"
[ "$(grep -c 'created repository' "$T/out")" -eq 3 ] || { cat "$T/out" >&2; fail "init count"; }
arca snapshot twins > /dev/null || fail "snapshot into destinations sharing a variable"
n=$(arca list twins --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" -eq 4 ] || fail "expected the snapshot in 4 destinations, listed $n"
for d in local twin1 twin2 fallback; do
	rm -rf "$T/out-$d"
	arca restore twins --from $d --into "$T/out-$d" > /dev/null || fail "restore from $d"
	cmp "$SRC/a" "$T/out-$d/a" || fail "restored file from $d differs"
done
ARCA_PASSPHRASE="correct horse battery staple" SHARED_PASS=wrong expect_fail 5 "$ARCA" list twins
expect_stderr "wrong passphrase for repository in destination twin1"
unset SHARED_PASS
expect_fail 3 "$ARCA" list twins
expect_stderr "passphrase_env names the variable SHARED_PASS .*not set"

step "config switched to none in an encrypted repository is refused"
chmod u+w "$T/repo/config"
cp "$T/repo/config" "$T/config.orig"
sed -i 's/"aes-256-gcm"/"none"/' "$T/repo/config"
expect_fail 7 "$ARCA" snapshot tree
expect_stderr "tampered with"
# The whole attack: keys moved aside, config consistent with "none".
mv "$T/repo/keys" "$T/keys.aside"
sed -i 's/"hmac-sha256"/"sha256"/' "$T/repo/config"
before=$(find "$T/repo/packs" -type f | wc -l)
expect_fail 7 "$ARCA" snapshot tree
expect_stderr "config was tampered with"
# Without the pin (a new state_dir), the configured secret still refuses it.
rm -rf "$T/state/pins"
expect_fail 7 "$ARCA" snapshot tree
expect_stderr "configured to encrypt it"
[ "$(find "$T/repo/packs" -type f | wc -l)" -eq "$before" ] || fail "data written to a downgraded repository"
mv "$T/keys.aside" "$T/repo/keys"
cp "$T/config.orig" "$T/repo/config"
arca snapshot tree > /dev/null || fail "the restored config no longer opens"
pass
