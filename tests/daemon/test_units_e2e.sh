#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon against a real service manager and journald (tier 1b of
# TESTING.md, tests/sandbox/sandbox.sh), with the shipped whitelist and
# rules (fix_permissions' roots moved to this test's folder) and the real
# `systemctl restart`:
#  - a unit that fails on its first run is restarted, verified active, healed;
#  - a daemon killed with kill -9 is restarted and healed;
#  - a script without its x bit, run by its unit, is made executable;
# and the attacks that preconditions and act_on stop, with nothing run:
#  - a line from an unprivileged process claiming nginx.service failed;
#  - a healthy nginx.service logging "Address already in use";
#  - a healthy unit echoing "No space left on device" while the disk is not full;
#  - a chmod request for a script the unit does not run.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${HEALER_BIN:-$top/build/san/healer}
progs=${HEALER_PROGS_DIR:-$top/build/san/progs}
case $bin in /*) ;; *) bin=$top/$bin ;; esac
case $progs in /*) ;; *) progs=$top/$progs ;; esac
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

if [ "${1:-}" != --inside ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: the sandbox needs root"
		echo "0 passed, 0 failed"
		exit 0
	fi
	tmp=$(mktemp -d /tmp/healer-units-e2e-XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	chmod 0755 "$tmp"
	mkdir -p "$tmp/units" "$tmp/state"
	unit() { printf '%s\n' "$2" >"$tmp/units/$1"; }
	unit app.service "[Service]
SyslogLevelPrefix=yes
ExecStart=/bin/sh -c 'if [ -e $tmp/app-ran ]; then exec $progs/ex_sleep; fi; touch $tmp/app-ran; echo \"<3>app: cannot continue\"; exit 1'"
	unit crashy.service "[Service]
ExecStart=$progs/ex_sleep"
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
	sed "s#^param path = path .*#param path = path $tmp/[A-Za-z0-9._+@/-]+#" \
		"$top/examples/whitelist.conf" >"$tmp/whitelist.conf"
	grep -q "param path = path $tmp/" "$tmp/whitelist.conf" || { echo "FAIL: sed"; exit 1; }
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
	HEALER_E2E_TMP=$tmp HEALER_BIN=$bin HEALER_PROGS_DIR=$progs \
		"$top/tests/sandbox/sandbox.sh" --units "$tmp/units" --start nginx.service \
		--start echoer.service -- bash "$0" --inside
	rc=$?
	[ $rc -eq 125 ] && { echo "FAIL: the sandbox did not start"; echo "0 passed, 1 failed"; exit 1; }
	exit $rc
fi

# ---- inside the sandbox ----
tmp=$HEALER_E2E_TMP
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
hist_wait() { # SECONDS PYTHON-EXPR over H
	local end=$(($(now_ms) + $1 * 1000))
	while :; do
		out=$("$bin" history -c "$tmp/healer.conf" --json --limit 500 2>/dev/null)
		python3 -c 'import json,sys; H=json.loads(sys.argv[1])["history"]; sys.exit(0 if ('"$2"') else 1)' "$out" 2>/dev/null && return 0
		[ "$(now_ms)" -lt "$end" ] || break
		sleep 0.05
	done
	echo "hist_wait: '$2' not true on: $(head -c 3000 <<<"$out")" >&2
	return 1
}
for u in app crashy job nginx echoer job2; do cp "$tmp/units/$u.service" "$HEALER_SANDBOX_UNITS/" 2>/dev/null; done
systemctl daemon-reload
nginx_pid=$(systemctl show -P MainPID nginx.service)

"$bin" run -c "$tmp/healer.conf" >"$tmp/healer.log" 2>&1 &
hpid=$!
trap 'kill -9 $hpid 2>/dev/null; cat "$tmp/healer.log" | tail -40 >&2' EXIT
for _ in $(seq 200); do [ -f "$tmp/state/healer.pid" ] && break; sleep 0.02; done
check "healer started" test -f "$tmp/state/healer.pid"

# A unit that fails on its first run: restarted, active, healed.
systemctl start app.service
check "app healed" hist_wait 20 'any(h["status"]=="healed" and h["error"]["service"]=="app.service" and h["actions"] and h["actions"][0]["action"]=="restart_service" for h in H)'
check "app active" test "$(systemctl is-active app.service)" = active

# kill -9 of a daemon's main process: restarted, healed.
systemctl start crashy.service
pid=$(systemctl show -P MainPID crashy.service)
kill -9 "$pid"
check "crashy healed" hist_wait 20 'any(h["status"]=="healed" and h["error"]["service"]=="crashy.service" for h in H)'
check "crashy active again" test "$(systemctl is-active crashy.service)" = active

# A script without its x bit: made executable (only that one file).
systemctl start job.service
check "job fixed" hist_wait 20 'any(h["status"]=="healed" and h["error"]["service"]=="job.service" and h["actions"][0]["action"]=="fix_permissions" for h in H)'
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

kill -TERM "$hpid"
wait "$hpid"
check "clean exit" test $? -eq 0
trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
