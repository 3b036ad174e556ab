#!/bin/sh
# The s3 target's snapshot (issue 16 part 2): objects are read by
# parallel_objects threads through item handles (two of more than a handle's
# 8 MiB buffer at once), a GET cut short goes on where it stopped; a second
# snapshot of the unchanged bucket of 1100+ objects costs exactly its two
# listing pages (no HEAD, no tagging, no GET: the engine keeps the headers
# and tags it stored), and a restore of that second snapshot into another
# bucket gives back every object byte for byte with every header and tag; a
# changed object is read again (and only it); one deleted between the
# listing and its GET is left out with a message (exit 15, partial); the
# listing's start and end are in `arca list` and --json; `--full` reads every
# object again (a tag-only change keeps the ETag and Last-Modified); with
# tags = never no tagging request is made and no tag kept.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start media copy copy2
OBJ="python3 $ARCA_SRCDIR/tests/s3_objects.py"
{
	printf 'img/a.jpg\t70000\t1\tContent-Type: image/jpeg\tCache-Control: max-age=3600\tx-amz-meta-owner: alice\tx-amz-tagging: team=web&state=pub%%20lic\n'
	printf 'docs/r.pdf\t300000\t2\tContent-Type: application/pdf\tContent-Disposition: attachment; filename="r.pdf"\tContent-Language: fr\tContent-Encoding: identity\tExpires: Thu, 01 Dec 2044 16:00:00 GMT\tx-amz-meta-a: 1\tx-amz-meta-b: two words\n'
	printf 'big/one.bin\t12000000\t3\tContent-Type: video/mp4\tx-amz-tagging: size=big\n'
	printf 'big/two.bin\t9500000\t4\tContent-Type: video/mp4\tx-amz-meta-camera: x100\n'
	printf 'cut/me.bin\t3000000\t5\tContent-Type: application/octet-stream\n'
	printf 'gone/x.bin\t1000\t6\n'
	printf 'empty\t0\t7\n'
	i=0
	while [ $i -lt 1100 ]; do
		if [ $((i % 100)) -eq 0 ]; then tag="\tx-amz-tagging: n=$i"; else tag=; fi
		printf "thumbs/t%04d.png\t%d\t%d\tContent-Type: image/png$tag\n" $i $((100 + i)) $((10 + i))
		i=$((i + 1))
	done
} > "$T/spec"
$OBJ put "$S3_PORT" media "$T/spec"

write_engine_config
s3_proxy --schedule ok --cut /media/cut/me.bin
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$PROXY_PORT s3_target media media
arca init local
$OBJ dump "$S3_PORT" media "$T/before"

step "first snapshot: every object read in parallel; a GET cut short goes on"
arca snapshot media 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot failed"; }
expect_stderr 'cut/me.bin.*going on from byte'
expect_stderr '1107 object\(s\) read, 0 unchanged'
[ "$(grep -c ' GET /media/cut/me.bin$' "$T/proxy.log")" -eq 2 ] || fail "cut/me.bin not read twice"

step "the listing's start and end are in arca list, text and --json"
arca list media > "$T/ls"
grep -Eq '^ +listing-start: 20[0-9-]+T[0-9:.]+Z$' "$T/ls" || { cat "$T/ls"; fail "no listing-start"; }
grep -Eq '^ +listing-end: 20[0-9-]+T[0-9:.]+Z$' "$T/ls" || { cat "$T/ls"; fail "no listing-end"; }
arca --json list media > "$T/ls.json"
python3 - "$T/ls.json" <<'EOP' || fail "--json lacks the listing's times"
import json, sys
s = json.load(open(sys.argv[1]))[0]
n = s["notes"]
assert n["listing-start"] <= n["listing-end"], n
EOP

step "an unchanged bucket costs one listing: two pages, no other request"
: > "$T/proxy.log"
arca snapshot media 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot failed"; }
expect_stderr '0 object\(s\) read, 1107 unchanged'
[ "$(grep -c ' GET /media/?list-type=2' "$T/proxy.log")" -eq 2 ] &&
	[ "$(wc -l < "$T/proxy.log")" -eq 2 ] || { cat "$T/proxy.log" | head -20; fail "more requests than the listing"; }

step "restoring the second snapshot gives every object, header and tag back"
arca restore media --into s3://copy
$OBJ dump "$S3_PORT" copy "$T/copy"
diff "$T/before" "$T/copy" || fail "the restore of the second snapshot differs"
grep -q '^img/a.jpg	.*tag: state=pub lic' "$T/copy" || fail "the tags were not kept"
grep -q '^docs/r.pdf	.*x-amz-meta-b: two words' "$T/copy" || fail "the headers were not kept"

step "a changed object is read again, only it; one deleted meanwhile is left out"
kill "$PROXY_PID"
old_port=$PROXY_PORT
s3_proxy --schedule ok --vanish /media/gone/x.bin
sed -i "s|^endpoint = http://127.0.0.1:$old_port\$|endpoint = http://127.0.0.1:$PROXY_PORT|" "$ARCA_CONFIG"
printf 'img/a.jpg\t5000\t99\tContent-Type: text/plain\tx-amz-meta-owner: bob\tx-amz-tagging: team=ops\ngone/x.bin\t2000\t98\n' > "$T/changed"
$OBJ put "$S3_PORT" media "$T/changed"
: > "$T/proxy.log"
expect_fail 15 arca snapshot media
expect_stderr 'gone/x.bin not stored: deleted since the bucket was listed'
expect_stderr '1 object\(s\) read, 1105 unchanged, 1 deleted meanwhile'
grep ' GET /media/' "$T/proxy.log" | grep -v 'list-type=2' | sed 's/^[0-9]* ok //' | sort > "$T/gets"
printf 'GET /media/gone/x.bin\nGET /media/img/a.jpg\nGET /media/img/a.jpg?tagging\n' > "$T/want"
diff "$T/want" "$T/gets" || fail "other objects than the changed ones were read"
arca list media > "$T/ls"
grep -q 'partial: 1 item left out: gone/x.bin' "$T/ls" || { cat "$T/ls"; fail "not shown partial"; }
$OBJ dump "$S3_PORT" media "$T/now"
arca restore media --into s3://copy2
$OBJ dump "$S3_PORT" copy2 "$T/copy2"
diff "$T/now" "$T/copy2" || fail "the restore of the third snapshot differs"
grep -q '^img/a.jpg	5000	.*x-amz-meta-owner: bob	tag: team=ops$' "$T/copy2" || fail "the changed object's headers and tags are not the new ones"

step "--full reads every object again: a tag-only change is kept"
curl -s -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/media/thumbs/t0001.png?tagging" \
	--data '<Tagging><TagSet><Tag><Key>late</Key><Value>yes</Value></Tag></TagSet></Tagging>'
arca snapshot media 2> "$T/err"
expect_stderr '0 object\(s\) read, 1106 unchanged'
arca snapshot media --full 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot --full failed"; }
expect_stderr '1106 object\(s\) read, 0 unchanged'
arca list media --items --meta > "$T/items"
grep -q 'tag: late=yes' "$T/items" || fail "the tag-only change is not in the --full snapshot"
step "tags = never: one GET per object, no tagging request, no tag kept"
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$PROXY_PORT s3_target notags media "tags = never"
: > "$T/proxy.log"
arca snapshot notags 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot of notags failed"; }
expect_stderr '1106 object\(s\) read, 0 unchanged'
! grep -q '?tagging' "$T/proxy.log" || fail "tags were asked for with tags = never"
[ "$(grep -c ' GET /media/' "$T/proxy.log")" -eq $((1106 + 2)) ] || fail "not one GET per object"
arca list notags --items --meta > "$T/items"
! grep -Eq '(^|[^e])tag: ' "$T/items" || fail "tags kept with tags = never"
grep -q 'x-amz-meta-owner: bob' "$T/items" || fail "the headers were not kept"
pass
