#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 2 of shared/TESTING.md: boots a Debian root file system under a real
# PID 1 (systemd-nspawn) with a `make install` tree bound in, runs CMD with
# the pid of the container's systemd added as its last argument (for
# `nsenter -t PID -a ...`) and exits with CMD's status.
#
#   tests/install/boot.sh ROOTFS DESTDIR -- CMD ARGS...
#
# The root file system is used read-only (--volatile=overlay: every change
# goes to a tmpfs), with no network but its own loopback. DESTDIR/usr/local
# is bound read-only over /usr/local and DESTDIR/etc/healer over
# /etc/healer. Outside, rule 1: fresh child cgroups in every hierarchy,
# entered by tests/sandbox/enter.sh; inside new mount, PID and cgroup
# namespaces, fresh cgroup mounts rooted there (nspawn reads its own cgroup
# from them) and a private /proc and /run/systemd/nspawn.
# When CMD ends the container is stopped; the namespace's PID 1 exits and
# the kernel kills what is left. Exit 125: the boot itself failed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sandbox=$here/../sandbox

die() {
	echo "boot: $*" >&2
	exit 125
}

# ---- inside: PID 1 of the new namespaces ----
if [ "${1:-}" = --inner ]; then
	rootfs=$2 dest=$3 log=$4 machine=$5
	shift 6 # --inner ROOTFS DESTDIR LOG MACHINE --
	# Fresh mounts of the same hierarchies at the same places: their root is
	# this cgroup namespace's, where the host's mounts show "/..".
	cg=()
	while read -r _ _ _ _ mnt _ rest; do
		rest=${rest#*- }
		read -r fstype _ sopts <<<"$rest"
		case $fstype in cgroup | cgroup2) cg+=("$fstype $mnt $sopts") ;; esac
	done </proc/self/mountinfo
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		mount -t cgroup2 cgroup2 /sys/fs/cgroup || die "cannot mount cgroup2"
	else
		mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup || die "cannot mount /sys/fs/cgroup"
		for m in "${cg[@]}"; do
			read -r fstype mnt sopts <<<"$m"
			mkdir -p "$mnt"
			if [ "$fstype" = cgroup2 ]; then
				mount -t cgroup2 cgroup2 "$mnt" || die "cannot mount cgroup2 on $mnt"
			else
				# Only the controllers (and name=) from the super options.
				opts=$(tr , '\n' <<<"$sopts" | grep -vE '^(rw|ro|relatime|nosuid|nodev|noexec)$' |
					paste -sd,)
				[[ $opts == *name=* ]] && opts=none,$opts
				mount -t cgroup -o "$opts" cgroup "$mnt" || die "cannot mount cgroup $opts"
			fi
		done
		# cpu,cpuacct style mounts are reached through per-controller links.
		for m in /sys/fs/cgroup/*,*; do
			[ -d "$m" ] || continue
			IFS=, read -ra parts <<<"${m##*/}"
			for p in "${parts[@]}"; do ln -s "${m##*/}" "/sys/fs/cgroup/$p"; done
		done
	fi
	mkdir -p /run/systemd/nspawn && mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn ||
		die "cannot mount /run/systemd/nspawn"
	systemd-nspawn -D "$rootfs" -b --register=no --keep-unit --console=pipe -M "$machine" \
		--volatile=overlay --private-network \
		--bind-ro="$dest/usr/local:/usr/local" --bind="$dest/etc/healer:/etc/healer" \
		>"$log" 2>&1 </dev/null &
	npid=$!
	init=
	for _ in $(seq 400); do
		for p in $(cat /proc/$npid/task/*/children 2>/dev/null); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && init=$p
		done
		[ -n "$init" ] && break
		kill -0 $npid 2>/dev/null || break
		sleep 0.025
	done
	[ -n "$init" ] || die "the container's systemd did not start: $(tail -n 5 "$log")"
	state=
	for _ in $(seq 400); do
		state=$(nsenter -t "$init" -a systemctl is-system-running 2>/dev/null)
		case $state in running | degraded) break ;; esac
		sleep 0.025
	done
	case $state in running | degraded) ;; *) die "container not up (state '$state')" ;; esac
	# $init is the container's systemd as this namespace numbers it (nsenter -t).
	"$@" "$init"
	rc=$?
	kill -TERM $npid 2>/dev/null
	for _ in $(seq 200); do
		kill -0 $npid 2>/dev/null || break
		sleep 0.025
	done
	exit $rc
fi

# ---- outside ----
[ $# -ge 4 ] && [ "$3" = -- ] || die "usage: $0 ROOTFS DESTDIR -- CMD ARGS..."
rootfs=$1 dest=$2
shift 3
[ "$(id -u)" -eq 0 ] || die "needs root"
for tool in systemd-nspawn nsenter unshare setpriv; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
[ -x "$rootfs/lib/systemd/systemd" ] || die "$rootfs: no systemd in it"
. "$sandbox/cgroups.sh"
name=healer-boot-$$-$RANDOM$RANDOM
machine=hb$$
log=$(mktemp /tmp/healer-boot-XXXXXX.log)
child=
cleanup() {
	local rc=$?
	trap - EXIT TERM INT HUP
	if [ -n "$child" ]; then
		kill -KILL "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	cgroups_remove || rc=$?
	[ $rc -eq 0 ] || sed 's/^/boot: console: /' "$log" | tail -n 20 >&2
	rm -f "$log"
	exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
cgroups_make "$name" healer-boot
# --mount-proc: nspawn finds its child in /proc by the pids of this
# namespace; the host's /proc would name other processes.
"$sandbox/enter.sh" "$name" "${cgdirs[@]}" -- \
	setpriv --pdeathsig KILL \
	unshare --mount --pid --fork --cgroup --mount-proc --propagation private \
	--kill-child=SIGKILL bash "$0" --inner "$rootfs" "$dest" "$log" "$machine" -- "$@" &
child=$!
wait "$child"
rc=$?
child=
exit $rc
