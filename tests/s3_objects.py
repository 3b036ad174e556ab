#!/usr/bin/env python3
"""s3_objects.py — put and compare objects on s3rver for the bucket-target
tests (s3rver takes unsigned path-style requests).

  s3_objects.py put PORT BUCKET SPEC_FILE     put every object of SPEC_FILE
  s3_objects.py dump PORT BUCKET OUT_FILE     one line per object: key, size,
      SHA-256, the headers a bucket target keeps (sorted) and the tags, for diff
A spec's "x-amz-tagging: k=v&k2=v2" is put with PutObjectTagging.
SPEC_FILE lines: KEY<TAB>SIZE<TAB>SEED[<TAB>Header: value]... (content made
from SEED, so a spec can be put again to get the same bytes)."""
import hashlib
import http.client
import random
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

KEPT = ("content-type", "content-encoding", "content-disposition", "content-language",
        "cache-control", "expires")


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)


def path(bucket, key):
    return "/%s/%s" % (bucket, urllib.parse.quote(key, safe="/~"))


def put(port, bucket, spec):
    c = conn(port)
    for line in open(spec, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        key, size, seed = f[0], int(f[1]), int(f[2])
        data = random.Random(seed).randbytes(size)
        hdrs = dict(h.split(": ", 1) for h in f[3:])
        tagging = hdrs.pop("x-amz-tagging", None)
        c.request("PUT", path(bucket, key), body=data, headers=hdrs)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("PUT %s: HTTP %d" % (key, r.status))
        if tagging:  # s3rver ignores x-amz-tagging on PUT: PutObjectTagging
            tags = urllib.parse.parse_qsl(tagging, keep_blank_values=True)
            body = "<Tagging><TagSet>%s</TagSet></Tagging>" % "".join(
                "<Tag><Key>%s</Key><Value>%s</Value></Tag>" % (escape(k), escape(v))
                for k, v in tags)
            c.request("PUT", path(bucket, key) + "?tagging", body=body.encode())
            r = c.getresponse()
            r.read()
            if r.status != 200:
                sys.exit("PUT %s?tagging: HTTP %d" % (key, r.status))


def dump(port, bucket, out):
    c = conn(port)
    keys, token = [], None
    while True:
        q = "list-type=2&max-keys=1000" + ("&continuation-token=" +
                                           urllib.parse.quote(token, safe="") if token else "")
        c.request("GET", "/%s/?%s" % (bucket, q))
        r = c.getresponse()
        root = ET.fromstring(r.read())
        ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
        keys += [e.find(ns + "Key").text for e in root.findall(ns + "Contents")]
        t = root.find(ns + "NextContinuationToken")
        if root.find(ns + "IsTruncated").text != "true" or t is None:
            break
        token = t.text
    with open(out, "w", encoding="utf-8") as o:
        for key in sorted(keys):
            c.request("GET", path(bucket, key))
            r = c.getresponse()
            data = r.read()
            hs = sorted("%s: %s" % (k.lower(), v) for k, v in r.getheaders()
                        if k.lower() in KEPT or k.lower().startswith("x-amz-meta-"))
            c.request("GET", path(bucket, key) + "?tagging")
            r = c.getresponse()
            tr = ET.fromstring(r.read())
            tns = tr.tag.split("}")[0] + "}" if tr.tag.startswith("{") else ""
            hs += sorted("tag: %s=%s" % (t.find(tns + "Key").text,
                                         t.find(tns + "Value").text or "")
                         for t in tr.iter(tns + "Tag"))
            o.write("%s\t%d\t%s\t%s\n" % (key, len(data), hashlib.sha256(data).hexdigest(),
                                          "\t".join(hs)))


if __name__ == "__main__":
    {"put": put, "dump": dump}[sys.argv[1]](*sys.argv[2:])
