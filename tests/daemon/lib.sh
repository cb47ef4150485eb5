# SPDX-License-Identifier: MIT
# Shared by the daemon tests (tier 1a of TESTING.md): the test runs in a
# private mount namespace with its own /run and /var/log/journal, where a
# standalone systemd-journald serves a journal namespace of its own. The
# daemon follows that namespace; lines are written to its socket. Nothing
# of the host's journal, /run or units is touched. Source it, then call
# daemon_init NAME (which re-executes the script inside the namespace).
set -uo pipefail
bin=${HEALER_BIN:-build/san/healer}
progs=${HEALER_PROGS_DIR:-build/san/progs}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case $bin in /*) ;; *) bin=$top/$bin ;; esac
case $progs in /*) ;; *) progs=$top/$progs ;; esac
passed=0 failed=0
hpid= streampid=
healer_env=(HEALER_TEST=1)

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

# Re-executes the calling script in a private mount namespace (once).
daemon_init() {
	ns=$1
	shift
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: a private journald needs root"
		echo "0 passed, 0 failed"
		exit 0
	fi
	if [ -z "${HEALER_IN_NS:-}" ]; then
		HEALER_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
	fi
	tmp=$(mktemp -d "/tmp/healer-$ns-XXXXXX")
	mount -t tmpfs -o mode=0755 tmpfs /run || exit 2
	mkdir -p "$tmp/varlog" && [ -d /var/log/journal ] && mount --bind "$tmp/varlog" /var/log/journal
	mkdir -p "/run/systemd/journald@$ns.conf.d"
	printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\nRateLimitIntervalSec=0\n' \
		>"/run/systemd/journald@$ns.conf.d/x.conf"
	/lib/systemd/systemd-journald "$ns" >"$tmp/journald.log" 2>&1 &
	jpid=$!
	trap 'daemon_cleanup' EXIT
	for _ in $(seq 200); do
		[ -S "/run/systemd/journal.$ns/socket" ] && break
		sleep 0.02
	done
	[ -S "/run/systemd/journal.$ns/socket" ] || { echo "FAIL: journald did not start"; exit 2; }
	# A namespace's journald exits when idle without clients (after some
	# 30 s), and a test that waits on a slow path, or a loaded machine, would
	# lose it: connections to its stream and varlink sockets keep it, retried
	# until they hold, and end with it. The test fails loudly if it dies.
	python3 - "/run/systemd/journal.$ns" <<'PY' &
import socket, sys, time
held = []
for name in ("stdout", "io.systemd.journal"):
    for _ in range(200):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1] + "/" + name)
            held.append(s)
            break
        except OSError:
            time.sleep(0.02)
while True:
    time.sleep(3600)
PY
	streampid=$!
	mkdir -p "$tmp/state"
}

daemon_cleanup() {
	[ -n "${KEEP_LOG:-}" ] && cp "$tmp/healer.log" "/tmp/healer-last-$ns.log" && cp "$tmp/journald.log" "/tmp/journald-last-$ns.log"
	[ -n "$hpid" ] && kill -9 "$hpid" 2>/dev/null
	kill "$streampid" "$jpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}

# jsend PRIORITY MESSAGE [FIELD=VALUE...]: one entry, written to the namespace's socket.
jsend() {
	python3 - "/run/systemd/journal.$ns/socket" "$@" <<'PY'
import socket, sys
path, prio, msg = sys.argv[1], sys.argv[2], sys.argv[3]
fields = {"PRIORITY": prio, "MESSAGE": msg, "SYSLOG_IDENTIFIER": "testapp"}
fields.update(a.split("=", 1) for a in sys.argv[4:])
fields = ["%s=%s" % kv for kv in fields.items()]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(("\n".join(fields) + "\n").encode(), path)
PY
}

# jsend_unit UNIT PRIORITY MESSAGE [FIELD=VALUE...]: an entry about UNIT as
# the service manager writes one, UNIT= from PID 1 as root, which the reader
# trusts. Root may name any live pid in SCM_CREDENTIALS, so journald records
# _PID=1 without a service manager: nothing of the host is touched.
jsend_unit() {
	python3 - "/run/systemd/journal.$ns/socket" "$@" <<'PY'
import socket, struct, sys
path, unit, prio, msg = sys.argv[1:5]
fields = {"PRIORITY": prio, "MESSAGE": msg, "SYSLOG_IDENTIFIER": "testapp", "UNIT": unit}
fields.update(a.split("=", 1) for a in sys.argv[5:])
data = ("\n".join("%s=%s" % kv for kv in fields.items()) + "\n").encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("iII", 1, 0, 0))], 0, path)
PY
}

# write_config LINE...: healer.conf for this namespace, the test's whitelist
# and rules; LINEs go to [healer], $journal_extra to [journal].
journal_extra=
extra_sections=
write_config() {
	{
		printf '[healer]\nstate_dir = %s/state\nwhitelist = %s/whitelist.conf\n' "$tmp" "$tmp"
		printf 'act_on = all\nsettle = 100ms\nverify_window = 2s\n'
		printf '%s\n' "$@"
		printf '[journal]\nsource = namespace:%s\nlookback = 1min\n%s\n' "$ns" "$journal_extra"
		printf '[llm]\nprovider = rules\nrules = %s/rules.conf\n' "$tmp"
		printf '[api]\nlisten = %s\n' "${api_listen:-unix:$tmp/api.sock}"
		printf '%s\n' "$extra_sections"
	} >"$tmp/healer.conf"
}

start_healer() {
	rm -f "$tmp/state/healer.pid"
	env "${healer_env[@]}" "$bin" run -c "$tmp/healer.conf" --no-bus "$@" >>"$tmp/healer.log" 2>&1 &
	hpid=$!
	for _ in $(seq 250); do
		# The pid file comes first, the API a moment later: until it
		# answers, `healer approve` would find no daemon (exit 3).
		if [ -f "$tmp/state/healer.pid" ]; then
			"$bin" status -c "$tmp/healer.conf" >/dev/null 2>&1
			[ $? -ne 3 ] && return 0
		fi
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.02
	done
	echo "FAIL: healer did not start:" >&2
	tail -20 "$tmp/healer.log" >&2
	return 1
}

stop_healer() { # sends SIGTERM, waits; returns the exit code
	local rc
	kill -TERM "$hpid" 2>/dev/null
	wait "$hpid"
	rc=$?
	hpid=
	return $rc
}

# q SQL: one query on the store, rows as lines of |-separated values.
q() {
	python3 - "$tmp/state/healer.db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=5)
for row in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

# wait_for SECONDS SQL WANT: polls until the query prints WANT (events, not a fixed sleep).
wait_for() {
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000)) got
	while :; do
		got=$(q "$2" 2>/dev/null)
		[ "$got" = "$3" ] && return 0
		[ $(($(date +%s%N) / 1000000)) -ge "$deadline" ] && break
		sleep 0.05
	done
	echo "wait_for: '$2' gave '$got', want '$3'" >&2
	return 1
}

daemon_finish() {
	kill -0 "$jpid" 2>/dev/null || bad "the test's journald died during the test (see $tmp/journald.log)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# history: the store's history as JSON (healer history --json), in $out.
history() {
	out=$("$bin" history -c "$tmp/healer.conf" --json --limit 500 2>"$tmp/history.err")
}

# hist_wait SECONDS PYTHON-EXPR: polls the history until the expression over
# H (the list of attempts, newest first) is true.
hist_wait() {
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
	while :; do
		history
		if python3 -c 'import json,sys; H=json.loads(sys.argv[1])["history"]; sys.exit(0 if ('"$2"') else 1)' "$out" 2>/dev/null; then
			return 0
		fi
		[ $(($(date +%s%N) / 1000000)) -ge "$deadline" ] && break
		sleep 0.05
	done
	echo "hist_wait: '$2' not true on: $(head -c 1500 <<<"$out") $(cat "$tmp/history.err")" >&2
	return 1
}
