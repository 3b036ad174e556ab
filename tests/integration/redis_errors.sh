#!/bin/sh
# redis_errors: the redis driver's failures against real servers, each with
# its exit code and a message naming the cause, none recording anything:
# a refused connection (4), a wrong password (5), no password (5), an ACL
# user without +psync (5, naming +psync +sync +replconf and method =
# bgsave), a server still loading (4), a server killed (kill -9) in the
# middle of the transfer (6). And what works besides replication: a unix
# socket, method = bgsave, a live restore into one database, TLS with
# verification (refusing an untrusted certificate or a wrong name, 4) and
# with a client certificate (a server that wants one and gets none: 5, the
# message naming cert_file and key_file).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/redis.sh"
redis_require

write_engine_config
redis_start sec --requirepass Right-Pw-1 --unixsocket "$T/redis.sock" --unixsocketperm 700
rcli "$sec_PORT" -a Right-Pw-1 --no-auth-warning acl setuser nopsync on '>Nopsync-Pw-2' '~*' '&*' '+@all' -psync -sync >/dev/null
rcli "$sec_PORT" -a Right-Pw-1 --no-auth-warning set k v >/dev/null
export RIGHT_PW=Right-Pw-1 WRONG_PW=Wrong-Pw-3 NOPSYNC_PW=Nopsync-Pw-2
closed_port DOWN
redis_target good "$sec_PORT" "password_env = RIGHT_PW"
redis_target wrong "$sec_PORT" "password_env = WRONG_PW"
redis_target nopw "$sec_PORT"
redis_target nopsync "$sec_PORT" "username = nopsync" "password_env = NOPSYNC_PW"
redis_target down "$DOWN"
redis_target sock 1 "socket = $T/redis.sock" "password_env = RIGHT_PW"
redis_target bgs "$sec_PORT" "password_env = RIGHT_PW" "method = bgsave"
arca init >/dev/null

step "refused connection: 4 (snapshot and check)"
expect_fail 4 arca snapshot down
expect_stderr "cannot connect"
expect_fail 4 arca check down
expect_stderr "cannot connect"
arca check good 2>"$T/err" || { cat "$T/err"; fail "check of a reachable server failed"; }
grep -q "Redis 7" "$T/err" || { cat "$T/err"; fail "check does not name the server version"; }
step "wrong password: 5, the password never shown"
expect_fail 5 arca snapshot wrong
expect_stderr "password was refused"
grep -q "Wrong-Pw-3" "$T/err" && fail "the password leaked into a message"
step "no password: 5"
expect_fail 5 arca snapshot nopw
expect_stderr "wants a password"
step "ACL user without +psync: 5, naming the permissions and method = bgsave"
expect_fail 5 arca snapshot nopsync
expect_stderr "\+psync \+sync \+replconf"
expect_stderr "method = bgsave"
step "unix socket, method = bgsave: work"
arca snapshot sock good bgs 2>"$T/err" || { cat "$T/err"; fail "snapshot over the socket / bgsave failed"; }
arca verify --read-data sock bgs 2>"$T/err" || { cat "$T/err"; fail "verify failed"; }
[ "$(arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] || fail "expected 3 snapshots"
step "arca list --items shows where in the replication stream the RDB sits, and its keys per database"
arca list good --items --meta > "$T/items" || fail "list --items"
grep -Eq 'replid=[0-9a-f]{40} repl_offset=[0-9]+ .*rdb_version=[0-9]+ keys=[1-9][0-9]* db0=keys:[1-9][0-9]*,expires:[0-9]+' "$T/items" ||
	{ cat "$T/items"; fail "dump.rdb's metadata lacks the replication offset or the per-database counts"; }

step "live restore into one database (/7) with the password from REDISCLI_AUTH"
redis_start db7 --requirepass Other-Pw-4
REDISCLI_AUTH=Other-Pw-4 arca restore good --into "redis://127.0.0.1:$db7_PORT/7" 2>"$T/err" ||
	{ cat "$T/err"; fail "restore into /7 failed"; }
[ "$(rcli "$db7_PORT" -a Other-Pw-4 --no-auth-warning -n 7 get k)" = v ] || fail "the key is not in db 7"
[ "$(rcli "$db7_PORT" -a Other-Pw-4 --no-auth-warning -n 0 dbsize)" = 0 ] || fail "keys went to db 0"
expect_fail 5 arca restore good --into "redis://127.0.0.1:$db7_PORT/7"
expect_stderr "wants a password"

step "arca health: the target's server, a --into server, a refused connection (4)"
arca health good 2>"$T/err" || { cat "$T/err"; fail "health of a serving server failed"; }
grep -q "serving, 1 keys" "$T/err" || { cat "$T/err"; fail "health does not say what it saw"; }
REDISCLI_AUTH=Other-Pw-4 arca health good --into "redis://127.0.0.1:$db7_PORT" 2>"$T/err" ||
	{ cat "$T/err"; fail "health --into failed"; }
expect_fail 4 arca health down

step "a server still loading: 4, nothing recorded"
redis_start loader
rcli "$loader_PORT" debug populate 3000 k 10 >/dev/null
rcli "$loader_PORT" save >/dev/null
redis_stop "$loader_PORT"
LPORT=$(free_port)
redis-server --port "$LPORT" --bind 127.0.0.1 --dir "$loader_DIR" --daemonize yes \
	--pidfile "$loader_DIR/redis2.pid" --logfile "$loader_DIR/redis2.log" --appendonly no \
	--key-load-delay 5000 --loading-process-events-interval-bytes 1024
i=0
while [ ! -s "$loader_DIR/redis2.pid" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no pid"; sleep 0.05; done
on_exit "kill -9 $(cat "$loader_DIR/redis2.pid") 2>/dev/null"
i=0
until rcli "$LPORT" info persistence 2>/dev/null | grep -q '^loading:1'; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "the server did not start loading"; sleep 0.05
done
redis_target loading "$LPORT"
expect_fail 4 arca snapshot loading
expect_stderr "still loading"
kill -9 "$(cat "$loader_DIR/redis2.pid")"

step "kill -9 of the server in the middle of the transfer: 6, nothing recorded"
redis_start victim --rdb-key-save-delay 2000
rcli "$victim_PORT" debug populate 5000 k 100 >/dev/null
redis_target victim "$victim_PORT"
"$ARCA" snapshot victim >"$T/vout" 2>"$T/verr" &
SNAP=$!
i=0
until rcli "$victim_PORT" info persistence | grep -q '^rdb_bgsave_in_progress:1'; do
	i=$((i + 1)); [ $i -lt 400 ] || fail "the transfer did not start"; sleep 0.05
done
# under way: arca has received 100 KB of the RDB (the save takes 10 s).
# Counted on its connection's socket (ss: bytes_received): /proc/PID/io's
# rchar does not count recv(2), and counted only the libraries it loaded.
received() {
	ss -tniH state established "dst 127.0.0.1:$victim_PORT" 2>/dev/null |
		grep -o 'bytes_received:[0-9]*' | cut -d: -f2 | sort -n | tail -1
}
i=0
until [ "$(received || echo 0)" -gt 102400 ] 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 400 ] || fail "arca received no RDB bytes"; sleep 0.05
done
pkill -9 -P "$(cat "$victim_DIR/redis.pid")" 2>/dev/null || true
kill -9 "$(cat "$victim_DIR/redis.pid")"
set +e; wait $SNAP; rc=$?; set -e
[ "$rc" = 6 ] || { cat "$T/verr"; fail "expected exit 6, got $rc"; }
grep -q "nothing was recorded" "$T/verr" || { cat "$T/verr"; fail "no 'nothing was recorded'"; }
arca list victim 2>&1 | grep -q "no snapshots yet" || fail "a snapshot was recorded"

step "TLS: verified against ca_file; an untrusted certificate refused (4)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" -days 2 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.crt" -days 2 \
	-subj /CN=other 2>/dev/null
TPORT=$(free_port)
redis_start tls --tls-port "$TPORT" --tls-cert-file "$T/tls.crt" --tls-key-file "$T/tls.key" \
	--tls-ca-cert-file "$T/tls.crt" --tls-auth-clients optional
rcli "$tls_PORT" set tlskey v >/dev/null
redis_target tlsgood "$TPORT" "tls = yes" "ca_file = $T/tls.crt"
redis_target tlsbad "$TPORT" "tls = yes" "ca_file = $T/other.crt"
redis_target tlsname "$TPORT" "tls = yes" "ca_file = $T/tls.crt" "tls_server_name = wrong.example"
arca snapshot tlsgood 2>"$T/err" || { cat "$T/err"; fail "TLS snapshot failed"; }
arca verify --read-data tlsgood 2>"$T/err" || { cat "$T/err"; fail "TLS verify failed"; }
expect_fail 4 arca snapshot tlsbad
expect_stderr "not trusted"
expect_fail 4 arca snapshot tlsname
expect_stderr "not trusted"

step "TLS with a client certificate (tls-auth-clients yes); without one: 5"
T2PORT=$(free_port)
redis_start tlsc --tls-port "$T2PORT" --tls-cert-file "$T/tls.crt" --tls-key-file "$T/tls.key" \
	--tls-ca-cert-file "$T/tls.crt" --tls-auth-clients yes
redis_target tlsclient "$T2PORT" "tls = yes" "ca_file = $T/tls.crt" "cert_file = $T/tls.crt" \
	"key_file = $T/tls.key"
redis_target tlsnocert "$T2PORT" "tls = yes" "ca_file = $T/tls.crt"
arca snapshot tlsclient 2>"$T/err" || { cat "$T/err"; fail "snapshot with a client certificate failed"; }
# 5 when the server's alert is read (arca waits 300 ms for it after the
# handshake); on a loaded machine the server may close first: 6, and the
# message still names the client certificate
set +e; arca snapshot tlsnocert >"$T/out" 2>"$T/err"; rc=$?; set -e
[ "$rc" = 5 ] || [ "$rc" = 6 ] || { cat "$T/err"; fail "expected exit 5 (or 6), got $rc"; }
expect_stderr "client certificate"
arca list tlsnocert 2>&1 | grep -q "no snapshots yet" || fail "a snapshot was recorded without a client certificate"
pass
