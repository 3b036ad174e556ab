#!/bin/sh
# The s3 target's restore options (issue 16 part 2): --into s3://BUCKET/PREFIX
# gives every object back into another bucket under a prefix, bytes, headers
# and tags, whatever its key ("..", ".", a folder marker, spaces, UTF-8);
# --prefix restores part; objects created since the snapshot are kept
# unless --delete-extra, which removes them and only them; the summary
# counts each item once. Into a prefix among 1,500 other keys (listing
# pages): an object that differs is refused, the same ones are not written,
# the others kept; --delete-extra deletes them in batches of 1000 but never
# a key created after its listing.
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

step "into a prefix among 1,500 other keys (listing pages): one that differs refused, writing nothing"
arca restore media --into s3://copy/many/
i=0
while [ $i -lt 1500 ]; do printf 'many/e%04d\t1\t%d\n' $i $i; i=$((i + 1)); done > "$T/many"
$OBJ put "$S3_PORT" copy "$T/many"
printf 'many/img/a.jpg\t70000\t77\tContent-Type: image/jpeg\n' > "$T/differs" # same size
$OBJ put "$S3_PORT" copy "$T/differs"
curl -s -X DELETE "http://127.0.0.1:$S3_PORT/copy/many/docs/r.pdf" -o /dev/null
s3_proxy --schedule ok
via="endpoint=http://127.0.0.1:$PROXY_PORT&credentials=target"
expect_fail 11 arca restore media --into "s3://copy/many/?$via"
expect_stderr 'many/img/a.jpg exists and differs from the snapshot'
expect_stderr ' 1 object\(s\) in bucket copy differ'
grep -Eq ' (PUT|POST|DELETE) ' "$T/proxy.log" && fail "something was written although restore refused"

step "--overwrite: only the differing and the missing written, from one listing; the 1,500 kept"
: > "$T/proxy.log"
arca restore media --into "s3://copy/many/?$via" --overwrite 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "restore --overwrite failed"; }
expect_stderr ' 2 object\(s\) written to bucket copy'
[ "$(grep -c ' GET /copy/\{0,1\}?.*list-type=2' "$T/proxy.log")" -eq 2 ] ||
	{ cat "$T/proxy.log" >&2; fail "not one listing of 2 pages"; }
grep -q ' HEAD ' "$T/proxy.log" && fail "restore looked at objects one by one"
grep ' PUT ' "$T/proxy.log" | sed 's/^[0-9]* ok PUT //' | sort > "$T/puts"
printf '/copy/many/docs/r.pdf\n/copy/many/img/a.jpg\n/copy/many/img/a.jpg?tagging\n' |
	diff - "$T/puts" || fail "not exactly the differing and the missing objects written"
$OBJ dump "$S3_PORT" copy "$T/m1"
[ "$(grep -c '^many/e[0-9]' "$T/m1")" -eq 1500 ] || fail "other keys deleted without --delete-extra"
grep '^many/' "$T/m1" | grep -v '^many/e[0-9]' | sed 's|^many/||' | diff "$T/before" - ||
	fail "restore --overwrite did not give back the snapshot"

step "--delete-extra: the 1,500 deleted (2 batches); a key created while the restore runs kept"
kill "$PROXY_PID"
# the first requests slowed (1.5 s each, the listing's and the writes'), so
# that a key is surely created after the listing and before the deletion
sched=slow,slow,slow,slow,slow,slow,slow,slow,slow,slow,slow,slow
i=0
while [ $i -lt 3000 ]; do sched=$sched,ok; i=$((i + 1)); done
: > "$T/proxy.log"
s3_proxy --schedule "$sched"
via="endpoint=http://127.0.0.1:$PROXY_PORT&credentials=target"
for k in docs/r.pdf img/a.jpg 'img/b%20c.png'; do
	curl -s -X DELETE "http://127.0.0.1:$S3_PORT/copy/many/$k" -o /dev/null
done
arca restore media --into "s3://copy/many/?$via" --delete-extra --jobs 1 2> "$T/err" &
rpid=$!
i=0
until grep -q ' PUT /copy/many/' "$T/proxy.log"; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 $rpid 2>/dev/null || { cat "$T/err" >&2; fail "the restore wrote nothing"; }
	sleep 0.1
done
curl -s -X PUT --data-binary meanwhile "http://127.0.0.1:$S3_PORT/copy/many/e-meanwhile" -o /dev/null
made=$(wc -l < "$T/proxy.log")
wait $rpid || { cat "$T/err" >&2; fail "restore --delete-extra failed"; }
expect_stderr ' 1500 object\(s\) not in the snapshot deleted'
dels=$(grep -n ' POST /copy/\{0,1\}?delete' "$T/proxy.log" | cut -d: -f1)
[ "$(echo "$dels" | wc -w)" -eq 2 ] || { cat "$T/proxy.log" >&2; fail "not 2 DeleteObjects of 1000 at most"; }
[ "$(echo "$dels" | head -1)" -gt "$made" ] ||
	fail "the key was created after the deletion (the test's timing, not arca's)"
$OBJ dump "$S3_PORT" copy "$T/m2"
grep -q "^many/e-meanwhile$tab" "$T/m2" || fail "--delete-extra deleted a key created while it ran"
grep '^many/' "$T/m2" | grep -v '^many/e-meanwhile' | sed 's|^many/||' | diff "$T/before" - ||
	fail "--delete-extra did not leave exactly the snapshot (and the new key)"

step "a failure in a writer thread (a missing bucket) stops the restore with its message"
expect_fail 8 arca restore media --into s3://nosuch/ --jobs 4
expect_stderr 'bucket nosuch does not exist'

step "--into a bare name that is no section is refused, naming the way to give a directory"
expect_fail 3 arca restore media --into nosuch
expect_stderr 'no \[destination nosuch\].*\./nosuch'
pass
