#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Crash safety: a storm of 10,000 error lines (100 fingerprints, 100 lines
# each) while the daemon is killed with SIGKILL at random moments, at least
# 20 times, and started again. Afterwards every line is accounted for
# exactly once (the lines folded into each fingerprint's incidents add up
# to 100), and no attempt is left in a non-final state.
. "$(dirname "$0")/lib.sh"
daemon_init hdcrash "$@"

: >"$tmp/rules.conf"
printf '[healer]\nmax_commands = 5\n[action noop]\ndescription = nothing\nmatch = noop\nexec = /bin/true\n' \
	>"$tmp/whitelist.conf"
write_config

# The storm, in the background: 10,000 datagrams at about 1,000 a second.
python3 - "/run/systemd/journal.$ns/socket" >"$tmp/writer.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
words = ["unit" + chr(103 + i // 20) + chr(103 + i % 20) for i in range(100)]
for n in range(10000):
    msg = "storm %s failed" % words[n % 100]
    s.sendto(("PRIORITY=3\nSYSLOG_IDENTIFIER=storm\nMESSAGE=%s\n" % msg).encode(), sys.argv[1])
    if n % 10 == 9:
        time.sleep(0.01)
print("sent 10000")
PY
wpid=$!

kills=0
start_healer || exit 1
while kill -0 "$wpid" 2>/dev/null || [ "$kills" -lt 20 ]; do
	sleep "0.$((RANDOM % 4 + 1))"
	kill -9 "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	kills=$((kills + 1))
	start_healer || exit 1
done
wait "$wpid"
check "the writer sent everything" grep -q "sent 10000" "$tmp/writer.log"
echo "info: $kills kills with SIGKILL during the storm"

# Let the last daemon read to the end, then stop it cleanly.
count_lines() {
	python3 - "$bin" "$tmp/healer.conf" <<'PY'
import json, subprocess, sys, collections
per_fp, states, off = collections.Counter(), collections.Counter(), 0
while True:
    out = subprocess.run([sys.argv[1], "history", "-c", sys.argv[2], "--json", "--limit", "500",
                          "--offset", str(off)], capture_output=True, text=True, check=True).stdout
    h = json.loads(out)["history"]
    for a in h:
        per_fp[a["error"]["fingerprint"]] += a["error"]["count"]
        states[a["status"]] += 1
    if len(h) < 500:
        break
    off += 500
print(sum(per_fp.values()), len(per_fp), min(per_fp.values() or [0]), max(per_fp.values() or [0]),
      " ".join("%s=%d" % kv for kv in sorted(states.items())))
PY
}
deadline=$(($(date +%s) + 60))
while :; do
	res=$(count_lines)
	[ "${res%% *}" = 10000 ] && break
	[ "$(date +%s)" -ge "$deadline" ] && break
	sleep 0.5
done
stop_healer
res=$(count_lines)
echo "info: lines fingerprints min max states: $res"
read -r total fps lo hi states <<<"$res"
check "every line counted once: $total of 10000" test "$total" = 10000
check "100 fingerprints ($fps)" test "$fps" = 100
check "each fingerprint has exactly 100 lines ($lo..$hi)" test "$lo" = 100 -a "$hi" = 100
check "no attempt left unfinished ($states)" \
	bash -c '! grep -Eq "(detected|analyzing|executing|verifying)=" <<<"$1"' _ "$states"
daemon_finish
