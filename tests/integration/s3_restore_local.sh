#!/bin/sh
# `arca restore S3TARGET --into DIR` (issue 16 part 2): every object a file
# under DIR at the documented path of its key, whatever the key ("..",
# ".", folder markers, a key that is also a "folder", "%"-names,
# UTF-8, a segment longer than a file name), its ETag, Last-Modified (the
# file's mtime), headers and tags in DIR/%manifest.jsonl; checked byte for
# byte and header by header against the bucket by an independent decoder
# (tests/s3_local_check.py). Nothing lands outside DIR, a symlink inside
# DIR is not followed, a non-empty DIR is refused without --overwrite
# (exit 11, nothing written), --prefix restores part, and the summary
# counts each object once. (s3rver cannot store "../x", "/a" or "a//b":
# tests/unit/test_s3_restore.c maps those.)
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start media
OBJ="python3 $ARCA_SRCDIR/tests/s3_objects.py"
CHECK="python3 $ARCA_SRCDIR/tests/s3_local_check.py"
long=$(printf 'L%.0s' $(seq 1 220))
{
	printf 'img/a.jpg\t70000\t1\tContent-Type: image/jpeg\tCache-Control: max-age=3600\tx-amz-meta-owner: alice\tx-amz-tagging: team=web&state=pub%%20lic\n'
	printf 'img/b c.png\t1000\t2\tContent-Type: image/png\tContent-Encoding: identity\tx-amz-tagging: k%%C3%%A9y=v%%3Dw\n'
	printf 'docs/r.pdf\t3000\t3\tContent-Disposition: attachment; filename="r.pdf"\tContent-Language: fr\tExpires: Thu, 01 Dec 2033 16:00:00 GMT\n'
	printf 'utf8/\303\261and\303\272.txt\t12\t4\tContent-Type: text/plain; charset=utf-8\n'
	printf 'photos/\t0\t5\n'
	printf 'photos/x.jpg\t10\t15\n'
	printf 'docs\t7\t16\tx-amz-meta-kind: also-a-folder\n'
	printf '..\t33\t6\tx-amz-meta-odd: dotdot\n'
	printf '.\t34\t7\n'
	printf '%%self\t38\t19\n'
	printf '%%manifest.jsonl\t39\t20\n'
	printf '100%% sure\t40\t21\n'
	printf 'trailing space \t35\t8\n'
	printf 'deep/%s/%s\t41\t22\n' "$long" "$long"
	printf 'big.bin\t6000000\t9\tContent-Type: video/mp4\n'
} > "$T/spec"
$OBJ put "$S3_PORT" media "$T/spec"

write_engine_config
s3_target media media "part_size = 5M"
arca init local
arca snapshot media
$OBJ dump "$S3_PORT" media "$T/before"
nobj=$(wc -l < "$T/before")
[ "$nobj" -eq 15 ] || { cat "$T/before" | cut -f1; fail "s3rver kept only $nobj of the objects put"; }

step "restore --into DIR: every object a file, with its metadata; nothing outside DIR"
mkdir "$T/w"
arca restore media --into "$T/w/out" 2> "$T/err" || { cat "$T/err" >&2; fail "restore --into DIR failed"; }
grep -q "done: $nobj items" "$T/err" || { cat "$T/err" >&2; fail "the summary does not count $nobj items"; }
expect_stderr "$nobj object\\(s\\) written under"
$CHECK "$T/before" "$T/w/out" || fail "the directory differs from the bucket"
[ "$(ls -A "$T/w")" = out ] || fail "something was written beside DIR: $(ls -A "$T/w")"
[ -f "$T/w/out/img/a.jpg" ] && [ -f "$T/w/out/docs/%self" ] && [ -f "$T/w/out/photos/%" ] &&
	[ -f "$T/w/out/%2E%2E" ] && [ -f "$T/w/out/%2E" ] && [ -f "$T/w/out/%25self" ] || { (cd "$T/w/out" && find . | sort) >&2; fail "the paths are not the documented ones"; }
find "$T/w/out" -name '%tmp.*' | grep -q . && fail "a temporary file was left"

step "a DIR that holds anything is refused without --overwrite, nothing written"
(cd "$T/w/out" && find . -type f -exec sha256sum {} + | sort) > "$T/sum1"
printf 'changed' > "$T/w/out/img/a.jpg"
(cd "$T/w/out" && find . -type f -exec sha256sum {} + | sort) > "$T/sum2"
expect_fail 11 arca restore media --into "$T/w/out"
expect_stderr 'not empty.*--overwrite'
(cd "$T/w/out" && find . -type f -exec sha256sum {} + | sort) | diff - "$T/sum2" || fail "a refused restore wrote"
arca restore media --into "$T/w/out" --overwrite
(cd "$T/w/out" && find . -type f -exec sha256sum {} + | sort) | diff - "$T/sum1" || fail "--overwrite did not give back the objects"

step "a symlink inside DIR is not followed"
mkdir "$T/outside" "$T/w/trap"
ln -s "$T/outside" "$T/w/trap/img"
expect_fail 11 arca restore media --into "$T/w/trap" --overwrite
expect_stderr 'symbolic link.*not followed'
[ -z "$(ls -A "$T/outside")" ] || fail "the restore wrote through a symlink: $(ls -A "$T/outside")"

step "a symlink at a file's own name is replaced, never written through"
printf 'victim' > "$T/outside/victim"
rm "$T/w/out/big.bin"
ln -s "$T/outside/victim" "$T/w/out/big.bin"
arca restore media --into "$T/w/out" --overwrite
[ "$(cat "$T/outside/victim")" = victim ] || fail "the restore wrote through a symlink at a file's name"
[ -f "$T/w/out/big.bin" ] && [ ! -L "$T/w/out/big.bin" ] || fail "big.bin is not a regular file again"
$CHECK "$T/before" "$T/w/out" || fail "the directory differs from the bucket after --overwrite"

step "--prefix img/ into a directory: that part only, counted once"
arca restore media --into "$T/w/part" --prefix img/ 2> "$T/err"
expect_stderr '2 object\(s\) written under'
grep '^img/' "$T/before" > "$T/want"
$CHECK "$T/want" "$T/w/part" || fail "--prefix img/ did not restore exactly img/"

step "--delete-extra is for a bucket"
expect_fail 3 arca restore media --into "$T/w/x" --delete-extra
expect_stderr 'delete-extra is for a bucket'
pass
