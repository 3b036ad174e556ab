#!/bin/sh
# The test-only fast KDF never reaches a key written by an installed build.
# The suite's builds are configured with --enable-test-kdf, where
# ARCA_TEST_FAST_KDF=1 makes key objects with scrypt N=2^10. A build
# configured without it (as installed) must write N=32768 r=8 p=1 (README,
# core/repo/FORMAT.md) whatever the environment says, and must refuse to
# open a key object with the weak parameters.
#
# The plain build: ARCA_PLAIN_BUILD=DIR (a build directory configured
# without --enable-test-kdf, with core/arca and plugins/dir built), else one
# made here in $T: configure -O0, then only sdk, core and plugins/dir.
. "$ARCA_SRCDIR/tests/lib/common.sh"

# kdf KEYFILE: "algorithm n r p" of a key object
kdf() {
	python3 -c 'import json,sys; k = json.load(open(sys.argv[1]))["kdf"]
print(k["algorithm"], k.get("n"), k.get("r"), k.get("p"))' "$1"
}
# setup NAME PLUGIN_DIR: a config with destination local in $T/NAME
setup() {
	mkdir -p "$T/$1/repo" "$T/$1/state"
	cat > "$T/$1.ini" <<EOC
[engine]
plugin_dir = $2
state_dir = $T/$1/state

[destination local]
driver = dir
path = $T/$1/repo
passphrase_env = ARCA_PASSPHRASE
EOC
}
key_of() { find "$T/$1/repo/keys" -type f | head -1; }

step "the test build: ARCA_TEST_FAST_KDF=1 writes N=1024 (so the check below is not vacuous), unset N=32768"
setup fast "$PLUGIN_DIR"
ARCA_TEST_FAST_KDF=1 "$ARCA" -c "$T/fast.ini" init > /dev/null || fail "init with the fast KDF"
[ "$(kdf "$(key_of fast)")" = "scrypt 1024 8 1" ] ||
	fail "the test build with ARCA_TEST_FAST_KDF=1 wrote $(kdf "$(key_of fast)")"
setup slow "$PLUGIN_DIR"
(unset ARCA_TEST_FAST_KDF; "$ARCA" -c "$T/slow.ini" init > /dev/null) || fail "init without the fast KDF"
[ "$(kdf "$(key_of slow)")" = "scrypt 32768 8 1" ] ||
	fail "the test build without ARCA_TEST_FAST_KDF wrote $(kdf "$(key_of slow)")"

step "a build configured without --enable-test-kdf"
if [ -n "${ARCA_PLAIN_BUILD:-}" ]; then
	PLAIN=$ARCA_PLAIN_BUILD
elif [ -f "$ARCA_SRCDIR/config.status" ]; then
	PLAIN=
	skip_step "the source tree is configured in place (no out-of-tree build possible): give ARCA_PLAIN_BUILD=DIR"
else
	PLAIN=$T/plain
	mkdir "$PLAIN"
	# not the jobserver of the make check that runs this test: one job
	if ! (cd "$PLAIN" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL sh -c \
		"CFLAGS=-O0 '$ARCA_SRCDIR/configure' -q --without-postgres &&
		 make -s -C sdk && make -s -C core && make -s -C plugins/dir") > "$T/plain.log" 2>&1; then
		tail -30 "$T/plain.log" >&2
		fail "the plain build failed"
	fi
fi
if [ -n "$PLAIN" ]; then
	[ -x "$PLAIN/core/arca" ] && [ -f "$PLAIN/plugins/dir/.libs/dir.so" ] ||
		fail "$PLAIN has no core/arca and plugins/dir/.libs/dir.so"
	if grep -q -- '-DARCA_TEST_KDF' "$PLAIN/core/Makefile"; then
		fail "$PLAIN was configured with --enable-test-kdf"
	fi
	mkdir "$T/plain-plugins"
	cp "$PLAIN/plugins/dir/.libs/dir.so" "$T/plain-plugins/"
	chmod 755 "$T/plain-plugins" && chmod 644 "$T/plain-plugins/dir.so"

	step "the plain build with ARCA_TEST_FAST_KDF=1: init and key add write N=32768 r=8 p=1"
	setup plain-repo "$T/plain-plugins"
	ARCA_TEST_FAST_KDF=1 "$PLAIN/core/arca" -c "$T/plain-repo.ini" init > /dev/null ||
		fail "init by the plain build"
	[ "$(kdf "$(key_of plain-repo)")" = "scrypt 32768 8 1" ] ||
		fail "the plain build with ARCA_TEST_FAST_KDF=1 wrote $(kdf "$(key_of plain-repo)")"
	ARCA_TEST_FAST_KDF=1 ARCA_NEW_PASSPHRASE="another passphrase here" \
		"$PLAIN/core/arca" -c "$T/plain-repo.ini" key add > /dev/null || fail "key add by the plain build"
	n=0
	for k in $(find "$T/plain-repo/repo/keys" -type f); do
		[ "$(kdf "$k")" = "scrypt 32768 8 1" ] || fail "the plain build's key add wrote $(kdf "$k")"
		n=$((n + 1))
	done
	[ "$n" = 2 ] || fail "expected 2 key objects after key add, found $n"

	step "the plain build refuses a key object with the test KDF's parameters"
	sed -i "s|^plugin_dir = .*|plugin_dir = $T/plain-plugins|" "$T/fast.ini"
	expect_fail 5 env ARCA_TEST_FAST_KDF=1 "$PLAIN/core/arca" -c "$T/fast.ini" key list
	expect_stderr "key keys/[0-9a-f]+ asks for scrypt parameters outside arca's bounds \(N=1024 r=8 p=1"
fi

pass
