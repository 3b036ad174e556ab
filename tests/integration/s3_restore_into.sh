#!/bin/sh
# `arca restore S3TARGET --into` a bucket on ANOTHER S3 server (issue 16
# part 2): a second s3rver on another port. Its credentials come from a
# shared credentials file (?credentials_file=&profile=) or from a
# [destination NAME] section of the config (secret_access_key_file), never
# from the command line; without any, the target's own are not sent there
# (exit 3, nothing written) unless credentials=target. Every object arrives
# with its bytes, headers and tags; an object there that differs is refused
# without --overwrite (exit 11) and the bucket is left as it was; --prefix
# restores part; a [destination] whose prefix holds a repository is refused.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start media
P1=$S3_PORT E1=$S3_ENDPOINT
S3_DATA=$T/s3data2 s3_start other
P2=$S3_PORT E2=$S3_ENDPOINT
OBJ="python3 $ARCA_SRCDIR/tests/s3_objects.py"
{
	printf 'img/a.jpg\t70000\t1\tContent-Type: image/jpeg\tCache-Control: max-age=3600\tx-amz-meta-owner: alice\tx-amz-tagging: team=web&state=pub%%20lic\n'
	printf 'img/b c.png\t1000\t2\tContent-Type: image/png\tx-amz-tagging: k%%C3%%A9y=v%%3Dw\n'
	printf 'docs/r.pdf\t3000\t3\tContent-Disposition: attachment; filename="r.pdf"\tContent-Language: fr\n'
	printf 'photos/\t0\t5\n'
	printf '..\t33\t6\tx-amz-meta-odd: dotdot\n'
	printf 'big.bin\t6000000\t9\tContent-Type: video/mp4\n'
} > "$T/spec"
$OBJ put "$P1" media "$T/spec"

write_engine_config
s3_target media media "endpoint = $E1" "part_size = 5M"
# the other server's keys: a profile of a shared credentials file
printf '[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n[backup]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' > "$T/creds"
chmod 600 "$T/creds"
printf 'S3RVER\n' > "$T/other.secret"; chmod 600 "$T/other.secret"
s3_dest offsite other viasection/ "endpoint = $E2" "secret_access_key_file = $T/other.secret"
s3_dest repo2 other repo/ "endpoint = $E2 ; inline comments as in any section" \
	"secret_access_key_file = $T/other.secret"
arca init local
arca snapshot media
$OBJ dump "$P1" media "$T/before"

step "another endpoint without credentials: the target's are not sent, nothing written"
expect_fail 3 arca restore media --into "s3://other/x/?endpoint=$E2"
expect_stderr "endpoint $E2 is not the target's.*credentials=target"
$OBJ dump "$P2" other "$T/o0"
[ ! -s "$T/o0" ] || fail "something was written to the other server"
expect_fail 3 arca restore media --into "s3://other/x/?endpoint=$E2&access_key_id=S3RVER&secret_access_key=S3RVER"
expect_stderr 'never goes on the command line'

step "another endpoint, credentials from a shared credentials file's profile"
arca restore media --into "s3://other/copy/?endpoint=$E2&credentials_file=$T/creds&profile=backup" 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "restore into the other server failed"; }
expect_stderr '6 object\(s\) written to bucket other'
expect_stderr 'done: 6 items'
$OBJ dump "$P2" other "$T/o1"
sed -n 's|^copy/||p' "$T/o1" | diff "$T/before" - || fail "the copy on the other server differs"
[ "$(wc -l < "$T/o1")" -eq 6 ] || fail "objects outside copy/ on the other server"
$OBJ dump "$P1" media "$T/after"
diff "$T/before" "$T/after" || fail "the source bucket changed"

step "virtual-host addressing on the other endpoint (BUCKET.s3.localhost)"
arca restore media --into "s3://other/vh/?endpoint=http://s3.localhost:$P2&addressing=virtual&credentials_file=$T/creds&profile=backup" 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "restore with addressing=virtual failed"; }
$OBJ dump "$P2" other "$T/ovh"
sed -n 's|^vh/||p' "$T/ovh" | diff "$T/before" - || fail "the virtual-host copy differs"

step "the wrong profile's keys are refused by the server (exit 5)"
expect_fail 5 arca restore media --into "s3://other/bad/?endpoint=$E2&credentials_file=$T/creds"
expect_stderr 'WRONG'

step "credentials=target sends the target's own, as asked"
arca restore media --into "s3://other/t/?endpoint=$E2&credentials=target" --prefix img/
$OBJ dump "$P2" other "$T/o2"
grep -c '^t/' "$T/o2" | grep -qx 2 || fail "--prefix img/ with credentials=target did not give the 2 objects"

step "an object there that differs: refused without --overwrite, the bucket untouched"
printf 'copy/img/a.jpg\t10\t99\tContent-Type: text/plain\n' > "$T/changed"
$OBJ put "$P2" other "$T/changed"
curl -s -X DELETE "$E2/other/copy/docs/r.pdf" -o /dev/null
$OBJ dump "$P2" other "$T/o3"
expect_fail 11 arca restore media --into "s3://other/copy/?endpoint=$E2&credentials_file=$T/creds&profile=backup"
expect_stderr 'copy/img/a.jpg.*nothing was written: --overwrite'
$OBJ dump "$P2" other "$T/o4"
diff "$T/o3" "$T/o4" || fail "a refused restore changed the other bucket"
arca restore media --into "s3://other/copy/?endpoint=$E2&credentials_file=$T/creds&profile=backup" --overwrite
$OBJ dump "$P2" other "$T/o5"
sed -n 's|^copy/||p' "$T/o5" | diff "$T/before" - || fail "--overwrite did not give back the snapshot"

step "--into NAME: a [destination] section's endpoint, bucket, prefix and credentials file"
arca restore media --into offsite 2> "$T/err" || { cat "$T/err" >&2; fail "--into offsite failed"; }
$OBJ dump "$P2" other "$T/o6"
sed -n 's|^viasection/||p' "$T/o6" | diff "$T/before" - || fail "--into offsite differs"

step "--into NAME: the section as the engine read it (file:line of a bad secret; another driver refused)"
s3_dest nokey other nokey/ "endpoint = $E2" "secret_access_key_file = $T/missing.secret"
files_target tree "$T"
expect_fail 3 arca restore media --into nokey
expect_stderr "cannot read secret_access_key_file $T/missing.secret .\\[destination nokey\\], $ARCA_CONFIG:[0-9]"
expect_fail 3 arca restore media --into tree
expect_stderr '\[target tree\] of .* is of driver files, not s3'
$OBJ dump "$P2" other "$T/o6b"
diff "$T/o6" "$T/o6b" || fail "a refused --into NAME wrote to the other server"

step "--into a [destination] whose prefix holds a repository is refused"
arca init repo2
$OBJ dump "$P2" other "$T/o7"
expect_fail 11 arca restore media --into repo2
expect_stderr 'holds an arca repository'
$OBJ dump "$P2" other "$T/o8"
diff "$T/o7" "$T/o8" || fail "the restore wrote beside a repository"
pass
