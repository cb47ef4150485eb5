#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon against a real service manager and journald (tier 1b of
# TESTING.md, tests/sandbox/sandbox.sh), with the shipped whitelist and
# rules (fix_permissions' roots moved to this test's folder) and the real
# `systemctl restart`:
#  - a unit that fails on its first run is restarted, verified active, healed;
#  - a script without its x bit, run by its unit, is made executable;
# and the attacks that preconditions and act_on stop, with nothing run:
#  - a line from an unprivileged process claiming nginx.service failed;
#  - a healthy nginx.service logging "Address already in use";
#  - a healthy unit echoing "No space left on device" while the disk is not full;
#  - a chmod request for a script the unit does not run.
# The seeds' scenarios (kill -9, a port taken, a script a service runs, a
# full disk, approval; both providers) are tests/scenarios/test_scenarios.sh.
. "$(dirname "$0")/../sandbox/lib.sh"

if [ "${1:-}" != --inside ]; then
	sb_outer units-e2e
	mkdir -p "$tmp/units" "$tmp/state"
	unit() { sb_unit "$tmp/units" "$@"; }
	unit app.service "[Service]
SyslogLevelPrefix=yes
ExecStart=/bin/sh -c 'if [ -e $tmp/app-ran ]; then exec $progs/ex_sleep; fi; touch $tmp/app-ran; echo \"<3>app: cannot continue\"; exit 1'"
	unit job.service "[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$tmp/job.sh"
	unit nginx.service "[Service]
SyslogLevelPrefix=yes
ExecStart=/bin/sh -c 'echo \"<3>bind() to 0.0.0.0:80 failed (98: Address already in use)\"; exec $progs/ex_sleep'"
	unit echoer.service "[Service]
SyslogLevelPrefix=yes
ExecStart=/bin/sh -c 'echo \"<3>write /var/log/app.log: No space left on device\"; exec $progs/ex_sleep'"
	unit job2.service "[Service]
Type=oneshot
SyslogLevelPrefix=yes
ExecStart=/bin/echo \"<3>Failed to execute $tmp/other.sh: Permission denied\""
	printf '#!/bin/sh\necho job ran\n' >"$tmp/job.sh"
	printf '#!/bin/sh\necho other ran\n' >"$tmp/other.sh"
	chmod 0644 "$tmp/job.sh" "$tmp/other.sh"
	# The shipped whitelist, with fix_permissions beneath this test's folder only.
	sb_whitelist "$tmp/whitelist.conf" "$tmp" || exit 1
	cat >"$tmp/healer.conf" <<CONF
[healer]
state_dir = $tmp/state
whitelist = $tmp/whitelist.conf
settle = 200ms
verify_window = 2s
cooldown = 0
[journal]
min_priority = warning
[llm]
provider = rules
rules = $top/examples/rules.conf
[api]
listen = unix:$tmp/api.sock
CONF
	sb_run --units "$tmp/units" --start nginx.service --start echoer.service
	exit
fi

# ---- inside the sandbox ----
sb_inside
nginx_pid=$(systemctl show -P MainPID nginx.service)

trap 'kill -9 $hpid 2>/dev/null; tail -40 "$tmp/healer.log" >&2' EXIT
check "healer started" start_healer "$tmp/healer.conf" "$tmp/healer.log"

# A unit that fails on its first run: restarted, active, healed.
systemctl start app.service
check "app healed" hist_wait 20 'any(h["status"]=="healed" and h["error"]["service"]=="app.service" and h["actions"] and h["actions"][0]["action"]=="restart_service" for h in H)'
check "app active" test "$(systemctl is-active app.service)" = active

# A script without its x bit: made executable (only that one file).
# systemd's "Failed at step EXEC spawning PATH" comes from the unit's forked
# child, which exits at once: when journald looks up its cgroup too late,
# the line has no unit and Healer (rightly) leaves it alone. A job runs
# again (a timer would); the third run at the latest is attributed.
for try in 1 2 3; do
	systemctl start job.service 2>/dev/null
	hist_wait 8 'any(h["status"]=="healed" and h["error"]["service"]=="job.service" for h in H)' 2>/dev/null && break
done
check "job fixed (run $try)" hist_wait 20 'any(h["status"]=="healed" and h["error"]["service"]=="job.service" and h["actions"][0]["action"]=="fix_permissions" for h in H)'
check "job.sh executable" test -x "$tmp/job.sh"

# Attack: an unprivileged process claims nginx failed, forging UNIT= fields.
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - <<'PY'
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"PRIORITY=3\nUNIT=nginx.service\nUSER_UNIT=nginx.service\nSYSLOG_IDENTIFIER=systemd\n"
         b"MESSAGE=nginx.service: Failed with result 'exit-code'.\n", "/run/systemd/journal/socket")
PY
check "forged line skipped" hist_wait 20 'any(h["status"]=="skipped" and "Failed with result" in h["error"]["message"] and h["error"]["service"]!="nginx.service" and "act_on" in h["reason"] for h in H)'

# Attack: a healthy nginx's own "Address already in use": the precondition refuses.
check "healthy nginx not restarted" hist_wait 20 'any(h["status"]=="rejected" and h["error"]["service"]=="nginx.service" and "unit-failed" in h["reason"] for h in H)'
check "nginx kept its process" test "$(systemctl show -P MainPID nginx.service)" = "$nginx_pid"

# Attack: "No space left on device" from a healthy unit while the disk is not full.
check "no vacuum on a disk that is not full" hist_wait 20 'any(h["status"]=="rejected" and h["error"]["service"]=="echoer.service" and "disk-above" in h["reason"] for h in H)'

# Attack: a chmod for a script the unit does not run.
systemctl start job2.service
check "chmod refused for a file the unit does not run" hist_wait 20 'any(h["status"]=="rejected" and h["error"]["service"]=="job2.service" and "unit-runs" in h["reason"] for h in H)'
check "other.sh untouched" test ! -x "$tmp/other.sh"
check "nothing ran for the attacks" hist_wait 2 'all(not any(a.get("exit_code")==0 and a.get("accepted") for a in h["actions"]) for h in H if h["error"]["service"] in ("nginx.service","echoer.service","job2.service"))'

stop_healer
check "clean exit" test $? -eq 0
trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
