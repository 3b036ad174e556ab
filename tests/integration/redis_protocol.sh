#!/bin/sh
# redis_protocol: the replication handshake's variants and failures, served
# by a scripted server (tests/lib/redis_fake.py) with the Redis 7.0 fixture
# RDB: PSYNC unknown -> SYNC with $<len> framing and keep-alive newlines;
# +FULLRESYNC with $EOF:<mark> framing (replication id and offset recorded);
# a connection closed mid-RDB (6) and a flipped byte (7, naming the byte
# offset) record nothing; a live restore into a server too old for the RDB
# is refused (9) naming both versions, before any key is sent; method =
# bgsave against a server that is not on this host is refused (3).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/redis.sh"
redis_require
RDB="$ARCA_SRCDIR/tests/data/redis-rdb/redis_70_all_types.rdb"

# fake MODE: starts the scripted server, sets FAKE_PORT
fake() {
	rm -f "$T/fake.port"
	python3 "$ARCA_SRCDIR/tests/lib/redis_fake.py" "$T/fake.port" "$T/fake.log" "$1" "$RDB" &
	on_exit "kill $! 2>/dev/null"
	i=0
	while [ ! -s "$T/fake.port" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "the fake server did not start"; sleep 0.05
	done
	FAKE_PORT=$(cat "$T/fake.port")
}

write_engine_config
arca init >/dev/null
n=0
for mode in sync-len psync-eof truncated flipped; do
	fake "$mode"
	n=$((n + 1))
	redis_target "t$n" "$FAKE_PORT"
	eval "T_$n=$mode"
done

step "PSYNC unknown: SYNC, keep-alives, \$<len> framing"
arca snapshot t1 2>"$T/err" || { cat "$T/err"; fail "SYNC fallback failed"; }
grep -q "trying SYNC" "$T/err" || fail "no SYNC fallback reported"
step "+FULLRESYNC, \$EOF:<mark> framing, replication id and offset recorded"
arca snapshot t2 2>"$T/err" || { cat "$T/err"; fail "EOF-mark framing failed"; }
grep -q "replication id 8de1787ba490483314a4d30f1c628bc5025eb761 offset 1234" "$T/err" ||
	{ cat "$T/err"; fail "replication id/offset not reported"; }
arca verify --read-data t1 t2 2>"$T/err" || { cat "$T/err"; fail "verify failed"; }
grep -q "repl_offset=1234 server_version=7.0.15 role=master rdb_version=10" "$T/err" ||
	{ cat "$T/err"; fail "verify does not show the item's metadata"; }
arca restore t2 --into "$T/restored" 2>"$T/err" || { cat "$T/err"; fail "restore failed"; }
cmp "$RDB" "$T/restored/dump.rdb" || fail "the restored dump.rdb differs from what the server sent"

step "connection closed in the middle of the RDB: 6, nothing recorded"
expect_fail 6 arca snapshot t3
expect_stderr "closed the connection in the middle of the RDB"
expect_stderr "nothing was recorded"
step "a flipped byte: 7 naming the offset, nothing recorded"
expect_fail 7 arca snapshot t4
expect_stderr "at byte offset [0-9]+"
expect_stderr "nothing was recorded"
arca list t3 t4 2>&1 | grep -q "no snapshots yet" || fail "a failed snapshot was recorded"

step "an RDB newer than the server loads: 9, naming both versions, nothing sent"
: > "$T/fake.log"
fake old
expect_fail 9 arca restore t1 --into "redis://127.0.0.1:$FAKE_PORT"
expect_stderr "RDB version 10, Redis 6.2.6 loads up to version 9"
grep -Eqi '^(RESTORE|SELECT|FUNCTION LOAD)' "$T/fake.log" && { cat "$T/fake.log"; fail "data was sent to a server that cannot load it"; }
step "method = bgsave against a server on another host: 3, nothing read"
fake elsewhere
redis_target far "$FAKE_PORT" "method = bgsave"
expect_fail 3 arca snapshot far
expect_stderr "does not run on this host"
grep -q '^BGSAVE' "$T/fake.log" && fail "BGSAVE was started on a server whose file cannot be read"
pass
