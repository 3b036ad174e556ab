#!/usr/bin/env bash
# tests/deps.sh — install what arca needs to build and test, on Debian 12.
# Idempotent and quick when everything is present (no network then).
set -euo pipefail
PACKAGES=(
	build-essential autoconf automake libtool libltdl-dev pkg-config
	libinih-dev libzstd-dev libssl-dev libjansson-dev libcmocka-dev
	libpq-dev libhiredis-dev libcurl4-openssl-dev libarchive-dev
	postgresql-15 postgresql-client-15 redis-server
	python3 openssl zstd clang-format time
	nodejs stunnel4 iproute2
)
missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm: Debian's package, unless the nodejs installed brings its own (NodeSource's
# conflicts with Debian's npm)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	echo "tests/deps.sh: installing ${missing[*]}"
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages the tests run, into tests/node_modules (ignored by git): once
# here, so tests running in parallel do not install them at the same time.
# tests/lib/s3.sh installs the same version itself when run without this.
tests_dir=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$tests_dir/node_modules/.bin/s3rver" ]; then
	echo "tests/deps.sh: installing s3rver 3.7.1 into tests/node_modules"
	(cd "$tests_dir" && npm install --no-save --no-audit --no-fund --prefix . s3rver@3.7.1 >/dev/null) ||
		echo "tests/deps.sh: npm could not install s3rver; the s3 tests will skip"
fi
