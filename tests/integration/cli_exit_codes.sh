#!/bin/sh
# Every exit code of the README's table, through the real binary and the
# shipped drivers, each with the message that names the failure:
#   0 success              5 privilege refused     10 cancelled (SIGINT, SIGTERM)
#   1 internal error       6 I/O error             11 refusing to overwrite
#   2 usage error          7 data corrupt          12 no space left
#   3 configuration error  8 not found             13 repository locked
#   4 cannot connect       9 not supported         14 driver module refused
# 10 is sent during a snapshot and during a restore, while the files driver
# is inside the big file (the process is stopped, its open files inspected,
# then signalled): nothing is recorded and no lock is left.
# 1 has one honest trigger in a shipped build: the worker threads cannot be
# started (RLIMIT_NPROC); every other status 1 is a driver or engine bug.
. "$ARCA_SRCDIR/tests/lib/common.sh"

SRC=$T/src
write_engine_config
sed -i '/^passphrase_env = ARCA_PASSPHRASE$/a pack_size = 4M' "$ARCA_CONFIG"
files_target tree "$SRC"
mkdir -p "$SRC/sub"
echo small > "$SRC/small"
head -c 300000 /dev/urandom > "$SRC/sub/data"
count() { arca list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
no_locks() { # no_locks WHAT
	nl_left=$(find "$T/repo/locks" -type f 2> /dev/null)
	[ -z "$nl_left" ] || fail "$1: lock left behind: $nl_left"
}

step "0: success"
arca init > /dev/null || fail "init"
arca snapshot tree > "$T/out" || fail "snapshot"
grep -q "^snapshot [0-9a-f]\{64\} of tree: " "$T/out" || fail "snapshot printed no id"

step "1: internal error (the worker threads cannot be started)"
# RLIMIT_NPROC counts the user's processes and threads; root is exempt, so
# as root the command runs as a uid of its own that nothing else uses.
if [ "$(id -u)" = 0 ]; then
	nuid=64000
	while getent passwd "$nuid" > /dev/null || [ -n "$(ps -o pid= -u "$nuid" 2> /dev/null)" ]; do
		nuid=$((nuid + 1))
	done
	mkdir -p "$T/np/state" "$T/np/repo"
	sed -e "s|^state_dir = .*|state_dir = $T/np/state|" -e "s|^path = $T/repo\$|path = $T/np/repo|" \
		"$ARCA_CONFIG" > "$T/np.ini"
	chmod 644 "$T/np.ini"
	chown -R "$nuid:$nuid" "$T/np"
	setpriv --reuid "$nuid" --regid "$nuid" --clear-groups "$ARCA" -c "$T/np.ini" init > /dev/null ||
		fail "init as uid $nuid"
	# No leak check under ASan: LeakSanitizer needs a thread of its own.
	expect_fail 1 env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		prlimit --nproc=1 setpriv --reuid "$nuid" --regid "$nuid" --clear-groups \
		"$ARCA" -c "$T/np.ini" snapshot tree
	expect_stderr "snapshot of tree failed, nothing was recorded: cannot start worker threads"
	[ -z "$(find "$T/np/repo" -path '*/snapshots/*')" ] || fail "a snapshot was recorded without its workers"
	[ -z "$(find "$T/np/repo/locks" -type f)" ] || fail "1: lock left behind"
else
	expect_fail 1 env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		prlimit --nproc=1 "$ARCA" snapshot tree
	expect_stderr "snapshot of tree failed, nothing was recorded: cannot start worker threads"
	[ "$(count)" = 1 ] || fail "a snapshot was recorded without its workers"
	no_locks "1"
fi

step "2: usage error"
expect_fail 2 arca snapshot --bogus
expect_stderr "arca snapshot: unknown option"
expect_fail 2 arca restore tree --jobs 0
expect_stderr "--jobs needs a number from 1 to 256"

step "3: configuration error"
cp "$ARCA_CONFIG" "$T/good.ini"
echo "pathh = $SRC" >> "$ARCA_CONFIG"
expect_fail 3 arca snapshot tree
expect_stderr "arca.ini:[0-9]+: .*unknown key 'pathh'"
cp "$T/good.ini" "$ARCA_CONFIG"

step "4: cannot connect (a PostgreSQL target whose server is down)"
if [ -f "$PLUGIN_DIR/postgres.so" ]; then
	closed_port port
	cat >> "$ARCA_CONFIG" <<EOC

[target pgdown]
driver = postgres
destinations = local
conninfo = host=127.0.0.1 port=$port dbname=app user=app
EOC
	expect_fail 4 arca check pgdown
	expect_stderr "cannot connect to PostgreSQL \(host 127.0.0.1 port $port.*Connection refused"
	expect_fail 4 arca snapshot pgdown
	expect_stderr "snapshot of pgdown failed, nothing was recorded"
	cp "$T/good.ini" "$ARCA_CONFIG"
else
	skip_step "the postgres driver is not built: 4 (cannot connect) is not tested"
fi

step "5: privilege refused (a repository the user may not write)"
if [ "$(id -u)" = 0 ]; then
	chmod 0755 "$T/repo"
	chmod 0644 "$ARCA_CONFIG"
	expect_fail 5 runuser -u "$(id -nu 65534)" -- "$ARCA" check
	chmod 0700 "$T/repo"
else
	chmod 0500 "$T/repo"
	expect_fail 5 arca check
	chmod 0700 "$T/repo"
fi
expect_stderr "dir $T/repo: not writable by uid"

step "6: I/O error (a repository on a read-only mount)"
if [ "$(id -u)" = 0 ] && mount --bind "$T/repo" "$T/repo" 2> /dev/null; then
	on_exit "umount '$T/repo'"
	mount -o remount,ro,bind "$T/repo" || fail "cannot remount the bind mount read-only"
	echo more > "$SRC/more"
	expect_fail 6 arca snapshot tree
	expect_stderr "snapshot of tree: destination local: writing locks/[0-9a-f]+: .*Read-only file system"
	umount "$T/repo"
	[ "$(count)" = 1 ] || fail "a snapshot was recorded on a read-only repository"
else
	skip_step "not root or cannot bind-mount: 6 (I/O error) is not tested"
fi

step "7: data corrupt"
cp -a "$T/repo" "$T/repo.good"
pack=$(find "$T/repo/packs" -type f | head -1)
python3 - "$pack" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 1]))
PY
expect_fail 7 arca verify --read-data
grep -q "^DAMAGED destination local: pack ${pack#"$T/repo/"} is corrupt: its [0-9]* bytes do not hash to its name" "$T/out" ||
	{ cat "$T/out" >&2; fail "7: the damaged pack is not named"; }
rm -rf "$T/repo" && mv "$T/repo.good" "$T/repo"

step "8: not found"
expect_fail 8 arca restore tree --snapshot 0123456789ab --into "$T/r8"
expect_stderr "no snapshot 0123456789ab of target tree \(see \`arca list tree\`\)"

step "9: not supported by the driver"
expect_fail 9 arca wal-push tree "$T/000000010000000000000001"
expect_stderr "driver files of target tree has no 'wal-push' command"

# signal_mid SIG PID PREFIX SIZE: stop PID until it has a file below PREFIX
# open with more than 1 MiB of SIZE still to go (so its driver will look at
# the cancel flag again), then send SIG and let it continue.
signal_mid() {
	sm_sig=$1 sm_pid=$2 sm_prefix=$3 sm_size=$4 sm_i=0
	while :; do
		sm_state=$(awk '{print $3}' "/proc/$sm_pid/stat" 2> /dev/null || true)
		[ -n "$sm_state" ] && [ "$sm_state" != Z ] ||
			{ cat "$T/err" >&2; fail "10: the process ended before it had $sm_prefix open (after $sm_i looks)"; }
		kill -STOP "$sm_pid"
		for fd in /proc/"$sm_pid"/fd/*; do
			case "$(readlink "$fd" 2> /dev/null)" in "$sm_prefix"*) ;; *) continue ;; esac
			pos=$(awk '/^pos:/ {print $2}' "/proc/$sm_pid/fdinfo/${fd##*/}" 2> /dev/null || true)
			if [ -n "$pos" ] && [ "$pos" -lt $((sm_size - 1048576)) ]; then
				echo "SIG$sm_sig with $(readlink "$fd") at byte $pos"
				kill -"$sm_sig" "$sm_pid"
				kill -CONT "$sm_pid"
				return 0
			fi
		done
		kill -CONT "$sm_pid"
		sm_i=$((sm_i + 1))
		[ "$sm_i" -lt 4000 ] || fail "10: $sm_prefix was never open in 4000 looks"
		sleep 0.005
	done
}
BIG=$((64 << 20))

for sig in INT TERM; do
	step "10: SIG$sig during a snapshot: nothing recorded, no lock left"
	head -c "$BIG" /dev/urandom > "$SRC/big"
	n=$(count)
	"$ARCA" snapshot tree > "$T/out" 2> "$T/err" & pid=$!
	signal_mid "$sig" "$pid" "$SRC/big" "$BIG"
	set +e; wait "$pid"; rc=$?; set -e
	[ "$rc" = 10 ] || { cat "$T/err" >&2; fail "SIG$sig during a snapshot: exit $rc, not 10"; }
	expect_stderr "snapshot of tree failed, nothing was recorded: .*interrupted"
	[ "$(count)" = "$n" ] || fail "SIG$sig: the interrupted snapshot was recorded"
	no_locks "SIG$sig during a snapshot"
	[ -z "$(find "$T/repo" -name '.tmp.*')" ] || fail "SIG$sig: temporary files left in the repository"
done
arca snapshot tree > /dev/null || fail "snapshot of the big file"
for sig in INT TERM; do
	step "10: SIG$sig during a restore: no lock left, no partial file"
	rm -rf "$T/r10"
	"$ARCA" restore tree --into "$T/r10" > "$T/out" 2> "$T/err" & pid=$!
	# the restore writes into a staging directory beside r10 (.r10.arca-restore.*)
	signal_mid "$sig" "$pid" "$T/.r10.arca-restore." "$BIG"
	set +e; wait "$pid"; rc=$?; set -e
	[ "$rc" = 10 ] || { cat "$T/err" >&2; fail "SIG$sig during a restore: exit $rc, not 10"; }
	# "interrupted", from the engine, the files driver or the read it
	# stopped (a parallel restore is stopped by whichever of its threads
	# sees the signal first)
	expect_stderr "arca: error: .*interrupted"
	no_locks "SIG$sig during a restore"
	[ ! -e "$T/r10" ] || fail "SIG$sig: the interrupted restore left $T/r10"
	[ -z "$(find "$T" -maxdepth 1 -name '.r10.arca-restore.*')" ] ||
		fail "SIG$sig: the restore's staging directory was left"
done
arca verify --read-data > /dev/null 2>&1 || fail "verify after the interruptions"

step "11: refusing to overwrite"
arca restore tree --into "$T/r11" > /dev/null 2>&1 || fail "restore into an empty place"
expect_fail 11 arca restore tree --into "$T/r11"
expect_stderr "--overwrite"

step "12: no space left (a repository on a full filesystem)"
if [ "$(id -u)" = 0 ] && mkdir "$T/small" && mount -t tmpfs -o size=1m tmpfs "$T/small" 2> /dev/null; then
	on_exit "umount '$T/small'"
	sed -e "s|^path = $T/repo\$|path = $T/small/repo|" -e "s|^state_dir = .*|state_dir = $T/state12|" \
		"$ARCA_CONFIG" > "$T/small.ini"
	arca -c "$T/small.ini" init > /dev/null || fail "init on the small filesystem"
	expect_fail 12 arca -c "$T/small.ini" snapshot tree
	expect_stderr "No space left on device"
	[ -z "$(find "$T/small/repo" -path '*/snapshots/*')" ] || fail "12: a snapshot was recorded on a full disk"
else
	skip_step "not root or no tmpfs mount here: 12 (no space left) is not tested"
fi

step "13: repository locked"
sleep 300 & holder=$!
on_exit "kill $holder"
printf '{"exclusive":true,"host":"%s","pid":%s,"time":%s,"repository":"%s"}' \
	"$(python3 -c 'import socket; print(socket.gethostname())')" "$holder" "$(date +%s)" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/repo/config")" \
	> "$T/repo/locks/$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
expect_fail 13 arca snapshot tree
expect_stderr "locked \(exclusive\) by .* pid $holder"
kill "$holder"; wait "$holder" 2> /dev/null || true
arca unlock > /dev/null || fail "unlock"

step "14: driver module refused by the loader"
mkdir "$T/plugins"
cp "$PLUGIN_DIR"/*.so "$T/plugins/"
chmod 755 "$T/plugins" && chmod 644 "$T/plugins"/*.so
sed "s|^plugin_dir = .*|plugin_dir = $T/plugins|" "$ARCA_CONFIG" > "$T/plugins.ini"
arca -c "$T/plugins.ini" list > /dev/null || fail "the copied plugin directory is refused"
chmod 775 "$T/plugins"
expect_fail 14 arca -c "$T/plugins.ini" list
expect_stderr "plugin directory $T/plugins refused: the directory $T/plugins .*is group-writable \(mode 0775\)"
chmod 755 "$T/plugins"
# A group-writable module: refused, and a config that names its driver
# fails with 14 too, saying both things.
chmod 664 "$T/plugins/files.so"
expect_fail 14 arca -c "$T/plugins.ini" list
expect_stderr "driver module $T/plugins/files.so refused: it .*is group-writable \(mode 0664\)"
expect_stderr "names driver 'files', whose module $T/plugins/files.so the loader refused"

pass "exit codes 0 to 14"
