#!/bin/sh
# Every --json output parsed, with the fields the man page, --help and the
# plain output promise, their types and their agreement with each other:
# snapshot (also a failing target), list, forget, prune, verify (also with
# damage), repair index and plugins. forget --dry-run and prune --dry-run
# change nothing (the repositories' object listings before and after), and
# the real runs then do what the dry runs said.
# Two destinations (a, b) and two targets (tree in both, solo in a).
. "$ARCA_SRCDIR/tests/lib/common.sh"

mkdir -p "$T/tree" "$T/solo" "$T/state"
head -c 600000 /dev/urandom > "$T/tree/data"
echo one > "$T/tree/one"
# only the first snapshot of tree holds it: forget + prune have work to do
head -c 300000 /dev/urandom > "$T/tree/gone"
echo solo > "$T/solo/file"
cat > "$ARCA_CONFIG" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state

[destination a]
driver = dir
path = $T/a
passphrase_env = ARCA_PASSPHRASE

[destination b]
driver = dir
path = $T/b
passphrase_env = ARCA_PASSPHRASE

[target tree]
driver = files
destinations = a, b
path = $T/tree
retention = last=1

[target solo]
driver = files
destinations = a
path = $T/solo
EOC
# objects: every file of both repositories with size and mtime
objects() { (cd "$T" && find a b -type f -printf '%p %s %T@\n' | sort); }
# check_json FILE PYTHON: FILE parses as JSON (d), or as a stream of JSON
# documents (docs); then the Python assertions run
check_json() {
	python3 - "$1" "$2" <<'PY' || { cat "$1" >&2; fail "$2"; }
import json, re, sys
text = open(sys.argv[1]).read()
dec, docs, i = json.JSONDecoder(), [], 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    doc, i = dec.raw_decode(text, i)
    docs.append(doc)
d = docs[0] if len(docs) == 1 else None
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
def typed(o, **fields):
    for k, t in fields.items():
        assert k in o, "no field %r in %r" % (k, o)
        assert isinstance(o[k], t) and not (t is int and isinstance(o[k], bool)), \
            "%r is %r, not %s" % (k, o[k], t)
exec(open(sys.argv[1] + ".py").read())
PY
}
# assert_json FILE WHAT: runs the Python on stdin against FILE (see check_json)
assert_json() {
	cat > "$1.py"
	check_json "$1" "$2"
}

arca init > /dev/null || fail "init"

step "snapshot --json: one object per target, one recovery point"
arca --json snapshot > "$T/snap.json" || fail "snapshot --json"
assert_json "$T/snap.json" "snapshot --json" <<'PY'
assert isinstance(d, list) and sorted(o["target"] for o in d) == ["solo", "tree"], d
for o in d:
    typed(o, target=str, id=str, items=int, bytes=int, new_bytes=int, seconds=float,
          recovery_point=str)
    assert HEX64.match(o["id"]) and HEX32.match(o["recovery_point"]), o
    assert "error" not in o and "status" not in o, o
assert d[0]["recovery_point"] == d[1]["recovery_point"], d
tree = [o for o in d if o["target"] == "tree"][0]
assert tree["items"] == 4 and tree["bytes"] == 900004, tree
PY

step "snapshot --json of a target that fails: error and status, the exit code"
cat >> "$ARCA_CONFIG" <<EOC

[target broken]
driver = files
destinations = a
path = $T/nowhere
EOC
set +e
arca --json snapshot broken solo > "$T/fail.json" 2> "$T/err"
rc=$?
set -e
assert_json "$T/fail.json" "snapshot --json with a failing target" <<PY
assert isinstance(d, list) and [o["target"] for o in d] == ["broken", "solo"], d
typed(d[0], target=str, error=str, status=int, recovery_point=str)
assert d[0]["status"] == $rc != 0, (d[0], $rc)
assert "$T/nowhere" in d[0]["error"] and "id" not in d[0], d[0]
typed(d[1], id=str, items=int)
assert d[0]["recovery_point"] == d[1]["recovery_point"], d
PY
sed -i '/^\[target broken\]$/,$d' "$ARCA_CONFIG"

step "list --json: every snapshot of every destination, its fields agree"
echo two > "$T/tree/two"
rm "$T/tree/gone"
arca snapshot tree > /dev/null || fail "second snapshot of tree"
arca --json list > "$T/list.json" || fail "list --json"
assert_json "$T/list.json" "list --json" <<'PY'
import datetime
assert isinstance(d, list) and len(d) == 6, len(d)   # tree 2 in a, 2 in b; solo 2 in a
for o in d:
    typed(o, id=str, target=str, driver=str, host=str, time=str, epoch=int, items=int,
          bytes=int, new_bytes=int, recovery_point=str, destination=str)
    assert HEX64.match(o["id"]) and o["driver"] == "files", o
    assert o["destination"] in ("a", "b") and (o["target"], o["destination"]) != ("solo", "b"), o
    t = datetime.datetime.fromtimestamp(o["epoch"], datetime.timezone.utc)
    assert o["time"] == t.strftime("%Y-%m-%dT%H:%M:%SZ"), o
for dest in "ab":
    ep = [o["epoch"] for o in d if o["destination"] == dest and o["target"] == "tree"]
    assert ep == sorted(ep) and len(ep) == 2, ep            # oldest first
PY
arca --json list solo > "$T/list-solo.json" || fail "list --json solo"
assert_json "$T/list-solo.json" "list --json solo" <<'PY'
assert len(d) == 2 and {o["target"] for o in d} == {"solo"}, d
PY

step "forget --dry-run --json changes nothing; forget then does what it said"
objects > "$T/before"
arca --json forget --dry-run > "$T/forget-dry.json" || fail "forget --dry-run --json"
objects > "$T/after"
diff "$T/before" "$T/after" >&2 || fail "forget --dry-run changed the repositories"
arca --json list > "$T/list2.json"
cmp -s "$T/list.json" "$T/list2.json" || fail "forget --dry-run changed the list"
assert_json "$T/forget-dry.json" "forget --dry-run --json" <<'PY'
assert isinstance(d, list) and len(d) == 4, d   # tree in a and b; solo has no policy
for o in d:
    typed(o, id=str, target=str, destination=str, epoch=int, keep=bool, reason=str)
    assert o["target"] == "tree", o
for dest in "ab":
    mine = sorted((o for o in d if o["destination"] == dest), key=lambda o: o["epoch"])
    assert [o["keep"] for o in mine] == [False, True], mine
    assert mine[1]["reason"] == "newest, last" and mine[0]["reason"] == "", mine
PY
arca --json forget > "$T/forget.json" || fail "forget --json"
python3 - "$T/forget-dry.json" "$T/forget.json" <<'PY' || fail "forget did not do what its dry run said"
import json, sys
dry, real = (json.load(open(p)) for p in sys.argv[1:])
key = lambda l: sorted((o["id"], o["keep"]) for o in l)
assert key(dry) == key(real), (dry, real)
PY
arca --json list tree > "$T/list3.json"
python3 - "$T/forget-dry.json" "$T/list3.json" <<'PY' || fail "the list after forget is not what the dry run kept"
import json, sys
dry, now = (json.load(open(p)) for p in sys.argv[1:])
assert sorted(o["id"] for o in dry if o["keep"]) == sorted(o["id"] for o in now), (dry, now)
PY

step "prune --dry-run --json changes nothing; prune then does what it said"
objects > "$T/before"
arca --json prune --dry-run > "$T/prune-dry.json" || fail "prune --dry-run --json"
objects > "$T/after"
diff "$T/before" "$T/after" >&2 || fail "prune --dry-run changed the repositories"
# prune --json prints one JSON document: an array, an object per destination.
assert_json "$T/prune-dry.json" "prune --dry-run --json" <<'PY'
assert len(docs) == 1 and isinstance(docs[0], list), docs
docs = docs[0]
assert [x["destination"] for x in docs] == ["a", "b"], docs
for x in docs:
    typed(x, destination=str, dry_run=bool, packs_deleted=int, packs_repacked=int, bytes_freed=int)
    assert x["dry_run"] is True and x["packs_deleted"] + x["packs_repacked"] >= 1, x
    assert x["bytes_freed"] > 0, x
PY
arca --json prune > "$T/prune.json" || fail "prune --json"
python3 - "$T/prune-dry.json" "$T/prune.json" <<'PY' || fail "prune did not do what its dry run said"
import json, sys
dry, real = (json.load(open(p)) for p in sys.argv[1:])
assert len(dry) == len(real) == 2, (dry, real)
for a, b in zip(dry, real):
    assert b["dry_run"] is False, b
    assert (a["packs_deleted"], a["packs_repacked"]) == (b["packs_deleted"], b["packs_repacked"]), (a, b)
PY
objects > "$T/after-prune"
diff "$T/before" "$T/after-prune" > /dev/null && fail "prune --json deleted nothing"

step "verify --json: ok, then the damage in b named"
arca --json verify --read-data > "$T/verify.json" || fail "verify --json"
assert_json "$T/verify.json" "verify --json" <<'PY'
typed(d, ok=bool, problems=list)
assert d["ok"] is True and d["problems"] == [], d
PY
pack=$(find "$T/b/packs" -type f | head -1)
cp "$pack" "$T/pack.orig"
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(bytes(b))' "$pack"
set +e
arca --json verify --read-data > "$T/verify-bad.json" 2> "$T/err"
rc=$?
set -e
[ "$rc" = 7 ] || { cat "$T/err" >&2; fail "verify --json of damage: exit $rc, not 7"; }
assert_json "$T/verify-bad.json" "verify --json with a damaged pack" <<PY
typed(d, ok=bool, problems=list)
assert d["ok"] is False and d["problems"], d
for p in d["problems"]:
    typed(p, problem=str)
    assert p.get("destination") == "b" or p.get("target") == "tree", p
assert any("${pack#"$T/b/"}" in p["problem"] for p in d["problems"]), d
PY
cp "$T/pack.orig" "$pack"

step "repair index --json: per destination, rebuilt from how many packs"
arca --json repair index b > "$T/repair.json" || fail "repair index --json"
assert_json "$T/repair.json" "repair index --json" <<PY
typed(d, ok=bool, destinations=list)
assert d["ok"] is True and len(d["destinations"]) == 1, d
x = d["destinations"][0]
typed(x, destination=str, rebuilt=bool, packs=int, damaged_packs=list)
assert x["destination"] == "b" and x["rebuilt"] is True and x["damaged_packs"] == [], x
assert x["packs"] == $(find "$T/b/packs" -type f | wc -l), x
PY

step "plugins --json"
arca --json plugins > "$T/plugins.json" || fail "plugins --json"
assert_json "$T/plugins.json" "plugins --json" <<PY
typed(d, plugin_dir=str, abi=int, drivers=list, refused=list)
assert d["plugin_dir"] == "$PLUGIN_DIR" and d["refused"] == [], d
for x in d["drivers"]:
    typed(x, name=str, version=str, abi=int, description=str, path=str, kinds=list,
          target_options=list, destination_options=list)
    assert x["path"].startswith("$PLUGIN_DIR/") and set(x["kinds"]) <= {"target", "destination"}, x
    for opt in x["target_options"] + x["destination_options"]:
        typed(opt, name=str, required=bool)
names = {x["name"] for x in d["drivers"]}
assert {"dir", "files"} <= names, names
PY

pass "snapshot, list, forget, prune, verify, repair index and plugins --json"
