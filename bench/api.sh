#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-api: figures, not assertions. In a private journald namespace
# (as the daemon tests run), the daemon with its API on loopback and the
# rules provider with a harmless action. Three rounds, each sending 1,000
# errors over 100 new fingerprints at 200 lines a second while a storm of
# 20,000 lines runs beside them:
#   1. no HTTP load: the detection latency (journal timestamp -> executing);
#   2. wrk against GET /healthz (no token, no store);
#   3. wrk against GET /api/auto-healer/status (the token checked each time).
# First the API alone, then the rounds. wrk runs one thread and 8
# connections, so that on a small machine the daemon keeps a CPU.
# Reported: requests per second and p50/p99 of each load, and the detection
# latency of each round. Goal: >= 10,000 requests/s and p99 < 10 ms for
# /status, with the detection latency of round 3 that of round 1.
HEALER_BIN=${1:-build/healer}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-8}
. "$(dirname "$0")/../tests/daemon/lib.sh"
. "$(dirname "$0")/rows.sh"
daemon_init hbapi "$@"

command -v wrk >/dev/null || { echo "bench-api: wrk is missing (tools/deps.sh --bench installs it)"; exit 1; }
printf '[healer]\nmax_commands = 5\n[action noop]\ndescription = harmless\nmatch = noop\nexec = /bin/true\ntimeout = 5s\n' \
	>"$tmp/whitelist.conf"
printf '[rule bench]\nmessage = fault\npropose = noop\n' >"$tmp/rules.conf"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api_listen=127.0.0.1:$port
write_config "cooldown = 10min" "max_heals_per_hour = 1000" "max_attempts = 3" \
	"max_concurrent_analyses = 16" "max_queued = 10000"
sed -i 's/^verify_window = 2s$/verify_window = 1s/; s/^settle = 100ms$/settle = 10ms/' "$tmp/healer.conf"
start_healer || exit 1
for _ in $(seq 100); do [ -s "$tmp/state/api.token" ] && break; sleep 0.05; done
token=$(cat "$tmp/state/api.token")
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MB; $(date -u +%F)"

send() { # PREFIX LINES PACED(0|1)
	python3 - "/run/systemd/journal.$ns/socket" "$1" "$2" "$3" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
prefix, n, paced = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
for i in range(n):
    k = i % 100
    msg = "%s fault unit%s%s" % (prefix, chr(103 + k // 20), chr(103 + k % 20))
    s.sendto(("PRIORITY=3\nSYSLOG_IDENTIFIER=bench\nMESSAGE=%s\n" % msg).encode(), sys.argv[1])
    if paced:
        time.sleep(0.005)
PY
}

latency() { # PREFIX: journal timestamp -> executing, first line of each fingerprint
	python3 - "$tmp/state/healer.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
h = sorted((t - f) / 1000.0 for f, t in db.execute(
    "SELECT i.first_seen, t.at FROM transitions t JOIN attempts a ON t.attempt_id = a.id "
    "JOIN incidents i ON a.incident_id = i.id WHERE t.to_state = 'executing' "
    "AND i.message LIKE ? || ' fault%'", (sys.argv[2],)))
def pct(v, p):
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")
print("detection n=%d p50 %.1f ms p99 %.1f ms" % (len(h), pct(h, 50), pct(h, 99)))
PY
}

round() { # NAME PATH|"" [wrk header args]
	local name=$1 path=$2 wpid=
	shift 2
	if [ -n "$path" ]; then
		wrk -t1 -c8 -d"${SECONDS_PER_ROUND}s" --latency "$@" "http://127.0.0.1:$port$path" \
			>"$tmp/wrk-$name.txt" 2>&1 &
		wpid=$!
		sleep 0.5
	fi
	send "storm$name" 20000 0 &
	local spid=$!
	send "$name" 1000 1
	wait "$spid"
	[ -n "$wpid" ] && wait "$wpid"
	local deadline=$(($(date +%s) + 30))
	until [ "$(q "SELECT count(*) FROM transitions t JOIN attempts a ON t.attempt_id = a.id JOIN incidents i ON a.incident_id = i.id WHERE t.to_state = 'executing' AND i.message LIKE '$name fault%'")" -ge 100 ] ||
		[ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
	if [ "$name" = status ]; then
		bench_row "api, GET /api/auto-healer/status under a storm" \
			"$(awk '/Requests\/sec/ {print int($2)}' "$tmp/wrk-$name.txt") req/s, p99 $(awk '$1 == "99%" {print $2}' "$tmp/wrk-$name.txt")" \
			"the API alone: $alone" "goal: >= 10,000 req/s, p99 < 10 ms"
	fi
	if [ -n "$path" ]; then
		printf '  %-28s %8s req/s  p50 %8s  p99 %8s  errors %s;  %s\n' "wrk GET $path" \
			"$(awk '/Requests\/sec/ {print int($2)}' "$tmp/wrk-$name.txt")" \
			"$(awk '$1 == "50%" {print $2}' "$tmp/wrk-$name.txt")" \
			"$(awk '$1 == "99%" {print $2}' "$tmp/wrk-$name.txt")" \
			"$(grep -E 'Non-2xx|Socket errors' "$tmp/wrk-$name.txt" | tr -s ' ' | tr '\n' ' ' || true)" \
			"$(latency "$name")"
	else
		printf '  %-28s %8s        %13s  %13s  %9s   %s\n' "no HTTP load" "" "" "" "" "$(latency "$name")"
	fi
}

echo "API alone (no errors arriving), ${SECONDS_PER_ROUND} s each:"
for path in /healthz /api/auto-healer/status; do
	wrk -t1 -c8 -d"${SECONDS_PER_ROUND}s" --latency -H "Authorization: Bearer $token" \
		"http://127.0.0.1:$port$path" >"$tmp/wrk-alone.txt" 2>&1
	printf '  %-28s %8s req/s  p50 %8s  p99 %8s\n' "wrk GET $path" \
		"$(awk '/Requests\/sec/ {print int($2)}' "$tmp/wrk-alone.txt")" \
		"$(awk '$1 == "50%" {print $2}' "$tmp/wrk-alone.txt")" \
		"$(awk '$1 == "99%" {print $2}' "$tmp/wrk-alone.txt")"
	alone="$(awk '/Requests\/sec/ {print int($2)}' "$tmp/wrk-alone.txt") req/s, p99 $(awk '$1 == "99%" {print $2}' "$tmp/wrk-alone.txt")"
done
echo "API under load while 1,000 paced errors and a 20,000-line storm arrive (${SECONDS_PER_ROUND} s each):"
round quiet ""
round healthz /healthz
round status /api/auto-healer/status -H "Authorization: Bearer $token"
echo "goal: /status >= 10,000 req/s with p99 < 10 ms; detection latency as without load"
echo "daemon after the rounds: RSS $(awk '$1 == "VmRSS:" {print $2}' "/proc/$hpid/status") kB"
stop_healer
