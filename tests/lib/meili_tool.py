#!/usr/bin/env python3
"""tests/lib/meili_tool.py — client side of the meilisearch tests (stdlib only).

  load URL KEY N            three indexes (movies, books, users) with custom
                            settings, N documents in all
  change URL KEY INDEX PCT  rewrite PCT% of INDEX's documents
  compare URL1 KEY1 URL2 KEY2 [INDEX...]
                            same indexes, primary keys, settings, documents
  fixture-compare DUMP URL KEY
                            the server holds the dump's indexes, settings, documents
  dump-members FILE         sha256 of each member of a .dump, one per line
"""
import hashlib
import json
import sys
import tarfile
import time
import urllib.request

SETTINGS = {
    "movies": {"searchableAttributes": ["title", "overview"], "filterableAttributes": ["genre", "year"],
               "sortableAttributes": ["year"], "stopWords": ["the", "a"],
               "synonyms": {"film": ["movie"], "movie": ["film"]}},
    "books": {"rankingRules": ["words", "typo", "exactness", "proximity", "attribute", "sort"],
              "distinctAttribute": "isbn", "displayedAttributes": ["isbn", "title", "author"]},
    "users": {"typoTolerance": {"enabled": False}, "pagination": {"maxTotalHits": 50},
              "faceting": {"maxValuesPerFacet": 10}},
}
PKS = {"movies": "id", "books": "isbn", "users": "uid"}


def call(url, key, method, path, body=None, ctype="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")


def wait(url, key, task):
    deadline = time.time() + 600
    while time.time() < deadline:
        t = call(url, key, "GET", "/tasks/%d" % task["taskUid"])
        if t["status"] == "succeeded":
            return t
        if t["status"] == "failed":
            sys.exit("task failed: %s" % t["error"])
        time.sleep(0.02)
    sys.exit("task %d did not finish" % task["taskUid"])


def doc(index, i, salt=""):
    if index == "movies":
        return {"id": i, "title": "Movie %d%s" % (i, salt), "overview": "A film about number %d" % i,
                "genre": ["drama", "comedy", "horror"][i % 3], "year": 1950 + i % 70}
    if index == "books":
        return {"isbn": "978-%010d" % i, "title": "Book %d%s" % (i, salt), "author": "Author %d" % (i % 997),
                "pages": 100 + i % 900}
    return {"uid": "u%d" % i, "name": "User %d%s" % (i, salt), "email": "u%d@example.org" % i,
            "tags": ["t%d" % (i % 7)], "score": i * 0.5}


def send(url, key, index, docs):
    body = b"".join(json.dumps(d).encode() + b"\n" for d in docs)
    return call(url, key, "POST", "/indexes/%s/documents" % index, body, "application/x-ndjson")


def load(url, key, n):
    per = {"movies": n // 2, "books": n // 3}
    per["users"] = n - per["movies"] - per["books"]
    for index, count in per.items():
        wait(url, key, call(url, key, "POST", "/indexes", {"uid": index, "primaryKey": PKS[index]}))
        wait(url, key, call(url, key, "PATCH", "/indexes/%s/settings" % index, SETTINGS[index]))
        tasks = [send(url, key, index, [doc(index, i) for i in range(s, min(s + 20000, count))])
                 for s in range(0, count, 20000)]
        for t in tasks:
            wait(url, key, t)


def change(url, key, index, pct):
    total = call(url, key, "GET", "/indexes/%s/stats" % index)["numberOfDocuments"]
    step = max(1, int(100 / float(pct)))
    wait(url, key, send(url, key, index, [doc(index, i, " (changed)") for i in range(0, total, step)]))


def fetch_all(url, key, index):
    out, off = [], 0
    while True:
        page = call(url, key, "POST", "/indexes/%s/documents/fetch" % index, {"offset": off, "limit": 1000})
        out += page["results"]
        off += len(page["results"])
        if not page["results"] or off >= page["total"]:
            return out


def indexes(url, key):
    out, off = {}, 0
    while True:
        page = call(url, key, "GET", "/indexes?offset=%d&limit=20" % off)
        for ix in page["results"]:
            out[ix["uid"]] = ix["primaryKey"]
        off += len(page["results"])
        if not page["results"] or off >= page["total"]:
            return out


def compare(u1, k1, u2, k2, only):
    a, b = indexes(u1, k1), indexes(u2, k2)
    if only:
        a = {k: v for k, v in a.items() if k in only}
        b = {k: v for k, v in b.items() if k in only}
    if a != b:
        sys.exit("indexes differ: %s vs %s" % (a, b))
    ndocs = 0
    for ix, pk in a.items():
        s1 = call(u1, k1, "GET", "/indexes/%s/settings" % ix)
        s2 = call(u2, k2, "GET", "/indexes/%s/settings" % ix)
        if s1 != s2:
            sys.exit("settings of %s differ:\n%s\n%s" % (ix, s1, s2))
        d1 = sorted(fetch_all(u1, k1, ix), key=lambda d: json.dumps(d.get(pk)))
        d2 = sorted(fetch_all(u2, k2, ix), key=lambda d: json.dumps(d.get(pk)))
        if d1 != d2:
            sys.exit("documents of %s differ (%d vs %d)" % (ix, len(d1), len(d2)))
        ndocs += len(d1)
    print("equal: %d indexes, %d documents" % (len(a), ndocs))


def dump_members(path):
    with tarfile.open(path, "r:gz") as t:
        for m in t.getmembers():
            n = m.name[2:] if m.name.startswith("./") else m.name
            if n == ".":
                continue
            h = hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isfile() else "dir"
            print(n, h)


def read_dump(path):
    """{uid: (primary key, settings, [documents])} of a v4, v5 or v6 dump."""
    files = {}
    with tarfile.open(path, "r:gz") as t:
        for m in t.getmembers():
            if m.isfile():
                files[m.name[2:] if m.name.startswith("./") else m.name] = t.extractfile(m).read()
    out = {}
    lines = lambda b: [json.loads(x) for x in b.split(b"\n") if x.strip()]
    uuids = {x["index_meta"]["uuid"]: x["uid"] for x in lines(files.get("index_uuids/data.jsonl", b""))}
    for name in files:
        p = name.split("/")
        if len(p) != 3 or p[0] != "indexes" or p[2] not in ("metadata.json", "meta.json"):
            continue
        meta = json.loads(files[name])
        if p[2] == "metadata.json":
            uid, pk = meta["uid"], meta["primaryKey"]
            settings = json.loads(files["indexes/%s/settings.json" % p[1]])
        else:
            uid, pk, settings = uuids[p[1]], meta["primary_key"], meta["settings"]
        out[uid] = (pk, settings, lines(files.get("indexes/%s/documents.jsonl" % p[1], b"")))
    return out


def fixture_compare(path, url, key):
    want = read_dump(path)
    have = indexes(url, key)
    if set(want) != set(have):
        sys.exit("indexes differ: %s vs %s" % (sorted(want), sorted(have)))
    n = 0
    for uid, (pk, settings, docs) in want.items():
        if have[uid] != pk:
            sys.exit("%s: primary key %s, want %s" % (uid, have[uid], pk))
        got = call(url, key, "GET", "/indexes/%s/settings" % uid)
        for k, v in settings.items():
            if got.get(k) != v:
                sys.exit("%s: setting %s is %s, want %s" % (uid, k, got.get(k), v))
        d1 = sorted(docs, key=lambda d: json.dumps(d.get(pk)))
        d2 = sorted(fetch_all(url, key, uid), key=lambda d: json.dumps(d.get(pk)))
        if d1 != d2:
            sys.exit("%s: documents differ (%d vs %d)" % (uid, len(d1), len(d2)))
        n += len(docs)
    print("equal to %s: %d indexes, %d documents" % (path, len(want), n))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "load":
        load(args[0], args[1], int(args[2]))
    elif cmd == "change":
        change(args[0], args[1], args[2], args[3])
    elif cmd == "compare":
        compare(args[0], args[1], args[2], args[3], args[4:])
    elif cmd == "fixture-compare":
        fixture_compare(args[0], args[1], args[2])
    elif cmd == "dump-members":
        dump_members(args[0])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
