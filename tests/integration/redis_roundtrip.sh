#!/bin/sh
# redis_roundtrip: a real Redis 7 with every value type and encoding (streams
# with consumer groups, intsets, listpacks, quicklists, LZF strings), TTLs,
# several databases, a 100 MiB value, a 20 MiB LZF-compressed value, a long
# LZF-compressed key and many keys (REDIS_TEST_KEYS, default
# 1000000) is snapshotted over the replication protocol; the snapshot
# verifies; restored to a directory and started (--start), and restored live
# into an empty server, DEBUG DIGEST and every key's expiry time equal the
# source's. A restore into a server that holds keys, or into a directory
# with an AOF, is refused and touches nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/redis.sh"
redis_require

KEYS=${REDIS_TEST_KEYS:-1000000}
BIG_MB=${REDIS_TEST_BIG_MB:-100}

write_engine_config
redis_start src
redis_target cache "$src_PORT"
arca init >/dev/null

step "populate: every type, TTLs, dbs 0/3/15, a $BIG_MB MiB value, $KEYS keys"
redis_populate "$src_PORT"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom > "$T/big"
rcli "$src_PORT" -x set bigvalue < "$T/big" >/dev/null
rm -f "$T/big"
# 20 MiB the RDB stores LZF-compressed: walked by positions, restored through
# the scratch file (over 8 MiB)
python3 -c 'import sys; sys.stdout.write("abcdefgh" * (20 << 17))' | rcli "$src_PORT" -x set bigzip >/dev/null
# a list node (listpack) of 24 MiB: over the walker's 16 MiB container check
head -c $((24 * 1024 * 1024)) /dev/urandom | base64 -w0 | head -c $((24 * 1024 * 1024)) |
	rcli "$src_PORT" -x rpush hugenode >/dev/null
rcli "$src_PORT" -n 1 debug populate "$KEYS" key 16 >/dev/null
rcli "$src_PORT" -n 1 expire key:1 100000 >/dev/null
SRC_DIGEST=$(redis_digest "$src_PORT")
SRC_TTLS=$(redis_ttls "$src_PORT")
[ -n "$SRC_TTLS" ] || fail "no TTLs in the source"

step "snapshot, list, verify --read-data"
arca snapshot >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "snapshot failed"; }
grep -q "RDB version 10" "$T/err" || { cat "$T/err"; fail "snapshot did not report the RDB version"; }
grep -q "replication id [0-9a-f]\{40\}" "$T/err" || { cat "$T/err"; fail "no replication id"; }
arca list | grep -q cache || fail "list does not show the snapshot"
arca verify --read-data >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "verify failed"; }
grep -q "db1: $KEYS keys, 1 with a TTL" "$T/err" || { cat "$T/err"; fail "verify lacks the per-db counts"; }
grep -q "CRC-64 correct" "$T/err" || { cat "$T/err"; fail "verify did not check the CRC"; }
grep -q "verify of snapshot [0-9a-f]* done: 2 items" "$T/err" || { cat "$T/err"; fail "verify does not count dump.rdb and its summary (2 items)"; }

step "restore to a directory with --start"
arca restore cache --into "$T/files" --start >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "restore --start failed"; }
PORT=$(sed -n 's/^redis-server: 127.0.0.1:\([0-9]*\).*/\1/p' "$T/out")
[ -n "$PORT" ] || { cat "$T/out" "$T/err"; fail "restore --start printed no port"; }
on_exit "kill -9 $(cat "$T/files/redis-server.pid") 2>/dev/null"
[ "$(rcli "$PORT" -n 1 dbsize)" = "$KEYS" ] || fail "the started server lacks keys"
arca health cache --into "redis://127.0.0.1:$PORT" 2>"$T/err" || { cat "$T/err"; fail "health of the started server"; }
arca health cache --into "$T/files" 2>"$T/err" || { cat "$T/err"; fail "health of the restored dump.rdb"; }
redis_stop "$PORT"
[ -f "$T/files/dump.rdb" ] || fail "no dump.rdb"
ls -a "$T/files" | grep -q '\.dump\.rdb\.arca' && fail "a temporary file was left"
redis_start fromfile --dbfilename dump.rdb --dir "$T/files"
[ "$(redis_digest "$fromfile_PORT")" = "$SRC_DIGEST" ] || fail "DEBUG DIGEST differs after restore to files"
[ "$(redis_ttls "$fromfile_PORT")" = "$SRC_TTLS" ] || fail "TTLs differ after restore to files"
redis_stop "$fromfile_PORT"

step "a directory holding an AOF is refused without --overwrite"
mkdir -p "$T/aofdir/appendonlydir"
expect_fail 11 arca restore cache --into "$T/aofdir"
expect_stderr "AOF"
expect_stderr "appendonly no"
[ ! -e "$T/aofdir/dump.rdb" ] || fail "dump.rdb written into an AOF directory"
expect_fail 11 arca restore cache --into "$T/files"
expect_stderr "dump.rdb exists"

step "live restore into an empty server"
redis_start live
arca restore cache --into "redis://127.0.0.1:$live_PORT" >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "live restore failed"; }
[ "$(redis_digest "$live_PORT")" = "$SRC_DIGEST" ] || fail "DEBUG DIGEST differs after the live restore"
[ "$(redis_ttls "$live_PORT")" = "$SRC_TTLS" ] || fail "TTLs differ after the live restore"
rcli "$live_PORT" function list | grep -q '^mylib$' || fail "the function library was not restored"

step "a server holding keys is refused without --overwrite, untouched"
redis_start busy
rcli "$busy_PORT" set str mine >/dev/null
expect_fail 11 arca restore cache --into "redis://127.0.0.1:$busy_PORT"
expect_stderr "holds data \(db0\)"
[ "$(rcli "$busy_PORT" dbsize)" = 1 ] || fail "keys were written to a non-empty server"
[ "$(rcli "$busy_PORT" get str)" = mine ] || fail "a key of a non-empty server changed"
arca restore cache --into "redis://127.0.0.1:$busy_PORT" --overwrite 2>"$T/err" || { cat "$T/err"; fail "--overwrite failed"; }
[ "$(rcli "$busy_PORT" get str)" = "hello world" ] || fail "--overwrite did not replace the key"

step "restore into the target's own server (no --into), after a flush"
rcli "$src_PORT" flushall >/dev/null
expect_fail 11 arca restore cache
expect_stderr "holds data \(1 function library\)"
rcli "$src_PORT" function flush >/dev/null
arca restore cache 2>"$T/err" || { cat "$T/err"; fail "restore into the own server failed"; }
[ "$(redis_digest "$src_PORT")" = "$SRC_DIGEST" ] || fail "DEBUG DIGEST differs after restoring into the own server"
pass
