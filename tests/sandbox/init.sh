#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PID 1 of a sandbox made by sandbox.sh (never run it directly): private
# mounts, journald, `systemd --user` posing as the system manager, then the
# command. Every mount here lives in a private mount namespace; nothing is
# created on the host's file systems. Exits with the command's status (125
# when the sandbox could not be made); the kernel then kills the rest.
set -uo pipefail
rt=/run/user/0 # the manager's XDG_RUNTIME_DIR
state=/run/systemd/sandbox
deadline_usec=10000000

die() {
	echo "sandbox: $*" >&2
	for f in "$state"/*.log; do
		[ -s "$f" ] && sed "s|^|sandbox: ${f##*/}: |" "$f" | tail -n 20 >&2
	done
	exit 125
}
now() { echo "${EPOCHREALTIME/./}"; }

# The manager finished starting up ("degraded" too: a test unit may fail).
booted() {
	case $(timeout 10 systemctl is-system-running --wait 2>/dev/null) in
	running | degraded) return 0 ;;
	*) return 1 ;;
	esac
}

# Waits until COMMAND succeeds, PID (when not empty) still lives, within
# the deadline. Polls every 5 ms: journald and the manager need ~0.1 s.
wait_for() {
	local what=$1 pid=$2 end=$(($(now) + deadline_usec))
	shift 2
	until "$@" 2>/dev/null; do
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || die "$what: process exited"
		[ "$(now)" -lt "$end" ] || die "$what: not ready after $((deadline_usec / 1000000)) s"
		sleep 0.005
	done
}

[ $$ -eq 1 ] || die "init.sh must be PID 1 of a new PID namespace"
ip link set lo up || die "cannot bring lo up"

# Cgroups: fresh trees rooted at the sandbox's own cgroup (cgroup namespace),
# hybrid like the host, which is what the manager expects to find.
mount -n -t tmpfs -o mode=0755,size=1m sandbox-cgroup /sys/fs/cgroup &&
	mkdir /sys/fs/cgroup/systemd /sys/fs/cgroup/unified &&
	mount -n -t cgroup -o none,name=systemd,xattr cgroup /sys/fs/cgroup/systemd &&
	mount -n -t cgroup2 cgroup2 /sys/fs/cgroup/unified || die "cannot mount cgroups"

# /run: a fresh tmpfs for all of it. The manager, journald and dbus write
# below /run/systemd, /run/log, /run/dbus and /run/user, and libmount (in
# the manager) creates /run/mount for its utab watch: nothing of that may
# appear on the host, whose /run is then hidden from the command too.
mount -n -t tmpfs -o mode=0755,size=64m sandbox-run /run || die "cannot mount /run"
mkdir -p /run/lock && chmod 1777 /run/lock || die "cannot make /run/lock"
if [ -d /var/log/journal ]; then
	mount -n -t tmpfs -o mode=0755,size=16m sandbox-journal /var/log/journal ||
		die "cannot mount /var/log/journal"
fi
mkdir -p /run/systemd/system /run/systemd/journal /run/log/journal /run/dbus "$state" \
	"$rt/systemd/user" "$rt/home" /run/systemd/journald.conf.d || die "cannot make /run folders"
chmod 0700 "$rt"

# journald: volatile, unlimited, no kernel log, no syslog. The main file is
# bind-mounted (what tools read), and a drop-in in the private /run wins
# over any drop-in of the host.
cat >"$state/journald.conf" <<'EOF'
[Journal]
Storage=volatile
RateLimitBurst=0
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
EOF
cp "$state/journald.conf" /run/systemd/journald.conf.d/zz-healer-sandbox.conf
if [ -f /etc/systemd/journald.conf ]; then
	mount -n --bind "$state/journald.conf" /etc/systemd/journald.conf ||
		die "cannot bind journald.conf"
fi
# Its own messages to its stderr, not the host's kernel log.
SYSTEMD_LOG_TARGET=console /lib/systemd/systemd-journald </dev/null >"$state/journald.log" 2>&1 &
journald=$!
wait_for "journald" $journald test -S /run/systemd/journal/socket -a -S /run/systemd/journal/stdout

# The manager's unit path: the test's units, then a fixed base of the units
# a user manager needs to boot and to run its bus, nothing else of the host
# (no user units of installed packages, no ~/.config).
base=$state/units-base
mkdir -p "$base/sockets.target.wants"
for u in default.target basic.target sockets.target timers.target paths.target \
	shutdown.target exit.target systemd-exit.service app.slice background.slice \
	session.slice dbus.socket dbus.service; do
	[ -e "/usr/lib/systemd/user/$u" ] && ln -s "/usr/lib/systemd/user/$u" "$base/$u"
done
ln -s ../dbus.socket "$base/sockets.target.wants/dbus.socket"
if [ -n "${HEALER_SB_UNITS:-}" ]; then
	cp -a "$HEALER_SB_UNITS/." "$rt/systemd/user/" || die "cannot copy units"
fi

HOME=$rt/home XDG_RUNTIME_DIR=$rt SYSTEMD_LOG_TARGET=journal \
	SYSTEMD_UNIT_PATH="$rt/systemd/user:$base" \
	/lib/systemd/systemd --user </dev/null >"$state/manager.log" 2>&1 &
manager=$!
wait_for "systemd --user" $manager test -S "$rt/systemd/private" -a -S "$rt/bus"

# Where an unmodified systemctl (as root) and sd_bus_open_system() look.
touch /run/systemd/private /run/dbus/system_bus_socket &&
	mount -n --bind "$rt/systemd/private" /run/systemd/private &&
	mount -n --bind "$rt/bus" /run/dbus/system_bus_socket || die "cannot bind the manager's sockets"
unset XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS

# Ready: the manager has finished starting up, and it answers on the bus
# (the first call starts dbus-daemon through dbus.socket; the manager joins
# the bus once it runs).
wait_for "startup" $manager booted
wait_for "bus" $manager busctl --system --timeout=2 call org.freedesktop.systemd1 \
	/org/freedesktop/systemd1 org.freedesktop.DBus.Peer Ping
ready_ms=$((($(now) - HEALER_SB_T0) / 1000))

for u in ${HEALER_SB_START:-}; do
	systemctl start "$u" >/dev/null 2>&1
done

export HEALER_SANDBOX=1 HEALER_SANDBOX_UNITS=$rt/systemd/user HEALER_SANDBOX_RUNTIME=$rt \
	HEALER_SANDBOX_MANAGER_PID=$manager HEALER_SANDBOX_JOURNALD_PID=$journald \
	HEALER_SANDBOX_READY_MS=$ready_ms
unset HEALER_SB_UNITS HEALER_SB_START HEALER_SB_T0
"$@"
exit $?
