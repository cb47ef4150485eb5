#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier-1b sandbox (shared/TESTING.md): a real systemd service manager and a
# real journald that only the command sees, on a host whose PID 1 is not
# systemd, leaving nothing behind.
#
#   tests/sandbox/sandbox.sh [--units DIR] [--start UNIT]... -- CMD ARGS...
#
# Outside: fresh child cgroups in every mounted hierarchy (TESTING.md rule 1),
# entered by a separate process (enter.sh) that checks /proc/self/cgroup
# before anything else starts. Inside new mount, PID, cgroup and network
# namespaces, init.sh (PID 1) mounts private cgroup trees, /run (with
# /run/systemd, /run/dbus, /run/log/journal, /run/user) and /var/log/journal
# (the host's /run is hidden from the command), starts journald and
# `systemd --user` with DIR's units, binds the manager's sockets where
# systemctl and sd_bus_open_system() look, starts each --start unit (its
# failure ignored: a test may want a failed unit), then runs CMD with
#   HEALER_SANDBOX=1
#   HEALER_SANDBOX_UNITS    the folder the manager loads units from (add
#                           files, then `systemctl daemon-reload`)
#   HEALER_SANDBOX_RUNTIME  the manager's XDG_RUNTIME_DIR
#   HEALER_SANDBOX_MANAGER_PID, HEALER_SANDBOX_JOURNALD_PID (namespace pids)
#   HEALER_SANDBOX_READY_MS how long the sandbox took to be ready
# and exits with CMD's status. When CMD ends, init.sh exits, the kernel kills
# everything else in the PID namespace, and the cgroups are removed deepest
# first. Exit 125 means the sandbox itself failed; the reason is on stderr.
# Root only. Several may run at once.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=${EPOCHREALTIME/./}

die() {
	echo "sandbox: $*" >&2
	exit 125
}
usage() {
	echo "usage: $0 [--units DIR] [--start UNIT]... -- CMD ARGS..." >&2
	exit 125
}

units='' starts=''
while [ $# -gt 0 ]; do
	case $1 in
	--units) [ $# -ge 2 ] || usage; units=$2; shift 2 ;;
	--start) [ $# -ge 2 ] || usage; starts+=" $2"; shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[ "$(id -u)" -eq 0 ] || die "needs root (cgroups, namespaces, mounts)"
if [ -n "$units" ]; then
	[ -d "$units" ] || die "--units $units: not a folder"
	units=$(cd "$units" && pwd)
fi
for tool in unshare setpriv ip mount /lib/systemd/systemd /lib/systemd/systemd-journald \
	systemctl busctl /usr/bin/dbus-daemon; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

. "$here/cgroups.sh"

name=healer-sandbox-$$-$RANDOM$RANDOM
child=
cleanup() {
	local rc=$?
	trap - EXIT TERM INT HUP
	if [ -n "$child" ]; then
		kill -KILL "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	cgroups_remove || rc=$?
	exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

cgroups_make "$name" healer-sandbox

export HEALER_SB_UNITS=$units HEALER_SB_START=$starts HEALER_SB_T0=$t0
# setpriv --pdeathsig: if this script is killed, unshare dies, and with
# --kill-child so does the namespace's PID 1, and with it everything inside.
"$here/enter.sh" "$name" "${cgdirs[@]}" -- \
	setpriv --pdeathsig KILL \
	unshare --mount --pid --fork --cgroup --net --mount-proc --propagation private \
	--kill-child=SIGKILL "$here/init.sh" "$@" &
child=$!
wait "$child"
rc=$?
child=
exit $rc
