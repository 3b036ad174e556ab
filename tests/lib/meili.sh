# tests/lib/meili.sh — start the Meilisearch protocol double (tests/meili_double.py).
#
# meili_start NAME [double options...]: a double on a free loopback port with
# master key $MEILI_KEY and dump directory $T/NAME-dumps; sets MEILI_URL and
# MEILI_PID (and NAME_URL, NAME_PID). Stopped when the test exits.
MEILI_KEY=${MEILI_KEY:-test-master-key-0123456789}
MEILI_TOOL="python3 $ARCA_SRCDIR/tests/lib/meili_tool.py"
meili_start() {
	ms_name=$1; shift
	mkdir -p "$T/$ms_name-dumps"
	rm -f "$T/$ms_name.port"
	python3 "$ARCA_SRCDIR/tests/meili_double.py" --port-file "$T/$ms_name.port" \
		--dump-dir "$T/$ms_name-dumps" --master-key "$MEILI_KEY" "$@" \
		> "$T/$ms_name.log" 2>&1 &
	MEILI_PID=$!
	on_exit "kill $MEILI_PID"
	ms_i=0
	while [ ! -s "$T/$ms_name.port" ]; do
		kill -0 "$MEILI_PID" 2>/dev/null || { cat "$T/$ms_name.log" >&2; fail "the double $ms_name did not start"; }
		ms_i=$((ms_i + 1)); [ $ms_i -lt 300 ] || fail "the double $ms_name did not start in 30s"
		sleep 0.1
	done
	MEILI_URL="http://127.0.0.1:$(cat "$T/$ms_name.port")"
	eval "${ms_name}_URL=\$MEILI_URL; ${ms_name}_PID=\$MEILI_PID"
}
meili_stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
