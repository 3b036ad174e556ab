# tests/lib/s3.sh — an S3 server for the tests: npm's s3rver 3.7.1, installed
# into tests/node_modules (ignored by git) on first use, started on 127.0.0.1
# on a free port with its data in $T, stopped by the common.sh exit hook.
# Source after common.sh.
#
#   s3_start [BUCKET...]   start it with these buckets (default: arca-test);
#                          sets S3_PORT and S3_ENDPOINT (http://127.0.0.1:PORT);
#                          virtual-host requests go to BUCKET.s3.localhost:PORT
#                          (curl resolves *.localhost to the loopback itself);
#                          S3_DATA=DIR keeps its data in DIR instead of
#                          $T/s3data (a second server beside the first)
#   s3_dest NAME BUCKET [PREFIX] [KEY=VALUE...]
#                          append a [destination NAME] of the s3 driver with
#                          s3rver's credentials (S3RVER/S3RVER) to $ARCA_CONFIG
#   s3_target NAME BUCKET [KEY=VALUE...]
#                          append a [target NAME] of the s3 driver, backed up
#                          to destination local, with s3rver's credentials
#   Both: endpoint $S3_ENDPOINT_OVERRIDE, else $S3_ENDPOINT; the secret in
#   $T/s3.secret (written, mode 600); each KEY = VALUE line is appended, and
#   one whose KEY is a default's (endpoint, access_key_id, destinations, ...)
#   replaces that default, so no key is set twice.
S3RVER_VERSION=3.7.1
S3RVER=$ARCA_SRCDIR/tests/node_modules/.bin/s3rver

s3_install() {
	[ -x "$S3RVER" ] && return 0
	command -v npm >/dev/null || skip "npm is not installed (tests/deps.sh installs it)"
	(cd "$ARCA_SRCDIR/tests" && npm install --no-save --no-audit --no-fund --prefix . \
		"s3rver@$S3RVER_VERSION" >"$T/npm.log" 2>&1) ||
		{ cat "$T/npm.log" >&2; skip "npm could not install s3rver $S3RVER_VERSION"; }
}

s3_start() {
	s3_install
	[ $# -gt 0 ] || set -- arca-test
	s3_data=${S3_DATA:-$T/s3data}
	mkdir -p "$s3_data"
	s3_args=
	for b in "$@"; do s3_args="$s3_args --configure-bucket $b"; done
	s3_try=0
	while :; do
		S3_PORT=$(free_port)
		# Node 20: without the legacy provider every listing past 1000 keys fails
		NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$s3_data" -a 127.0.0.1 \
			-p "$S3_PORT" -s --service-endpoint localhost $s3_args >"$s3_data.log" 2>&1 &
		s3_pid=$!
		on_exit "kill $s3_pid 2>/dev/null"
		s3_i=0
		while [ $s3_i -lt 200 ]; do
			if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $S3_PORT), 0.2)" 2>/dev/null; then
				S3_ENDPOINT=http://127.0.0.1:$S3_PORT
				export S3_PORT S3_ENDPOINT
				return 0
			fi
			kill -0 $s3_pid 2>/dev/null || break
			sleep 0.1
			s3_i=$((s3_i + 1))
		done
		kill $s3_pid 2>/dev/null
		s3_try=$((s3_try + 1))
		[ $s3_try -lt 3 ] || { cat "$s3_data.log" >&2; fail "s3rver did not start"; }
	done
}

s3_dest() {
	sd_name=$1 sd_bucket=$2 sd_prefix=${3:-}
	shift 2; [ $# -gt 0 ] && shift
	s3_section "destination $sd_name" "$sd_bucket" "$sd_prefix" "passphrase_env = ARCA_PASSPHRASE" "$@"
}

s3_target() {
	st_name=$1 st_bucket=$2; shift 2
	s3_section "target $st_name" "$st_bucket" "" "destinations = local" "$@"
}

# s3_section "KIND NAME" BUCKET PREFIX LAST_DEFAULT [LINE...]: s3_dest and s3_target
s3_section() {
	ss_head=$1 ss_bucket=$2 ss_prefix=$3 ss_last=$4; shift 4
	printf 'S3RVER\n' > "$T/s3.secret"; chmod 600 "$T/s3.secret"
	{
		printf '\n[%s]\ndriver = s3\n' "$ss_head"
		for ss_default in "endpoint = ${S3_ENDPOINT_OVERRIDE:-$S3_ENDPOINT}" "bucket = $ss_bucket" \
			${ss_prefix:+"prefix = $ss_prefix"} "access_key_id = S3RVER" \
			"secret_access_key_file = $T/s3.secret" "$ss_last"; do
			sets_key "${ss_default%% =*}" "$@" || printf '%s\n' "$ss_default"
		done
		for ss_line in "$@"; do printf '%s\n' "$ss_line"; done
	} >> "$ARCA_CONFIG"
}

# s3_proxy ARGS...: start tests/s3_fault_proxy.py in front of s3rver (ARGS:
# its --schedule or --seed/--rate); sets PROXY_PORT. Its log: $T/proxy.log.
s3_proxy() {
	rm -f "$T/proxy.port"
	python3 "$ARCA_SRCDIR/tests/s3_fault_proxy.py" "$S3_PORT" "$T/proxy.port" \
		--log "$T/proxy.log" "$@" 2>>"$T/proxy.err" &
	sp_pid=$!
	on_exit "kill $sp_pid 2>/dev/null"
	sp_i=0
	while [ ! -s "$T/proxy.port" ]; do
		sp_i=$((sp_i + 1))
		[ $sp_i -lt 200 ] && kill -0 $sp_pid 2>/dev/null ||
			{ cat "$T/proxy.err" >&2; fail "the fault proxy did not start"; }
		sleep 0.05
	done
	PROXY_PORT=$(cat "$T/proxy.port")
	PROXY_PID=$sp_pid
}
