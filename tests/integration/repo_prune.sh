#!/bin/sh
# Forget and prune keep their word: the bytes prune says it freed are the
# bytes the packs shrank by; --dry-run changes nothing; a damaged snapshot
# that blocks prune is removed with `forget --snapshot ID`, and the hint
# prune prints is that command.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
files_target tree "$SRC" "retention = last=1"
mkdir -p "$SRC"
for i in 1 2 3 4 5 6; do head -c 3000000 /dev/urandom > "$SRC/f$i"; done
arca init > /dev/null || fail "init"
arca snapshot tree > /dev/null || fail "snapshot 1"
rm "$SRC/f1" "$SRC/f2" "$SRC/f3"
head -c 2000000 /dev/urandom > "$SRC/g1"
arca snapshot tree > /dev/null || fail "snapshot 2"

objects() { (cd "$T/repo" && find . -type f -printf '%p %s\n' | sort); }
pack_bytes() { find "$T/repo/packs" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

step "forget --dry-run and prune --dry-run change nothing"
objects > "$T/before"
arca forget --dry-run > /dev/null || fail "forget --dry-run"
arca prune --dry-run > /dev/null || fail "prune --dry-run"
objects > "$T/after"
diff "$T/before" "$T/after" >&2 || fail "a dry run changed the repository"

step "prune frees what it says (packs repacked and deleted)"
arca forget > /dev/null || fail "forget"
before=$(pack_bytes)
arca --json prune --repack-threshold 10 > "$T/prune.json" || { cat "$T/prune.json" >&2; fail "prune"; }
after=$(pack_bytes)
python3 - "$T/prune.json" "$before" "$after" <<'PY' || fail "prune's figures do not match the packs"
import json, sys
r = json.load(open(sys.argv[1]))
d = r if isinstance(r, dict) and "bytes_freed" in r else (r["destinations"][0] if isinstance(r, dict) else r[0])
before, after = int(sys.argv[2]), int(sys.argv[3])
assert d["packs_repacked"] > 0, d   # the case the old count got wrong
assert d["bytes_freed"] == before - after, (d["bytes_freed"], before - after)
PY
arca restore tree --into "$T/restored" > /dev/null || fail "restore after prune"
[ "$(tree_manifest "$SRC")" = "$(tree_manifest "$T/restored")" ] || fail "restore after prune differs"

step "a damaged snapshot blocks prune; forget --snapshot removes it"
arca snapshot tree > /dev/null || fail "snapshot 3"
snap=$(find "$T/repo/snapshots" -type f -newer "$T/prune.json" | head -n 1)
[ -n "$snap" ] || fail "no new snapshot object"
id=$(basename "$snap")
chmod u+w "$snap"; truncate -s 100 "$snap"
rm -rf "$T/state"/*
expect_fail 7 "$ARCA" prune
expect_stderr "arca forget --snapshot $(echo "$id" | cut -c1-12)"
arca forget --snapshot "$(echo "$id" | cut -c1-12)" > "$T/forget.out" || { cat "$T/forget.out" >&2; fail "forget --snapshot"; }
grep -q "forgotten from destination local" "$T/forget.out" || { cat "$T/forget.out" >&2; fail "forget --snapshot said nothing"; }
[ ! -e "$snap" ] || fail "the damaged snapshot is still there"
arca prune > /dev/null || fail "prune after forget --snapshot"
expect_fail 8 "$ARCA" forget --snapshot "$(echo "$id" | cut -c1-12)"
expect_stderr "no destination holds a snapshot"
arca restore tree --into "$T/out2" > /dev/null || fail "restore of the remaining snapshot"

step "temporary files of interrupted writers: prune and unlock remove the dead ones"
tag=$(python3 -c 'import socket
h = 2166136261
for b in socket.gethostname().encode():
    h = ((h ^ b) * 16777619) & 0xffffffff
print("%08x" % h)')
sleep 300 & live=$!
on_exit "kill $live"
sh -c 'exit 0' & dead=$!; wait $dead
rnd=0123456789abcdef
mkdir -p "$T/repo/index" "$T/repo/snapshots"
: > "$T/repo/index/.tmp.x.$tag.$dead.$rnd"                    # this host, process gone
: > "$T/repo/index/.tmp.y.$tag.$live.$rnd"                    # this host, still running
: > "$T/repo/snapshots/.tmp.z.00000000.1.$rnd"               # another host, recent
: > "$T/repo/snapshots/.tmp.w.00000000.1.$rnd"               # another host, two days old
touch -d '2 days ago' "$T/repo/snapshots/.tmp.w.00000000.1.$rnd"
arca prune > /dev/null 2> "$T/err" || { cat "$T/err" >&2; fail "prune with leftover temporary files"; }
[ ! -e "$T/repo/index/.tmp.x.$tag.$dead.$rnd" ] || fail "prune left a dead writer's temporary file"
[ ! -e "$T/repo/snapshots/.tmp.w.00000000.1.$rnd" ] || fail "prune left a two-day-old temporary file"
[ -e "$T/repo/index/.tmp.y.$tag.$live.$rnd" ] || fail "prune removed a live writer's temporary file"
[ -e "$T/repo/snapshots/.tmp.z.00000000.1.$rnd" ] || fail "prune removed another host's recent temporary file"
kill $live; wait $live 2> /dev/null || true
arca unlock > /dev/null || fail "unlock"
[ ! -e "$T/repo/index/.tmp.y.$tag.$live.$rnd" ] || fail "unlock left a dead writer's temporary file"
[ -e "$T/repo/snapshots/.tmp.z.00000000.1.$rnd" ] || fail "unlock removed another host's recent temporary file"

step "unencrypted: prune and repair index keep a pack they write again"
# Sealing is deterministic without encryption: repacking a one-chunk pack
# (its header is most of it) writes the very same pack, which prune then
# deleted as repacked; a second repair index wrote the same index object
# and deleted it as an old one. Both left snapshots unreadable.
mkdir -p "$T/plainrepo" "$T/small"
cat >> "$ARCA_CONFIG" <<EOC

[destination plain]
driver = dir
path = $T/plainrepo
encryption = none

[target small]
driver = files
destinations = plain
path = $T/small
EOC
echo "one small file" > "$T/small/a"
ARCA_PASSPHRASE= arca init plain > /dev/null || fail "init plain"
ARCA_PASSPHRASE= arca snapshot small > /dev/null || fail "snapshot small"
plain_check() { # plain_check WHAT: restore byte for byte, verify every pack
	rm -rf "$T/small.out"
	ARCA_PASSPHRASE= arca restore small --into "$T/small.out" > /dev/null 2> "$T/err" ||
		{ cat "$T/err" >&2; fail "restore after $1"; }
	[ "$(tree_manifest "$T/small")" = "$(tree_manifest "$T/small.out")" ] ||
		fail "restore after $1 differs"
	ARCA_PASSPHRASE= arca verify small --read-data > /dev/null 2> "$T/err" ||
		{ cat "$T/err" >&2; fail "verify after $1"; }
}
ARCA_PASSPHRASE= arca prune plain --repack-threshold 0 > /dev/null || fail "prune plain"
plain_check "prune --repack-threshold 0"
for i in 1 2; do
	ARCA_PASSPHRASE= arca repair index plain > /dev/null || fail "repair index $i"
	plain_check "repair index $i"
done
ARCA_PASSPHRASE= arca prune plain --repack-threshold 0 > /dev/null || fail "prune plain again"
plain_check "repair index twice, then prune"

pass
