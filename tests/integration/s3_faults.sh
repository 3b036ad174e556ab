#!/bin/sh
# Transient S3 failures (tests/s3_fault_proxy.py between arca and s3rver:
# 500, 503, 429 with Retry-After, connection resets before and after the
# server acted, truncated bodies, at random on a seeded schedule): every
# snapshot ends either committed and verifying (restored byte for byte) or
# failed with nothing committed, and the repository verifies either way.
# Retries are logged; reads (verify --read-data, restore) through the proxy
# give the right bytes or fail, never wrong data.
# S3_FAULT_ROUNDS (default 6) snapshots at a 25% fault rate, then one at 95%.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

ROUNDS=${S3_FAULT_ROUNDS:-6}
export ARCA_RETRY_BASE_MS=20
s3_start arca-test
mkdir -p "$T/state" "$T/src"
head -c 3000000 /dev/urandom > "$T/src/base.bin"
cat > "$ARCA_CONFIG" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state
EOC
s3_dest s3 arca-test repo/ "pack_size = 4M" "part_size = 5M"
files_target tree "$T/src"
sed -i 's/^destinations = local$/destinations = s3/' "$ARCA_CONFIG"
DIRECT=$ARCA_CONFIG
FAULTY=$T/faulty.ini
arca init s3

count() { arca -c "$DIRECT" list tree | grep -c '^[0-9a-f]\{8\}' || true; }
check_round() { # check_round RC
	after=$(count)
	if [ "$1" -eq 0 ]; then
		[ "$after" -eq $((before + 1)) ] || fail "round $r: exit 0 but $after snapshots (had $before)"
		rm -rf "$T/restored"
		arca -c "$DIRECT" restore tree --into "$T/restored" >/dev/null 2>&1 ||
			fail "round $r: the committed snapshot does not restore"
		tree_manifest "$T/src" > "$T/want"
		tree_manifest "$T/restored" > "$T/got"
		diff "$T/want" "$T/got" >/dev/null || fail "round $r: the restored tree differs"
		ok_runs=$((ok_runs + 1))
	else
		[ "$1" -lt 128 ] || fail "round $r: snapshot died (exit $1)"
		[ "$after" -eq "$before" ] ||
			fail "round $r: failed (exit $1) but a snapshot was recorded"
		failed_runs=$((failed_runs + 1))
	fi
	arca -c "$DIRECT" unlock s3 >/dev/null 2>&1 || true
	arca -c "$DIRECT" verify tree --read-data >"$T/verify.out" 2>&1 ||
		{ cat "$T/verify.out"; fail "round $r: the repository does not verify"; }
}

ok_runs=0 failed_runs=0
r=1
while [ $r -le $((ROUNDS + 1)) ]; do
	rate=0.25
	[ $r -le "$ROUNDS" ] || rate=0.95
	s3_proxy --seed "$r" --rate "$rate"
	sed "s#^endpoint = .*#endpoint = http://127.0.0.1:$PROXY_PORT#" "$DIRECT" > "$FAULTY"
	head -c $((1000000 + r * 700000)) /dev/urandom > "$T/src/round-$r.bin"
	echo "round $r" > "$T/src/r$r.txt"
	before=$(count)
	set +e
	"$ARCA" -c "$FAULTY" snapshot tree >"$T/snap.out" 2>"$T/snap.err"
	rc=$?
	set -e
	echo "round $r (fault rate $rate): snapshot exit $rc, $(grep -c ' ' "$T/proxy.log") requests, \
$(grep -vc ' ok ' "$T/proxy.log") faults, $(grep -c 'try [0-9]* of' "$T/snap.err") retries logged"
	[ $rc -eq 0 ] || grep 'error' "$T/snap.err" | tail -2
	if [ $r -eq 1 ]; then
		grep -q 'try 2 of 8' "$T/snap.err" || { cat "$T/snap.err"; fail "no retry logged"; }
	fi
	check_round $rc
	if [ $rc -eq 0 ] && [ $r -le 2 ]; then
		# reads through faults: right bytes or a clean failure
		rm -rf "$T/restored"
		set +e
		"$ARCA" -c "$FAULTY" restore tree --into "$T/restored" >/dev/null 2>"$T/rest.err"
		rrc=$?
		set -e
		if [ $rrc -eq 0 ]; then
			tree_manifest "$T/restored" > "$T/got"
			diff "$T/want" "$T/got" >/dev/null || fail "round $r: restore through faults differs"
		else
			[ $rrc -ne 7 ] || { cat "$T/rest.err"; fail "round $r: faults taken for corruption"; }
		fi
		set +e
		"$ARCA" -c "$FAULTY" verify tree --read-data >/dev/null 2>"$T/ver.err"
		vrc=$?
		set -e
		[ $vrc -ne 7 ] || { cat "$T/ver.err"; fail "round $r: verify through faults says corrupt"; }
	fi
	kill "$PROXY_PID" 2>/dev/null || true
	cat "$T/proxy.log" >> "$T/all-proxy.log"
	rm -f "$T/proxy.log"
	r=$((r + 1))
done
step "listings in pages of 3 (continuation tokens), a server without DeleteObjects"
# three more snapshots, each replacing the last one's data: packs to delete
for i in 1 2 3; do
	rm -f "$T/src"/extra-*
	head -c 5000000 /dev/urandom > "$T/src/extra-$i.bin"
	arca snapshot tree >/dev/null 2>&1
done
rm -f "$T/src"/extra-* "$T/src"/round-*
arca snapshot tree >/dev/null 2>&1
s3_proxy --max-keys 3 --no-batch-delete 1
sed "s#^endpoint = .*#endpoint = http://127.0.0.1:$PROXY_PORT#" "$DIRECT" > "$FAULTY"
sed -i 's/^retention = .*//' "$FAULTY"
printf 'retention = last=1\n' >> "$FAULTY"
arca -c "$FAULTY" forget tree >/dev/null
arca -c "$FAULTY" prune s3 2>"$T/prune.err" || { cat "$T/prune.err"; fail "prune"; }
grep -q "no DeleteObjects; removing one by one" "$T/prune.err" || { cat "$T/prune.err"; grep -v " ok GET| ok HEAD" "$T/proxy.log"; fail "no fallback to single deletes"; }
grep -q 'continuation-token' "$T/proxy.log" || fail "no listing was paged"
grep -q ' ok DELETE ' "$T/proxy.log" || fail "no single delete"
[ "$(arca -c "$FAULTY" list tree | grep -c '^[0-9a-f]\{8\}')" -eq 1 ] || fail "forget left more than one"
arca -c "$FAULTY" verify tree --read-data >/dev/null 2>&1 || fail "verify with paged listings"
rm -rf "$T/restored"
arca -c "$FAULTY" restore tree --into "$T/restored" >/dev/null 2>&1
tree_manifest "$T/src" > "$T/want"
tree_manifest "$T/restored" > "$T/got"
diff "$T/want" "$T/got" >/dev/null || fail "restore with paged listings differs"
cat "$T/proxy.log" >> "$T/all-proxy.log"
kill "$PROXY_PID"

step "a server that answers each page with the token it was asked: refused, not paged forever"
rm -f "$T/proxy.log"
for i in 1 2; do
	echo "$i" > "$T/src/more-$i"
	arca snapshot tree >/dev/null 2>&1 || fail "snapshot $i"
done
s3_proxy --max-keys 1 --loop-listing 1
sed "s#^endpoint = .*#endpoint = http://127.0.0.1:$PROXY_PORT#" "$DIRECT" > "$FAULTY"
expect_fail 7 timeout 60 "$ARCA" -c "$FAULTY" prune s3
expect_stderr "answered a page with the continuation token it was asked for"
[ "$(grep -c 'continuation-token' "$T/proxy.log")" -eq 1 ] || { cat "$T/proxy.log"; fail "the looping page was asked again"; }
arca verify tree --read-data >/dev/null 2>&1 || fail "the repository does not verify after the refused prune"
kill "$PROXY_PID"

# interrupted_snapshot: a snapshot through a proxy that holds every
# removal of a lock for 60 s, sent ^C once its first pack is stored; returns
# once the lock's removal is asked (the snapshot's pid in $pid)
interrupted_snapshot() {
	rm -f "$T/proxy.log"
	head -c 40000000 /dev/urandom > "$T/src/int.bin"
	before=$(count)
	s3_proxy --slow-match "^DELETE .*/locks/" --slow-seconds 60
	sed "s#^endpoint = .*#endpoint = http://127.0.0.1:$PROXY_PORT#" "$DIRECT" > "$FAULTY"
	"$ARCA" -c "$FAULTY" snapshot tree >"$T/int.out" 2>&1 &
	pid=$!
	i=0 # until the first pack is stored: the snapshot holds its lock
	while [ $i -lt 2000 ] && ! grep -q ' ok PUT .*/packs/' "$T/proxy.log" && kill -0 $pid 2>/dev/null; do
		sleep 0.01; i=$((i + 1))
	done
	kill -INT $pid
	i=0
	while [ $i -lt 2000 ] && ! grep -q ' slow DELETE .*/locks/' "$T/proxy.log" && kill -0 $pid 2>/dev/null; do
		sleep 0.01; i=$((i + 1))
	done
	grep -q ' slow DELETE .*/locks/' "$T/proxy.log" ||
		{ cat "$T/int.out" "$T/proxy.log"; fail "the interrupted snapshot did not remove its lock"; }
}
# after_interrupt: the snapshot ($pid) is waited for (exit status in $st,
# seconds in $took); nothing was committed, the lock it left is stale at
# once for this host (its process is gone), and the repository verifies
after_interrupt() {
	st=0; wait $pid || st=$?
	took=$(($(date +%s) - t0))
	kill "$PROXY_PID"
	[ $st -eq 10 ] || { cat "$T/int.out"; fail "the interrupted snapshot exited $st, not 10"; }
	[ "$(count)" -eq "$before" ] || fail "the interrupted snapshot was recorded"
	arca -c "$DIRECT" snapshot tree >"$T/after.out" 2>&1 ||
		{ cat "$T/after.out"; fail "the lock left behind blocks this host"; }
	arca -c "$DIRECT" verify tree --read-data >/dev/null 2>&1 ||
		fail "the repository does not verify after the interrupt"
	rm -f "$T/src/int.bin"
}
step "^C while the lock's removal hangs: given up after 10 s, with a word on the lock"
interrupted_snapshot
t0=$(date +%s)
after_interrupt
[ $took -le 30 ] || fail "^C took $took s to end arca (the lock's removal may take 10 s)"
grep -q "could not be removed either (.*no answer within 10 s): arca unlock removes it" "$T/int.out" ||
	{ cat "$T/int.out"; fail "no word on the lock left behind"; }

step "^C while the lock's removal hangs, then ^C again: exit 10 at once"
interrupted_snapshot
sleep 1
t0=$(date +%s)
kill -INT $pid
after_interrupt
[ $took -le 5 ] || fail "the second ^C took $took s to end arca"
grep -q "interrupted again: exiting now" "$T/int.out" || { cat "$T/int.out"; fail "no word on the second ^C"; }

for a in 500 503 500after 429 reset resetafter truncate; do
	grep -q " $a " "$T/all-proxy.log" || fail "no '$a' fault was injected"
done
[ $ok_runs -ge 1 ] || fail "no snapshot got through faults"
[ $failed_runs -ge 1 ] || fail "no snapshot failed (the 95% round should)"
echo "$ok_runs committed, $failed_runs failed with nothing committed"
pass
