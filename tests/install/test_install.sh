#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make install` and `make uninstall` into a temp DESTDIR: the files, their
# modes and owner, ExecStart= pointing at the binary, the man page aliases,
# an administrator's edited config kept (the shipped one beside it as
# .dist), an unedited one updated, uninstall removing only what install
# put; then the installed unit through `systemd-analyze verify` and
# `systemd-analyze security --offline` (its exposure printed and held under
# a ceiling), and the unit's writable paths against the shipped whitelist.
# Nothing outside the temp folder is written (the build aside).
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
passed=0 failed=0
# Measured 2.9 with systemd 252 (the host's version prints with it); a
# change that loosens the unit past this fails here and must say why.
max_exposure=3.0

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

tmp=$(mktemp -d /tmp/healer-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
d=$tmp/root
# One `make install` at a time in this tree (the boot test runs it too).
mkdir -p "$top/build"
minstall() { # log, then make arguments
	local log=$1
	shift
	flock "$top/build/.install.lock" make -s -C "$top" "$@" >"$log" 2>&1
}

check "make install DESTDIR" minstall "$tmp/install1.log" install DESTDIR="$d"
[ "$failed" -eq 0 ] || { cat "$tmp/install1.log" >&2; finish; }

mode_is() { # MODE PATH
	[ "$(stat -c %a "$2" 2>/dev/null)" = "$1" ] || {
		echo "  $2: mode $(stat -c %a "$2" 2>&1), want $1" >&2
		return 1
	}
}
bin=$d/usr/local/bin/healer unit=$d/usr/local/lib/systemd/system/healer.service
man=$d/usr/local/share/man etc=$d/etc/healer
check "binary 0755" mode_is 755 "$bin"
check "unit 0644" mode_is 644 "$unit"
for f in healer.conf whitelist.conf rules.conf; do
	check "$f 0644" mode_is 644 "$etc/$f"
	check "$f is the shipped one" cmp -s "$etc/$f" "$top/examples/$f"
done
for p in man8/healer.8 man5/healer.conf.5 man5/healer-whitelist.conf.5 \
	man5/healer-rules.conf.5 man5/healer-whitelist.5 man5/healer-rules.5; do
	check "man page $p 0644" mode_is 644 "$man/$p"
done
if [ "$(id -u)" -eq 0 ]; then
	owners=$(find "$d" -printf '%u:%g\n' | sort -u | tr '\n' ' ')
	check "everything root-owned ($owners)" [ "$owners" = "root:root " ]
fi
check "the binary runs" "$bin" version
check "the binary is built without sanitizers" bash -c "! grep -q __asan_init '$bin'"
check "ExecStart= names the installed binary" grep -qx 'ExecStart=/usr/local/bin/healer run' "$unit"
check "no @bindir@ left" bash -c "! grep -q @bindir@ '$unit'"

# `man healer-whitelist` and `man healer-rules` open the .conf pages.
if command -v man >/dev/null; then
	for page in healer-whitelist:'the commands Healer may run' \
		healer-rules:'offline rules of Healer' healer:'repair daemon'; do
		text=$(MANPATH=$man MANWIDTH=200 man -P cat "${page%%:*}" 2>/dev/null)
		check "man ${page%%:*} shows its page" grep -q "${page#*:}" <<<"$text"
	done
else
	echo "info: no man command here: the .so aliases are not rendered"
fi

# An administrator edits whitelist.conf; the next install keeps it.
echo "# edited by the administrator" >>"$etc/whitelist.conf"
cp "$etc/whitelist.conf" "$tmp/edited"
check "second make install" minstall "$tmp/install2.log" install DESTDIR="$d"
check "edited whitelist.conf kept" cmp -s "$etc/whitelist.conf" "$tmp/edited"
check "shipped whitelist.conf beside it as .dist" cmp -s "$etc/whitelist.conf.dist" \
	"$top/examples/whitelist.conf"
check "install says so" grep -q 'whitelist.conf.dist.*local changes' "$tmp/install2.log"
check "no .dist for an unedited file" [ ! -e "$etc/healer.conf.dist" ]

# An upgrade: rules.conf as an older release shipped it, unedited since.
printf '# an older release\n' >"$d/usr/local/share/healer/rules.conf"
cp "$d/usr/local/share/healer/rules.conf" "$etc/rules.conf"
check "third make install" minstall "$tmp/install3.log" install DESTDIR="$d"
check "unedited older rules.conf updated" cmp -s "$etc/rules.conf" "$top/examples/rules.conf"
check "and no rules.conf.dist" [ ! -e "$etc/rules.conf.dist" ]

# PREFIX=/usr: the binary's path in ExecStart= follows.
check "make install PREFIX=/usr" minstall "$tmp/install4.log" install PREFIX=/usr DESTDIR="$tmp/usr"
check "ExecStart= with PREFIX=/usr" grep -qx 'ExecStart=/usr/bin/healer run' \
	"$tmp/usr/usr/lib/systemd/system/healer.service"

# systemd-analyze verify: the unit as installed, with ExecStart= pointing
# into DESTDIR (verify wants the binary to exist) and the man pages there.
sed "s|^ExecStart=/usr/local/bin/healer|ExecStart=$bin|" "$unit" >"$tmp/healer.service"
if MANPATH=$man systemd-analyze verify "$tmp/healer.service" >"$tmp/verify.out" 2>&1; then
	ok
else
	bad "systemd-analyze verify: $(cat "$tmp/verify.out")"
fi
check "systemd-analyze verify prints nothing: $(cat "$tmp/verify.out")" [ ! -s "$tmp/verify.out" ]

# The exposure score (systemd 252 analyses a file offline).
systemd-analyze security --offline=yes "$unit" >"$tmp/security.out" 2>&1
exposure=$(sed -nE 's/.*Overall exposure level for healer.service: ([0-9.]+).*/\1/p' "$tmp/security.out")
if [ -n "$exposure" ]; then
	ok
	echo "info: systemd-analyze security: exposure $exposure (ceiling $max_exposure)," \
		"$(systemd-analyze --version | head -n 1)"
	check "exposure $exposure <= $max_exposure" \
		awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'
else
	bad "no exposure level in: $(tail -n 3 "$tmp/security.out")"
fi

# Each root fix_permissions may act under is writable for the service, or
# is /home (read-only on purpose: the unit says how to open it).
roots=$(sed -nE '/^\[action fix_permissions\]/,/^\[/ s/^param path = path \(([^)]*)\).*/\1/p' \
	"$top/examples/whitelist.conf" | tr '|' ' ')
check "fix_permissions roots found in the whitelist ($roots)" [ -n "$roots" ]
rw=$(sed -nE 's/^ReadWritePaths=//p' "$unit" | tr ' ' '\n' | sed 's/^-//')
for r in $roots; do
	if [ "$r" = /home ]; then
		check "/home: ProtectHome=read-only, documented" grep -q 'ReadWritePaths=/home in a drop-in' "$unit"
	else
		check "fix_permissions root $r is in ReadWritePaths=" grep -qx -- "$r" <<<"$rw"
	fi
done

# Uninstall: what install put goes, the edited file and the state stay.
mkdir -p "$d/var/lib/healer" && echo token >"$d/var/lib/healer/api.token"
check "make uninstall" minstall "$tmp/uninstall.log" uninstall DESTDIR="$d"
for f in "$bin" "$unit" "$man/man8/healer.8" "$man/man5/healer-whitelist.5" \
	"$man/man5/healer-whitelist.conf.5" "$etc/healer.conf" "$etc/rules.conf" \
	"$etc/whitelist.conf.dist" "$d/usr/local/share/healer"; do
	check "removed: ${f#"$d"}" [ ! -e "$f" ]
done
check "the edited whitelist.conf stays" cmp -s "$etc/whitelist.conf" "$tmp/edited"
check "uninstall says it kept it" grep -q 'kept .*whitelist.conf' "$tmp/uninstall.log"
check "the state stays" [ -e "$d/var/lib/healer/api.token" ]
check "uninstall of PREFIX=/usr" minstall "$tmp/uninstall4.log" uninstall PREFIX=/usr DESTDIR="$tmp/usr"
left=$(find "$tmp/usr" -type f)
check "PREFIX=/usr: nothing left (${left:-})" [ -z "$left" ]
finish
