#!/usr/bin/env python3
"""tests/meili_double.py — a protocol double of Meilisearch for arca's tests.

No Meilisearch server can be installed on the test machines, so the
meilisearch driver is tested against this program, written from
Meilisearch's documented HTTP API (v1.x): asynchronous tasks (enqueued ->
processing -> succeeded/failed, increasing uids, 202 + taskUid), paged
/indexes and /documents/fetch, settings, /stats and /indexes/<uid>/stats,
/tasks?statuses=..., /keys, /version, /health,
`Authorization: Bearer` with per-key actions, error objects
{message, code, type, link}, and POST /dumps writing a dump in the v6
format (tar.gz: metadata.json, keys.jsonl, tasks/queue.jsonl,
indexes/<uid>/{metadata.json,settings.json,documents.jsonl}) into
--dump-dir. --import-dump loads a v6 dump at start-up, as
`meilisearch --import-dump` does; the test suite checks that a re-dump of
a real dump has the same members (metadata.json's dumpDate aside).

Python 3 standard library only. State lives in memory. Options for tests:
  --fail-task TYPE[:CODE]   tasks of TYPE fail (e.g. documentAdditionOrUpdate)
  --stall-task TYPE         tasks of TYPE stay "processing" forever
  --slow-task TYPE:SECONDS  tasks of TYPE stay "processing" that long
  --dump-file FILE          POST /dumps writes FILE's bytes as the dump
                            (a server of that version wrote it)
  --api-key KEY:ACT,ACT     an extra key with those actions ("*": all)
  --max-limit N             page size cap of /indexes and documents/fetch
  --tls-cert PEM --tls-key PEM  serve HTTPS
"""
import argparse
import datetime
import gzip
import hashlib
import hmac
import io
import json
import os
import shutil
import sys
import tarfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LINK = "https://docs.meilisearch.com/errors#"
DEFAULT_SETTINGS = json.loads(
    '{"displayedAttributes":["*"],"searchableAttributes":["*"],"filterableAttributes":[],'
    '"sortableAttributes":[],"rankingRules":["words","typo","proximity","attribute","sort",'
    '"exactness"],"stopWords":[],"nonSeparatorTokens":[],"separatorTokens":[],"dictionary":[],'
    '"synonyms":{},"distinctAttribute":null,"proximityPrecision":"byWord","typoTolerance":'
    '{"enabled":true,"minWordSizeForTypos":{"oneTypo":5,"twoTypos":9},"disableOnWords":[],'
    '"disableOnAttributes":[]},"faceting":{"maxValuesPerFacet":100,"sortFacetValuesBy":'
    '{"*":"alpha"}},"pagination":{"maxTotalHits":1000},"embedders":{},"searchCutoffMs":null,'
    '"localizedAttributes":null,"facetSearch":true,"prefixSearch":"indexingTime"}')


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class ApiError(Exception):
    def __init__(self, status, code, etype, message):
        super().__init__(message)
        self.status, self.code, self.etype, self.message = status, code, etype, message

    def body(self):
        return {"message": self.message, "code": self.code, "type": self.etype,
                "link": LINK + self.code}


def not_found(uid):
    return ApiError(404, "index_not_found", "invalid_request", "Index `%s` not found." % uid)


class Index:
    def __init__(self, uid, primary_key):
        self.uid = uid
        self.primary_key = primary_key
        self.created = self.updated = now()
        self.settings = json.loads(json.dumps(DEFAULT_SETTINGS))
        self.raw_settings = None  # the imported bytes, until a PATCH
        self.raw_meta = None
        self.docs = []  # raw JSON text of each document, in internal id order
        self.pos = {}  # primary key value -> position in docs

    def meta(self):
        return {"uid": self.uid, "primaryKey": self.primary_key, "createdAt": self.created,
                "updatedAt": self.updated}


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Condition()
        self.indexes = {}
        self.tasks = []  # dicts, in uid order
        self.by_uid = {}
        self.imported = False
        self.imported_tasks = []  # raw queue.jsonl lines of an imported dump
        self.keys_raw = []  # raw keys.jsonl lines
        self.keys = {}  # key value -> actions
        self.extra = []  # (member name, bytes or None for a directory), passthrough
        self.names = {}  # member prefix ("./" or "") of an imported dump
        self.version = args.version
        self.next_uid = 0
        for spec in args.api_key:
            k, _, acts = spec.partition(":")
            self.keys[k] = acts.split(",") if acts else []
        if args.master_key:
            self.keys[args.master_key] = ["*"]

    # ---------------------------------------------------------- tasks
    def enqueue(self, ttype, index_uid, payload, details=None):
        with self.lock:
            uid = self.next_uid
            self.next_uid += 1
            t = {"uid": uid, "batchUid": None, "indexUid": index_uid, "status": "enqueued",
                 "type": ttype, "canceledBy": None, "details": details or {}, "error": None,
                 "duration": None, "enqueuedAt": now(), "startedAt": None, "finishedAt": None}
            self.tasks.append(t)
            self.by_uid[uid] = t
            t["_payload"] = payload
            self.lock.notify_all()
            return {"taskUid": uid, "indexUid": index_uid, "status": "enqueued", "type": ttype,
                    "enqueuedAt": t["enqueuedAt"]}

    def worker(self):
        while True:
            with self.lock:
                task = next((t for t in self.tasks if t["status"] == "enqueued"), None)
                if task is None:
                    self.lock.wait()
                    continue
                task["status"] = "processing"
                task["startedAt"] = now()
                task["batchUid"] = task["uid"]
            if task["type"] in self.args.stall_task:
                return  # never finishes, and neither does anything after it
            for spec in self.args.slow_task:
                if spec.split(":")[0] == task["type"]:
                    time.sleep(float(spec.split(":")[1]))  # an indexing that takes time
            fail = [f for f in self.args.fail_task if f.split(":")[0] == task["type"]]
            t0 = time.time()
            err = None
            try:
                if fail:
                    code = fail[0].split(":")[1] if ":" in fail[0] else "internal"
                    raise ApiError(500 if code == "internal" else 400, code,
                                   "internal" if code == "internal" else "invalid_request",
                                   "the double was told to fail %s tasks" % task["type"])
                self.run(task)
            except ApiError as e:
                err = e.body()
            except Exception as e:  # a bug of the double shows as a failed task
                err = ApiError(500, "internal", "internal", repr(e)).body()
            with self.lock:
                task.pop("_payload", None)
                task["status"] = "failed" if err else "succeeded"
                task["error"] = err
                task["finishedAt"] = now()
                task["duration"] = "PT%.6fS" % (time.time() - t0)
                self.lock.notify_all()

    def run(self, task):
        p, ttype = task["_payload"], task["type"]
        uid = task["indexUid"]
        if ttype == "indexCreation":
            with self.lock:
                if uid in self.indexes:
                    raise ApiError(409, "index_already_exists", "invalid_request",
                                   "Index `%s` already exists." % uid)
                self.indexes[uid] = Index(uid, p.get("primaryKey"))
        elif ttype == "indexDeletion":
            with self.lock:
                if uid not in self.indexes:
                    raise not_found(uid)
                del self.indexes[uid]
        elif ttype == "settingsUpdate":
            with self.lock:
                idx = self.indexes.setdefault(uid, Index(uid, None))
                for k, v in p.items():
                    idx.settings[k] = DEFAULT_SETTINGS.get(k) if v is None else v
                idx.raw_settings = None
                idx.updated = now()
        elif ttype == "documentAdditionOrUpdate":
            self.add_documents(task, uid, p)
        elif ttype == "dumpCreation":
            task["details"] = {"dumpUid": self.write_dump()}
        else:
            raise ApiError(500, "internal", "internal", "unknown task type " + ttype)

    def add_documents(self, task, uid, p):
        body, ndjson, pk = p["body"], p["ndjson"], p["primaryKey"]
        try:
            if ndjson:
                docs = [json.loads(line) for line in body.split(b"\n") if line.strip()]
            else:
                docs = json.loads(body)
                if isinstance(docs, dict):
                    docs = [docs]
        except ValueError as e:
            raise ApiError(400, "malformed_payload", "invalid_request",
                           "The payload cannot be parsed: %s" % e)
        with self.lock:
            idx = self.indexes.get(uid)
            if idx is None:
                idx = self.indexes[uid] = Index(uid, pk)
            if pk and idx.primary_key and pk != idx.primary_key:
                raise ApiError(400, "index_primary_key_already_exists", "invalid_request",
                               "Index `%s`: Index already has a primary key: `%s`." %
                               (uid, idx.primary_key))
            if not idx.primary_key:
                idx.primary_key = pk or next(
                    (k for k in (docs[0] if docs else {}) if k.lower().endswith("id")), None)
                if not idx.primary_key:
                    raise ApiError(400, "index_primary_key_no_candidate_found",
                                   "invalid_request",
                                   "The primary key inference failed as the engine did not "
                                   "find any field ending with `id` in its name.")
            key = idx.primary_key
            for d in docs:
                if not isinstance(d, dict) or key not in d:
                    raise ApiError(400, "missing_document_id", "invalid_request",
                                   "Document doesn't have a `%s` attribute: `%s`." %
                                   (key, compact(d)[:200]))
            for d in docs:
                kv = compact(d[key])
                raw = compact(d)
                if kv in idx.pos:
                    idx.docs[idx.pos[kv]] = raw
                else:
                    idx.pos[kv] = len(idx.docs)
                    idx.docs.append(raw)
            idx.raw_meta = None
            idx.updated = now()
            task["details"] = {"receivedDocuments": len(docs), "indexedDocuments": len(docs)}

    # ---------------------------------------------------------- dumps
    def write_dump(self):
        d = datetime.datetime.now(datetime.timezone.utc)
        dump_uid = d.strftime("%Y%m%d-%H%M%S") + "%03d" % (d.microsecond // 1000)
        final = os.path.join(self.args.dump_dir, dump_uid + ".dump")
        tmp = final + ".tmp"
        if self.args.dump_file:
            shutil.copyfile(self.args.dump_file, tmp)
            os.rename(tmp, final)
            return dump_uid
        with self.lock:
            snap = self.snapshot_for_dump()
        pre = self.names.get("prefix", "")
        with open(tmp, "wb") as raw:
            gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0)
            tf = tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT)

            def add(name, data):
                ti = tarfile.TarInfo(pre + name if name != "." else ".")
                ti.mtime = int(time.time())
                if data is None:
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(ti)
                else:
                    ti.size, ti.mode = len(data), 0o644
                    tf.addfile(ti, io.BytesIO(data))

            add(".", None)
            written = set()
            for name, data in snap["extra"]:
                add(name, data)
                written.add(name)
            for name in ("tasks", "tasks/update_files", "batches", "indexes"):
                if name not in written and not (self.imported and name == "batches"):
                    add(name, None)
            if "batches/queue.jsonl" not in written and not self.imported:
                add("batches/queue.jsonl", b"")
            add("tasks/queue.jsonl", snap["tasks"])
            add("keys.jsonl", snap["keys"])
            for idx, meta, settings, docs in snap["indexes"]:
                add("indexes/" + idx, None)
                add("indexes/%s/settings.json" % idx, settings)
                add("indexes/%s/documents.jsonl" % idx,
                    b"".join(x.encode() + b"\n" for x in docs))
                add("indexes/%s/metadata.json" % idx, meta)
            add("metadata.json", compact({"dumpVersion": "V6", "dbVersion": self.version,
                                          "dumpDate": now()}).encode())
            if "instance_uid.uuid" not in written and not self.imported:
                add("instance_uid.uuid", str(uuid.uuid4()).encode())
            tf.close()
            gz.close()
        os.rename(tmp, final)
        return dump_uid

    def snapshot_for_dump(self):
        tasks = b"".join(x + b"\n" for x in self.imported_tasks)
        for t in self.tasks:
            if t["status"] in ("succeeded", "failed") and t["type"] != "dumpCreation":
                tasks += compact({k: v for k, v in t.items() if not k.startswith("_")}).encode()
                tasks += b"\n"
        out = {"extra": list(self.extra), "tasks": tasks,
               "keys": b"".join(x + b"\n" for x in self.keys_raw), "indexes": []}
        for uid, idx in self.indexes.items():
            meta = idx.raw_meta or compact(idx.meta()).encode()
            settings = idx.raw_settings or compact(idx.settings).encode()
            out["indexes"].append((uid, meta, settings, list(idx.docs)))
        return out

    def import_dump(self, path):
        with tarfile.open(path, "r:gz") as tf:
            members = [(m, tf.extractfile(m).read() if m.isfile() else None)
                       for m in tf.getmembers()]
        files = {}
        self.imported = True
        for m, data in members:
            name = m.name[2:] if m.name.startswith("./") else m.name
            if m.name.startswith("./"):
                self.names["prefix"] = "./"
            if name == "." or not (m.isfile() or m.isdir()):
                continue
            files[name] = data
        meta = json.loads(files.get("metadata.json", b"{}"))
        if meta.get("dumpVersion") != "V6":
            sys.exit("meili_double: only v6 dumps are imported, not %s" %
                     meta.get("dumpVersion"))
        self.keys_raw = [x for x in files.pop("keys.jsonl", b"").split(b"\n") if x]
        self.imported_tasks = [x for x in files.pop("tasks/queue.jsonl", b"").split(b"\n") if x]
        for line in self.imported_tasks:
            self.next_uid = max(self.next_uid, json.loads(line)["uid"] + 1)
        files.pop("metadata.json")
        for name in sorted(n for n in files if n.startswith("indexes/")):
            parts = name.split("/")
            if len(parts) == 3 and parts[2] == "metadata.json":
                m = json.loads(files[name])
                idx = Index(m["uid"], m.get("primaryKey"))
                idx.created, idx.updated = m.get("createdAt"), m.get("updatedAt")
                idx.raw_meta = files[name]
                base = "indexes/%s/" % parts[1]
                idx.raw_settings = files.get(base + "settings.json")
                if idx.raw_settings:
                    idx.settings.update(json.loads(idx.raw_settings))
                for line in files.get(base + "documents.jsonl", b"").split(b"\n"):
                    if line:
                        d = json.loads(line)
                        kv = compact(d.get(idx.primary_key))
                        idx.pos[kv] = len(idx.docs)
                        idx.docs.append(line.decode())
                self.indexes[m["uid"]] = idx
        for m, data in members:
            name = m.name[2:] if m.name.startswith("./") else m.name
            if name == "." or name == "indexes":
                continue
            if name.startswith("indexes/") and (
                    (name.count("/") == 1 and data is None) or name.split("/")[-1] in
                    ("metadata.json", "settings.json", "documents.jsonl")):
                continue
            if name in ("keys.jsonl", "tasks/queue.jsonl", "metadata.json"):
                continue
            self.extra.append((name, data))


def key_allows(actions, wanted):
    for a in actions:
        if a == "*" or a == wanted or (a.endswith(".*") and wanted.startswith(a[:-1])):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "meili-double"

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("double: " + fmt % args + "\n")

    def send(self, status, obj=None, raw=None):
        body = raw if raw is not None else (compact(obj).encode() if obj is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def auth(self, action):
        st = self.server.state
        if not st.args.master_key:
            return
        h = self.headers.get("Authorization")
        if not h:
            raise ApiError(401, "missing_authorization_header", "auth",
                           "The Authorization header is missing. It must use the bearer "
                           "authorization method.")
        key = h[7:] if h.startswith("Bearer ") else ""
        acts = st.keys.get(key)
        if acts is None or not key_allows(acts, action):
            raise ApiError(403, "invalid_api_key", "auth", "The provided API key is invalid.")

    def body(self):
        n = self.headers.get("Content-Length")
        if n is None and self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "missing_content_length", "invalid_request",
                           "The Content-Length header is missing.")
        return self.rfile.read(int(n)) if n else b""

    def json_body(self):
        try:
            return json.loads(self.body() or b"{}")
        except ValueError as e:
            raise ApiError(400, "bad_request", "invalid_request", "Json deserialize error: %s" % e)

    def handle_any(self, method):
        try:
            u = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(u.query).items()}
            parts = [unquote(p) for p in u.path.split("/") if p]
            self.route(method, parts, q)
        except ApiError as e:
            self.send(e.status, e.body())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def page(self, q, default):
        cap = self.server.state.args.max_limit
        try:
            off, lim = int(q.get("offset", 0)), int(q.get("limit", default))
        except ValueError:
            raise ApiError(400, "invalid_index_offset", "invalid_request", "bad offset/limit")
        return max(off, 0), max(min(lim, cap), 0)

    def route(self, m, p, q):
        st = self.server.state
        if p == ["health"] and m == "GET":
            return self.send(200, {"status": "available"})
        if p == ["version"] and m == "GET":
            self.auth("version")
            return self.send(200, {"commitSha": "0" * 40, "commitDate": "2025-01-01T00:00:00Z",
                                   "pkgVersion": st.version})
        if p == ["keys"] and m == "GET":
            self.auth("keys.get")
            off, lim = self.page(q, 20)
            res = []
            for line in st.keys_raw:
                k = json.loads(line)
                res.append({"name": k.get("name"), "description": k.get("description"),
                            "key": hmac.new((st.args.master_key or "").encode(),
                                            k.get("uid", "").encode(),
                                            hashlib.sha256).hexdigest(),
                            "uid": k.get("uid"), "actions": k.get("actions"),
                            "indexes": k.get("indexes"), "expiresAt": k.get("expires_at"),
                            "createdAt": k.get("created_at"), "updatedAt": k.get("updated_at")})
            return self.send(200, {"results": res[off:off + lim], "offset": off, "limit": lim,
                                   "total": len(res)})
        if p == ["dumps"] and m == "POST":
            self.auth("dumps.create")
            self.body()
            return self.send(202, st.enqueue("dumpCreation", None, {}))
        if p == ["stats"] and m == "GET":
            self.auth("stats.get")
            with st.lock:
                busy = {t["indexUid"] for t in st.tasks if t["status"] == "processing"}
                ix = {uid: {"numberOfDocuments": len(i.docs), "isIndexing": uid in busy,
                            "fieldDistribution": {}} for uid, i in st.indexes.items()}
                last = max((i.updated for i in st.indexes.values() if i.updated), default=None)
                size = sum(len(d) for i in st.indexes.values() for d in i.docs)
            return self.send(200, {"databaseSize": size, "usedDatabaseSize": size,
                                   "lastUpdate": last, "indexes": ix})
        if p and p[0] == "tasks" and m == "GET":
            self.auth("tasks.get")
            with st.lock:
                if len(p) == 2:
                    t = st.by_uid.get(int(p[1])) if p[1].isdigit() else None
                    if t is None:
                        raise ApiError(404, "task_not_found", "invalid_request",
                                       "Task `%s` not found." % p[1])
                    return self.send(200, {k: v for k, v in t.items() if not k.startswith("_")})
                want = q.get("statuses", "").split(",") if q.get("statuses") else None
                lim = min(int(q.get("limit", 20)), st.args.max_limit)
                frm = int(q["from"]) if "from" in q else None
                sel = [t for t in reversed(st.tasks) if (want is None or t["status"] in want)
                       and (frm is None or t["uid"] <= frm)]
                page = [{k: v for k, v in t.items() if not k.startswith("_")}
                        for t in sel[:lim]]
                nxt = sel[lim]["uid"] if len(sel) > lim else None
                return self.send(200, {"results": page, "total": len(sel), "limit": lim,
                                       "from": page[0]["uid"] if page else None, "next": nxt})
        if p == ["indexes"]:
            if m == "GET":
                self.auth("indexes.get")
                off, lim = self.page(q, 20)
                with st.lock:
                    allx = [i.meta() for i in st.indexes.values()]
                return self.send(200, {"results": allx[off:off + lim], "offset": off,
                                       "limit": lim, "total": len(allx)})
            if m == "POST":
                self.auth("indexes.create")
                b = self.json_body()
                if not isinstance(b.get("uid"), str) or not b["uid"]:
                    raise ApiError(400, "missing_index_uid", "invalid_request",
                                   "Missing field `uid`")
                return self.send(202, st.enqueue("indexCreation", b["uid"],
                                                 {"primaryKey": b.get("primaryKey")},
                                                 {"primaryKey": b.get("primaryKey")}))
        if len(p) >= 2 and p[0] == "indexes":
            return self.route_index(m, p[1], p[2:], q)
        raise ApiError(404, "not_found", "invalid_request", "Not found: %s %s" % (m, self.path))

    def route_index(self, m, uid, rest, q):
        st = self.server.state

        def idx():
            with st.lock:
                i = st.indexes.get(uid)
            if i is None:
                raise not_found(uid)
            return i

        if not rest:
            if m == "GET":
                self.auth("indexes.get")
                return self.send(200, idx().meta())
            if m == "DELETE":
                self.auth("indexes.delete")
                return self.send(202, st.enqueue("indexDeletion", uid, {}))
        if rest == ["stats"] and m == "GET":
            self.auth("stats.get")
            i = idx()
            return self.send(200, {"numberOfDocuments": len(i.docs), "isIndexing": False,
                                   "fieldDistribution": {}})
        if rest == ["settings"]:
            if m == "GET":
                self.auth("settings.get")
                i = idx()
                return self.send(200, i.settings)
            if m == "PATCH":
                self.auth("settings.update")
                b = self.json_body()
                if not isinstance(b, dict):
                    raise ApiError(400, "bad_request", "invalid_request", "settings: an object")
                return self.send(202, st.enqueue("settingsUpdate", uid, b))
        if rest == ["documents"] and m in ("POST", "PUT"):
            self.auth("documents.add")
            ctype = self.headers.get("Content-Type", "")
            if ctype.split(";")[0].strip() not in ("application/json", "application/x-ndjson"):
                raise ApiError(415, "invalid_content_type", "invalid_request",
                               "The Content-Type `%s` is invalid." % ctype)
            body = self.body()
            return self.send(202, st.enqueue(
                "documentAdditionOrUpdate", uid,
                {"body": body, "ndjson": "ndjson" in ctype, "primaryKey": q.get("primaryKey")}))
        if rest == ["documents", "fetch"] and m == "POST":
            self.auth("documents.get")
            b = self.json_body()
            i = idx()
            off, lim = self.page({"offset": b.get("offset", 0), "limit": b.get("limit", 20)}, 20)
            with st.lock:
                sl = i.docs[off:off + lim]
                total = len(i.docs)
            raw = ('{"results":[' + ",".join(sl) + '],"offset":%d,"limit":%d,"total":%d}' %
                   (off, lim, total)).encode()
            return self.send(200, raw=raw)
        raise ApiError(404, "not_found", "invalid_request", "Not found: %s %s" % (m, self.path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--master-key")
    ap.add_argument("--api-key", action="append", default=[])
    ap.add_argument("--dump-dir", default=".")
    ap.add_argument("--import-dump")
    ap.add_argument("--dump-file")
    ap.add_argument("--fail-task", action="append", default=[])
    ap.add_argument("--stall-task", action="append", default=[])
    ap.add_argument("--slow-task", action="append", default=[])
    ap.add_argument("--max-limit", type=int, default=1000)
    ap.add_argument("--version", default="1.13.0")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    st = State(args)
    if args.import_dump:
        st.import_dump(args.import_dump)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = st
    if args.tls_cert:
        import ssl
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=st.worker, daemon=True).start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
