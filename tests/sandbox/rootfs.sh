#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# rootfs.sh [BINARY]: prints the folder of a Debian root for tier 2
# (nspawn.sh, test_install_boot.sh, TESTING.md): minbase, systemd as init,
# dbus, python3, curl and logrotate for the tests, and the Debian packages of BINARY's shared libraries (asked
# of ldd and dpkg on this host, which runs the same release), so that the
# host's build runs inside. Made once with debootstrap (≈50 s) and kept in
# $HEALER_ROOTFS_CACHE (default /var/cache/healer-tests), named after a
# hash of its package list; nspawn.sh boots it with a volatile overlay, so
# it is never written to. Concurrent callers wait for one build (flock).
# Exit 1 with the reason on stderr when it cannot be made.
set -euo pipefail
suite=bookworm
cache=${HEALER_ROOTFS_CACHE:-/var/cache/healer-tests}

die() {
	echo "rootfs: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "needs root"

# logrotate: the shipped whitelist's log rotation, run by test_install_boot.
pkgs=(systemd systemd-sysv dbus python3 curl logrotate)
if [ -n "${1:-}" ]; then
	[ -x "$1" ] || die "$1: not an executable"
	# dpkg knows a library by the path its package installed: with merged
	# /usr, ldd's /lib/x86_64-linux-gnu/libcurl.so.4 may be dpkg's
	# /usr/lib/... ("libcurl4:amd64: /usr/lib/...so.4" -> libcurl4). One
	# dpkg call for every spelling: it takes a tenth of a second each.
	paths=()
	for lib in $(ldd "$1" | awk '$3 ~ /^\// { print $3 }'); do
		paths+=("$lib" "/usr$lib" "$(readlink -f "$lib")")
	done
	while read -r pkg; do
		pkgs+=("$pkg")
	done < <(dpkg -S "${paths[@]}" 2>/dev/null | cut -d: -f1 | sort -u)
fi
key=$(printf '%s\n' "$suite" "${pkgs[@]}" | sort -u | sha256sum | cut -c1-12)
root=$cache/$suite-$key
if [ -e "$root/.healer-complete" ]; then
	echo "$root"
	exit 0
fi

command -v debootstrap >/dev/null || die "debootstrap not found (tools/deps.sh --test installs it)"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -e "$root/.healer-complete" ]; then
	echo "$root"
	exit 0
fi
# The mirror this host's apt uses (deb822 or one-line sources), else Debian's.
mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
	/etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security |
	grep -oE 'https?://[^ ]+' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "rootfs: debootstrap $suite from $mirror into $root (once)" >&2
if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" "$suite" \
	"$work/root" "$mirror" >"$work/log" 2>&1; then
	tail -n 15 "$work/log" >&2
	die "debootstrap failed"
fi
touch "$work/root/.healer-complete"
rm -rf "$root"
mv "$work/root" "$root"
echo "$root"
