#!/bin/sh
# make.sh BUILD_DIR — how tests/data/golden-v2 was made. The tests never run
# it: they check that every later arca still reads these files and still
# produces these boundaries, ids and bytes. Running it again writes new
# golden data, i.e. declares a new repository format: only do that on
# purpose, together with the code change that needs it (README.md).
#
# BUILD_DIR: a configured and built tree of the arca to take the data from,
# e.g. _b after `../configure --enable-test-kdf && make`.
#
# Writes, next to this script:
#   repo/           the golden repository (a dir destination), made by
#                   `arca init` + `arca snapshot` of the tree from
#                   make_tree.py, under the generated key in `key`, plus one
#                   named blob (gen blob: repo_blob_put of named-blob.txt)
#   tree.manifest   tests/lib/common.sh's tree_manifest of that tree
#   chunks.txt      gen chunks: chunk boundaries and ids of a fixed input
#   sealed.txt      gen sealed: sealed blobs of every kind with their AAD
# and then cross-checks chunks.txt and sealed.txt with check_vectors.py, an
# independent implementation in Python (hashlib, hmac, cryptography).
#
# `key` (arca key generate) and v1-repo/ (a repository written by arca
# 68ecab2, the last commit with format 1, from one file "hello.txt") were
# made once and are not remade here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
b=$(cd "${1:?usage: make.sh BUILD_DIR}" && pwd)
w=$(mktemp -d "${TMPDIR:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$w"' EXIT

make -C "$b" install DESTDIR="$w/stage" > /dev/null
arca=$(find "$w/stage" -path '*/bin/arca' -type f)
plugins=$(dirname "$(find "$w/stage" -name dir.so)")

# The generator, linked against this build's engine library.
"$b/libtool" --quiet --mode=link --tag=CC "${CC:-cc}" -std=gnu11 -D_GNU_SOURCE \
	-I"$src/core" -I"$src/sdk/include" -I"$src/tests/unit" -I"$b" \
	-o "$w/gen" "$here/gen.c" "$src/tests/unit/test_repo_dest.c" "$b/core/libarcacore.la"

python3 "$here/make_tree.py" "$w/tree"
(
	ARCA_STAGE=/ ARCA_BINDIR= ARCA_PKGLIBDIR=
	. "$src/tests/lib/common.sh"
	tree_manifest "$w/tree"
) > "$w/tree.manifest"

cp "$here/key" "$w/key" && chmod 600 "$w/key"
mkdir -p "$w/state" "$w/repo"
cat > "$w/arca.ini" <<EOF
[engine]
plugin_dir = $plugins
state_dir = $w/state
hostname = golden

[destination golden]
driver = dir
path = $w/repo
passphrase_file = $w/key

[target golden]
driver = files
destinations = golden
path = $w/tree
EOF
export ARCA_CONFIG="$w/arca.ini"
"$arca" init golden
"$arca" snapshot golden
"$w/gen" blob "$w/repo" "$w/key" "$here/named-blob.txt"
"$arca" verify --read-data
# Only what a git checkout keeps: no empty directories (locks/).
find "$w/repo" -depth -type d -empty -delete

rm -rf "$here/repo"
cp -R "$w/repo" "$here/repo"
chmod -R u+rwX,go+rX "$here/repo"
cp "$w/tree.manifest" "$here/tree.manifest"
"$w/gen" chunks > "$here/chunks.txt"
"$w/gen" sealed > "$here/sealed.txt"
python3 "$here/check_vectors.py" "$here"
du -sh "$here/repo"
