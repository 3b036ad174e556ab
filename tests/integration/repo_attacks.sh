#!/bin/sh
# Attacks by someone who can write the storage but has no key, performed on
# real `dir` repositories by editing their files, as such an attacker would.
# Each must fail safely: a clear error naming what was tampered with,
# nothing restored from forged data, bounded memory and time.
#  - splice: the item frames of one snapshot joined to another's summary
#    (another target's frames, or an older snapshot of the same target);
#  - forgery from chunks: files planted in the backed-up tree whose content
#    is a manifest frame and a summary, their sealed chunks cut out of the
#    packs and assembled into a snapshot object (encrypted and unencrypted);
#  - chunker parameters changed in config (too small in an unencrypted
#    repository; valid but different in an encrypted one, whose keys bind
#    the config);
#  - rollback: a snapshot deleted, or the whole repository put back to an
#    older copy, is named by list (warning) and verify (exit 7); a snapshot
#    removed by arca forget is not;
#  - hostile sizes (each command run under an address-space limit, its RSS
#    watched, and a timeout): an index entry and a chunk's zstd header
#    claiming 4 GiB, a pack header claiming a 4 GiB chunk, an index saying a
#    (sparse) pack has 5 GiB, a frame of 64 MiB of tiny JSON values, a 1.5 GB
#    config, key or lock object, a key asking for scrypt N = 2^30.
# Unencrypted repositories authenticate nothing (anyone can re-seal
# anything), so there the attacks that need a forged seal check bounds only.
# WAL segments swapped in the repository: pg_wal_swap.sh. The downgrade of
# an encrypted repository to "none": repo_keys.sh.
. "$ARCA_SRCDIR/tests/lib/common.sh"

write_engine_config
HOST=$(hostname)

# add_dest NAME [none]: a dir destination at $T/NAME, encrypted unless none.
add_dest() {
	mkdir -p "$T/$1"
	if [ "${2:-}" = none ]; then
		printf '\n[destination %s]\ndriver = dir\npath = %s\nencryption = none\n' "$1" "$T/$1"
	else
		printf '\n[destination %s]\ndriver = dir\npath = %s\npassphrase_env = ARCA_PASSPHRASE\n' \
			"$1" "$T/$1"
	fi >> "$ARCA_CONFIG"
	arca init "$1" > /dev/null || fail "init $1"
}
# add_target NAME DEST PATH [LINE...]: a files target backed up to DEST.
add_target() {
	at_name=$1 at_dest=$2 at_path=$3; shift 3
	mkdir -p "$at_path"
	{
		printf '\n[target %s]\ndriver = files\ndestinations = %s\npath = %s\n' \
			"$at_name" "$at_dest" "$at_path"
		for at_line in "$@"; do printf '%s\n' "$at_line"; done
	} >> "$ARCA_CONFIG"
}
# snap TARGET: snapshot, print the new snapshot's id
snap() {
	arca snapshot "$1" > "$T/snap.out" || { cat "$T/snap.out" >&2; fail "snapshot $1"; }
	awk '$1 == "snapshot" {print $2; exit}' "$T/snap.out"
}
# expect_out REGEX: the last expect_fail's stdout or stderr matches
expect_out() { cat "$T/out" "$T/err" | grep -Eq -- "$1" || { cat "$T/out" "$T/err" >&2; fail "output lacks /$1/"; }; }
# nothing_restored DIR: DIR is absent or empty
nothing_restored() {
	[ ! -e "$1" ] || [ -z "$(ls -A "$1")" ] || { ls -laR "$1" >&2; fail "$2: restore wrote files"; }
}

# Under ASan the address space cannot be limited (its shadow reserves
# terabytes); the peak RSS check still holds there.
ASAN=; grep -aq __asan_init "$ARCA" && ASAN=1
export ASAN
# bounded AS_KIB RSS_KIB SECS CMD...: run CMD with at most AS_KIB KiB of
# address space; exits as CMD, or 124 when it ran longer than SECS seconds
# or past RSS_KIB KiB of RSS (killed then), or 125 when its peak RSS
# exceeded RSS_KIB between two looks.
bounded() {
	python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time
as_kib, rss_kib, secs, cmd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
def limit():
    if not os.environ.get("ASAN"):
        resource.setrlimit(resource.RLIMIT_AS, (as_kib * 1024, as_kib * 1024))
def hwm(pid):   # peak RSS so far, KiB
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
what = " ".join(cmd[1:])
t0 = time.monotonic()
p = subprocess.Popen(cmd, preexec_fn=limit)
why = None
while p.poll() is None:   # watched, so a regression cannot eat the machine
    if hwm(p.pid) > rss_kib:
        why = "its RSS exceeded %d KiB" % rss_kib
    elif time.monotonic() - t0 > secs:
        why = "it did not finish in %d s" % secs
    if why:
        p.kill(); p.wait()
        print("bounded: %s killed: %s" % (what, why), file=sys.stderr)
        sys.exit(124)
    time.sleep(0.02)
rc = p.returncode
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("bounded: %s: exit %d in %.1f s, peak RSS %d KiB" % (what, rc, time.monotonic() - t0, rss),
      file=sys.stderr)
if rss > rss_kib:
    print("bounded: peak RSS %d KiB exceeds %d KiB" % (rss, rss_kib), file=sys.stderr)
    sys.exit(125)
sys.exit(rc if rc >= 0 else 128 - rc)
PY
}
# expect_bounded CODE AS_KIB RSS_KIB SECS CMD...: expect_fail CODE of a
# bounded CMD, showing its time and peak RSS
expect_bounded() {
	eb_code=$1; shift
	expect_fail "$eb_code" bounded "$@"
	grep '^bounded:' "$T/err" || true
}

# The attacker's tools: parse and build repository objects without a key.
cat > "$T/forge.py" <<'PY'
import hashlib, json, os, re, struct, subprocess, sys, tempfile, time

def le32(n): return struct.pack("<I", n)
def sha(b): return hashlib.sha256(b).hexdigest()
def read(p): return open(p, "rb").read()

def put(repo, prefix, data):
    """Store data under its content address; return its id."""
    name = sha(data)
    with open(os.path.join(repo, prefix, name), "wb") as f:
        f.write(data)
    return name

def split_snapshot(obj):
    """(item frames, summary frame with its length prefix) of a snapshot."""
    assert obj[-4:] == b"ASN1", "no snapshot trailer"
    s = struct.unpack("<I", obj[-8:-4])[0]
    start = len(obj) - 8 - s - 4
    return obj[:start], obj[start:-8]

def snapshot(frames, summary_sealed):
    return frames + le32(len(summary_sealed)) + summary_sealed + le32(len(summary_sealed)) + b"ASN1"

def pack_blobs(pack):
    """The sealed blobs of a pack, as one span: everything before the
    (sealed, unreadable without the key) header and the trailer."""
    assert pack[-4:] == b"ARP1", "no pack trailer"
    h = struct.unpack("<I", pack[-8:-4])[0]
    return pack[:len(pack) - 8 - h]

# Unencrypted repositories: sealed = flag || body || SHA-256(u32 len(aad) ||
# aad || flag || body)[:16], aad = "arca-aad2" || kind || repository id || context.
def repo_id(repo): return bytes.fromhex(json.load(open(os.path.join(repo, "config")))["id"])
def aad(repo, kind, ctx=b""): return b"arca-aad2" + kind + repo_id(repo) + ctx
def seal(a, body, flag=0):
    fb = bytes([flag]) + body
    return fb + hashlib.sha256(le32(len(a)) + a + fb).digest()[:16]
def unseal(sealed):
    flag, body = sealed[0], sealed[1:-16]
    if flag == 1:
        body = subprocess.run(["zstd", "-dqc"], input=body, stdout=subprocess.PIPE, check=True).stdout
    return body
def zstd(data):
    with tempfile.NamedTemporaryFile() as f:   # from a file: the frame states its size
        f.write(data); f.flush()
        return subprocess.run(["zstd", "-qc", "-19", f.name], stdout=subprocess.PIPE, check=True).stdout

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "splice":           # REPO FRAMES_FROM SUMMARY_FROM: print the new id
    repo, f, s = a
    frames, _ = split_snapshot(read(os.path.join(repo, "snapshots", f)))
    _, summ = split_snapshot(read(os.path.join(repo, "snapshots", s)))
    print(put(repo, "snapshots", frames + summ + le32(len(summ) - 4) + b"ASN1"))
elif cmd == "pack-blobs":     # PACK OUT: the sealed blobs of a pack
    open(a[1], "wb").write(pack_blobs(read(a[0])))
elif cmd == "frame-json":     # planted file 1: a frame restoring a symlink to
    # /etc/shadow and a setuid root file
    items = [{"name": "shadow", "type": "symlink", "link": "/etc/shadow", "mtime": 0,
              "size": 0, "chunks": ""},
             {"name": "suid", "type": "file", "mode": 0o4755, "mtime": 0, "size": 0,
              "chunks": ""}]
    sys.stdout.write(json.dumps({"seq": 0, "items": items}, separators=(",", ":")))
elif cmd == "summary-json":   # TARGET HOST FRAME_SPAN: planted file 2, a summary
    # whose frames_sha256 is right for the frame span cut from a pack
    frame = read(a[2])
    frames = le32(len(frame)) + frame
    sys.stdout.write(json.dumps({"version": 2, "target": a[0], "driver": "files", "host": a[1],
                                "time": int(time.time()) + 3600, "time_nsec": 0, "items": 2,
                                "bytes": 0, "new_bytes": 0, "frames": 1,
                                "frames_sha256": sha(frames)}, separators=(",", ":")))
elif cmd == "assemble-any":   # REPO: a snapshot of every pair (frame, summary)
    # among the packs' blob spans, their header spans and the index objects
    repo = a[0]
    spans = []
    for top, _, files in os.walk(os.path.join(repo, "packs")):
        for f in sorted(files):
            p = read(os.path.join(top, f))
            h = struct.unpack("<I", p[-8:-4])[0]
            spans += [pack_blobs(p), p[len(p) - 8 - h:-8]]
    for f in sorted(os.listdir(os.path.join(repo, "index"))):
        spans.append(read(os.path.join(repo, "index", f)))
    for frame in spans:
        for summ in spans:
            print(put(repo, "snapshots", snapshot(le32(len(frame)) + frame, summ)))
elif cmd == "assemble":       # REPO FRAME_SPAN SUMMARY_SPAN: print the new id
    frame, summ = read(a[1]), read(a[2])
    print(put(a[0], "snapshots", snapshot(le32(len(frame)) + frame, summ)))
elif cmd == "chunk-bloat":    # REPO: the first chunk of the (only) index
    # object's first pack becomes a zstd frame declaring 4 GiB of content,
    # and the index entry claims a raw length of 4 GiB; pack and index
    # re-sealed and renamed (unencrypted only); print the new index name
    repo = a[0]
    (iname,) = os.listdir(os.path.join(repo, "index"))
    p = bytearray(unseal(read(os.path.join(repo, "index", iname))))
    assert p[:4] == b"AIX1" and struct.unpack("<I", p[4:8])[0] >= 1
    pid = p[8:40].hex()
    e = 8 + 32 + 12                          # pack 0, entry 0
    assert struct.unpack("<I", p[40 + 8:40 + 12])[0] >= 1
    cid, (off, ln) = bytes(p[e:e + 32]), struct.unpack("<QI", p[e + 32:e + 44])
    ppath = os.path.join(repo, "packs", pid[:2], pid)
    pack = bytearray(read(ppath))
    # zstd frame: magic, single segment with a 4-byte content size, one raw
    # block filling the chunk's sealed length exactly
    n = ln - 17 - 12
    frame = (struct.pack("<IB", 0xFD2FB528, 0xA0) + le32(0xFFFFFFFF) +
             struct.pack("<I", (n << 3) | 1)[:3] + b"\0" * n)
    pack[off:off + ln] = seal(aad(repo, b"c", cid), frame, flag=1)
    os.remove(ppath)
    newp = sha(bytes(pack))
    os.makedirs(os.path.join(repo, "packs", newp[:2]), exist_ok=True)
    open(os.path.join(repo, "packs", newp[:2], newp), "wb").write(pack)
    p[8:40] = bytes.fromhex(newp)
    p[e + 44:e + 48] = le32(0xFFFFFFFF)
    os.remove(os.path.join(repo, "index", iname))
    print(put(repo, "index", seal(aad(repo, b"i"), bytes(p))))
elif cmd == "header-bloat":   # REPO: the (only) pack's header says its first
    # chunk is 4 GiB; re-sealed and renamed (unencrypted only); print its name
    repo = a[0]
    (top, _, (pname,)), = [w for w in os.walk(os.path.join(repo, "packs")) if w[2]]
    pack = read(os.path.join(top, pname))
    h = struct.unpack("<I", pack[-8:-4])[0]
    body = bytearray(unseal(pack[len(pack) - 8 - h:-8]))
    assert body[:4] == b"APH1" and struct.unpack("<I", body[4:8])[0] >= 1
    body[8 + 32 + 12:8 + 32 + 16] = le32(0xFFFFFFFF)
    head = seal(aad(repo, b"h"), bytes(body))
    pack = pack_blobs(pack) + head + le32(len(head)) + b"ARP1"
    os.remove(os.path.join(top, pname))
    name = sha(pack)
    os.makedirs(os.path.join(repo, "packs", name[:2]), exist_ok=True)
    open(os.path.join(repo, "packs", name[:2], name), "wb").write(pack)
    print("packs/%s/%s" % (name[:2], name))
elif cmd == "pack-size":      # REPO SIZE: the (only) index object says its
    # first pack has SIZE bytes, and the pack file is made that large (sparse);
    # re-sealed and renamed (unencrypted only); print the new index name
    repo, size = a[0], int(a[1])
    (iname,) = os.listdir(os.path.join(repo, "index"))
    p = bytearray(unseal(read(os.path.join(repo, "index", iname))))
    pid = p[8:40].hex()
    p[40:48] = struct.pack("<Q", size)
    os.truncate(os.path.join(repo, "packs", pid[:2], pid), size)
    os.remove(os.path.join(repo, "index", iname))
    print(put(repo, "index", seal(aad(repo, b"i"), bytes(p))))
elif cmd == "big-frame":      # REPO TARGET HOST MIB: a snapshot of TARGET
    # whose only frame is MIB MiB of {} values, sealed (zstd) and summarised
    # correctly (unencrypted only); print its id
    repo, target, host, mib = a[0], a[1], a[2], int(a[3])
    head, tail = b'{"seq":0,"items":[', b"{}]}"
    n = (mib * 1024 * 1024 - len(head) - len(tail)) // 3
    text = head + b"{}," * n + tail
    frame = seal(aad(repo, b"f", le32(0) + target.encode()), zstd(text), flag=1)
    frames = le32(len(frame)) + frame
    summ = json.dumps({"version": 2, "target": target, "driver": "files", "host": host,
                       "time": int(time.time()), "time_nsec": 0, "items": n + 1, "bytes": 0,
                       "new_bytes": 0, "frames": 1, "frames_sha256": sha(frames)}).encode()
    print(put(repo, "snapshots", snapshot(frames, seal(aad(repo, b"s"), summ))))
elif cmd == "chunker":        # CONFIG MIN AVG MAX: change only those numbers
    p = a[0]
    text = read(p).decode()
    for key, v in zip(("min", "avg", "max"), a[1:]):
        text, k = re.subn(r'"%s": \d+' % key, '"%s": %s' % (key, v), text)
        assert k == 1, key
    open(p, "w").write(text)
elif cmd == "scrypt-n":       # KEY N: the key object asks for scrypt N
    doc = json.load(open(a[0]))
    assert doc["kdf"]["algorithm"] == "scrypt"
    doc["kdf"]["n"] = int(a[1])
    open(a[0], "w").write(json.dumps(doc, indent=1, sort_keys=True))
else:
    sys.exit("forge.py: unknown command " + cmd)
PY
forge() { python3 "$T/forge.py" "$@"; }

# ---------------------------------------------------------------------------
step "splice: target u's item frames joined to target t's summary"
add_dest enc
add_target t enc "$T/src-t"
add_target u enc "$T/src-u"
echo "t's data" > "$T/src-t/a"
echo "u's data, which must never be restored as t" > "$T/src-u/b"
ln -s /etc/passwd "$T/src-u/link"
T1=$(snap t)
U1=$(snap u)
arca verify --read-data t u > /dev/null || fail "verify before the splice"
SPLICE=$(forge splice "$T/enc" "$U1" "$T1")
expect_fail 7 "$ARCA" verify --read-data t u
expect_out "DAMAGED.*snapshot $SPLICE.*(spliced or tampered with)"
expect_fail 7 "$ARCA" restore t --snapshot "$SPLICE" --into "$T/out-splice"
expect_stderr "snapshot $SPLICE is corrupt: its item frames are not the ones its summary was written with"
nothing_restored "$T/out-splice" "splice"

step "splice: an older snapshot's frames joined to t's newer summary"
echo "t's newer data" > "$T/src-t/a"
T2=$(snap t)
OLD=$(forge splice "$T/enc" "$T1" "$T2")
expect_fail 7 "$ARCA" restore t --snapshot "$OLD" --into "$T/out-old"
expect_stderr "snapshot $OLD is corrupt: .*(spliced or tampered with)"
nothing_restored "$T/out-old" "splice of an older snapshot"
# The genuine snapshots still restore.
arca restore t --snapshot "$T2" --into "$T/out-t2" > /dev/null || fail "restore of t after the splices"
cmp -s "$T/src-t/a" "$T/out-t2/a" || fail "t's snapshot restores wrong data"

# ---------------------------------------------------------------------------
# forge_from_chunks DEST TARGET: plant a frame and a summary as files, cut
# their sealed chunks out of the packs the snapshots wrote (each run adds
# one pack holding only the new chunk), assemble them into a snapshot.
forge_from_chunks() {
	dest=$1 tgt=$2 src=$T/src-$2
	add_target "$tgt" "$dest" "$src"
	echo "genuine" > "$src/genuine"
	snap "$tgt" > /dev/null
	for part in frame summary; do
		if [ $part = frame ]; then
			forge frame-json > "$src/frame.json"
		else
			forge summary-json "$tgt" "$HOST" "$T/frame.span" > "$src/summary.json"
		fi
		find "$T/$dest/packs" -type f | sort > "$T/packs.before"
		snap "$tgt" > /dev/null
		new=$(find "$T/$dest/packs" -type f | sort | comm -13 "$T/packs.before" -)
		[ "$(echo "$new" | wc -w)" -eq 1 ] || fail "expected one new pack, got: $new"
		forge pack-blobs "$new" "$T/$part.span"
	done
	# A pack's blobs are sealed chunks; no key is needed to cut them out.
	# The summary even carries the right frames_sha256: only the binding of
	# every sealed blob to its kind stops a chunk posing as a frame.
	FORGED=$(forge assemble "$T/$dest" "$T/frame.span" "$T/summary.span")
	expect_fail 0 "$ARCA" list "$tgt"
	expect_stderr "summary of snapshot $FORGED is corrupt: .*(tampered with|moved from another object)"
	grep -q "$(echo "$FORGED" | cut -c1-12)" "$T/out" && fail "the forged snapshot is listed"
	expect_fail 7 "$ARCA" verify --read-data "$tgt"
	expect_out "DAMAGED destination $dest: snapshot $FORGED: .*summary of snapshot $FORGED is corrupt"
	expect_fail 8 "$ARCA" restore "$tgt" --snapshot "$FORGED" --into "$T/out-$tgt"
	expect_stderr "$FORGED is corrupt"
	[ ! -L "$T/out-$tgt/shadow" ] && [ ! -e "$T/out-$tgt/suid" ] ||
		fail "the forged snapshot was restored"
	nothing_restored "$T/out-$tgt" "forged snapshot"
	# Its summary says it is the latest: a plain restore takes the genuine one.
	arca restore "$tgt" --into "$T/latest-$tgt" > /dev/null 2>&1 || fail "restore of $tgt"
	cmp -s "$src/summary.json" "$T/latest-$tgt/summary.json" || fail "restore of $tgt: wrong snapshot"
	[ ! -L "$T/latest-$tgt/shadow" ] && [ ! -e "$T/latest-$tgt/suid" ] ||
		fail "the forged snapshot was restored as the latest"
	rm -f "$T/$dest/snapshots/$FORGED"

	# Any pack span (blobs or header) or index object as frame or summary.
	forge assemble-any "$T/$dest" > "$T/assembled"
	[ "$(wc -l < "$T/assembled")" -ge 36 ] || fail "only $(wc -l < "$T/assembled") assemblies"
	expect_fail 0 "$ARCA" list "$tgt"
	for id in $(cat "$T/assembled"); do
		grep -q "snapshot $id is corrupt" "$T/err" || { cat "$T/err" >&2; fail "$id: no warning"; }
		grep -q "$(echo "$id" | cut -c1-12)" "$T/out" && fail "assembled snapshot $id is listed"
	done
	expect_fail 7 "$ARCA" verify "$tgt"
	for id in $(cat "$T/assembled"); do
		grep -q "snapshot $id: .*corrupt" "$T/out" || { cat "$T/out" >&2; fail "$id: not named by verify"; }
	done
}

step "forgery from chunks: encrypted repository"
add_dest fenc
forge_from_chunks fenc fe
step "forgery from chunks: unencrypted repository"
add_dest fplain none
forge_from_chunks fplain fp

# ---------------------------------------------------------------------------
step "chunker parameters: too small in an unencrypted repository"
add_dest cplain none
add_target cp cplain "$T/src-cp"
head -c 100000 /dev/urandom > "$T/src-cp/data"
snap cp > /dev/null
chmod u+w "$T/cplain/config"
forge chunker "$T/cplain/config" 64 256 257
packs=$(find "$T/cplain/packs" -type f | wc -l)
echo more >> "$T/src-cp/data"
expect_fail 7 "$ARCA" snapshot cp
expect_stderr "destination cplain: object config has invalid chunker parameters \(min 64, avg 256, max 257"
[ "$(find "$T/cplain/packs" -type f | wc -l)" -eq "$packs" ] || fail "a snapshot was written with tiny chunks"
expect_fail 7 "$ARCA" list cp
expect_stderr "invalid chunker parameters"

step "chunker parameters: valid but changed in an encrypted repository"
add_dest cenc
add_target ce cenc "$T/src-ce"
head -c 100000 /dev/urandom > "$T/src-ce/data"
snap ce > /dev/null
chmod u+w "$T/cenc/config"
forge chunker "$T/cenc/config" 131072 524288 2097152
expect_fail 7 "$ARCA" snapshot ce
expect_stderr "destination cenc: the repository's config object changed since this host first used it.*tampered with"
# Without this host's pin (a new host), the key's binding refuses it.
rm -rf "$T/state/pins"
expect_fail 7 "$ARCA" snapshot ce
expect_stderr "destination cenc: object config is not the one key keys/[0-9a-f]+ was made with: its encryption, chunker or id was altered"
expect_fail 7 "$ARCA" restore ce --into "$T/out-ce"
expect_stderr "chunker or id was altered"
nothing_restored "$T/out-ce" "changed chunker"

# ---------------------------------------------------------------------------
step "rollback: a snapshot deleted from the storage"
add_dest rb
add_target r1 rb "$T/src-r1"
echo one > "$T/src-r1/a"
R1=$(snap r1)
rm "$T/rb/snapshots/$R1"
expect_fail 0 "$ARCA" list r1
expect_stderr "warning: snapshot $(echo "$R1" | cut -c1-12) of target r1 .* disappeared from destination rb without arca forget"
expect_fail 7 "$ARCA" verify --read-data r1
expect_out "DAMAGED destination rb: snapshot $(echo "$R1" | cut -c1-12) of target r1 .* disappeared"

step "rollback: the repository put back to an older copy"
add_target r2 rb "$T/src-r2"
echo old > "$T/src-r2/a"
snap r2 > /dev/null
cp -a "$T/rb" "$T/rb.old"
echo new > "$T/src-r2/a"
R2=$(snap r2)
rm -rf "$T/rb" && mv "$T/rb.old" "$T/rb"
expect_fail 0 "$ARCA" list r2
expect_stderr "snapshot $(echo "$R2" | cut -c1-12) of target r2 .* disappeared"
expect_fail 7 "$ARCA" verify r2
expect_out "snapshot $(echo "$R2" | cut -c1-12) of target r2 .* disappeared"

step "arca forget is not a rollback"
add_dest rbok
add_target r3 rbok "$T/src-r3" "retention = last=1"
echo one > "$T/src-r3/a"
R3=$(snap r3)
echo two > "$T/src-r3/a"
snap r3 > /dev/null
arca forget r3 > "$T/forget.out" || { cat "$T/forget.out" >&2; fail "forget"; }
grep -q "^forget $(echo "$R3" | cut -c1-12)" "$T/forget.out" || { cat "$T/forget.out" >&2; fail "forget kept $R3"; }
[ ! -e "$T/rbok/snapshots/$R3" ] || fail "forget did not remove $R3"
expect_fail 0 "$ARCA" list r3
grep -q disappeared "$T/err" && { cat "$T/err" >&2; fail "list warns of a forgotten snapshot"; }
arca verify --read-data r3 > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "verify complains after arca forget"; }

# ---------------------------------------------------------------------------
step "hostile sizes: an index entry claiming a 4 GiB chunk"
add_dest hplain none
add_target h hplain "$T/src-h"
head -c 300000 /dev/urandom > "$T/src-h/data"
snap h > /dev/null
IDX=$(forge chunk-bloat "$T/hplain")
expect_bounded 7 2000000 200000 60 "$ARCA" restore h --into "$T/out-h"
expect_stderr "index/$IDX is corrupt: an entry claims a chunk of 4294967295 bytes"
expect_stderr "is not in the index of destination hplain"
[ ! -e "$T/out-h/data" ] || fail "restore wrote data through a bloated index entry"
expect_bounded 7 2000000 200000 60 "$ARCA" verify --read-data h
expect_out "DAMAGED destination hplain: index/$IDX is corrupt: an entry claims a chunk of 4294967295 bytes"
# The index rebuilt from the pack headers, the chunk itself still declares
# 4 GiB in its zstd frame header.
arca repair index hplain > /dev/null 2>&1 || fail "repair index"
[ ! -e "$T/hplain/index/$IDX" ] || fail "repair index kept the bloated index"
expect_bounded 7 2000000 200000 60 "$ARCA" restore h --into "$T/out-h2"
expect_stderr "destination hplain: chunk [0-9a-f]+ in pack packs/[0-9a-f/]+ is corrupt: bad zstd frame header"
expect_bounded 7 2000000 200000 60 "$ARCA" verify --read-data h
expect_out "DAMAGED destination hplain: chunk [0-9a-f]+ at offset [0-9]+ of pack packs/[0-9a-f/]+ is corrupt: bad zstd frame header"
# And the pack's own header claims 4 GiB for that chunk.
PACK=$(forge header-bloat "$T/hplain")
expect_bounded 7 2000000 200000 60 "$ARCA" repair index hplain
expect_stderr "header of pack $PACK is corrupt: entry 0 claims a chunk of 4294967295 bytes; chunks are at most 4194304"

step "hostile sizes: an index saying a (sparse) pack has 5 GiB"
add_dest pplain none
add_target pk pplain "$T/src-pk"
echo pk > "$T/src-pk/a"
snap pk > /dev/null
IDX=$(forge pack-size "$T/pplain" 5368709120)
expect_bounded 7 2000000 200000 60 "$ARCA" verify --read-data pk
expect_out "DAMAGED destination pplain: index/$IDX is corrupt: pack [0-9a-f]+ is 5368709120 bytes"

step "hostile sizes: a frame of 64 MiB of tiny JSON values"
add_dest bplain none
add_target b bplain "$T/src-b"
echo b > "$T/src-b/a"
snap b > /dev/null
BIG=$(forge big-frame "$T/bplain" b "$HOST" 64)
expect_bounded 7 2000000 300000 60 "$ARCA" verify b
expect_out "DAMAGED destination bplain: snapshot $BIG .*frame 0 of snapshot $BIG is corrupt: more than 262144 JSON values"
expect_bounded 7 2000000 300000 60 "$ARCA" restore b --snapshot "$BIG" --into "$T/out-b"
expect_stderr "frame 0 of snapshot $BIG is corrupt: more than 262144 JSON values"

step "hostile sizes: a 1.5 GB config"
add_dest splain none
add_target s splain "$T/src-s"
chmod u+w "$T/splain/config"
truncate -s 1500M "$T/splain/config"
expect_bounded 7 1000000 200000 30 "$ARCA" list s
expect_stderr "destination splain: object config is 1572864000 bytes, more than the 65536"

step "hostile sizes: a 1.5 GB key object"
add_dest kenc
add_target k kenc "$T/src-k"
KEY=$(ls "$T/kenc/keys")
chmod u+w "$T/kenc/keys/$KEY"
cp "$T/kenc/keys/$KEY" "$T/key.orig"
truncate -s 1500M "$T/kenc/keys/$KEY"
expect_bounded 5 1000000 200000 30 "$ARCA" list k
expect_stderr "object keys/$KEY is 1572864000 bytes, more than the 65536 .* \(skipped\)"

step "hostile sizes: a key asking for scrypt N = 2^30"
cp "$T/key.orig" "$T/kenc/keys/$KEY"
forge scrypt-n "$T/kenc/keys/$KEY" 1073741824
expect_bounded 5 1000000 200000 30 "$ARCA" list k
expect_stderr "key keys/$KEY asks for scrypt parameters outside arca's bounds \(N=1073741824"
cp "$T/key.orig" "$T/kenc/keys/$KEY"
arca list k > /dev/null || fail "the repaired key does not open"

step "hostile sizes: a 1.5 GB lock object"
LOCK=locks/$(printf '%064d' 0)
mkdir -p "$T/kenc/locks" && truncate -s 1500M "$T/kenc/$LOCK"
expect_bounded 13 1000000 200000 30 "$ARCA" verify k
expect_stderr "$LOCK, which is not a valid lock \(it is 1572864000 bytes, more than a lock.s 4096\)"
expect_stderr "destination kenc is locked by $LOCK"
arca unlock kenc > /dev/null || fail "arca unlock does not remove the oversized lock"
[ ! -e "$T/kenc/$LOCK" ] || fail "arca unlock left the oversized lock"
arca verify k > /dev/null 2>&1 || fail "verify after the lock was removed"

pass
