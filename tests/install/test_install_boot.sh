#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The installed healer.service under a real PID 1 (tier 2 of
# shared/TESTING.md, through tests/install/boot.sh): it starts and reports
# READY, moves itself into a leaf of its delegated cgroup, pings the
# watchdog, and the shipped actions work inside the hardening: a failed
# service restarted through systemctl without CAP_SYS_ADMIN, chmod of a
# script under /opt (and the documented refusal under /home), logrotate and
# a journal vacuum in the writable paths, a whitelist edit through the API,
# each command in a cgroup of its own. A system call outside the filter
# kills the process here (the shipped unit answers EPERM), so that none
# goes unnoticed.
#
# The Debian root file system is made once with debootstrap (about a minute,
# from the host's apt mirror) by tests/sandbox/rootfs.sh and cached; set
# HEALER_TIER2_ROOT to use another. Without root, systemd-nspawn or a root
# file system (and no debootstrap to make one) the test is skipped.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
passed=0 failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# ---------------------------------------------------------------------------
# Inside (boot.sh runs this with the container's systemd as $2).
if [ "${1:-}" = --checks ]; then
	c=$2
	tmp=$(mktemp -d /tmp/healer-boot-checks-XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	ins() { nsenter -t "$c" -a "$@"; }
	prop() { ins systemctl show -p "$2" --value "$1"; }
	# until SECONDS COMMAND...: polls every 100 ms.
	until_ok() {
		local end=$((SECONDS + $1))
		shift
		until "$@" >/dev/null 2>&1; do
			[ $SECONDS -lt $end ] || return 1
			sleep 0.1
		done
	}
	# newest UNIT EXPR: EXPR (Python, over the attempt a) for UNIT's newest attempt
	# that was not skipped: PID 1's own "Failed with result" line about the same
	# failure opens a second incident, which the unit's cooldown skips.
	newest() {
		ins /usr/local/bin/healer history --json --limit 50 | python3 -c 'import json,sys
h=[x for x in json.load(sys.stdin)["history"] if x["error"].get("service")==sys.argv[1] and x["status"]!="skipped"]
a=h[0] if h else None
print(eval(sys.argv[2]) if a else "")' "$@"
	}
	state_is() { [ "$(newest "$1" 'a["status"]')" = "$2" ]; }
	output_of() { newest "$1" '(a["actions"] or [{}])[0].get("output", "")'; }
	# trigger UNIT TEXT: a oneshot service logs TEXT at err (its own line).
	trigger() {
		ins systemd-run --quiet --unit="$1" -p Type=oneshot /bin/echo "<3>$2"
	}

	# A blocked system call kills the process (SIGSYS), and the timers are short.
	ins mkdir -p /etc/systemd/system/healer.service.d
	printf '[Service]\nWatchdogSec=2s\nSystemCallErrorNumber=\n' |
		ins tee /etc/systemd/system/healer.service.d/test.conf >/dev/null
	ins systemctl daemon-reload
	check "systemctl start healer (Type=notify: returns after READY=1)" \
		ins systemctl start healer.service
	check "healer.service active" [ "$(prop healer ActiveState)" = active ]
	status=$(prop healer StatusText)
	check "status says commands run in cgroups: $status" grep -q 'commands in cgroups' <<<"$status"
	# The daemon's pid as the container numbers it, and its /proc files there.
	hp=$(prop healer MainPID)
	ins cat "/proc/$hp/cgroup" >"$tmp/cgroup"
	ins cat "/proc/$hp/status" >"$tmp/status"
	ins cat "/proc/$hp/mountinfo" >"$tmp/mountinfo"
	check "the daemon sits in the leaf <service>/daemon" \
		grep -qx '0::/system.slice/healer.service/daemon' "$tmp/cgroup"
	# CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID: bits 0 1 3 5 6 7.
	check "bounding set: the six capabilities" grep -qx $'CapBnd:\t00000000000000eb' "$tmp/status"
	check "no new privileges" grep -qx $'NoNewPrivs:\t1' "$tmp/status"
	check "seccomp filter" grep -qx $'Seccomp:\t2' "$tmp/status"

	# The daemon's mount namespace: read-only but for the unit's list.
	mnt() { # PATH: the options of the mount PATH is on, as the daemon sees it
		awk -v p="$1" '{ m = $5 }
			(m == p || m == "/" || index(p, m "/") == 1) && length(m) >= best { best = length(m); o = $6 }
			END { print o }' "$tmp/mountinfo"
	}
	for p in /var/log /etc/healer /var/lib/healer /opt /var/lib/logrotate /run/log/journal \
		/sys/fs/cgroup/unified/system.slice/healer.service /proc/sys/vm/drop_caches; do
		check "$p writable for the daemon ($(mnt "$p"))" grep -q '^rw' <<<"$(mnt "$p")"
	done
	for p in /usr/bin /etc /home/alice /root /proc/sys/kernel /sys/fs/cgroup/unified/init.scope; do
		check "$p read-only for the daemon ($(mnt "$p"))" grep -q '^ro' <<<"$(mnt "$p")"
	done
	# clear_cache is not run here (it would drop the host's page cache): the
	# write permission it needs, as uid 0 without any capability, in the
	# daemon's own mounts.
	check "drop_caches writable by uid 0 without capabilities" \
		ins nsenter -t "$hp" -m setpriv --bounding-set -all --inh-caps -all \
		test -w /proc/sys/vm/drop_caches

	w0=$(prop healer WatchdogTimestampMonotonic)
	sleep 1.5
	w1=$(prop healer WatchdogTimestampMonotonic)
	check "watchdog pinged (WatchdogSec=2s: $w0 -> $w1)" [ "$w1" -gt "$w0" ]

	# restart_service: fails once, then runs.
	printf '%s\n' '[Service]' \
		"ExecStart=/bin/sh -c 'if [ -e /run/flaky-ok ]; then exec sleep infinity; fi; touch /run/flaky-ok; echo \"<3>A process of this unit has been killed by the OOM killer\"; exit 3'" |
		ins tee /etc/systemd/system/flaky.service >/dev/null
	# fix_permissions: a script without x under /opt, and one under /home,
	# which a service's shell cannot run; its complaint is logged at err. (The
	# shell then stays: journald names the unit of a line by the sender's
	# cgroup, which it cannot read once a short-lived sender is gone.)
	ins mkdir -p /opt/app /home/alice
	printf '#!/bin/sh\nexit 0\n' | ins tee /opt/app/run.sh /home/alice/run.sh >/dev/null
	ins chmod 0644 /opt/app/run.sh /home/alice/run.sh
	for u in app:/opt/app homeapp:/home/alice; do
		printf '[Service]\nSyslogLevel=err\nWorkingDirectory=%s\nExecStart=/bin/sh -c "%s/run.sh; exec sleep infinity"\n' \
			"${u#*:}" "${u#*:}" | ins tee "/etc/systemd/system/${u%%:*}.service" >/dev/null
	done
	ins systemctl daemon-reload
	ins systemctl start flaky.service app.service homeapp.service 2>/dev/null
	check "flaky.service restarted by systemctl, attempt healed" until_ok 60 state_is flaky.service healed
	check "flaky.service active" [ "$(prop flaky ActiveState)" = active ]
	check "/opt/app/run.sh made executable, attempt healed" until_ok 60 state_is app.service healed
	check "/opt/app/run.sh mode 0755" [ "$(ins stat -c %a /opt/app/run.sh)" = 755 ]
	check "under /home: refused by ProtectHome=read-only" until_ok 60 state_is homeapp.service failed
	check "under /home: the record says why" grep -q 'Read-only file system' <<<"$(output_of homeapp.service)"
	check "/home/alice/run.sh untouched" [ "$(ins stat -c %a /home/alice/run.sh)" = 644 ]

	# Commands in cgroups of their own, logrotate, journal vacuum (test actions).
	trigger t-cgroup "TEST show cgroup"
	check "show_cgroup healed" until_ok 60 state_is t-cgroup.service healed
	out=$(output_of t-cgroup.service)
	check "the command ran in <service>/cmd-*: $out" \
		grep -qE '^0::/system.slice/healer.service/cmd-[0-9]+-[0-9]+$' <<<"$out"
	trigger t-rotate "TEST rotate logs"
	check "logrotate -f ran (CAP_CHOWN for btmp's create 0660 root utmp)" \
		until_ok 60 state_is t-rotate.service healed
	check "dpkg.log rotated in /var/log" ins test -e /var/log/dpkg.log.1
	check "logrotate state written" ins grep -q dpkg.log /var/lib/logrotate/status
	trigger t-vacuum "TEST vacuum"
	check "journalctl --vacuum-size ran" until_ok 60 state_is t-vacuum.service healed

	# The API's whitelist editor writes /etc/healer.
	ins sh -c 'cp /etc/healer/whitelist.conf /tmp/new.conf && echo "# edited through the API" >>/tmp/new.conf'
	check "healer whitelist put (through the API)" \
		ins /usr/local/bin/healer whitelist put /tmp/new.conf
	check "whitelist.conf replaced" ins grep -q 'edited through the API' /etc/healer/whitelist.conf
	check "whitelist.conf.bak kept" ins test -e /etc/healer/whitelist.conf.bak

	check "no restart on the way (NRestarts=$(prop healer NRestarts))" [ "$(prop healer NRestarts)" = 0 ]
	check "still active" [ "$(prop healer ActiveState)" = active ]
	# systemd shows "kill" as INT_MAX - 1.
	check "no system call outside the filter (a blocked one would have killed)" \
		[ "$(prop healer SystemCallErrorNumber)" = 2147483646 ]

	# The drop-in the unit's comment gives for fix_permissions under /home.
	printf '[Service]\nProtectHome=no\nReadWritePaths=/home\n' |
		ins tee /etc/systemd/system/healer.service.d/home.conf >/dev/null
	ins systemctl daemon-reload
	check "restart with the /home drop-in" ins systemctl restart healer.service
	hp=$(prop healer MainPID)
	ins cat "/proc/$hp/mountinfo" >"$tmp/mountinfo"
	check "/home/alice writable with the drop-in ($(mnt /home/alice))" grep -q '^rw' <<<"$(mnt /home/alice)"
	check "/usr/bin still read-only ($(mnt /usr/bin))" grep -q '^ro' <<<"$(mnt /usr/bin)"
	[ "$failed" -eq 0 ] || ins journalctl -u healer --no-pager -o cat | tail -n 30 >&2
	finish
fi

# ---------------------------------------------------------------------------
# Outside.
skip() {
	echo "SKIP: $*"
	echo "0 passed, 0 failed"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, cgroups, nspawn)"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (apt-get install systemd-container)"

# The one cached Debian root of tier 2 (tests/sandbox/rootfs.sh, shared
# with the scenarios): systemd, dbus, logrotate for the shipped rotate
# action, and the packages of the test build's libraries, which hold every
# library of the installed (unsanitized) binary too.
if [ -n "${HEALER_TIER2_ROOT:-}" ]; then
	rootfs=$HEALER_TIER2_ROOT
	[ -x "$rootfs/lib/systemd/systemd" ] || skip "HEALER_TIER2_ROOT=$rootfs holds no systemd"
elif ! rootfs=$("$top/tests/sandbox/rootfs.sh" "${HEALER_BIN:-$top/build/san/healer}" 2>"$top/build/.rootfs.err"); then
	skip "no root file system for the container: $(tail -n 3 "$top/build/.rootfs.err")"
fi

tmp=$(mktemp -d /tmp/healer-install-boot-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# One `make install` at a time in this tree (test_install.sh runs it too).
mkdir -p "$top/build"
if ! flock "$top/build/.install.lock" make -s -C "$top" install DESTDIR="$tmp/dest" \
	>"$tmp/install.log" 2>&1; then
	bad "make install: $(tail -n 5 "$tmp/install.log")"
	finish
fi
etc=$tmp/dest/etc/healer
# Short timers, and test actions beside the shipped ones: the same logrotate
# and journalctl lines without their disk-full preconditions, and one that
# shows its own cgroup.
sed -i 's/^#settle = .*/settle = 500ms/; s/^#verify_window = .*/verify_window = 1s/' "$etc/healer.conf"
cat >>"$etc/whitelist.conf" <<'EOF'

[action show_cgroup]
description = Show the command's cgroup (test)
match = cat /proc/self/cgroup
exec = /bin/cat /proc/self/cgroup
timeout = 10s

[action rotate_logs_now]
description = logrotate without its precondition (test)
match = logrotate now
exec = /usr/sbin/logrotate -f /etc/logrotate.conf
timeout = 60s

[action vacuum_now]
description = journal vacuum without its precondition (test)
match = vacuum now
exec = /usr/bin/journalctl --vacuum-size=100M
timeout = 60s
EOF
{
	printf '[rule test-cgroup]\nmessage = ^TEST show cgroup$\npropose = show_cgroup\n'
	printf '[rule test-rotate]\nmessage = ^TEST rotate logs$\npropose = rotate_logs_now\n'
	printf '[rule test-vacuum]\nmessage = ^TEST vacuum$\npropose = vacuum_now\n'
	cat "$etc/rules.conf"
} >"$tmp/rules.conf" && cat "$tmp/rules.conf" >"$etc/rules.conf"

t0=${EPOCHREALTIME/./}
bash "$top/tests/install/boot.sh" "$rootfs" "$tmp/dest" -- bash "$0" --checks >"$tmp/out" 2>&1
rc=$?
sed -E '/^[0-9]+ passed, [0-9]+ failed$/d' "$tmp/out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
if [ -n "$line" ]; then
	passed=$((passed + ${line%% passed*}))
	f=${line#*, }
	failed=$((failed + ${f%% failed*}))
fi
[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || bad "boot.sh exit $rc"
echo "info: boot and checks took $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
finish
