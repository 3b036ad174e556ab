#!/bin/sh
# Meilisearch failures, each with its exit code and a message that says what
# to do (against tests/meili_double.py): a wrong key (5), no key (5), a key
# lacking dumps.create (5, the action named), an unreachable server (4), a
# dump task that fails (its error), one that never finishes (task_timeout),
# a failing document task on restore (Meilisearch's message and code),
# a server older than 1.0 (9), method = dump without dump_dir (3); nothing
# is recorded by a failure.
. "$ARCA_SRCDIR/tests/lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/meili.sh"
export MEILI_API_KEY=$MEILI_KEY WRONG_KEY=not-the-key LIMITED_KEY=limited-key-0123

meili_start src --api-key "$LIMITED_KEY:version,tasks.get,indexes.get"
meili_start failing --fail-task dumpCreation:dump_process_failed
meili_start stalled --stall-task dumpCreation
$MEILI_TOOL load "$src_URL" "$MEILI_KEY" 300 || fail "load"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_engine_config
target() { # NAME URL KEYVAR [LINE...]
	tn=$1 tu=$2 tk=$3; shift 3
	printf '\n[target %s]\ndriver = meilisearch\ndestinations = local\nurl = %s\n' "$tn" "$tu" >> "$ARCA_CONFIG"
	[ -z "$tk" ] || printf 'api_key_env = %s\n' "$tk" >> "$ARCA_CONFIG"
	printf 'dump_dir = %s\ntask_timeout = 3s\n' "$T/src-dumps" >> "$ARCA_CONFIG"
	for l in "$@"; do printf '%s\n' "$l" >> "$ARCA_CONFIG"; done
}
target wrong "$src_URL" WRONG_KEY
target nokey "$src_URL" ""
target limited "$src_URL" LIMITED_KEY
target limited-export "$src_URL" LIMITED_KEY "method = export"
target down "http://127.0.0.1:$port" MEILI_API_KEY
target failing "$failing_URL" MEILI_API_KEY
target stalled "$stalled_URL" MEILI_API_KEY
target good "$src_URL" MEILI_API_KEY "restore_api_key_env = MEILI_API_KEY" \
	"rebuild_command = true"
arca init > /dev/null || fail "init"

count() { arca list --json "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

step "wrong key: 5"
expect_fail 5 arca snapshot wrong
expect_stderr "refused the API key for GET /version.*invalid_api_key.*the key is wrong"
step "no key: 5, naming api_key_file"
expect_fail 5 arca snapshot nokey
expect_stderr "missing_authorization_header.*api_key_file"
step "a key without dumps.create: 5, naming the action"
expect_fail 5 arca snapshot limited
expect_stderr "POST /dumps.*lacks the .dumps.create. action"
step "export with a key without settings.get: 5, naming the action"
expect_fail 5 arca snapshot limited-export
expect_stderr "lacks the .settings.get. action"
step "unreachable: 4"
expect_fail 4 arca snapshot down
expect_stderr "cannot reach Meilisearch at http://127.0.0.1:$port"
expect_fail 4 arca check down
step "a failing dump task: its error"
expect_fail 6 arca snapshot failing
expect_stderr "task [0-9]+ \(dumpCreation\) failed: .*\(dump_process_failed\)"
step "a dump task that never finishes: task_timeout"
expect_fail 6 arca snapshot stalled
expect_stderr "task [0-9]+ \(dumpCreation\) is still processing after 3s \(task_timeout"
for t in wrong nokey limited limited-export down failing stalled; do
	[ "$(count $t)" = 0 ] || fail "$t: a failed snapshot was recorded"
done

step "TLS is verified: a self-signed server is refused (4) until ca_file names its CA"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.pem" -days 2 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null || fail "openssl"
meili_start tls --tls-cert "$T/tls.pem" --tls-key "$T/tls.key"
tls_URL=$(echo "$tls_URL" | sed 's/^http:/https:/')
target tls "$tls_URL" MEILI_API_KEY "method = export"
target tls-ca "$tls_URL" MEILI_API_KEY "method = export" "ca_file = $T/tls.pem"
expect_fail 4 arca check tls
expect_stderr "over TLS: .*give its CA with ca_file"
arca check tls-ca > /dev/null || fail "TLS with ca_file"

step "a failing document task on restore: Meilisearch's message and code"
arca snapshot good > /dev/null || fail "snapshot good"
meili_start target --fail-task documentAdditionOrUpdate:invalid_document_fields
expect_fail 6 arca restore good --into "$target_URL"
expect_stderr "documents into index movies\) failed: the double was told to fail .*\(invalid_document_fields\).*arca rebuild good"
step "restore into the target's own server: --index with --overwrite"
arca restore good --index books --overwrite > /dev/null || fail "restore into the own server"
n=$(curl -sf -H "Authorization: Bearer $MEILI_KEY" "$src_URL/indexes/books/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberOfDocuments"])')
[ "$n" = 100 ] || fail "books holds $n documents after the restore, not 100"
step "a server older than 1.0: 9, naming --rebuild"
meili_start old --version 0.30.0
expect_fail 9 arca restore good --into "$old_URL"
expect_stderr "Meilisearch 0.30.0 at .* predates 1.0.*arca rebuild good \\(runs rebuild_command"
step "arca rebuild runs rebuild_command without a snapshot"
arca rebuild good > /dev/null || fail "arca rebuild"
step "a restore with no snapshot at all names arca rebuild as the way back: 8"
expect_fail 8 arca restore down
expect_stderr "no snapshot of target down.*the way back without one: .arca rebuild down."
step "--into URL without a usable key"
sed -i 's/^restore_api_key_env = MEILI_API_KEY$/restore_api_key_env = WRONG_KEY/' "$ARCA_CONFIG"
meili_start empty
expect_fail 5 arca restore good --into "$empty_URL"
expect_stderr "refused the API key"
step "--into a relative path: 3"
expect_fail 3 arca restore good --into relative/dir
expect_stderr "--into takes http\(s\)://HOST:PORT .* or an absolute directory"

step "a dump with a member outside it, or a symlink: 7, nothing recorded"
python3 - "$T" <<'PY'
import io, sys, tarfile
for name, kind in (("evil-dotdot", "../escape.json"), ("evil-link", "link")):
    with tarfile.open("%s/%s.dump" % (sys.argv[1], name), "w:gz") as t:
        m = tarfile.TarInfo("metadata.json"); data = b'{"dumpVersion":"V6"}'; m.size = len(data)
        t.addfile(m, io.BytesIO(data))
        m = tarfile.TarInfo(kind if kind != "link" else "keys.jsonl")
        if kind == "link":
            m.type, m.linkname = tarfile.SYMTYPE, "/etc/shadow"
            t.addfile(m)
        else:
            m.size = 2; t.addfile(m, io.BytesIO(b"{}"))
PY
for e in evil-dotdot evil-link; do
	meili_start "$(echo $e | tr - _)" --dump-file "$T/$e.dump"
	target "$e" "$MEILI_URL" MEILI_API_KEY "dump_dir = $T/$(echo $e | tr - _)-dumps"
	sed -i "/^\[target $e\]/,/^\[/{/^dump_dir = .*src-dumps$/d}" "$ARCA_CONFIG"
	expect_fail 7 arca snapshot "$e"
	expect_stderr "has a member arca does not take: (\.\./escape\.json|keys\.jsonl)"
	[ "$(count "$e")" = 0 ] || fail "$e: recorded"
done

step "method = dump without dump_dir: 3, naming the key"
cat > "$T/bad.ini" <<EOC
[engine]
plugin_dir = $PLUGIN_DIR
state_dir = $T/state
[destination local]
driver = dir
path = $T/repo
passphrase_env = ARCA_PASSPHRASE
[target s]
driver = meilisearch
destinations = local
url = $src_URL
EOC
expect_fail 3 arca -c "$T/bad.ini" check
expect_stderr "method = dump needs dump_dir"
pass
