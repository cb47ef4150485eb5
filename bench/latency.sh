#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-latency: figures, not assertions. In a private journald
# namespace (as the daemon tests run), with the rules provider and a
# harmless action:
#  1. 1,000 errors over 100 fingerprints: from each incident's journal
#     timestamp to its attempt entering `executing`, side by side with a
#     `journalctl --namespace NAME -f` follower started in the same run
#     (journald's own notification delay is the physical limit);
#  2. a 50,000-line storm over 100 fingerprints: analyses made, CPU seconds
#     and peak RSS; then the same storm again once they have healed;
#  3. idle RSS and wakeups (context switches) in 60 idle seconds.
HEALER_BIN=${1:-build/healer}
IDLE_SECONDS=${IDLE_SECONDS:-60}
benchdir=$(cd "$(dirname "$0")" && pwd)
. "$benchdir/../tests/daemon/lib.sh"
. "$benchdir/rows.sh"
daemon_init hbench "$@"

printf '[healer]\nmax_commands = 5\n[action noop]\ndescription = harmless\nmatch = noop\nexec = /bin/true\ntimeout = 5s\n' \
	>"$tmp/whitelist.conf"
printf '[rule bench]\nmessage = fault\npropose = noop\n' >"$tmp/rules.conf"
write_config "cooldown = 10min" "max_heals_per_hour = 1000" "max_attempts = 3" \
	"max_concurrent_analyses = 16" "max_queued = 10000"
sed -i 's/^verify_window = 2s$/verify_window = 1s/; s/^settle = 100ms$/settle = 10ms/' "$tmp/healer.conf"

journalctl --namespace "$ns" -f -o json -n 0 >"$tmp/follower.json" 2>/dev/null &
fpid=$!
python3 - "$tmp/follower.json" >"$tmp/follower.times" <<'PY' &
import json, sys, time
# Stamps each line of the follower's output as it arrives.
with open(sys.argv[1]) as f:
    while True:
        l = f.readline()
        if not l:
            time.sleep(0.0005)
            continue
        now = time.time_ns() // 1000
        try:
            e = json.loads(l)
        except ValueError:
            continue
        print(e.get("MESSAGE", ""), e["__REALTIME_TIMESTAMP"], now, flush=True)
PY
tpid=$!
cpu() { awk '{print $14 + $15}' "/proc/$hpid/stat"; }
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$hpid/status"; }
start_healer || exit 1
sleep 0.5
pss_kb() { awk '$1 == "Pss:" {print $2}' "/proc/$hpid/smaps_rollup"; }
# RSS counts every resident page of the shared libraries (libc, libcrypto, libsqlite3, ...)
# in full; PSS divides them among the processes that map them, as the kernel accounts memory.
rss() { echo "RSS $(status_kb VmRSS) kB ($(status_kb RssAnon) kB private, $(status_kb RssFile) kB mapped files), PSS $(pss_kb) kB"; }
echo "fresh daemon: $(rss) (goal under 10240 kB)"
fresh_rss=$(status_kb VmRSS) fresh_pss=$(pss_kb)

send() { # PREFIX LINES: LINES errors over 100 fingerprints (1,000 paced, a storm at full speed)
	python3 - "/run/systemd/journal.$ns/socket" "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
prefix, n = sys.argv[2], int(sys.argv[3])
for i in range(n):
    k = i % 100
    msg = "%s fault unit%s%s" % (prefix, chr(103 + k // 20), chr(103 + k % 20))
    s.sendto(("PRIORITY=3\nSYSLOG_IDENTIFIER=bench\nMESSAGE=%s\n" % msg).encode(), sys.argv[1])
    if n <= 1000:
        time.sleep(0.005)  # 200 lines a second: incidents arrive as on a busy host
PY
}

send latency 1000
deadline=$(($(date +%s) + 60))
until [ "$(q "SELECT count(*) FROM transitions WHERE to_state='executing'")" -ge 100 ] ||
	[ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
sleep 1
python3 - "$tmp/state/healer.db" "$tmp/follower.times" "$benchdir" <<'PY'
import sqlite3, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[3])
from rows import row
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
h = sorted((t - f) / 1000.0 for f, t in db.execute(
    "SELECT i.first_seen, t.at FROM transitions t JOIN attempts a ON t.attempt_id = a.id "
    "JOIN incidents i ON a.incident_id = i.id WHERE t.to_state = 'executing' "
    "AND i.message LIKE 'latency fault%'"))
first = {}
for l in open(sys.argv[2]):
    msg, rt, now = l.rsplit(" ", 2)
    if msg.startswith("latency fault") and msg not in first:
        first[msg] = (int(now) - int(rt)) / 1000.0
j = sorted(first.values())
def pct(v, p):
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")
print("latency, journal timestamp -> attempt executing (ms), first line of each of 100 fingerprints:")
print("  %-34s n=%3d  p50 %7.1f  p99 %7.1f  max %7.1f" % ("healer run", len(h), pct(h, 50), pct(h, 99), h[-1] if h else 0))
print("  %-34s n=%3d  p50 %7.1f  p99 %7.1f  max %7.1f" % ("journalctl --namespace -f (limit)", len(j), pct(j, 50), pct(j, 99), j[-1] if j else 0))
print("  p99 difference: %.1f ms (goal: within 20 ms)" % (pct(h, 99) - pct(j, 99)))
row("latency, journal entry -> executing, p50 / p99", "%.1f / %.1f ms" % (pct(h, 50), pct(h, 99)),
    "journalctl --namespace -f: %.1f / %.1f ms" % (pct(j, 50), pct(j, 99)),
    "p99 +%.1f ms (goal <= 20 ms)" % (pct(h, 99) - pct(j, 99)))
# Where the time goes: journal -> detected (read and committed), -> analyzing, -> executing.
steps = {}
for f, st, at in db.execute(
        "SELECT i.first_seen, t.to_state, t.at FROM transitions t JOIN attempts a ON t.attempt_id = a.id "
        "JOIN incidents i ON a.incident_id = i.id WHERE i.message LIKE 'latency fault%' "
        "AND t.to_state IN ('detected', 'analyzing', 'executing')"):
    steps.setdefault(st, []).append((at - f) / 1000.0)
for st in ("detected", "analyzing", "executing"):
    v = sorted(steps.get(st, []))
    print("  journal -> %-10s p50 %7.1f  p99 %7.1f" % (st, pct(v, 50), pct(v, 99)))
PY

storm() { # PREFIX LINES-EXPECTED-IN-ALL ROW-LABEL GOAL-ANALYSES
	local c0 a0 n analyses ms
	c0=$(cpu)
	a0=$(q "SELECT count(*) FROM attempts WHERE provider IS NOT NULL")
	send "$1" 50000
	n=0
	until [ "$(q "SELECT coalesce(sum(count),0) FROM incidents WHERE message LIKE '$1 fault%'")" = "$2" ] ||
		[ $n -ge 600 ]; do sleep 0.1; n=$((n + 1)); done
	sleep 2
	analyses=$(($(q "SELECT count(*) FROM attempts WHERE provider IS NOT NULL") - a0))
	ms=$(((($(cpu) - c0) * 1000) / $(getconf CLK_TCK)))
	echo "  storm '$1': lines recorded $(q "SELECT coalesce(sum(count),0) FROM incidents WHERE message LIKE '$1 fault%'"), analyses made $analyses, CPU $ms ms, peak RSS $(status_kb VmHWM) kB"
	bench_row "latency, $3" "$analyses analyses, CPU $ms ms, peak RSS $(status_kb VmHWM) kB" "" \
		"goal: $4 analyses"
}
echo "storm, 50,000 lines over 100 fingerprints (goal: 100 analyses, then 0):"
storm storm 50000 "storm of 50,000 lines, 100 fingerprints" 100
until [ "$(q "SELECT count(*) FROM attempts WHERE state IN ('detected','analyzing','executing','verifying')")" = 0 ]; do sleep 0.2; done
echo "  outcomes: $(q "SELECT a.state || '=' || count(*) FROM attempts a JOIN incidents i ON a.incident_id=i.id WHERE i.message LIKE 'storm fault%' AND a.provider IS NOT NULL GROUP BY a.state" | tr '\n' ' ')"
storm storm 100000 "the same storm again, once healed" 0

sleep 3
sw0=$(($(status_kb voluntary_ctxt_switches) + $(status_kb nonvoluntary_ctxt_switches)))
sleep "$IDLE_SECONDS"
sw1=$(($(status_kb voluntary_ctxt_switches) + $(status_kb nonvoluntary_ctxt_switches)))
echo "idle after the storms: $(rss), wakeups in $IDLE_SECONDS s: $((sw1 - sw0)) (goal: none periodic)"
bench_row "latency, memory fresh / after the storms" "RSS $fresh_rss / $(status_kb VmRSS) kB, PSS $fresh_pss / $(pss_kb) kB" \
	"" "goal: RSS < 10240 kB"
bench_row "latency, wakeups in $IDLE_SECONDS idle s" "$((sw1 - sw0))" "" "goal: none periodic"
stop_healer
kill "$fpid" "$tpid" 2>/dev/null
