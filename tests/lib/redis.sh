# tests/lib/redis.sh — real redis-server instances for the redis driver's
# tests, each in $T/redis-NAME on a free loopback port, stopped on exit.

redis_require() {
	[ -z "${PLUGIN_DIR:-}" ] || [ -e "$PLUGIN_DIR/redis.so" ] ||
		skip "the redis driver is not built (configure --without-redis)"
	command -v redis-server >/dev/null 2>&1 || skip "redis-server is not installed (tests/deps.sh)"
	command -v redis-cli >/dev/null 2>&1 || skip "redis-cli is not installed (tests/deps.sh)"
}

# rcli PORT ARGS...: redis-cli against 127.0.0.1:PORT (no password)
rcli() { rc_port=$1; shift; redis-cli --no-auth-warning -h 127.0.0.1 -p "$rc_port" "$@"; }

# redis_wait PORT: until PING answers PONG (not LOADING), at most 60 s
redis_wait() {
	rw_i=0
	while :; do
		rw_ans=$(rcli "$1" ping 2>/dev/null) || rw_ans=
		case "$rw_ans" in PONG | NOAUTH*) break ;; esac
		rw_i=$((rw_i + 1))
		[ "$rw_i" -le 600 ] || fail "redis-server on port $1 did not answer PONG within 60 s"
		sleep 0.1
	done
}

# redis_start NAME [redis-server ARGS...]: sets NAME_PORT and NAME_DIR. Debug
# commands on (DEBUG DIGEST), no saves, no diskless delay (tests are fast).
redis_start() {
	rs_name=$1; shift
	rs_dir="$T/redis-$rs_name"
	mkdir -p "$rs_dir"
	rs_try=0
	while :; do
		rs_port=$(free_port)
		if redis-server --port "$rs_port" --bind 127.0.0.1 --dir "$rs_dir" --daemonize yes \
			--pidfile "$rs_dir/redis.pid" --logfile "$rs_dir/redis.log" --save '' \
			--appendonly no --enable-debug-command yes --repl-diskless-sync-delay 0 "$@"; then
			rs_i=0
			while [ ! -s "$rs_dir/redis.pid" ] && [ "$rs_i" -lt 100 ]; do rs_i=$((rs_i + 1)); sleep 0.05; done
			if [ -s "$rs_dir/redis.pid" ] && kill -0 "$(cat "$rs_dir/redis.pid")" 2>/dev/null; then
				break
			fi
		fi
		rs_try=$((rs_try + 1))
		[ "$rs_try" -lt 5 ] || { cat "$rs_dir/redis.log" >&2; fail "redis-server $rs_name did not start"; }
	done
	on_exit "kill -9 $(cat "$rs_dir/redis.pid") 2>/dev/null"
	eval "${rs_name}_PORT=$rs_port ${rs_name}_DIR='$rs_dir'"
	redis_wait "$rs_port"
}

# redis_stop PORT: SHUTDOWN NOSAVE and wait until the port is closed
redis_stop() {
	rcli "$1" shutdown nosave >/dev/null 2>&1 || true
	rst_i=0
	while rcli "$1" ping >/dev/null 2>&1; do
		rst_i=$((rst_i + 1))
		[ "$rst_i" -le 100 ] || fail "redis-server on port $1 did not stop"
		sleep 0.1
	done
}

# redis_target NAME PORT [LINE...]: a [target NAME] of the redis driver
redis_target() {
	rt_name=$1 rt_port=$2; shift 2
	{
		printf '\n[target %s]\ndriver = redis\ndestinations = local\nport = %s\n' "$rt_name" "$rt_port"
		for rt_line in "$@"; do printf '%s\n' "$rt_line"; done
	} >> "$ARCA_CONFIG"
}

# redis_populate PORT: every value type and encoding Redis 7 writes, TTLs,
# several databases, a function library.
redis_populate() {
	p=$1
	{
		echo 'SET str "hello world"'
		echo 'SET int 12345'
		echo 'SET neg -7'
		echo "SET compressible $(python3 -c 'print("abcd" * 500)')"
		echo 'SET withttl v EX 100000'
		echo 'SET withpttl v2'
		echo 'PEXPIREAT withpttl 4102444800123'
		echo 'RPUSH smalllist a b c 1 2 3'
		python3 -c 'print("RPUSH biglist " + " ".join("element%d" % i for i in range(3000)))'
		echo "RPUSH hugeelem $(python3 -c 'print("x" * 100000)') y"
		echo 'SADD intset 1 2 3 100000'
		echo 'SADD intset64 1 5000000000'
		echo 'SADD strset a b c'
		python3 -c 'print("SADD bigset " + " ".join("m%d" % i for i in range(1000)))'
		echo 'ZADD smallz 1 a 2.5 b -3 c'
		python3 -c 'print("ZADD bigz " + " ".join("%d.5 z%d" % (i, i) for i in range(500)))'
		echo 'HSET smallh f1 v1 f2 2'
		python3 -c 'print("HSET bigh " + " ".join("f%d v%d" % (i, i) for i in range(1000)))'
		echo "HSET longvalh f $(python3 -c 'print("y" * 200)')"
		echo 'XADD st 1-1 a 1 b 2'
		echo 'XADD st 2-1 a 3'
		echo 'XADD st 3-1 c 4'
		echo 'XGROUP CREATE st g1 0'
		echo 'XGROUP CREATE st g2 $'
		echo 'XREADGROUP GROUP g1 alice COUNT 2 STREAMS st >'
		echo 'XREADGROUP GROUP g1 bob COUNT 1 STREAMS st >'
		echo 'XACK st g1 1-1'
		echo 'XADD emptied 1-1 x 1'
		echo 'XDEL emptied 1-1'
		echo 'SET 42 integer-key'
		# a long key the RDB stores LZF-compressed: decoded by a live restore
		echo "SET $(python3 -c 'print("longkey-" + "k" * 300)') v"
		echo 'SELECT 3'
		echo 'SET db3key v'
		echo 'SET db3ttl v EX 50000'
		echo 'SELECT 15'
		echo 'HSET db15h a b'
	} | rcli "$p" >/dev/null
	printf '%s' "#!lua name=mylib
redis.register_function('myfunc', function(keys, args) return 1 end)" | rcli "$p" -x function load >/dev/null
}

# redis_ttls PORT: "db key pexpiretime" of every key with a TTL, sorted
# (keys here have no spaces or newlines)
redis_ttls() {
	for db in $(rcli "$1" info keyspace | sed -n 's/^db\([0-9]*\):.*/\1/p'); do
		rcli "$1" -n "$db" --scan > "$T/ttl.keys"
		awk '{print "PEXPIRETIME " $0}' "$T/ttl.keys" | rcli "$1" -n "$db" > "$T/ttl.vals"
		paste -d' ' "$T/ttl.keys" "$T/ttl.vals" | awk -v db="$db" '$2 != -1 {print db, $0}'
	done | sort
}

# redis_digest PORT: DEBUG DIGEST (the whole dataset, with which keys expire)
redis_digest() { rcli "$1" debug digest; }
