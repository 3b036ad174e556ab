#!/bin/sh
# pg_wal_swap: someone who can write the storage (but has no key) copies
# one archived WAL segment's blob file over another's. wal-get of the
# overwritten segment must fail, naming the object, and write nothing:
# handing PostgreSQL the wrong segment with exit 0 would corrupt the
# recovered database. The other segment is still served, verify --read-data
# names the object, and putting the blob back repairs it. A real
# PostgreSQL 15 archives through arca wal-push, as in pg_wal.sh.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pg.sh"
pg_require
# expect_out REGEX: the last expect_fail's stdout or stderr matches
expect_out() { cat "$T/out" "$T/err" | grep -Eq -- "$1" || { cat "$T/out" "$T/err" >&2; fail "output lacks /$1/"; }; }

pg_wal_start
cat >> "$ARCA_CONFIG" <<EOF

$(pg_wal_target)
EOF
chmod 644 "$ARCA_CONFIG"
pg_arca init > /dev/null
mkdir -p "$T/pg/get"
[ "$(id -u)" = 0 ] && chown postgres: "$T/pg/get"

step "two segments archived"
pg_sql $APP postgres "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10000) g"
A=$(pg_switch_wait $APP)
pg_sql $APP postgres "INSERT INTO t SELECT generate_series(10001, 20000)"
B=$(pg_switch_wait $APP)
# blobs/<enc(target)>/<enc("wal/" + lower-case name)>
OA=blobs/app-wal/wal_2f$(echo "$A" | tr A-F a-f)
OB=blobs/app-wal/wal_2f$(echo "$B" | tr A-F a-f)
[ -f "$T/repo/$OA" ] && [ -f "$T/repo/$OB" ] || { find "$T/repo/blobs" >&2; fail "no blob objects $OA, $OB"; }
pg_arca wal-get app-wal "$A" "$T/pg/get/A" || fail "wal-get $A"
pg_arca wal-get app-wal "$B" "$T/pg/get/B" || fail "wal-get $B"
cmp -s "$T/pg/get/A" "$T/pg/get/B" && fail "the two segments are identical"

step "$B's blob overwritten with $A's: wal-get $B fails naming the object"
cp "$T/repo/$OB" "$T/blob.orig"
cp "$T/repo/$OA" "$T/repo/$OB"
expect_fail 7 pg_arca wal-get app-wal "$B" "$T/pg/get/B.swapped"
expect_stderr "destination local: object $OB is corrupt: AES-256-GCM authentication failed \(damaged, tampered with, or moved from another object\)"
[ ! -e "$T/pg/get/B.swapped" ] || fail "wal-get wrote a file for the swapped segment"
[ -z "$(find "$T/pg/get" -name '*arca-tmp*')" ] || fail "wal-get left a temporary file"
pg_arca wal-get app-wal "$A" "$T/pg/get/A.again" || fail "wal-get $A after the swap"
cmp -s "$T/pg/get/A" "$T/pg/get/A.again" || fail "$A changed"

step "verify --read-data names the swapped object"
expect_fail 7 pg_arca verify --read-data app-wal
expect_out "DAMAGED destination local: destination local: object $OB is corrupt"
grep -q "$OA" "$T/out" "$T/err" && fail "verify blames the untouched $OA"

step "the original blob put back is served again"
cp "$T/blob.orig" "$T/repo/$OB"
pg_arca wal-get app-wal "$B" "$T/pg/get/B.again" || fail "wal-get $B after repair"
cmp -s "$T/pg/get/B" "$T/pg/get/B.again" || fail "$B differs after repair"
pg_arca verify --read-data app-wal > /dev/null 2>&1 || fail "verify after repair"

pass "a swapped WAL blob is refused, named, and not served"
