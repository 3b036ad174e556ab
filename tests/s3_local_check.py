#!/usr/bin/env python3
"""s3_local_check.py DUMP DIR — check an `arca restore S3TARGET --into DIR`
against s3_objects.py's DUMP of the bucket it came from: DIR's manifest
(%manifest.jsonl) names every object of the dump exactly once; each file is
at the path the README's mapping gives (decoded here on its own, so the
mapping is checked both ways), holds the object's bytes (SHA-256), has its
Last-Modified as mtime; its headers and tags in the manifest are the
dump's; nothing else is in DIR. Exits non-zero naming what differs."""
import hashlib
import json
import os
import re
import sys


def decode(path):
    """The key of a path (README.md: "Restoring into a local directory")."""
    comps, segs, cur, cont = path.split("/"), [], b"", False
    for i, c in enumerate(comps):
        if c == "%self":
            assert i == len(comps) - 1 and i > 0 and not cont, path
            return b"/".join(segs)
        more = c.endswith("%+")
        if more:
            c = c[:-2]
        if c == "%" and not more:
            seg = b""
        else:
            assert c not in ("", ".", ".."), path
            seg = re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                         c.encode("utf-8", "surrogateescape"))
        cur += seg
        if not more:
            segs.append(cur)
            cur = b""
        cont = more
    return b"/".join(segs)


def main(dump, top):
    want = {}
    for line in open(dump, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        hs = [h for h in f[3:] if h]
        want[f[0]] = (int(f[1]), f[2], sorted(h for h in hs if not h.startswith("tag: ")),
                      sorted(h for h in hs if h.startswith("tag: ")))
    seen, files = set(), set()
    for line in open(os.path.join(top, "%manifest.jsonl"), encoding="utf-8"):
        m = json.loads(line)
        key, path = m["key"], m["path"]
        if decode(path).decode("utf-8") != key:
            sys.exit("path %r does not decode to its key %r" % (path, key))
        if key not in want or key in seen:
            sys.exit("the manifest names %r, not an object of the bucket (or twice)" % key)
        seen.add(key)
        size, sha, hs, tags = want[key]
        full = os.path.join(top, path)
        real = os.path.realpath(full)
        if not real.startswith(os.path.realpath(top) + "/"):
            sys.exit("%r was written outside the directory: %s" % (key, real))
        data = open(full, "rb").read()
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha or m["size"] != size:
            sys.exit("%r: the file's bytes differ from the object's" % key)
        got = sorted("%s: %s" % (k, v) for k, v in m["headers"].items())
        if got != hs:
            sys.exit("%r: headers %s, the bucket has %s" % (key, got, hs))
        gt = sorted("tag: %s=%s" % (k, v) for k, v in m["tags"].items())
        if gt != tags:
            sys.exit("%r: tags %s, the bucket has %s" % (key, gt, tags))
        if not m.get("etag", "").startswith('"'):
            sys.exit("%r: no ETag in the manifest" % key)
        lm = m["last_modified"]
        import calendar
        import time
        t = calendar.timegm(time.strptime(lm, "%Y-%m-%dT%H:%M:%SZ"))
        if int(os.lstat(full).st_mtime) != t:
            sys.exit("%r: mtime %d, Last-Modified %s" % (key, os.lstat(full).st_mtime, lm))
        files.add(os.path.normpath(path))
    if seen != set(want):
        sys.exit("not restored: %s" % sorted(set(want) - seen)[:5])
    for d, _, fs in os.walk(top):
        for f in fs:
            rel = os.path.relpath(os.path.join(d, f), top)
            if rel != "%manifest.jsonl" and rel not in files:
                sys.exit("a file no object names: %r" % rel)
    print("%d objects, bytes, headers, tags and mtimes as in the bucket" % len(seen))


if __name__ == "__main__":
    main(*sys.argv[1:])
