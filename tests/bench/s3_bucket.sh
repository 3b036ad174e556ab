#!/bin/sh
# tests/bench/s3_bucket.sh — the s3 driver against awscli and rclone on the
# same data in the same run, on s3rver over loopback (issue 16's benchmark):
#  1. bucket backup: a vectis-media.sh tree (BENCH_MIB, default 1024 MiB) in
#     bucket `media`; `arca snapshot` of it (s3 target, local dir repository)
#     against `aws s3 sync s3://media DIR` and `rclone sync s3:media DIR`;
#     arca twice: by default (tags = auto), which on s3rver costs a
#     GetObjectTagging per object (s3rver never sends x-amz-tagging-count),
#     and with tags = never into a second repository, the same requests
#     aws and rclone make (neither copies tags), and what tags = auto costs
#     on Amazon S3, which sends the count;
#  2. the unchanged re-run of each;
#  3. restore into a new bucket: `arca restore --into s3://NEW` against
#     `aws s3 sync DIR s3://NEW` (and rclone sync up, for reference);
#  4. the media tree (files target) snapshotted into a repository on S3 (s3
#     destination, same server) against `rclone copy DIR s3:NEW`;
#  5. peak RSS of `arca snapshot` of a bucket of BENCH_MANY (default 100,000)
#     small objects (wall time too; awscli's and rclone's RSS for reference).
# Ratios are "how many times faster arca is" (their time / arca's); the
# issue's bars: 1 >= 2x aws and > 1x rclone, 2 >= 1x rclone, 3 >= 2x aws,
# 4 >= 1x rclone, 5 < 128 MiB.
#
# rclone is run with --fast-list: one recursive listing of the bucket, as
# `aws s3 sync` and arca list it. Without it rclone walks "directories" with
# delimiter=/ listings, and s3rver 3.7.1 answers a delimiter listing without
# the CommonPrefixes of keys two or more levels below the asked prefix (its
# filesystem walk prunes those directories before a key in them names the
# prefix): a bucket of keys like media/000/x is then empty to rclone (what an
# earlier version of this benchmark met). Other flags: provider Other
# (path-style, v1 listings; both work on s3rver), --checksum off (size and
# modification time, rclone's default, compared with arca's ETag+size+mtime).
# The server's own floor is measured too: every object GET (and the tree
# PUT) by a bare client, 16 connections, bytes discarded: no tool can copy
# the bucket faster than s3rver serves it (s3rver is one Node.js thread; on a
# 2-core machine it is the bottleneck of every tool here), so a ratio against
# another tool cannot pass (floor / its time) however fast arca is. The
# last column is the CPU time s3rver spent during each step: the part of a
# step no client can make shorter on its own (requests it makes the server
# answer count: arca's tags = auto costs s3rver a GetObjectTagging per object).
# Not part of `make check`; awscli and rclone are needed here only (Debian:
# apt-get install awscli rclone); a missing one is left out.
#
#   tests/bench/s3_bucket.sh BUILDDIR   (BENCH_MIB=N BENCH_MANY=N BENCH_TOOLS="aws rclone")
# (BENCH_TOOLS: the competitors to run, default both; empty: arca alone)
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"
MIB=${BENCH_MIB:-1024}
MANY=${BENCH_MANY:-100000}
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) is needed for peak RSS"
. "$ARCA_SRCDIR/tests/lib/bench_run.sh"   # run, secs, rss, ratio
# speedup ARCA OTHER: OTHER's time / ARCA's
speedup() { ratio "$(secs "$2")" "$(secs "$1")"; }
line() { printf '  %-46s %8s s  %6s MiB  %6s s%s\n' "$1" "$(secs "$2")" "$(rss "$2")" "$(srv "$2")" "${3:-}"; }
# floor_get.py PORT BUCKET: GET every object, 16 connections, bytes discarded
cat > "$T/floor_get.py" <<'PY'
import concurrent.futures, http.client, re, sys, threading, urllib.parse
port, bucket = int(sys.argv[1]), sys.argv[2]
keys, token = [], None
while True:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    q = "/%s/?list-type=2" % bucket + ("&continuation-token=" + urllib.parse.quote(token) if token else "")
    c.request("GET", q); body = c.getresponse().read().decode()
    keys += [k.replace("&amp;", "&") for k in re.findall("<Key>([^<]*)</Key>", body)]
    m = re.search("<NextContinuationToken>([^<]*)</NextContinuationToken>", body)
    if not m: break
    token = m.group(1)
local = threading.local()
def get(k):
    c = getattr(local, "c", None) or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    local.c = c
    c.request("GET", "/%s/%s" % (bucket, urllib.parse.quote(k)))
    r = c.getresponse(); n = 0
    while True:
        b = r.read(1 << 20)
        if not b: break
        n += len(b)
    if r.status != 200: raise SystemExit("GET %s: HTTP %d" % (k, r.status))
    return n
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    print("%d bytes in %d objects" % (sum(ex.map(get, keys)), len(keys)))
PY
# upload PORT BUCKET DIR | upload PORT BUCKET --many N: UPLOAD_JOBS (8) connections at once
cat > "$T/upload.py" <<'PY'
import concurrent.futures, http.client, mimetypes, os, sys, threading, urllib.parse
port, bucket = int(sys.argv[1]), sys.argv[2]
if sys.argv[3] == "--many":
    jobs = [("many/%03d/%07d.json" % (i % 1000, i), None, b'{"n": %d}\n' % i)
            for i in range(int(sys.argv[4]))]
else:
    jobs = [(os.path.relpath(os.path.join(d, f), sys.argv[3]), os.path.join(d, f), None)
            for d, _, fs in os.walk(sys.argv[3]) for f in fs]
local = threading.local()
def put(job):
    key, path, data = job
    c = getattr(local, "c", None) or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    local.c = c
    body = data if data is not None else open(path, "rb").read()
    c.request("PUT", "/%s/%s" % (bucket, urllib.parse.quote(key)), body=body, headers={
        "Content-Type": mimetypes.guess_type(key)[0] or "application/octet-stream",
        "x-amz-meta-uploaded-by": "bench"})
    r = c.getresponse(); r.read()
    if r.status != 200:
        raise SystemExit("PUT %s: HTTP %d" % (key, r.status))
with concurrent.futures.ThreadPoolExecutor(int(os.environ.get("UPLOAD_JOBS", "8"))) as ex:
    list(ex.map(put, jobs))
print("%d objects in bucket %s" % (len(jobs), bucket))
PY
upload() { python3 "$T/upload.py" "$@"; }

s3_start media arcanew awsnew rclonenew repo rclonecopy many floorput
SERVER_PID=$s3_pid # s3rver's CPU per step: one Node.js thread, the bound
echo "a $MIB MiB vectis-media.sh tree..."
sh "$ARCA_SRCDIR/tests/data/vectis-media.sh" "$T/tree" "$MIB"
upload "$S3_PORT" media "$T/tree" || fail "upload"
write_engine_config
s3_dest s3repo repo
s3_target media media
files_target tree "$T/tree" "destinations = s3repo"
s3_target many many
s3_target medianotags media "tags = never" "destinations = notags"
printf '\n[destination notags]\ndriver = dir\npath = %s\npassphrase_env = ARCA_PASSPHRASE\n' \
	"$T/repo-notags" >> "$ARCA_CONFIG"
export ARCA_TEST_FAST_KDF=1
arca init > "$T/init.log" 2>&1 || { cat "$T/init.log"; fail "init"; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other RCLONE_CONFIG_S3_ENDPOINT=$S3_ENDPOINT
export RCLONE_CONFIG_S3_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=S3RVER
nobj=$(find "$T/tree" -type f | wc -l)

run floorget python3 "$T/floor_get.py" "$S3_PORT" media
run floorput env UPLOAD_JOBS=16 python3 "$T/upload.py" "$S3_PORT" floorput "$T/tree"
run arca "$ARCA" snapshot media
run arca2 "$ARCA" snapshot media
run arcanotags "$ARCA" snapshot medianotags
run arcarest "$ARCA" restore media --into s3://arcanew
run arcatree "$ARCA" snapshot tree
have_aws=0 have_rclone=0
TOOLS=${BENCH_TOOLS-aws rclone}
if case " $TOOLS " in *" aws "*) command -v aws > /dev/null ;; *) false ;; esac; then
	have_aws=1
	run aws aws --endpoint-url "$S3_ENDPOINT" s3 sync --quiet s3://media "$T/aws"
	run aws2 aws --endpoint-url "$S3_ENDPOINT" s3 sync --quiet s3://media "$T/aws"
	got=$(find "$T/aws" -type f | wc -l)
	[ "$got" -eq "$nobj" ] || fail "aws copied $got of $nobj objects"
	run awsrest aws --endpoint-url "$S3_ENDPOINT" s3 sync --quiet "$T/aws" s3://awsnew
fi
if case " $TOOLS " in *" rclone "*) command -v rclone > /dev/null ;; *) false ;; esac; then
	have_rclone=1
	# an AWS_CA_BUNDLE of the environment breaks rclone on plain http
	rcl="env -u AWS_CA_BUNDLE rclone --fast-list --transfers 8 --checkers 16"
	run rclone $rcl sync s3:media "$T/rclone"
	run rclone2 $rcl sync s3:media "$T/rclone"
	got=$(find "$T/rclone" -type f | wc -l)
	[ "$got" -eq "$nobj" ] || fail "rclone copied $got of $nobj objects"
	run rclonerest $rcl sync "$T/rclone" s3:rclonenew
	run rclonecopy $rcl copy "$T/tree" s3:rclonecopy
fi
# the restored buckets hold what the original does (keys and bytes)
for b in arcanew; do
	python3 "$ARCA_SRCDIR/tests/s3_objects.py" dump "$S3_PORT" media "$T/d.media"
	python3 "$ARCA_SRCDIR/tests/s3_objects.py" dump "$S3_PORT" $b "$T/d.$b"
	diff "$T/d.media" "$T/d.$b" > /dev/null || fail "bucket $b differs from media"
done

echo "peak RSS: a bucket of $MANY small objects..."
upload "$S3_PORT" many --many "$MANY" || fail "upload many"
run arcamany "$ARCA" snapshot many
run arcamany2 "$ARCA" snapshot many
[ $have_aws = 1 ] && run awsmany aws --endpoint-url "$S3_ENDPOINT" s3 sync --quiet s3://many "$T/awsmany"
[ $have_rclone = 1 ] && run rclonemany $rcl sync s3:many "$T/rclonemany"

mib=$(du -sm "$T/tree" | cut -f1)
echo
echo "s3rver on loopback, $nobj objects, $mib MiB (vectis-media.sh $MIB)    time  peak RSS  s3rver CPU"
line "0. s3rver's floor: every object GET, 16 conns" floorget
line "   s3rver's floor: the tree PUT, 16 conns" floorput
line "1. arca snapshot of the bucket" arca "  at $(speedup arca floorget)x the floor's speed"
[ $have_aws = 1 ] && line "   aws s3 sync bucket -> dir" aws "  arca $(speedup arca aws)x faster (bar: 2)"
[ $have_rclone = 1 ] && line "   rclone sync bucket -> dir" rclone "  arca $(speedup arca rclone)x faster (bar: > 1)"
line "   arca, tags = never (no GetObjectTagging)" arcanotags "$(
	[ $have_aws = 1 ] && printf '  %sx aws' "$(speedup arcanotags aws)"
	[ $have_rclone = 1 ] && printf ', %sx rclone' "$(speedup arcanotags rclone)")"
line "2. arca snapshot, unchanged" arca2
[ $have_aws = 1 ] && line "   aws s3 sync, unchanged" aws2 "  arca $(speedup arca2 aws2)x faster"
[ $have_rclone = 1 ] && line "   rclone sync, unchanged" rclone2 "  arca $(speedup arca2 rclone2)x faster (bar: 1)"
line "3. arca restore --into s3://new" arcarest "  at $(speedup arcarest floorput)x the floor's speed"
[ $have_aws = 1 ] && line "   aws s3 sync dir -> new bucket" awsrest "  arca $(speedup arcarest awsrest)x faster (bar: 2)"
[ $have_rclone = 1 ] && line "   rclone sync dir -> new bucket" rclonerest "  arca $(speedup arcarest rclonerest)x faster"
line "4. arca snapshot of the tree into an S3 repo" arcatree "  at $(speedup arcatree floorput)x the floor's speed"
[ $have_rclone = 1 ] && line "   rclone copy tree -> bucket" rclonecopy "  arca $(speedup arcatree rclonecopy)x faster (bar: 1)"
line "5. arca snapshot of $MANY objects" arcamany "  (bar: peak RSS < 128 MiB)"
line "   arca snapshot of them, unchanged" arcamany2 "  (bar: peak RSS < 128 MiB)"
[ $have_aws = 1 ] && line "   aws s3 sync of them" awsmany "  arca $(speedup arcamany awsmany)x faster"
[ $have_rclone = 1 ] && line "   rclone sync of them" rclonemany "  arca $(speedup arcamany rclonemany)x faster"
pass
