#!/bin/sh
# tests/bench/redis.sh — the redis driver against `redis-cli --rdb` (what the
# platform's recipe does) and `redis-cli --pipe`, on the same server and data,
# in one run; prints each figure and its ratio. Not part of `make check`.
#
#   tests/bench/redis.sh BUILDDIR        (a configured and built tree)
#
# Environment: BENCH_KEYS (default 3000000 string keys of 200 hex characters,
# about 1 GB in the server), BENCH_CHANGE (percent changed before the second
# snapshot, default 1). Needs redis-server, redis-cli, zstd, /usr/bin/time.
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/redis.sh"
redis_require
command -v zstd >/dev/null || skip "zstd not installed"
[ -x /usr/bin/time ] || skip "/usr/bin/time not installed (apt-get install time)"
KEYS=${BENCH_KEYS:-3000000}
CHANGE=${BENCH_CHANGE:-1}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f MiB", a / 1048576 }'; }
repo_bytes() { du -sb "$T/repo" | cut -f1; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

write_engine_config
ARCA_PASSPHRASE=$("$ARCA" key generate) || fail "arca key generate"
export ARCA_PASSPHRASE
redis_start src
redis_target cache "$src_PORT"
arca init >/dev/null

echo "populating $KEYS keys"
# SET key:N <200 hex chars>, from a fixed seed: half of each value is entropy
python3 - "$KEYS" <<'PY' | rcli "$src_PORT" --pipe >/dev/null
import random, sys
n = int(sys.argv[1]); r = random.Random(1); out = sys.stdout.buffer
for i in range(n):
    k = b"key:%d" % i; v = b"%0200x" % r.getrandbits(800)
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$200\r\n%s\r\n" % (len(k), k, v))
PY
echo "server: $(rcli "$src_PORT" dbsize) keys, $(rcli "$src_PORT" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')"

t=$(now); rcli "$src_PORT" --rdb "$T/ref.rdb" >/dev/null 2>&1 || fail "redis-cli --rdb"; T_CLI=$(secs "$t")
RDB_SIZE=$(stat -c %s "$T/ref.rdb")
zstd -q -3 -o "$T/ref.rdb.zst" "$T/ref.rdb"; ZST_SIZE=$(stat -c %s "$T/ref.rdb.zst")

t=$(now); /usr/bin/time -v -o "$T/time1" "$ARCA" -q snapshot || fail "snapshot"; T_ARCA=$(secs "$t")
STORED1=$(repo_bytes)

echo "changing $CHANGE% of the keys"
python3 - "$KEYS" "$CHANGE" <<'PY' | rcli "$src_PORT" --pipe >/dev/null
import random, sys
n, pct = int(sys.argv[1]), float(sys.argv[2]); r = random.Random(2); out = sys.stdout.buffer
for i in r.sample(range(n), int(n * pct / 100)):
    k = b"key:%d" % i; v = b"%0200x" % r.getrandbits(800)
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$200\r\n%s\r\n" % (len(k), k, v))
PY
"$ARCA" -q snapshot || fail "second snapshot"
STORED2=$(( $(repo_bytes) - STORED1 ))

# The same RESTORE commands for redis-cli --pipe: DUMP of every key.
python3 - "$src_PORT" "$T/restore.resp" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); f = s.makefile("rb")
def send(*a):
    s.sendall(b"".join([b"*%d\r\n" % len(a)] + [b"$%d\r\n%s\r\n" % (len(x), x) for x in a]))
def reply():
    l = f.readline()
    if l[:1] == b"$":
        n = int(l[1:]); return None if n < 0 else f.read(n + 2)[:-2]
    if l[:1] == b"*":
        return [reply() for _ in range(int(l[1:]))]
    if l[:1] == b":":
        return int(l[1:])
    return l
out = open(sys.argv[2], "wb"); cur = b"0"
while True:
    send(b"SCAN", cur, b"COUNT", b"10000"); cur, keys = reply()
    for k in keys: send(b"DUMP", k)
    for k in keys:
        p = reply()
        out.write(b"*5\r\n$7\r\nRESTORE\r\n$%d\r\n%s\r\n$1\r\n0\r\n$%d\r\n%s\r\n$6\r\nABSTTL\r\n" % (len(k), k, len(p), p))
    if cur == b"0": break
PY

redis_start dst
t=$(now); /usr/bin/time -v -o "$T/time2" "$ARCA" -q restore cache --into "redis://127.0.0.1:$dst_PORT" || fail "live restore"; T_LIVE=$(secs "$t")
[ "$(rcli "$dst_PORT" dbsize)" = "$KEYS" ] || fail "live restore: key count"
rcli "$dst_PORT" flushall >/dev/null
t=$(now); rcli "$dst_PORT" --pipe < "$T/restore.resp" >/dev/null || fail "redis-cli --pipe"; T_PIPE=$(secs "$t")

echo
echo "redis driver vs redis-cli, $KEYS keys, RDB $(mib "$RDB_SIZE"), $(nproc) cores"
printf '  %-52s %8s s vs %8s s  ratio %s (want <= 1.2)\n' "snapshot vs redis-cli --rdb" "$T_ARCA" "$T_CLI" "$(ratio "$T_ARCA" "$T_CLI")"
printf '  %-52s %12s vs %12s  ratio %s (want <= 1)\n' "stored vs RDB | zstd -3" "$(mib "$STORED1")" "$(mib "$ZST_SIZE")" "$(ratio "$STORED1" "$ZST_SIZE")"
printf '  %-52s %12s  (%s of the first)\n' "second snapshot after $CHANGE% of keys changed" "$(mib "$STORED2")" "$(ratio "$STORED2" "$STORED1")"
printf '  %-52s %8s s vs %8s s  ratio %s (want <= 2)\n' "live restore vs redis-cli --pipe of RESTOREs" "$T_LIVE" "$T_PIPE" "$(ratio "$T_LIVE" "$T_PIPE")"
printf '  %-52s %s MiB snapshot, %s MiB live restore (want < 128)\n' "peak RSS of arca" "$(( $(rss "$T/time1") / 1024 ))" "$(( $(rss "$T/time2") / 1024 ))"
pass
