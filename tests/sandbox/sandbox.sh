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

# Mounted cgroup hierarchies from mountinfo: "fstype superopts mountpoint".
mounts=()
while read -r _ _ _ root mnt _ rest; do
	rest=${rest#*- }
	read -r fstype _ sopts <<<"$rest"
	case $fstype in cgroup | cgroup2) [ "$root" = / ] && mounts+=("$fstype ,$sopts, $mnt") ;; esac
done </proc/self/mountinfo

# The directory of one /proc/self/cgroup line ("ID:CONTROLLERS:PATH").
cgroup_dir() {
	local id=${1%%:*} rest=${1#*:} ctrls path m want c ok fstype sopts mnt
	ctrls=${rest%%:*}
	path=${rest#*:}
	for m in "${mounts[@]}"; do
		read -r fstype sopts mnt <<<"$m"
		if [ "$id" = 0 ] && [ -z "$ctrls" ]; then
			[ "$fstype" = cgroup2 ] || continue
		else
			[ "$fstype" = cgroup ] || continue
			ok=1
			IFS=, read -ra want <<<"$ctrls"
			for c in "${want[@]}"; do
				[[ $sopts == *,$c,* ]] || ok=0
			done
			[ $ok = 1 ] || continue
		fi
		echo "$mnt${path%/}"
		return 0
	done
	return 1
}

# rmdir a cgroup tree deepest first. The kernel may still be finishing the
# exits of the namespace's processes: retry briefly, then report.
remove_tree() {
	local d=$1 deadline=$((${EPOCHREALTIME/./} + 3000000)) left
	while :; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$d" ] || return 0
		if [ "${EPOCHREALTIME/./}" -gt "$deadline" ]; then
			left=$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
			echo "sandbox: cannot remove $d (processes: ${left:-none})" >&2
			return 1
		fi
		sleep 0.02
	done
}

# Trees of earlier sandboxes whose sandbox.sh was killed (named after its
# pid): removed when that pid is gone. A live one, or one still holding
# processes, stays.
sweep_stale() {
	local base=$1 d pid
	for d in "$base"/healer-sandbox-*; do
		[ -d "$d" ] || continue
		pid=${d##*/healer-sandbox-}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null && continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
}

name=healer-sandbox-$$-$RANDOM$RANDOM
cgdirs=()
child=
cleanup() {
	local rc=$? i
	trap - EXIT TERM INT HUP
	if [ -n "$child" ]; then
		kill -KILL "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	for ((i = ${#cgdirs[@]} - 1; i >= 0; i--)); do
		remove_tree "${cgdirs[i]}" || rc=125
	done
	exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

while IFS= read -r line; do
	parent=$(cgroup_dir "$line") || die "cgroup hierarchy not mounted: $line"
	[ -d "$parent" ] || die "no cgroup folder $parent for $line"
	sweep_stale "$parent"
	dir=$parent/$name
	mkdir "$dir" || die "cannot create cgroup $dir"
	cgdirs+=("$dir")
	# cpuset: a child without cpus and mems accepts no process.
	if [ -f "$parent/cpuset.cpus" ]; then
		cat "$parent/cpuset.cpus" >"$dir/cpuset.cpus" &&
			cat "$parent/cpuset.mems" >"$dir/cpuset.mems" ||
			die "cannot set up cpuset $dir"
	fi
done </proc/self/cgroup
[ ${#cgdirs[@]} -gt 0 ] || die "no cgroup hierarchies"

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
