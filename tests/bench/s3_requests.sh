#!/bin/sh
# tests/bench/s3_requests.sh — how many S3 requests each `arca` command costs
# on an s3 destination (s3rver behind tests/s3_fault_proxy.py, which logs one
# line per request): init, snapshot of a small tree, an unchanged snapshot,
# list, verify, and `wal-push` of a .history file (what archive_command runs
# for every WAL file). With BENCH_HONOUR=1 the proxy honours If-None-Match: *
# as AWS S3 and MinIO do (s3rver ignores it).
#
#   tests/bench/s3_requests.sh BUILDDIR      (BENCH_HONOUR=1)
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"
s3_start arca-test
if [ "${BENCH_HONOUR:-0}" = 1 ]; then s3_proxy --if-none-match 1; else s3_proxy; fi
write_engine_config
mkdir -p "$T/tree"
i=0; while [ $i -lt 20 ]; do head -c 5000 /dev/urandom > "$T/tree/f$i"; i=$((i + 1)); done
S3_ENDPOINT_OVERRIDE=http://127.0.0.1:$PROXY_PORT s3_dest s3 arca-test repo/
files_target tree "$T/tree" "destinations = s3"
cat >> "$ARCA_CONFIG" <<EOC

[target pg]
driver = postgres
mode = physical
conninfo = host=127.0.0.1 port=1 user=nobody
destinations = s3
EOC
export ARCA_TEST_FAST_KDF=1 ARCA_PASSPHRASE="bench passphrase"
printf '1\t0/3000000\tno recovery target specified\n' > "$T/00000002.history"
count() { # NAME CMD...: the requests CMD made
	before=$(wc -l < "$T/proxy.log")
	"$@" > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "$*"; }
	printf "  %-28s %4d requests\n" "$2 ${3:-}" $(($(wc -l < "$T/proxy.log") - before))
}
echo "S3 requests per command (s3rver$([ "${BENCH_HONOUR:-0}" = 1 ] && echo ' + If-None-Match honoured'))"
count arca init s3
count arca snapshot tree
count arca snapshot tree
count arca list
count arca verify
count arca wal-push pg "$T/00000002.history"
[ -z "${BENCH_LOG:-}" ] || cp "$T/proxy.log" "$BENCH_LOG"
pass
