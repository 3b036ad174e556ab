#!/usr/bin/env python3
"""s3_versions_double.py — a PROTOCOL DOUBLE of a versioned S3 bucket, for
tests/integration/s3_versions.sh.

No S3 server with versioning can be installed here: npm s3rver, the tests'
server, answers PUT ?versioning with NotImplemented and GET ?versions with
MethodNotAllowed. So this double serves the buckets named with --versioned
itself, from memory, following AWS's documented API (versioning Enabled):

  PUT /B/KEY                a new version (bytes, Content-*, Cache-Control,
                            Expires, x-amz-meta-*), a generated x-amz-version-id
  PUT /B/KEY?tagging[&versionId=V]   the tags of the latest (or that) version
  DELETE /B/KEY             a delete marker becomes the latest version
  DELETE /B/KEY?versionId=V removes that version for good
  GET|HEAD /B/KEY[?versionId=V]      the latest (404 with x-amz-delete-marker
                            when that is a marker) or that version (405 for a
                            marker), Range: bytes=N- honoured
  GET /B/KEY?tagging[&versionId=V]
  GET /B/?versioning        Status Enabled (--versioning off: none, as a
                            bucket that never had it)
  PUT /B/?versioning        Status Enabled or Suspended; while Suspended a
                            PUT or DELETE writes the version "null", replacing
                            the key's earlier "null" version in place
  GET /B/?versions&prefix=&key-marker=&version-id-marker=&max-keys=
                            ListVersionsResult: Version and DeleteMarker
                            entries, keys in order, each key's newest first;
                            IsTruncated, NextKeyMarker, NextVersionIdMarker
                            (--max-keys N caps every page at N)
  GET /B/?list-type=2       ListObjectsV2 of the current objects

--no-versioning B: GET /B/?versioning answers 501 NotImplemented, as a server
without versioning may (the rest of B forwarded).
--loop-listing B (a versioned bucket): a ListObjectVersions page of B asked
with a key-marker is answered truncated, with the markers it was asked for as
its NextKeyMarker and NextVersionIdMarker: a server paging forever.
Every other bucket is forwarded to s3rver on 127.0.0.1:UPSTREAM_PORT (the
restore's target buckets). Signatures are not checked (s3rver does not
either). Last-Modified times are strictly increasing, in milliseconds.

  s3_versions_double.py UPSTREAM_PORT PORT_FILE --versioned B [--log FILE]
                        [--max-keys N] [--versioning on|off] [--no-versioning B]
                        [--loop-listing B]

The log has one line per request: number, method, path (as requested).
"""
import hashlib
import http.server
import os
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from xml.sax.saxutils import escape

import http_forward

KEPT = ("content-type", "content-encoding", "content-disposition", "content-language",
        "cache-control", "expires")


def main():
    upstream, port_file, opt = http_forward.command_line(sys.argv)
    versioned = set(opt.get("--versioned", "").split(","))
    versioning_on = opt.get("--versioning", "on") == "on"
    page_cap = int(opt.get("--max-keys", "1000"))
    no_api = opt.get("--no-versioning")
    loop_bucket = opt.get("--loop-listing")
    log = open(opt.get("--log", os.devnull), "a", buffering=1)
    lock = threading.Lock()
    counter = [0]
    clock = [0]
    # bucket -> key -> [version, ...] oldest first; a version is a dict:
    # id, marker, data, headers, tags, etag, ms (Last-Modified, epoch ms)
    store = {b: {} for b in versioned}
    status = {b: "Enabled" if versioning_on else "" for b in versioned}

    def tick():
        ms = int(time.time() * 1000)
        clock[0] = max(ms, clock[0] + 1)
        return clock[0]

    def new_id():
        return hashlib.sha256(os.urandom(16)).hexdigest()[:32]

    def iso(ms):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def xml(self, text, status=200):
            self.answer(status, ('<?xml version="1.0" encoding="UTF-8"?>' + text).encode(),
                        [("Content-Type", "application/xml")])

        def err(self, status, code, headers=()):
            self.answer(status, ("<Error><Code>%s</Code><Message>%s</Message></Error>" %
                                 (code, code)).encode(), list(headers))

        def forward(self, body):
            status, reason, hdrs, data = http_forward.request(upstream, self, body)
            if http_forward.send_head(self, status, reason, hdrs, data):
                self.wfile.write(data)

        def handle_any(self):
            with lock:
                n = counter[0]
                counter[0] += 1
            log.write("%d %s %s\n" % (n, self.command, self.path))
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            raw, _, qs = self.path.partition("?")
            parts = raw.split("/", 2)
            bucket = parts[1] if len(parts) > 1 else ""
            if bucket == no_api and qs.startswith("versioning"):
                return self.err(501, "NotImplemented")
            if bucket not in versioned:
                return self.forward(body or None)
            key = urllib.parse.unquote(parts[2]) if len(parts) > 2 else ""
            q = dict(urllib.parse.parse_qsl(qs, keep_blank_values=True))
            with lock:
                if not key and self.command == "PUT" and "versioning" in q:
                    st = "Suspended" if b"<Status>Suspended</Status>" in body else "Enabled"
                    status[bucket] = st
                    return self.answer(200)
                if not key:
                    return self.bucket_op(store[bucket], q, status[bucket], bucket == loop_bucket)
                return self.object_op(store[bucket], key, q, body, status[bucket])

        def bucket_op(self, b, q, state, loop):
            if self.command != "GET":
                return self.err(405, "MethodNotAllowed")
            if "versioning" in q:
                st = "<Status>%s</Status>" % state if state else ""
                return self.xml("<VersioningConfiguration>%s</VersioningConfiguration>" % st)
            prefix = q.get("prefix", "")
            maxk = min(int(q.get("max-keys", "1000")), page_cap)
            if "versions" in q:
                entries = []
                for k in sorted(b):
                    if k.startswith(prefix):
                        vs = b[k]
                        for i, v in enumerate(reversed(vs)):
                            entries.append((k, v, i == 0))
                km, vm = q.get("key-marker"), q.get("version-id-marker")
                if km is not None:
                    if vm:
                        idx = [i for i, (k, v, _) in enumerate(entries)
                               if k == km and v["id"] == vm]
                        entries = entries[idx[0] + 1:] if idx else \
                            [e for e in entries if e[0] > km]
                    else:
                        entries = [e for e in entries if e[0] > km]
                page, more = entries[:maxk], len(entries) > maxk
                looping = loop and km is not None
                out = ["<ListVersionsResult><Name>x</Name><Prefix>%s</Prefix>"
                       "<MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>" %
                       (escape(prefix), maxk, "true" if more or looping else "false")]
                if looping:
                    out.append("<NextKeyMarker>%s</NextKeyMarker>"
                               "<NextVersionIdMarker>%s</NextVersionIdMarker>" %
                               (escape(km), escape(vm or "")))
                elif more:
                    out.append("<NextKeyMarker>%s</NextKeyMarker>"
                               "<NextVersionIdMarker>%s</NextVersionIdMarker>" %
                               (escape(page[-1][0]), page[-1][1]["id"]))
                for k, v, latest in page:
                    common = ("<Key>%s</Key><VersionId>%s</VersionId><IsLatest>%s</IsLatest>"
                              "<LastModified>%s</LastModified>" %
                              (escape(k), v["id"], "true" if latest else "false", iso(v["ms"])))
                    if v["marker"]:
                        out.append("<DeleteMarker>%s</DeleteMarker>" % common)
                    else:
                        out.append("<Version>%s<ETag>%s</ETag><Size>%d</Size>"
                                   "<StorageClass>STANDARD</StorageClass></Version>" %
                                   (common, escape(v["etag"]), len(v["data"])))
                out.append("</ListVersionsResult>")
                return self.xml("".join(out))
            if q.get("list-type") == "2":
                cur = [(k, b[k][-1]) for k in sorted(b)
                       if k.startswith(prefix) and not b[k][-1]["marker"]]
                tok = q.get("continuation-token")
                if tok:
                    cur = [c for c in cur if c[0] > tok]
                page, more = cur[:maxk], len(cur) > maxk
                out = ["<ListBucketResult><Name>x</Name><Prefix>%s</Prefix><KeyCount>%d"
                       "</KeyCount><MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>" %
                       (escape(prefix), len(page), maxk, "true" if more else "false")]
                if more:
                    out.append("<NextContinuationToken>%s</NextContinuationToken>" %
                               escape(page[-1][0]))
                for k, v in page:
                    out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified>"
                               "<ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD"
                               "</StorageClass></Contents>" %
                               (escape(k), iso(v["ms"]), escape(v["etag"]), len(v["data"])))
                out.append("</ListBucketResult>")
                return self.xml("".join(out))
            return self.err(405, "MethodNotAllowed")

        def find(self, b, key, q):
            """The version asked for (versionId) or the latest; None: absent."""
            vs = b.get(key, [])
            if "versionId" in q:
                m = [v for v in vs if v["id"] == q["versionId"]]
                return m[0] if m else None
            return vs[-1] if vs else None

        def add(self, b, key, v, state):
            """A new latest version; while Suspended it is "null" and
            replaces the key's earlier null version."""
            if state == "Suspended":
                v["id"] = "null"
                b[key] = [o for o in b.get(key, []) if o["id"] != "null"]
            b.setdefault(key, []).append(v)

        def object_op(self, b, key, q, body, state):
            if self.command == "PUT" and "tagging" in q:
                v = self.find(b, key, q)
                if not v or v["marker"]:
                    return self.err(404, "NoSuchKey")
                import xml.etree.ElementTree as ET
                root = ET.fromstring(body)
                ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
                v["tags"] = [(t.find(ns + "Key").text or "", t.find(ns + "Value").text or "")
                             for t in root.iter(ns + "Tag")]
                return self.answer(200, headers=[("x-amz-version-id", v["id"])])
            if self.command == "PUT":
                if q:
                    return self.err(501, "NotImplemented")
                hdrs = [(k.lower(), v) for k, v in self.headers.items()
                        if k.lower() in KEPT or k.lower().startswith("x-amz-meta-")]
                if not any(k == "content-type" for k, _ in hdrs):
                    hdrs.append(("content-type", "binary/octet-stream"))
                v = {"id": new_id(), "marker": False, "data": body, "headers": hdrs,
                     "tags": [], "etag": '"%s"' % hashlib.md5(body).hexdigest(), "ms": tick()}
                self.add(b, key, v, state)
                return self.answer(200, headers=[("ETag", v["etag"]),
                                                 ("x-amz-version-id", v["id"])])
            if self.command == "DELETE":
                if "versionId" in q:
                    b[key] = [v for v in b.get(key, []) if v["id"] != q["versionId"]]
                    if not b[key]:
                        del b[key]
                    return self.answer(204, headers=[("x-amz-version-id", q["versionId"])])
                v = {"id": new_id(), "marker": True, "ms": tick()}
                self.add(b, key, v, state)
                return self.answer(204, headers=[("x-amz-delete-marker", "true"),
                                                 ("x-amz-version-id", v["id"])])
            if self.command not in ("GET", "HEAD"):
                return self.err(405, "MethodNotAllowed")
            v = self.find(b, key, q)
            if not v:
                return self.err(404, "NoSuchVersion" if "versionId" in q else "NoSuchKey")
            if v["marker"]:
                mh = [("x-amz-delete-marker", "true"), ("x-amz-version-id", v["id"])]
                if "versionId" in q:
                    return self.err(405, "MethodNotAllowed", mh)
                return self.err(404, "NoSuchKey", mh)
            if "tagging" in q:
                return self.xml("<Tagging><TagSet>%s</TagSet></Tagging>" % "".join(
                    "<Tag><Key>%s</Key><Value>%s</Value></Tag>" % (escape(k), escape(t))
                    for k, t in v["tags"]))
            data, status = v["data"], 200
            extra = []
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
                data, status = data[start:], 206
                extra.append(("Content-Range", "bytes %d-%d/%d" %
                              (start, len(v["data"]) - 1, len(v["data"]))))
            hs = [("ETag", v["etag"]), ("x-amz-version-id", v["id"]),
                  ("Last-Modified", formatdate(v["ms"] // 1000, usegmt=True))] + \
                v["headers"] + extra
            if v["tags"]:
                hs.append(("x-amz-tagging-count", str(len(v["tags"]))))
            return self.answer(status, data, hs)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    http_forward.serve(H, port_file)


if __name__ == "__main__":
    main()
