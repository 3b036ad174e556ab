#!/bin/sh
# The s3 destination's probe and its writes on servers that answer
# differently (s3rver behind tests/s3_fault_proxy.py):
#  - a server honouring If-None-Match: * proves it with one request per
#    command (the kept probe object refused again), and exclusive writes are
#    then conditional creates; the same repository reached through a server
#    that does not honour it (the server changed behind it) is probed again
#    at once and gets the safe protocol (look first), never the stale answer;
#  - buckets encrypting with SSE-KMS, DSSE-KMS or SSE-C answer ETags that are
#    not the MD5 of the content: writes (single and multipart) still succeed,
#    the repository round-trips and verifies; an ETag that is not the MD5
#    WITHOUT such a header is still refused;
#  - sse = kms asks for aws:kms with the key id on every write;
#  - the plain-http warning: once per command, none for a loopback endpoint.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"

s3_start arca-test
mkdir -p "$T/state" "$T/src"
head -c 12000000 /dev/urandom > "$T/src/big.bin" # > part_size: multipart
for i in 1 2 3; do head -c $((i * 3001)) /dev/urandom > "$T/src/f$i"; done
export ARCA_RETRY_BASE_MS=10
# proxy NAME ARGS...: a proxy logging to $T/NAME.log; sets NAME_URL
proxy() {
	p_name=$1; shift
	s3_proxy --log "$T/$p_name.log" "$@"
	eval "${p_name}_URL=http://127.0.0.1:$PROXY_PORT"
}
proxy hon --if-none-match 1
proxy plain
proxy kms --sse kms
proxy dsse --sse dsse
proxy ssec --sse c
proxy bad --sse etag
cat > "$ARCA_CONFIG" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state
EOC
S3_ENDPOINT_OVERRIDE=$hon_URL s3_dest hon arca-test cond/
S3_ENDPOINT_OVERRIDE=$plain_URL s3_dest plain arca-test cond/
S3_ENDPOINT_OVERRIDE=$kms_URL s3_dest kms arca-test kms/ "part_size = 5M" "multipart_threshold = 5M" "sse = kms" \
	"sse_kms_key_id = alias/vectis-backup"
S3_ENDPOINT_OVERRIDE=$dsse_URL s3_dest dsse arca-test dsse/ "part_size = 5M" "multipart_threshold = 5M"
S3_ENDPOINT_OVERRIDE=$ssec_URL s3_dest ssec arca-test ssec/ "part_size = 5M" "multipart_threshold = 5M"
S3_ENDPOINT_OVERRIDE=$bad_URL s3_dest bad arca-test bad/
files_target tree "$T/src" "destinations = hon"
export ARCA_PASSPHRASE="correct horse battery staple"
# the requests of the last command through proxy NAME
mark() { wc -l < "$T/$1.log" > "$T/$1.mark"; }
since() { tail -n +$(($(cat "$T/$1.mark") + 1)) "$T/$1.log"; }

step "a server honouring If-None-Match: one probe request per command"
arca init hon
mark hon
arca snapshot tree 2> "$T/err" || { cat "$T/err"; fail "snapshot"; }
since hon > "$T/req"
[ "$(grep -c 'probe/' "$T/req")" -eq 1 ] || { cat "$T/req"; fail "the probe took more than one request"; }
grep -q '412\|PUT .*/cond/probe/if-none-match if-none-match=\*' "$T/req" || { cat "$T/req"; fail "no conditional probe"; }
grep -q 'PUT .*/cond/locks/.* if-none-match=\*' "$T/req" || { cat "$T/req"; fail "the lock was not a conditional create"; }
grep -q 'HEAD .*/cond/locks/' "$T/req" && { cat "$T/req"; fail "looked first although the server honours If-None-Match"; }
expect_fail 11 arca init hon
expect_stderr "already holds a repository"

step "the same repository through a server that ignores it: probed again, safe protocol"
sed -i 's/^destinations = hon$/destinations = plain/' "$ARCA_CONFIG"
mark plain
arca snapshot tree 2> "$T/err" || { cat "$T/err"; fail "snapshot"; }
since plain > "$T/req"
[ "$(grep -c 'probe/' "$T/req")" -eq 2 ] || { cat "$T/req"; fail "not probed twice"; }
grep -q 'HEAD .*/cond/locks/' "$T/req" || { cat "$T/req"; fail "did not look first without If-None-Match"; }
arca restore tree --into "$T/out0"
tree_manifest "$T/src" > "$T/want"
tree_manifest "$T/out0" > "$T/got"
diff "$T/want" "$T/got" || fail "restored tree differs"

for d in kms dsse ssec; do
	step "$d: ETags that are not MD5s, with the server's encryption header: writes succeed"
	sed -i "s/^destinations = .*/destinations = $d/" "$ARCA_CONFIG"
	arca init $d
	arca snapshot tree 2> "$T/err" || { cat "$T/err"; fail "$d: snapshot"; }
	grep -q 'uploadId=' "$T/$d.log" || fail "$d: nothing went up in parts"
	arca verify tree --read-data
	rm -rf "$T/outd"
	arca restore tree --into "$T/outd"
	tree_manifest "$T/outd" > "$T/got"
	diff "$T/want" "$T/got" || fail "$d: restored tree differs"
done
step "sse = kms asks for aws:kms with the key on every write, single or multipart"
puts=$(grep -Ec ' (PUT [^?]*|POST .*\?uploads) ' "$T/kms.log")
kmsputs=$(grep -Ec ' (PUT [^?]*|POST .*\?uploads) .*x-amz-server-side-encryption=aws:kms x-amz-server-side-encryption-aws-kms-key-id=alias/vectis-backup' "$T/kms.log")
[ "$puts" -gt 3 ] && [ "$puts" -eq "$kmsputs" ] || { cat "$T/kms.log"; fail "$kmsputs of $puts writes asked for aws:kms"; }
grep -q 'x-amz-server-side-encryption=' "$T/dsse.log" && fail "sse asked for without sse ="
sed -i 's/^sse_kms_key_id = .*/&\nsse = s3/; /^sse = kms$/d; s/^destinations = .*/destinations = kms/' "$ARCA_CONFIG"
expect_fail 3 arca list
expect_stderr "sse_kms_key_id is set but sse is not kms"
sed -i '/^sse = s3$/d; s/^\(sse_kms_key_id = .*\)/sse = kms\n\1/' "$ARCA_CONFIG"

step "an ETag that is not the MD5, WITHOUT an encryption header: refused"
sed -i "s/^destinations = .*/destinations = bad/" "$ARCA_CONFIG"
expect_fail 6 arca init bad
expect_stderr "not the MD5 .* it did not store them as sent"
arca list bad > /dev/null 2>&1 && fail "a repository was left in bad/"

step "plain http: warned once per command, not for loopback"
sed -i "s/^destinations = .*/destinations = plain/" "$ARCA_CONFIG"
arca list > /dev/null 2> "$T/err"
grep -q 'plain http' "$T/err" && { cat "$T/err"; fail "warned about a loopback endpoint"; }
# 0.0.0.0 is no loopback name (so arca warns) but connects to this host's
# loopback, where a closed port refuses at once
closed_port cport
for d in far1 far2; do
	S3_ENDPOINT_OVERRIDE=http://0.0.0.0:$cport s3_dest $d b "" "access_key_id = x"
done
files_target far "$T/src" "destinations = far1, far2"
expect_fail 4 arca list far
[ "$(grep -c 'plain http' "$T/err")" -eq 1 ] || { cat "$T/err"; fail "the plain-http warning is not given exactly once"; }
pass
