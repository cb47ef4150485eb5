#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 2 of TESTING.md: a real systemd as PID 1, in systemd-nspawn, on a
# host whose own PID 1 is not systemd.
#
#   tests/sandbox/nspawn.sh [--bind DIR]... [--units DIR] [--start UNIT]... -- CMD ARGS...
#
# Boots the Debian root of rootfs.sh (made once, then cached) with a
# volatile overlay (every write goes to a tmpfs; the root stays as it was)
# and a private network, each DIR bound at its own path (read-write), from
# fresh child cgroups (rule 1, cgroups.sh) and a private mount namespace
# whose tmpfs on /run/systemd keeps nspawn's runtime files off the host
# (rule 3). Once the container is up, DIR's units go to its
# /run/systemd/system, each --start unit is started (its failure ignored),
# and CMD runs inside the container's namespaces (nsenter -a), so that its
# systemctl, journal and system bus are the container's, with
#   HEALER_SANDBOX=1 HEALER_SANDBOX_PID1=1
#   HEALER_SANDBOX_READY_MS  how long the container took to be up
# Then the container is powered off, and the cgroups are removed. Exits
# with CMD's status; 125 when the container could not be made (the reason
# on stderr). Root only.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=${EPOCHREALTIME/./}

die() {
	echo "nspawn: $*" >&2
	exit 125
}
usage() {
	echo "usage: $0 [--bind DIR]... [--units DIR] [--start UNIT]... -- CMD ARGS..." >&2
	exit 125
}

binds=() units='' starts=()
while [ $# -gt 0 ]; do
	case $1 in
	--bind) [ $# -ge 2 ] || usage; binds+=("--bind=$(cd "$2" && pwd)"); shift 2 ;;
	--units) [ $# -ge 2 ] || usage; units=$2; shift 2 ;;
	--start) [ $# -ge 2 ] || usage; starts+=("$2"); shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[ "$(id -u)" -eq 0 ] || die "needs root (cgroups, namespaces, mounts)"
[ -z "$units" ] || [ -d "$units" ] || die "--units $units: not a folder"
for tool in systemd-nspawn nsenter unshare setpriv mount; do
	command -v "$tool" >/dev/null || die "$tool not found (tools/deps.sh --test installs it)"
done
. "$here/cgroups.sh"
rootfs=$("$here/rootfs.sh" "${HEALER_BIN:-}") || die "no root file system for the container"
name=healer-pid1-$$-$RANDOM$RANDOM
child= nspawn_log=
cleanup() {
	local rc=$? end
	trap - EXIT TERM INT HUP
	if [ -n "$child" ]; then
		# nspawn asks the container's systemd to halt; SIGKILL if it hangs.
		kill -TERM "$child" 2>/dev/null
		end=$((${EPOCHREALTIME/./} + 10000000))
		while kill -0 "$child" 2>/dev/null && [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
			sleep 0.05
		done
		kill -KILL "$child" 2>/dev/null
		[ -n "${init:-}" ] && kill -KILL "$init" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	cgroups_remove || rc=$?
	rm -f "$nspawn_log"
	exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
cgroups_make "$name" healer-pid1

# The container's PID 1, as the host sees it: the process of the
# container's cgroup tree (nspawn names it payload) that is PID 1 of its
# PID namespace.
find_init() {
	local d p ns
	for d in "${cgdirs[@]}"; do
		[ -d "$d/payload" ] || continue
		for p in $(find "$d/payload" -name cgroup.procs -exec cat {} + 2>/dev/null); do
			ns=$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)
			[ "$ns" = 1 ] && { echo "$p"; return 0; }
		done
	done
	return 1
}

# nspawn's own messages: kept until the container is up, shown if it is not.
nspawn_log=$(mktemp /tmp/healer-nspawn-XXXXXX) || die "mktemp"
# setpriv --pdeathsig: if this script is killed, nspawn dies, and with it
# the container (its PID 1 is nspawn's child).
"$here/enter.sh" "$name" "${cgdirs[@]}" -- \
	setpriv --pdeathsig KILL unshare --mount --propagation private \
	bash -c 'if [ -d /run/systemd ]; then mount -n -t tmpfs -o mode=0755,size=1m healer-nspawn /run/systemd || exit 125; fi
exec systemd-nspawn "$@"' nspawn -D "$rootfs" -b --register=no --keep-unit --console=pipe \
	-M "${name:0:60}" --volatile=overlay --private-network "${binds[@]}" \
	</dev/null >/dev/null 2>"$nspawn_log" &
child=$!
end=$((${EPOCHREALTIME/./} + 30000000))
init=
# Up: PID 1 runs systemd (nspawn's child execs it) and answers on its socket.
until init=$(find_init) && [ "$(cat "/proc/$init/comm" 2>/dev/null)" = systemd ] &&
	[ -S "/proc/$init/root/run/systemd/private" ]; do
	kill -0 "$child" 2>/dev/null || { tail -n 20 "$nspawn_log" >&2; die "systemd-nspawn exited"; }
	[ "${EPOCHREALTIME/./}" -lt "$end" ] || { tail -n 20 "$nspawn_log" >&2; die "no PID 1 after 30 s"; }
	sleep 0.02
done
in_ct() { nsenter -t "$init" -a "$@"; }
state=$(timeout 30 nsenter -t "$init" -a systemctl is-system-running --wait 2>/dev/null)
case $state in
running | degraded) ;;
*) tail -n 20 "$nspawn_log" >&2; die "the container did not boot (state: ${state:-none})" ;;
esac
if [ -n "$units" ]; then
	cp -a "$units/." "/proc/$init/root/run/systemd/system/" || die "cannot copy units"
	in_ct systemctl daemon-reload || die "daemon-reload failed"
fi
for u in "${starts[@]}"; do
	in_ct systemctl start "$u" >/dev/null 2>&1
done
ready_ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
HEALER_SANDBOX=1 HEALER_SANDBOX_PID1=1 HEALER_SANDBOX_READY_MS=$ready_ms in_ct "$@"
exit $?
