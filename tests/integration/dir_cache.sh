#!/bin/sh
# The dir destination's drop_cache option (default yes): the packs a
# snapshot writes leave the page cache once flushed, and so do the pack bytes
# a restore reads, so a backup does not push the host's working set (a
# database's cache) out of memory. With drop_cache = no they stay cached.
# Checked with fincore (util-linux): resident bytes of every pack file.
# tmpfs keeps a file's pages whatever is asked: the checks need a disk.
. "$ARCA_SRCDIR/tests/lib/common.sh"
command -v fincore > /dev/null || skip "fincore (util-linux) is not installed"
SRC=$T/src
REPO=$T/repo
write_engine_config
files_target tree "$SRC"
mkdir -p "$SRC"
arca init > /dev/null || fail "arca init"
case $(stat -f -c %T "$REPO") in
tmpfs | ramfs) skip "$REPO is on tmpfs, which cannot drop cached pages" ;;
esac
# resident: the bytes of the repository's packs in the page cache
resident() {
	find "$REPO/packs" -type f -print0 | xargs -0 -r fincore -b -n -o RES |
		awk '{s += $1} END {print s + 0}'
}
packed() { find "$REPO/packs" -type f -printf "%s\n" | awk "{s += \$1} END {print s + 0}"; }

step "a snapshot's packs leave the page cache once written"
head -c 12000000 /dev/urandom > "$SRC/big.bin"
arca snapshot tree > /dev/null || fail "snapshot"
total=$(packed)
[ "$total" -gt 12000000 ] || fail "the packs hold $total bytes"
got=$(resident)
[ "$got" -lt 2000000 ] || fail "$got of the packs' $total bytes are still in the page cache"

step "a restore reads them and drops them again"
arca restore tree --into "$T/out" > /dev/null || fail "restore"
cmp "$SRC/big.bin" "$T/out/big.bin" || fail "restored file differs"
got=$(resident)
[ "$got" -lt 2000000 ] || fail "$got of the packs' bytes are in the page cache after the restore"

step "drop_cache = no keeps them"
sed -i "s|^path = $REPO\$|&\ndrop_cache = no|" "$ARCA_CONFIG"
grep -q '^drop_cache = no$' "$ARCA_CONFIG" || fail "config not changed"
head -c 12000000 /dev/urandom > "$SRC/big2.bin"
arca snapshot tree > /dev/null || fail "snapshot with drop_cache = no"
got=$(resident)
[ "$got" -gt 10000000 ] || fail "with drop_cache = no only $got bytes of the packs are cached"
pass
