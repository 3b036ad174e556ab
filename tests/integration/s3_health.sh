#!/bin/sh
# `arca health` of an s3 target against s3rver: a bucket prefix that lists
# and whose first object reads is healthy (exit 0, the first key said); an
# empty prefix is healthy and said to be empty; a missing bucket (8), an
# unknown access key (5), a wrong secret (5) and a wrong region (3, from the
# fault proxy's canned answers), a server that is not there (4) and a web
# server that is no S3 (6) are not, each with the driver's own message.
# --into looks at a restored copy: a bucket prefix (s3://, a [destination]
# NAME), or a directory a restore wrote files into (its manifest).
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start media copy
OBJ="python3 $ARCA_SRCDIR/tests/s3_objects.py"
printf 'site/index.html\t900\t1\tContent-Type: text/html\nsite/img/a.png\t70\t2\nother/x\t5\t3\n' > "$T/spec"
$OBJ put "$S3_PORT" media "$T/spec"

write_engine_config
s3_target media media "prefix = site/"
s3_target empty media "prefix = nothing/"
s3_target nobucket nosuch
s3_target badkey media "access_key_id = NOSUCHKEY"
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$(free_port) s3_target down media
s3_dest offsite copy pre/
arca init local > /dev/null

step "a prefix that lists and reads: healthy, its first key said"
arca health media >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; fail "health of media"; }
grep -q "^target media: healthy (driver s3)$" "$T/out" || { cat "$T/out"; fail "no healthy line"; }
grep -q "bucket media prefix \"site/\" at $S3_ENDPOINT: first key site/img/a.png (70 bytes) reads" "$T/err" ||
	{ cat "$T/err"; fail "health does not say what it saw"; }
arca --json health media >"$T/out" 2>/dev/null || fail "health --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["healthy"] is True and d["status"] == 0, d' "$T/out" ||
	fail "--json health"

step "an empty prefix: healthy, said to be empty"
arca health empty 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health of an empty prefix"; }
grep -q 'prefix "nothing/" .*serving, and empty' "$T/err" || { cat "$T/err"; fail "the empty prefix is not said"; }

step "a missing bucket: 8, the driver's message"
expect_fail 8 arca health nobucket
expect_stderr "target nobucket is not healthy: .*bucket nosuch does not exist: create it"

step "an unknown access key: 5"
expect_fail 5 arca health badkey
expect_stderr "does not know access key id NOSUCHKEY"

for case in "sig 5 secret access key \(from section \[wrong\]\) is wrong for access key id S3RVER" \
	"region 3 bucket media is not in region us-east-1; the server says eu-west-1: set region = eu-west-1"; do
	set -- $case
	what=$1 code=$2; shift 2
	step "$what: $code, named"
	s3_proxy --schedule "$what"
	sed -i '/^\[target wrong\]/,$d' "$ARCA_CONFIG"
	S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$PROXY_PORT s3_target wrong media
	expect_fail "$code" arca health wrong
	expect_stderr "$*"
	kill "$PROXY_PID"
done
sed -i '/^\[target wrong\]/,$d' "$ARCA_CONFIG"

step "a server that is not there: 4"
expect_fail 4 arca health down
expect_stderr "target down is not healthy: s3 http://127.0.0.1:[0-9]+: GET \(bucket\): .*(refused|connect)"

step "a web server that is no S3 server: 6"
mkdir -p "$T/www/media"
www_start "$T/www"
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$WWW_PORT s3_target web media
expect_fail 6 arca health web
expect_stderr "listing bucket media: the answer \(HTTP 200, [0-9]+ bytes\) is not a listing"

step "--into a restored bucket prefix: s3://, and a [destination] NAME"
arca snapshot media > /dev/null 2>&1 || fail "snapshot media"
arca restore media --into s3://copy/pre/ > /dev/null 2>&1 || fail "restore --into s3://copy/pre/"
arca health media --into s3://copy/pre/ 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health --into s3://"; }
grep -q 'looking at bucket copy, prefix "pre/"' "$T/err" || { cat "$T/err"; fail "--into not said"; }
grep -q 'bucket copy prefix "pre/" .*first key pre/img/a.png (70 bytes) reads' "$T/err" ||
	{ cat "$T/err"; fail "health --into does not say what it saw"; }
arca health media --into offsite 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health --into NAME"; }
grep -q 'first key pre/img/a.png' "$T/err" || { cat "$T/err"; fail "health --into NAME did not look at its prefix"; }
arca health media --into s3://copy/elsewhere/ 2>"$T/err" >/dev/null || { cat "$T/err"; fail "--into an empty prefix"; }
grep -q 'serving, and empty' "$T/err" || { cat "$T/err"; fail "the empty --into prefix is not said"; }
expect_fail 8 arca health media --into s3://nosuch/pre/
expect_stderr "bucket nosuch does not exist"
expect_fail 3 arca health media --into nosuchsection
expect_stderr "no \[destination nosuchsection\]"

step "--into a directory a restore wrote: its manifest"
arca restore media --into "$T/files" > /dev/null 2>&1 || fail "restore --into DIR"
arca health media --into "$T/files" 2>"$T/err" >/dev/null || { cat "$T/err"; fail "health --into DIR"; }
grep -q "$T/files: %manifest.jsonl names 2 object(s)" "$T/err" || { cat "$T/err"; fail "the manifest is not counted"; }
rm "$T/files/%manifest.jsonl"
expect_fail 8 arca health media --into "$T/files"
expect_stderr "%manifest.jsonl in it: .*this one did not finish"
expect_fail 8 arca health media --into "$T/never"
expect_stderr "$T/never: the directory: No such file"
pass
