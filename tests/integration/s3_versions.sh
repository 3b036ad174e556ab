#!/bin/sh
# The s3 target with `versions = yes` (issue 16 part 2): every version and
# delete marker of a versioned bucket is kept, so a restore goes back to any
# snapshot even after deletions.
#
# PROTOCOL DOUBLE: no S3 server with versioning can be installed here (npm
# s3rver answers PUT ?versioning NotImplemented, GET ?versions
# MethodNotAllowed), so the versioned bucket is served by
# tests/s3_versions_double.py, which follows AWS's documented API
# (ListObjectVersions with key/version-id markers, pages of 2 here;
# GET/HEAD/tagging with ?versionId; DELETE makes a delete marker) and
# forwards every other bucket to s3rver. A real versioned server (AWS,
# MinIO) has not run this test.
#
# Snapshot A of v1 objects; some overwritten (v2), some deleted (markers);
# snapshot B. Restoring A gives back exactly A's objects, bytes, headers and
# tags (the deleted ones too), into another bucket or into the versioned
# bucket itself; restoring B leaves the deleted keys out, and with
# --delete-extra removes them; an unchanged versioned bucket costs its
# listing and nothing else; `list --items` shows the versions; with
# versioning suspended a "null" version replaced in place is read again; a
# bucket without versioning is snapshotted with a warning.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start copya copyb plain
OBJ="python3 $ARCA_SRCDIR/tests/s3_objects.py"

# the double in front of s3rver: bucket "media" versioned, listings in pages of 2
rm -f "$T/double.port"
python3 "$ARCA_SRCDIR/tests/s3_versions_double.py" "$S3_PORT" "$T/double.port" \
	--versioned media,susp,loop --no-versioning plain --loop-listing loop --max-keys 2 --log "$T/double.log" 2>>"$T/double.err" &
dpid=$!
on_exit "kill $dpid 2>/dev/null"
i=0
while [ ! -s "$T/double.port" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] && kill -0 $dpid 2>/dev/null || { cat "$T/double.err" >&2; fail "the double did not start"; }
	sleep 0.05
done
DPORT=$(cat "$T/double.port")

{
	printf 'keep.txt\t1000\t1\tContent-Type: text/plain\n'
	printf 'over.jpg\t70000\t2\tContent-Type: image/jpeg\tCache-Control: max-age=3600\tx-amz-meta-owner: alice\tx-amz-tagging: v=one\n'
	printf 'gone.pdf\t3000\t3\tContent-Type: application/pdf\tContent-Disposition: attachment\n'
	printf 'twice.bin\t5000\t4\tContent-Type: application/octet-stream\n'
	printf 'dir/a b.txt\t33\t5\tContent-Type: text/plain\tx-amz-meta-odd: slashes\n'
} > "$T/spec1"
{
	printf 'over.jpg\t80000\t12\tContent-Type: image/png\tx-amz-meta-owner: bob\tx-amz-tagging: v=two\n'
	printf 'twice.bin\t6000\t14\tContent-Type: application/octet-stream\n'
	printf 'new.txt\t500\t16\tContent-Type: text/plain\n'
} > "$T/spec2"

write_engine_config
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$DPORT s3_target media media "versions = yes"
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$DPORT s3_target susp susp "versions = yes"
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$DPORT s3_target loop loop "versions = yes"
s3_target plain plain "versions = yes"
arca init local

snap_id() { arca --json list media | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])'; }

step "snapshot A: the first versions"
$OBJ put "$DPORT" media "$T/spec1"
$OBJ dump "$DPORT" media "$T/A"
[ "$(wc -l < "$T/A")" -eq 5 ] || fail "the double does not hold 5 objects"
arca snapshot media 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot A failed"; }
expect_stderr '5 version\(s\) read, 0 unchanged, 0 deleted meanwhile; 0 delete marker'
A=$(snap_id)

step "snapshot B: two keys overwritten, two deleted (one after a second version), one new"
$OBJ put "$DPORT" media "$T/spec2"
curl -sf -o /dev/null -X DELETE "http://127.0.0.1:$DPORT/media/gone.pdf" || fail "DELETE gone.pdf"
curl -sf -o /dev/null -X DELETE "http://127.0.0.1:$DPORT/media/twice.bin" || fail "DELETE twice.bin"
$OBJ dump "$DPORT" media "$T/B"
[ "$(wc -l < "$T/B")" -eq 4 ] || { cat "$T/B"; fail "the double's current objects are not 4"; }
: > "$T/double.log"
arca snapshot media 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot B failed"; }
# read: the 3 new versions, and the 3 whose is-latest turned false
# (over.jpg, gone.pdf and twice.bin v1); keep.txt and dir/a b.txt reused
expect_stderr '6 version\(s\) read, 2 unchanged, 0 deleted meanwhile; 2 delete marker'
grep -q ' GET /media/over.jpg?versionId=' "$T/double.log" || fail "versions are not read by id"
B=$(snap_id)
[ "$A" != "$B" ] || fail "one snapshot id for A and B"

step "an unchanged versioned bucket costs its listing and nothing else"
: > "$T/double.log"
arca snapshot media 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot C failed"; }
expect_stderr '0 version\(s\) read, 8 unchanged, 0 deleted meanwhile; 2 delete marker'
# 10 entries in pages of 2: 5 pages, and the versioning check
[ "$(grep -c ' GET /media/?versions' "$T/double.log")" -eq 5 ] &&
	[ "$(grep -c ' GET /media/?versioning' "$T/double.log")" -eq 1 ] &&
	[ "$(wc -l < "$T/double.log")" -eq 6 ] || { cat "$T/double.log"; fail "more requests than the listing"; }

step "list --items shows every version and the delete markers"
arca list media --snapshot "$B" --items --meta > "$T/items" 2>&1 || { cat "$T/items"; fail "list --items"; }
# 8 versions of 6 keys and 2 delete markers, each with its version id
[ "$(grep -c 'version-id: ' "$T/items")" -eq 10 ] || { cat "$T/items"; fail "not every version listed"; }
[ "$(grep -Ec '^stream .* over\.jpg$' "$T/items")" -eq 2 ] || { cat "$T/items"; fail "not both versions of over.jpg"; }
[ "$(grep -Ec '^stream .* twice\.bin$' "$T/items")" -eq 2 ] || { cat "$T/items"; fail "not both versions of twice.bin"; }
grep -Eq '^tombstone .* gone\.pdf$' "$T/items" || { cat "$T/items"; fail "no delete marker for gone.pdf"; }
grep -Eq '^tombstone .* twice\.bin$' "$T/items" || { cat "$T/items"; fail "no delete marker for twice.bin"; }
[ "$(grep -c 'is-latest: true' "$T/items")" -eq 6 ] || { cat "$T/items"; fail "not one latest per key"; }

step "restore A into another bucket: exactly A's objects, deleted ones included"
arca restore media --snapshot "$A" --into s3://copya 2> "$T/err" || { cat "$T/err" >&2; fail "restore A"; }
$OBJ dump "$S3_PORT" copya "$T/copya"
diff "$T/A" "$T/copya" || fail "the restore of A differs from A"

step "restore B: the deleted keys are absent"
arca restore media --snapshot "$B" --into s3://copyb 2> "$T/err" || { cat "$T/err" >&2; fail "restore B"; }
$OBJ dump "$S3_PORT" copyb "$T/copyb"
diff "$T/B" "$T/copyb" || fail "the restore of B differs from B"

step "restore B over A's copy with --delete-extra: the deleted keys removed"
arca restore media --snapshot "$B" --into s3://copya --overwrite --delete-extra 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "restore B over A"; }
$OBJ dump "$S3_PORT" copya "$T/copya2"
diff "$T/B" "$T/copya2" || fail "restore B --delete-extra did not give B"

step "restore A into the versioned bucket itself: its current objects are A's again"
expect_fail 11 arca restore media --snapshot "$A"
expect_stderr 'differ'
$OBJ dump "$DPORT" media "$T/media-B"
diff "$T/B" "$T/media-B" || fail "the refused restore changed the bucket"
arca restore media --snapshot "$A" --overwrite --delete-extra 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "restore A into media"; }
$OBJ dump "$DPORT" media "$T/media-A"
diff "$T/A" "$T/media-A" || fail "media after restoring A differs from A"
# new versions were written (the old ones stay): new.txt now has a marker
curl -sf "http://127.0.0.1:$DPORT/media/?versions&prefix=new.txt" > "$T/new.xml" || fail "list new.txt"
grep -q '<DeleteMarker>.*<IsLatest>true</IsLatest>' "$T/new.xml" || { cat "$T/new.xml"; fail "new.txt not deleted by --delete-extra"; }

step "versioning suspended: a \"null\" version replaced in place is read again"
printf 'x.bin\t2000\t21\tContent-Type: application/octet-stream\n' > "$T/s1"
printf 'x.bin\t2100\t22\tContent-Type: application/octet-stream\n' > "$T/s2"
printf 'x.bin\t2100\t23\tContent-Type: application/octet-stream\n' > "$T/s3"
$OBJ put "$DPORT" susp "$T/s1"
arca snapshot susp 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot susp 1"; }
curl -sf -o /dev/null -X PUT --data '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>' \
	"http://127.0.0.1:$DPORT/susp/?versioning" || fail "suspending versioning"
$OBJ put "$DPORT" susp "$T/s2"
arca snapshot susp 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot susp 2"; }
expect_stderr '2 version\(s\) read, 0 unchanged'
# same size, same key, version "null" again: only the ETag tells
$OBJ put "$DPORT" susp "$T/s3"
$OBJ dump "$DPORT" susp "$T/susp3"
arca snapshot susp 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot susp 3"; }
expect_stderr '1 version\(s\) read, 1 unchanged'
arca restore susp --into s3://copyb/susp/ 2> "$T/err" || { cat "$T/err" >&2; fail "restore susp"; }
$OBJ dump "$S3_PORT" copyb "$T/copysusp"
grep '^susp/x.bin' "$T/copysusp" | sed 's|^susp/||' | diff "$T/susp3" - ||
	fail "the replaced null version was not read again"

step "a server that answers a versions page with the markers it was asked: refused, not paged forever"
$OBJ put "$DPORT" loop "$T/spec1"
: > "$T/double.log"
expect_fail 7 timeout 60 "$ARCA" snapshot loop
expect_stderr "answered a page with the markers it was asked for"
[ "$(grep -c 'versions.*key-marker=' "$T/double.log")" -eq 1 ] ||
	{ cat "$T/double.log"; fail "the looping page was asked again"; }
[ "$(arca list loop | grep -c '^[0-9a-f]\{8\}')" -eq 0 ] || fail "a snapshot of the looping listing was recorded"

step "versions = yes on a bucket without versioning: a warning, its current objects"
printf 'x\t10\t1\tContent-Type: text/plain\n' > "$T/spec3"
$OBJ put "$S3_PORT" plain "$T/spec3"
arca snapshot plain 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot of plain failed"; }
# s3rver answers GetBucketVersioning without a Status: never enabled
expect_stderr 'versions = yes, but bucket plain does not have versioning enabled: only its current objects are kept'
expect_stderr '1 object\(s\) read'
# a server that answers GetBucketVersioning NotImplemented (the double, for plain)
sed -i "s|^endpoint = $S3_ENDPOINT\$|endpoint = http://127.0.0.1:$DPORT|" "$ARCA_CONFIG"
grep -q "^endpoint = $S3_ENDPOINT\$" "$ARCA_CONFIG" && fail "plain still on s3rver"
arca snapshot plain 2> "$T/err" || { cat "$T/err" >&2; fail "snapshot of plain (no versioning API) failed"; }
expect_stderr 'versions = yes, but bucket plain is on a server without versioning: only its current objects are kept'
expect_stderr '0 object\(s\) read, 1 unchanged'
pass
