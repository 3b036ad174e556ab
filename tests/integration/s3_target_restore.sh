#!/bin/sh
# The s3 target's restore options (issue 16 part 2): --into s3://BUCKET/PREFIX
# gives every object back into another bucket under a prefix, bytes, headers
# and tags, whatever its key ("..", ".", a folder marker, spaces, UTF-8);
# --prefix restores part; objects created since the snapshot are kept
# unless --delete-extra, which removes them and only them; the summary
# counts each item once.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start media copy part
OBJ="python3 $ARCA_SRCDIR/tests/s3_objects.py"
tab=$(printf '\t')
{
	printf 'img/a.jpg\t70000\t1\tContent-Type: image/jpeg\tCache-Control: max-age=3600\tx-amz-meta-owner: alice\tx-amz-tagging: team=web&state=pub%%20lic\n'
	printf 'img/b c.png\t1000\t2\tContent-Type: image/png\tContent-Encoding: identity\tx-amz-tagging: k%%C3%%A9y=v%%3Dw\n'
	printf 'docs/r.pdf\t3000\t3\tContent-Disposition: attachment; filename="r.pdf"\tContent-Language: fr\tExpires: Thu, 01 Dec 2033 16:00:00 GMT\n'
	printf 'utf8/\303\261and\303\272.txt\t12\t4\tContent-Type: text/plain; charset=utf-8\n'
	printf 'photos/\t0\t5\n'
	printf '..\t33\t6\tx-amz-meta-odd: dotdot\n'
	printf '.\t34\t7\n'
	printf 'trailing space \t35\t8\n'
	printf 'big.bin\t6000000\t9\tContent-Type: video/mp4\n'
} > "$T/spec"
$OBJ put "$S3_PORT" media "$T/spec"

write_engine_config
s3_target media media "part_size = 5M"
arca init local
arca snapshot media
$OBJ dump "$S3_PORT" media "$T/before"
grep -q "^img/a.jpg$tab.*tag: state=pub lic" "$T/before" || fail "the tags were not put"

step "restore --into s3://copy/pre/: every object, bytes, headers and tags, counted once"
arca restore media --into s3://copy/pre/ 2> "$T/err" || { cat "$T/err" >&2; fail "restore failed"; }
expect_stderr '9 object\(s\) written to bucket copy'
expect_stderr 'done: 9 items'
$OBJ dump "$S3_PORT" copy "$T/copy"
sed 's|^pre/||' "$T/copy" > "$T/copy.stripped"
diff "$T/before" "$T/copy.stripped" || fail "the copy differs from the bucket"

step "restore --prefix img/ into another bucket: that part only"
arca restore media --into s3://part --prefix img/
$OBJ dump "$S3_PORT" part "$T/part"
grep "^img/" "$T/before" > "$T/want"
diff "$T/want" "$T/part" || fail "--prefix img/ did not restore exactly img/"

step "objects created since the snapshot are kept; --delete-extra removes them (only)"
printf 'new/extra.txt\t10\t50\nimg/new.jpg\t11\t51\n' > "$T/extra"
$OBJ put "$S3_PORT" copy "$T/extra"
sed 's|^|pre/|' "$T/extra" > "$T/extra.pre"
$OBJ put "$S3_PORT" copy "$T/extra.pre"
arca restore media --into s3://copy/pre/
$OBJ dump "$S3_PORT" copy "$T/copy2"
grep -q "^pre/new/extra.txt$tab" "$T/copy2" || fail "an object created since was removed without --delete-extra"
arca restore media --into s3://copy/pre/ --delete-extra
$OBJ dump "$S3_PORT" copy "$T/copy3"
grep -v "^pre/" "$T/copy3" | grep -q "^new/extra.txt$tab" || fail "--delete-extra went outside the prefix"
grep "^pre/" "$T/copy3" | sed 's|^pre/||' > "$T/copy3.stripped"
diff "$T/before" "$T/copy3.stripped" || fail "--delete-extra did not leave exactly the snapshot"

step "a failure in a writer thread (a missing bucket) stops the restore with its message"
expect_fail 8 arca restore media --into s3://nosuch/ --jobs 4
expect_stderr 'bucket nosuch does not exist'

step "--into a bare name that is no section is refused, naming the way to give a directory"
expect_fail 3 arca restore media --into nosuch
expect_stderr 'no \[destination nosuch\].*\./nosuch'
pass
