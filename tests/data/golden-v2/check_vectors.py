#!/usr/bin/env python3
"""check_vectors.py DIR -- check the golden data in DIR against a second,
independent implementation of repository format 2 (this file: hashlib,
hmac, the `cryptography` package and the zstd command), so the vectors
document the format, not merely what the C code happened to do.

  chunks.txt   FastCDC boundaries and chunk ids recomputed from scratch
  sealed.txt   every AAD rebuilt from its parts, every blob opened, and
               each plaintext's layout checked (pack header, index, frames,
               summary frames_sha256, key payload)
  repo/        the golden repository read completely: key object (HKDF),
               config binding, index objects, pack headers, every chunk,
               the snapshot (trailer, summary, frames_sha256, frames) and
               the named blob; the restored files compared with make_tree.py

make.sh runs it; the test suite does not (it uses the C code under test).
"""
import hashlib
import hmac
import json
import os
import struct
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tree  # noqa: E402  (FILES, SYMLINKS, ... of the golden tree)

M64 = (1 << 64) - 1


def fail(msg):
    sys.exit("check_vectors: FAIL: " + msg)


def stream(label, n):
    return make_tree.stream(label, n)


# ---- chunking ----

def gear_table(seed):
    g = []
    for i in range(256):
        msg = b"arca-gear-v1" + bytes([i])
        h = hmac.new(seed, msg, hashlib.sha256).digest() if seed else hashlib.sha256(msg).digest()
        g.append(int.from_bytes(h[:8], "little"))
    return g


def fastcdc(data, seed, mn=256 << 10, avg=1 << 20, mx=4 << 20):
    bits = avg.bit_length() - 1
    small = (M64 << (64 - (bits + 2))) & M64
    large = (M64 << (64 - (bits - 2))) & M64
    gear = gear_table(seed)
    cuts, start, n = [], 0, len(data)
    while start < n:
        pos, fp, i, end = mn, 0, start + mn, None
        while i < n and pos < avg:
            fp = ((fp << 1) + gear[data[i]]) & M64
            i += 1
            pos += 1
            if not fp & small:
                end = i
                break
        if end is None:
            while i < n:
                fp = ((fp << 1) + gear[data[i]]) & M64
                i += 1
                pos += 1
                if not fp & large or pos >= mx:
                    end = i
                    break
        if end is None:
            end = n
        cuts.append((start, min(end, n) - start))
        start = min(end, n)
    return cuts


def check_chunks(path):
    kv, chunks = {}, {"keyed": [], "plain": []}
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "chunk":
            chunks[f[1]].append((int(f[2]), int(f[3]), f[4]))
        else:
            kv[f[0]] = " ".join(f[1:])
    data = stream(kv["input_label"].encode(), int(kv["input_random"])) + \
        bytes(int(kv["input_zeros"]))
    if hashlib.sha256(data).hexdigest() != kv["input_sha256"]:
        fail("chunks.txt: input_sha256 does not match the input")
    seed, mac = bytes.fromhex(kv["chunker_key"]), bytes.fromhex(kv["mac_key"])
    for mode, key in (("keyed", seed), ("plain", None)):
        got = [(o, n, (hmac.new(mac, data[o:o + n], hashlib.sha256) if key else
                       hashlib.sha256(data[o:o + n])).hexdigest())
               for o, n in fastcdc(data, key)]
        if got != chunks[mode]:
            fail("chunks.txt: %s boundaries or ids differ from FastCDC" % mode)
        if len(got) < 6:
            fail("chunks.txt: too few %s chunks to mean anything" % mode)
    print("chunks.txt: %d keyed and %d plain chunks agree" %
          (len(chunks["keyed"]), len(chunks["plain"])))


# ---- sealed blobs ----

def zstd_decompress(z):
    return subprocess.run(["zstd", "-d", "-c", "-q"], input=z, stdout=subprocess.PIPE,
                          check=True).stdout


def hkdf32(ikm, salt, info):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def aad_of(kind, repo_id, ctx):
    return b"arca-aad2" + kind + repo_id + ctx


def open_blob(key, aad, sealed):
    """key None: unencrypted (SHA-256 check value). Returns plaintext."""
    if key is None:
        flag, body, check = sealed[0], sealed[1:-16], sealed[-16:]
        want = hashlib.sha256(struct.pack("<I", len(aad)) + aad + sealed[:-16]).digest()[:16]
        if want != check:
            raise ValueError("check value")
    else:
        fb = AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)
        flag, body = fb[0], fb[1:]
    if flag == 0:
        return body
    if flag == 1:
        return zstd_decompress(body)
    raise ValueError("flag %d" % flag)


def chunk_id(mac, data):
    return hmac.new(mac, data, hashlib.sha256).digest() if mac else hashlib.sha256(data).digest()


def parse_entries(b, at, n):
    out = []
    for i in range(n):
        q = b[at + 48 * i: at + 48 * (i + 1)]
        out.append((q[:32], *struct.unpack("<QII", q[32:])))
    return out


def check_sealed(path):
    kv, vecs = {}, []
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "vector":
            h = [b"" if x == "-" else bytes.fromhex(x) for x in f[5:9]]
            vecs.append(dict(label=f[1], kind=f[2].encode(), mode=f[3], flag=f[4], ctx=h[0],
                             aad=h[1], plain=h[2], sealed=h[3]))
        else:
            kv[f[0]] = " ".join(f[1:])
    rid = bytes.fromhex(kv["repo_id"])
    enc, mac = bytes.fromhex(kv["enc_key"]), bytes.fromhex(kv["mac_key"])
    secret = kv["secret"]
    kek = hkdf32(bytes.fromhex(secret[len("arca-key1-"):]), bytes.fromhex(kv["kek_salt"]),
                 kv["kek_info"].encode())
    if kek.hex() != kv["kek"]:
        fail("sealed.txt: kek is not HKDF-SHA-256 of the secret")
    keys = {"enc": enc, "plain": None, "kek": kek}
    kinds = set()
    frames = {"enc": b"", "plain": b""}
    for v in vecs:
        if v["aad"] != aad_of(v["kind"], rid, v["ctx"]):
            fail("sealed.txt: %s: AAD is not magic || kind || id || context" % v["label"])
        try:
            plain = open_blob(keys[v["mode"]], v["aad"], v["sealed"])
        except Exception as e:  # noqa: BLE001
            fail("sealed.txt: %s does not open: %s" % (v["label"], e))
        if plain != v["plain"]:
            fail("sealed.txt: %s opens to other bytes" % v["label"])
        for w in vecs:   # bound to its kind, repository and context
            if w["aad"] != v["aad"] and w["mode"] == v["mode"]:
                try:
                    open_blob(keys[v["mode"]], w["aad"], v["sealed"])
                except Exception:  # noqa: BLE001  (refused: as it must be)
                    continue
                fail("sealed.txt: %s opens under the AAD of %s" % (v["label"], w["label"]))
        kinds.add(v["kind"])
        m = mac if v["mode"] == "enc" else None
        k, p = v["kind"], v["plain"]
        if k == b"c" and chunk_id(m, p) != v["ctx"]:
            fail("sealed.txt: %s: context is not the chunk id" % v["label"])
        if k == b"h":
            assert p[:4] == b"APH1" and len(p) == 8 + 48 * struct.unpack("<I", p[4:8])[0]
        if k == b"i":
            assert p[:4] == b"AIX1" and struct.unpack("<I", p[4:8])[0] == 1
            n = struct.unpack("<I", p[48:52])[0]
            assert len(p) == 52 + 48 * n
        if k == b"f":
            seq = struct.unpack("<I", v["ctx"][:4])[0]
            doc = json.loads(p)
            assert doc["seq"] == seq and v["ctx"][4:] == b"golden"
            assert len(doc["items"][0]["chunks"]) == 128
            frames[v["mode"]] += struct.pack("<I", len(v["sealed"])) + v["sealed"]
        if k == b"s":
            doc = json.loads(p)
            if doc["frames_sha256"] != hashlib.sha256(frames[v["mode"]]).hexdigest():
                fail("sealed.txt: %s: frames_sha256 is not over the frames" % v["label"])
        if k == b"b" and not v["ctx"].startswith(b"blobs/"):
            fail("sealed.txt: %s: context is not an object name" % v["label"])
        if k == b"k":
            doc = json.loads(p)
            assert doc["version"] == 2 and doc["encrypt"] == enc.hex() and \
                doc["mac"] == mac.hex() and doc["repository"] == rid.hex()
    if kinds != set(b"kchifsb"[i:i + 1] for i in range(7)):
        fail("sealed.txt: not every kind has a vector")
    print("sealed.txt: %d vectors open, each only under its own AAD" % len(vecs))


# ---- the repository ----

def read(repo, name):
    with open(os.path.join(repo, name), "rb") as f:
        return f.read()


def ls(repo, d):
    out = []
    for top, _, files in os.walk(os.path.join(repo, d)):
        out += [os.path.relpath(os.path.join(top, f), repo) for f in files]
    return sorted(out)


def name_encode(s):
    out = ""
    for i, c in enumerate(s.encode()):
        ch = chr(c)
        if ("a" <= ch <= "z") or ("0" <= ch <= "9") or ch == "-" or (ch == "." and i):
            out += ch
        else:
            out += "_%02x" % c
    return out


def check_repo(d):
    repo = os.path.join(d, "repo")
    secret = open(os.path.join(d, "key")).read().strip()
    cfg_bytes = read(repo, "config")
    cfg = json.loads(cfg_bytes)
    assert cfg["version"] == 2 and cfg["encryption"] == "aes-256-gcm"
    rid = bytes.fromhex(cfg["id"])
    keys = ls(repo, "keys")
    assert len(keys) == 1
    kraw = read(repo, keys[0])
    if hashlib.sha256(kraw).hexdigest() != os.path.basename(keys[0]):
        fail("repo: the key object is not named by its hash")
    kdoc = json.loads(kraw)
    assert kdoc["version"] == 2 and kdoc["kdf"]["algorithm"] == "hkdf-sha256"
    kek = hkdf32(bytes.fromhex(secret[len("arca-key1-"):]), bytes.fromhex(kdoc["kdf"]["salt"]),
                 b"arca key object v1")
    payload = json.loads(open_blob(kek, aad_of(b"k", rid, b""), bytes.fromhex(kdoc["data"])))
    if payload["config"] != hashlib.sha256(cfg_bytes).hexdigest() or \
            payload["repository"] != cfg["id"] or payload["version"] != 2:
        fail("repo: the key payload does not bind the config")
    enc, mac = bytes.fromhex(payload["encrypt"]), bytes.fromhex(payload["mac"])

    def sealed_object(name, kind):
        raw = read(repo, name)
        if hashlib.sha256(raw).hexdigest() != os.path.basename(name):
            fail("repo: %s is not named by its hash" % name)
        return open_blob(enc, aad_of(kind, rid, b""), raw)

    index = {}
    for name in ls(repo, "index"):
        p = sealed_object(name, b"i")
        assert p[:4] == b"AIX1"
        at = 8
        for _ in range(struct.unpack("<I", p[4:8])[0]):
            pid, size, n = p[at:at + 32], *struct.unpack("<QI", p[at + 32:at + 44])
            at += 44
            for cid, off, ln, rl in parse_entries(p, at, n):
                index[cid] = (pid, size, off, ln, rl)
            at += 48 * n
        assert at == len(p)
    chunks = {}
    packs = ls(repo, "packs")
    for name in packs:
        raw = read(repo, name)
        pid = os.path.basename(name)
        assert hashlib.sha256(raw).hexdigest() == pid and name == "packs/%s/%s" % (pid[:2], pid)
        hlen, magic = struct.unpack("<I4s", raw[-8:])
        assert magic == b"ARP1"
        h = open_blob(enc, aad_of(b"h", rid, b""), raw[-8 - hlen:-8])
        assert h[:4] == b"APH1"
        for cid, off, ln, rl in parse_entries(h, 8, struct.unpack("<I", h[4:8])[0]):
            if index[cid] != (bytes.fromhex(pid), len(raw), off, ln, rl):
                fail("repo: index and pack header disagree")
            data = open_blob(enc, aad_of(b"c", rid, cid), raw[off:off + ln])
            assert len(data) == rl and chunk_id(mac, data) == cid
            chunks[cid] = data
    if set(chunks) != set(index):
        fail("repo: index and packs list different chunks")
    snaps = ls(repo, "snapshots")
    assert len(snaps) == 1
    obj = read(repo, snaps[0])
    assert hashlib.sha256(obj).hexdigest() == os.path.basename(snaps[0])
    sl, magic = struct.unpack("<I4s", obj[-8:])
    assert magic == b"ASN1" and struct.unpack("<I", obj[-12 - sl:-8 - sl])[0] == sl
    summary = json.loads(open_blob(enc, aad_of(b"s", rid, b""), obj[-8 - sl:-8]))
    end = len(obj) - 12 - sl
    if summary["frames_sha256"] != hashlib.sha256(obj[:end]).hexdigest():
        fail("repo: frames_sha256")
    target = summary["target"].encode()
    items, at = {}, 0
    for seq in range(summary["frames"]):
        fl = struct.unpack("<I", obj[at:at + 4])[0]
        f = json.loads(open_blob(enc, aad_of(b"f", rid, struct.pack("<I", seq) + target),
                                 obj[at + 4:at + 4 + fl]))
        assert f["seq"] == seq
        for it in f["items"]:
            name = it.get("name")
            name = name.encode() if name is not None else bytes.fromhex(it["name_hex"])
            items[name] = it
        at += 4 + fl
    assert at == end
    for path, data, mode, mtime in make_tree.FILES:
        it = items[path]
        ids = it["chunks"]
        got = b"".join(chunks[bytes.fromhex(ids[i:i + 64])] for i in range(0, len(ids), 64))
        if got != data or it["mode"] != mode or \
                it["mtime"] * 10**9 + it.get("mtime_nsec", 0) != mtime:
            fail("repo: item %r differs from make_tree.py" % path)
    for path, target_, _ in make_tree.SYMLINKS:
        assert items[path]["type"] == "symlink" and items[path]["link"].encode() == target_
    blobs = ls(repo, "blobs")
    assert len(blobs) == 1
    want = "blobs/%s/%s" % (name_encode("golden"), name_encode("00000001000000000000000A"))
    assert blobs[0] == want
    if open_blob(enc, aad_of(b"b", rid, want.encode()), read(repo, want)) != \
            read(d, "named-blob.txt"):
        fail("repo: the named blob")
    big = len(items[b"genome.txt"]["chunks"]) // 64
    print("repo/: %d packs, %d chunks (genome.txt: %d), %d items, one named blob: all read"
          % (len(packs), len(chunks), big, len(items)))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else HERE
    check_chunks(os.path.join(d, "chunks.txt"))
    check_sealed(os.path.join(d, "sealed.txt"))
    check_repo(d)


main()
