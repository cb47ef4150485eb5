#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The service manager's D-Bus signal as a source of incidents (watch_units),
# against a real manager, bus and journald (tier 1b, tests/sandbox/sandbox.sh)
# with the shipped whitelist and rules and the real `systemctl restart`:
#  - kill -9 of a service's main process: the incident comes from the
#    manager's signal ("X.service: Failed with result 'signal'.", source
#    manager-signal), the attempt heals, and the manager's own journal line
#    of that failure, read a few hundred ms later, folds into it: one
#    attempt for that failure, one restart in all;
#  - a local process on the bus posing as the manager (PropertiesChanged of
#    a healthy unit, broadcast and addressed to every connection) opens
#    nothing, and nothing runs;
#  - a unit failing over and over: 5 reports a minute, the rest counted
#    and left to the journal, all folded;
#  - watch_units = no: the same kill heals from the journal line;
#  - no bus at all: the daemon says once that it reads the journal only;
#  - [journal] source = namespace:NAME: no watch (the signals are the
#    system's), said.
# The time from the kill to the fix's command start by either path is
# printed as info (no timed assertion: the machine may be loaded).
. "$(dirname "$0")/../sandbox/lib.sh"

if [ "${1:-}" != --inside ]; then
	sb_outer unit-watch
	mkdir -p "$tmp/units" "$tmp/state"
	for u in svc svc2 decoy; do
		sb_unit "$tmp/units" "$u.service" "[Service]
ExecStart=$progs/ex_sleep"
	done
	# flap.service fails at once, every time it starts; protected, so that
	# nothing is run for it and only the watch's rate cap is seen.
	sb_unit "$tmp/units" flap.service "[Service]
ExecStart=/bin/false"
	sb_whitelist "$tmp/whitelist.conf" "$tmp" || exit 1
	sed -i 's/^protect = .*/& flap.service/' "$tmp/whitelist.conf"
	cat >"$tmp/healer.conf" <<CONF
[healer]
state_dir = $tmp/state
whitelist = $tmp/whitelist.conf
settle = 200ms
verify_window = 2s
cooldown = 0
[journal]
min_priority = warning
dedupe_window = 1s
[llm]
provider = rules
rules = $top/examples/rules.conf
[api]
listen = unix:$tmp/api.sock
CONF
	sb_run --units "$tmp/units" --start decoy.service
	exit
fi

# ---- inside the sandbox ----
sb_inside
log=$tmp/healer.log
trap '[ -n "$hpid" ] && kill -9 $hpid 2>/dev/null; [ "$failed" -gt 0 ] && tail -40 "$log" >&2' EXIT
hist_prelude='
FAILED = "Failed with result %s" % chr(39)
FINAL = ("healed", "failed", "rejected", "skipped", "escalated", "interrupted")
def of(u): return [h for h in H if h["error"]["unit"] == u]
def ran(h): return [a for a in h["actions"] if a["accepted"] and a.get("exit_code") == 0]
def failure(u): return [h for h in of(u) if FAILED in h["error"]["message"]]
'

# kill_unit UNIT: kill -9 of its main process; $t_kill (ms) just before.
kill_unit() {
	local pid
	pid=$(systemctl show -P MainPID "$1")
	t_kill=$(now_ms)
	kill -9 "$pid"
}

# fix_start UNIT: ms from $t_kill to the first executing transition of UNIT's attempts.
fix_start() {
	python3 -c "import datetime, json, sys
H = json.loads(sys.argv[1])['history']
def ms(s): return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
t = [ms(t['at']) for h in H if h['error']['unit'] == sys.argv[2] for t in h['transitions'] if t['to'] == 'executing']
print(int(min(t) - int(sys.argv[3])) if t else -1)" "$out" "$1" "$t_kill"
}

check "healer started" start_healer "$tmp/healer.conf" "$log"
check "it watches the manager's signals" grep -q "Watching the service manager's unit changes" "$log"
check "no fallback to the journal alone" bash -c "! grep -q 'journal only' '$log'"

# ---- 1. kill -9: the manager's signal opens the incident ----
systemctl start svc.service
sleep 1 # journald idle again, as before most failures
kill_unit svc.service
check "1: healed from the manager's signal" hist_wait 20 \
	"any(h['status'] == 'healed' and h['error']['source'] == 'manager-signal' and h['error']['message'] == \"svc.service: Failed with result 'signal'.\" and h['error']['priority'] == 4 and h['error']['source_class'] == 'services' and ran(h) for h in of('svc.service'))"
ms_signal=$(fix_start svc.service)
check "1: unit active" test "$(systemctl is-active svc.service)" = active
check "1: the manager wrote its line" bash -c "journalctl -q -o cat USER_UNIT=svc.service | grep -qF \"svc.service: Failed with result 'signal'.\""
# The manager's line, read through the journal, folds into the incident.
check "1: the journal line folded into it" hist_wait 10 "any(h['error']['count'] >= 2 for h in failure('svc.service'))"
sleep 2
check "1: all attempts over" hist_wait 10 "of('svc.service') and all(h['status'] in FINAL for h in of('svc.service'))"
check "1: one attempt for the failure" hist_wait 1 "len(failure('svc.service')) == 1"
check "1: one restart in all" hist_wait 1 "sum(len(ran(h)) for h in of('svc.service')) == 1"
check "1: the kill's other line came from the journal" hist_wait 1 "all(h['error']['source'] == 'journal' for h in of('svc.service') if 'Main process exited' in h['error']['message'])"
echo "info: kill -9 to the fix's command start, from the manager's signal: $ms_signal ms"

# ---- 2. a local process posing as the manager ----
decoy_pid=$(systemctl show -P MainPID decoy.service)
check "2: the fake signals were sent" "$progs/bus_fake" decoy.service signal
check "2: the daemon said it ignored them" \
	bash -c "for _ in \$(seq 100); do grep -q 'not the service manager' '$log' && exit 0; sleep 0.05; done; exit 1"
sleep 2
check "2: no incident for the healthy unit" hist_wait 1 "not of('decoy.service')"
check "2: the healthy unit kept its process" test "$(systemctl show -P MainPID decoy.service)" = "$decoy_pid"
# status: what the watch took and what it refused.
sig() { "$bin" status -c "$tmp/healer.conf" --json | python3 -c "import json, sys; u = json.load(sys.stdin)['auto_healer']['unit_signals']; sys.exit(0 if ($1) else 1)"; }
check "2: status counts the failure and the refusals" sig "u['watching'] and u['failures'] == 1 and u['refused'] >= 2 and u['over_cap'] == 0"
# The same counts in GET /metrics (open, no token), as Prometheus reads them.
metric() { # RESULT: the value of healer_unit_signals_total{result="RESULT"}, or -1
	curl -s --unix-socket "$tmp/api.sock" http://localhost/metrics | python3 -c '
import re, sys
m = re.search(r"^healer_unit_signals_total\{result=\"%s\"\} (\S+)$" % sys.argv[1], sys.stdin.read(), re.M)
print(int(float(m.group(1))) if m else -1)' "$1"
}
check "2: /metrics: 1 reported, the refusals counted ($(metric reported), $(metric refused))" \
	test "$(metric reported)" = 1 -a "$(metric refused)" -ge 2

# ---- 2b. a unit failing over and over: at most 5 reports a minute, folded ----
for _ in $(seq 8); do
	systemctl start flap.service 2>/dev/null
	for _ in $(seq 100); do
		[ "$(systemctl is-active flap.service)" = failed ] && break
		sleep 0.01
	done
	sleep 0.05
done
check "2b: the failures over the cap were counted" sig "u['failures'] == 1 + 5 and u['over_cap'] == 3"
check "2b: /metrics: over_cap 3 ($(metric over_cap))" test "$(metric over_cap)" = 3
check "2b: one incident a dedupe_window, nothing run" hist_wait 10 "failure('flap.service') and all(not ran(h) and h['status'] in FINAL for h in of('flap.service'))"
check "2b: the manager's reports and lines folded" hist_wait 1 "sum(h['error']['count'] for h in failure('flap.service')) >= 8"

# ---- 3. watch_units = no: the journal line opens the incident ----
stop_healer
check "clean exit" test $? -eq 0
sed -i 's/^cooldown = 0$/cooldown = 0\nwatch_units = no/' "$tmp/healer.conf"
check "3: healer started again" start_healer "$tmp/healer.conf" "$log"
check "3: it says it reads the journal only" grep -q "watch_units = no: failed services are seen in the journal only" "$log"
systemctl start svc2.service
sleep 1 # journald idle again, as before most failures
kill_unit svc2.service
check "3: healed from the journal" hist_wait 20 \
	"any(h['status'] == 'healed' and h['error']['source'] == 'journal' and ran(h) for h in of('svc2.service'))"
ms_journal=$(fix_start svc2.service)
check "3: nothing from the manager's signal" hist_wait 10 "of('svc2.service') and all(h['error']['source'] == 'journal' and h['status'] in FINAL for h in of('svc2.service'))"
check "3: unit active" test "$(systemctl is-active svc2.service)" = active
check "3: status says it does not watch" sig "not u['watching'] and u['failures'] == 0"
echo "info: kill -9 to the fix's command start, from the journal: $ms_journal ms"
stop_healer
check "clean exit" test $? -eq 0

# ---- 4. no bus: the journal alone, said once ----
sed -i 's/^watch_units = no$//' "$tmp/healer.conf"
: >"$log"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/no-bus check "4: healer started without a bus" start_healer "$tmp/healer.conf" "$log"
check "4: said once" test "$(grep -c "No system bus: failed services are seen in the journal only" "$log")" = 1
stop_healer
check "clean exit" test $? -eq 0

# ---- 5. a journal other than the system's: the signals are not its ----
sed -i 's/^min_priority = warning$/min_priority = warning\nsource = namespace:other/' "$tmp/healer.conf"
: >"$log"
check "5: healer started on a namespace" start_healer "$tmp/healer.conf" "$log"
check "5: it says the watch is for the system journal only" \
	grep -q "source is not the system journal: failed services are seen in that journal only" "$log"
check "5: status says it does not watch" sig "not u['watching']"
stop_healer
check "clean exit" test $? -eq 0

trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
