#!/bin/sh
# The s3 driver as a target (a first cut of issue 16 part 2): a bucket's
# objects, with their headers (Content-Type, Cache-Control, x-amz-meta-*,
# ...), keys with spaces and UTF-8, a 12 MB object, more than 1000 objects
# (listing pages), are snapshotted into a dir repository; keys that cannot
# be item names yet (a folder marker "photos/"; s3rver cannot store "a//b" or
# "/lead") are left out and named (exit 15); an
# unchanged re-run downloads no object; restore into the bucket refuses
# (exit 11) to replace objects that differ, writing nothing, and with
# --overwrite gives back every object byte for byte with its headers.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start media
OBJ="python3 $ARCA_SRCDIR/tests/s3_objects.py"
tab=$(printf '\t')
{
	printf 'img/a.jpg\t70000\t1\tContent-Type: image/jpeg\tCache-Control: max-age=3600\tx-amz-meta-owner: alice\n'
	printf 'docs/report 2024.pdf\t300000\t2\tContent-Type: application/pdf\tContent-Disposition: attachment; filename="r.pdf"\n'
	printf 'utf8/\303\261and\303\272.txt\t12\t3\tContent-Type: text/plain; charset=utf-8\tContent-Language: es\n'
	printf 'big/video.bin\t12000000\t4\tContent-Type: video/mp4\tx-amz-meta-camera: x100\n'
	printf 'empty\t0\t5\n'
	i=0
	while [ $i -lt 1010 ]; do printf 'thumbs/t%04d.png\t%d\t%d\tContent-Type: image/png\n' $i $((100 + i)) $((10 + i)); i=$((i + 1)); done
} > "$T/spec"
printf 'photos/\t0\t6\n' > "$T/odd"
$OBJ put "$S3_PORT" media "$T/spec"
$OBJ put "$S3_PORT" media "$T/odd"

write_engine_config
s3_proxy --schedule ok
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$PROXY_PORT s3_dest unused media
# the target: the dest's keys, minus the engine's destination keys
cat >> "$ARCA_CONFIG" <<EOC

[target media]
driver = s3
endpoint = http://127.0.0.1:$PROXY_PORT
bucket = media
access_key_id = S3RVER
secret_access_key_file = $T/s3.secret
part_size = 5M
destinations = local
EOC
sed -i '/^\[destination unused\]/,/^$/d' "$ARCA_CONFIG"
arca init local

step "snapshot: every object, the folder marker left out and named (exit 15)"
expect_fail 15 arca snapshot media
expect_stderr 'photos/'
$OBJ dump "$S3_PORT" media "$T/before"
grep -c "$tab" "$T/before" | grep -qx 1016 || fail "the bucket does not hold the 1016 objects put"

step "an unchanged re-run downloads no object"
: > "$T/proxy.log"
expect_fail 15 arca snapshot media
gets=$(grep -c ' ok GET /media/[^?]' "$T/proxy.log" || true)
[ "$gets" -eq 0 ] || { grep ' ok GET /media/[^?]' "$T/proxy.log" | head; fail "$gets objects downloaded again"; }

step "restore refuses to replace what differs, and writes nothing"
printf 'img/a.jpg\t5000\t99\tContent-Type: text/plain\n' > "$T/changed"
$OBJ put "$S3_PORT" media "$T/changed"
curl -s -X DELETE "http://127.0.0.1:$S3_PORT/media/docs/report%202024.pdf" -o /dev/null
curl -s -X DELETE "http://127.0.0.1:$S3_PORT/media/big/video.bin" -o /dev/null
expect_fail 11 arca restore media
expect_stderr 'img/a.jpg exists and differs from the snapshot'
expect_stderr 'nothing was written: --overwrite replaces them'
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/media/docs/report%202024.pdf" |
	grep -qx 404 || fail "something was written although restore refused"

step "restore --overwrite: every object, bytes and headers (the 12 MB one in 3 parts)"
: > "$T/proxy.log"
arca restore media --overwrite
[ "$(grep -c ' ok PUT /media/big/video.bin?partNumber=' "$T/proxy.log")" -eq 3 ] ||
	fail "big/video.bin not restored in 3 parts"
$OBJ dump "$S3_PORT" media "$T/after"
grep -v "^photos/$tab" "$T/before" > "$T/want"
grep -v "^photos/$tab" "$T/after" > "$T/got"
diff "$T/want" "$T/got" || fail "the restored bucket differs"
pass
