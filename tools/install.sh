#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make install` and `make uninstall`:
#
#   tools/install.sh install BINARY
#   tools/install.sh uninstall
#
# with DESTDIR, PREFIX, BINDIR, MANDIR, UNITDIR and DATADIR from the Makefile.
# The configuration goes to /etc/healer whatever PREFIX says: that is where
# the binary looks for it.
#
# An administrator's files are never overwritten. A copy of each shipped
# config is kept in DATADIR (/usr/local/share/healer); a file in /etc/healer
# equal to the copy an earlier install left there was never edited and is
# replaced, an edited one stays and the new shipped file goes beside it as
# FILE.dist. Uninstall removes only what install put: an edited config, the
# API token and the database (/var/lib/healer) stay.
set -euo pipefail
cd "$(dirname "$0")/.."

configs=(healer.conf whitelist.conf rules.conf)
# healer-whitelist(5) and healer-rules(5) are aliases of the .conf pages.
aliases=(healer-whitelist.5:healer-whitelist.conf.5 healer-rules.5:healer-rules.conf.5)
pages=(man/healer.8 man/healer.conf.5 man/healer-whitelist.conf.5 man/healer-rules.conf.5)

die() {
	echo "install: $*" >&2
	exit 1
}

D=${DESTDIR:-}
prefix=${PREFIX:-/usr/local}
bindir=${BINDIR:-$prefix/bin}
mandir=${MANDIR:-$prefix/share/man}
unitdir=${UNITDIR:-$prefix/lib/systemd/system}
datadir=${DATADIR:-$prefix/share/healer}
etc=/etc/healer
# Absolute and plain: bindir goes into ExecStart= through sed, and none of
# these may point somewhere a stray blank or metacharacter would change.
for v in "$prefix" "$bindir" "$mandir" "$unitdir" "$datadir"; do
	[[ $v =~ ^/[A-Za-z0-9._+/-]*$ ]] || die "'$v': paths must be absolute, of [A-Za-z0-9._+/-]"
done
[ -z "$D" ] || [[ $D =~ ^/ ]] || die "DESTDIR '$D' must be an absolute path"

# Root-owned when installing as root; a packager without root gets their own.
own=()
[ "$(id -u)" -ne 0 ] || own=(-o root -g root)

tmp=
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT

put() { # MODE SRC DEST
	install "${own[@]}" -m "$1" "$2" "$3"
	echo "  $3"
}

do_install() {
	local bin=$1 f cur new prev page a
	[ -x "$bin" ] || die "$bin: no such binary (make all first)"
	install "${own[@]}" -d -m 0755 "$D$bindir" "$D$mandir/man5" "$D$mandir/man8" \
		"$D$unitdir" "$D$datadir" "$D$etc"
	echo "Installing into ${D:-/}:"
	put 0755 "$bin" "$D$bindir/healer"
	for page in "${pages[@]}"; do
		put 0644 "$page" "$D$mandir/man${page##*.}/${page##*/}"
	done
	tmp=$(mktemp)
	for a in "${aliases[@]}"; do
		echo ".so man5/${a#*:}" >"$tmp"
		put 0644 "$tmp" "$D$mandir/man5/${a%%:*}"
	done
	sed "s|@bindir@|$bindir|g" examples/healer.service >"$tmp"
	grep -q '@bindir@' "$tmp" && die "examples/healer.service: @bindir@ left after substitution"
	put 0644 "$tmp" "$D$unitdir/healer.service"

	for f in "${configs[@]}"; do
		new=examples/$f cur=$D$etc/$f prev=$D$datadir/$f
		if [ ! -e "$cur" ] && [ ! -L "$cur" ]; then
			put 0644 "$new" "$cur"
		elif [ ! -L "$cur" ] && cmp -s "$cur" "$new"; then
			echo "  $cur (unchanged)"
			rm -f "$cur.dist"
		elif [ ! -L "$cur" ] && [ -f "$prev" ] && cmp -s "$cur" "$prev"; then
			put 0644 "$new" "$cur"
			rm -f "$cur.dist"
		else
			install "${own[@]}" -m 0644 "$new" "$cur.dist"
			echo "  $cur.dist: $cur has local changes and was kept;" \
				"compare them: diff $etc/$f $etc/$f.dist"
		fi
		# Last: the next install compares the /etc file with this copy.
		install "${own[@]}" -m 0644 "$new" "$prev"
	done
	if [ -z "$D" ]; then
		echo "Next: systemctl daemon-reload && systemctl enable --now healer"
		echo "      (the API token appears in /var/lib/healer/api.token)"
	fi
}

do_uninstall() {
	local f cur ref page a
	echo "Removing from ${D:-/}:"
	for cur in "$D$bindir/healer" "$D$unitdir/healer.service"; do
		[ -e "$cur" ] && rm -f "$cur" && echo "  $cur"
	done
	for page in "${pages[@]}"; do
		cur=$D$mandir/man${page##*.}/${page##*/}
		[ -e "$cur" ] && rm -f "$cur" && echo "  $cur"
	done
	for a in "${aliases[@]}"; do
		cur=$D$mandir/man5/${a%%:*}
		[ -e "$cur" ] && rm -f "$cur" && echo "  $cur"
	done
	for f in "${configs[@]}"; do
		cur=$D$etc/$f ref=$D$datadir/$f
		[ -f "$ref" ] || ref=examples/$f
		if [ -f "$cur" ] && [ ! -L "$cur" ] && cmp -s "$cur" "$ref"; then
			rm -f "$cur" && echo "  $cur"
		elif [ -e "$cur" ] || [ -L "$cur" ]; then
			echo "  kept $cur: it has local changes"
		fi
		[ -e "$cur.dist" ] && rm -f "$cur.dist" && echo "  $cur.dist"
		rm -f "$D$datadir/$f"
	done
	rmdir "$D$datadir" 2>/dev/null || true
	# Only when empty: an edited config, the API key or whitelist.conf.bak stay.
	rmdir "$D$etc" 2>/dev/null && echo "  $D$etc/" || true
	echo "Kept: the database and API token in ${D}/var/lib/healer (remove it by hand)."
	if [ -z "$D" ]; then
		echo "If the service was enabled: systemctl disable --now healer; systemctl daemon-reload"
	fi
}

case ${1:-} in
install)
	[ $# -eq 2 ] || die "usage: $0 install BINARY"
	do_install "$2"
	;;
uninstall)
	[ $# -eq 1 ] || die "usage: $0 uninstall"
	do_uninstall
	;;
*) die "usage: $0 install BINARY | uninstall" ;;
esac
