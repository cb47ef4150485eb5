#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages that the build and the tests need, but only
# those that are missing: pkg-config modules are asked of pkg-config, tools of
# the PATH. Runs apt-get update once, and only when something is missing.
set -euo pipefail

# --check [MODULE...]: only say what is missing (exit 1), install nothing;
# the build calls it with its pkg-config modules, so that a missing one
# names its Debian package. --lint, --test: also the tools of `make lint` /
# of `make test`. --bench: the load generator of `make bench`.
mode=${1:-}
[ $# -gt 0 ] && shift
need=()
have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1"; }

# pkg-config module -> the Debian package that ships it.
package_of() {
	case "$1" in
	libsystemd) echo libsystemd-dev ;;
	libcurl) echo libcurl4-openssl-dev ;;
	libcjson) echo libcjson-dev ;;
	libpcre2-8) echo libpcre2-dev ;;
	libmicrohttpd) echo libmicrohttpd-dev ;;
	sqlite3) echo libsqlite3-dev ;;
	libcmark) echo libcmark-dev ;;
	*) return 1 ;;
	esac
}

modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(libsystemd libcurl libcjson libpcre2-8 libmicrohttpd sqlite3 libcmark)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
for m in "${modules[@]}"; do
	have_pc "$m" && continue
	if ! pkg=$(package_of "$m"); then
		echo "deps: no Debian package known for pkg-config module '$m' (add it to tools/deps.sh)" >&2
		exit 1
	fi
	need+=("$pkg")
done
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -x /lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
[ -x /lib/systemd/systemd-journald ] || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ "$mode" = "--lint" ]; then
	command -v clang-format >/dev/null 2>&1 || need+=(clang-format)
fi
if [ "$mode" = "--test" ]; then
	# The libFuzzer targets are built by `make test` as well.
	command -v clang >/dev/null 2>&1 || need+=(clang)
	[ -n "$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer*.a' 2>/dev/null | head -n 1)" ] ||
		need+=(libclang-rt-dev)
	command -v curl >/dev/null 2>&1 || need+=(curl)
	# Tier 2 of the scenarios: a Debian root booted by systemd-nspawn.
	command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)
	command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
	# The dashboard's test drives a real headless browser.
	[ -x /usr/bin/chromium ] || need+=(chromium)
	[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
fi
if [ "$mode" = "--bench" ]; then
	command -v wrk >/dev/null 2>&1 || need+=(wrk)
	command -v curl >/dev/null 2>&1 || need+=(curl)
fi
# monit, the peer of `make bench-monit`. Installing Debian's package would
# enable and start monit.service with the host's /etc/monit/monitrc on a
# host that runs systemd; the bench runs its own Monit in a sandbox, so only
# the one binary is taken out of the package, into build/tools/, as promtool
# is below (the libraries it links to are installed when missing). One on
# the PATH serves as well.
monit=$(cd "$(dirname "$0")/.." && pwd)/build/tools/monit
fetch_monit=0
if [ "$mode" = "--bench" ] && ! command -v monit >/dev/null 2>&1 && [ ! -x "$monit" ]; then
	fetch_monit=1
fi
# promtool, the reference check of the /metrics text (test_metrics). Debian
# ships it only inside the server package, whose install weighs some 325 MB
# (mostly JavaScript for its web UI), adds a system user and enables
# prometheus.service (started at once on a host that runs systemd). So only
# the one binary (48 MB, linked to libc alone) is taken out of the package,
# into build/tools/, out of git; one on the PATH serves as well.
promtool=$(cd "$(dirname "$0")/.." && pwd)/build/tools/promtool
fetch_promtool=0
if [ "$mode" = "--test" ] && ! command -v promtool >/dev/null 2>&1 && [ ! -x "$promtool" ]; then
	fetch_promtool=1
fi

[ ${#need[@]} -eq 0 ] && [ $fetch_promtool -eq 0 ] && [ $fetch_monit -eq 0 ] && exit 0
if [ "$mode" = "--check" ]; then
	echo "build: missing pkg-config modules or tools; install the Debian packages: ${need[*]}" >&2
	echo "build: (as root, 'make deps' does it)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing Debian packages: ${need[*]}" >&2
		echo "deps: run as root, or: apt-get install -y ${need[*]}" >&2
		exit 1
	fi
	echo "deps: installing ${need[*]}" >&2
	apt-get update -qq </dev/null
	apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi

if [ $fetch_promtool -eq 1 ]; then
	echo "deps: taking promtool out of the Debian package prometheus into ${promtool%/*}" >&2
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	if [ "$(id -u)" -eq 0 ]; then
		[ ${#need[@]} -gt 0 ] || apt-get update -qq </dev/null
		# apt's download sandbox user must be able to write there.
		chown _apt "$work" 2>/dev/null || true
	fi
	(cd "$work" && apt-get download -qq prometheus </dev/null >/dev/null)
	mkdir -p "${promtool%/*}"
	dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$promtool.tmp"
	chmod 0755 "$promtool.tmp"
	"$promtool.tmp" --version >/dev/null
	mv "$promtool.tmp" "$promtool"
fi

if [ $fetch_monit -eq 1 ]; then
	echo "deps: taking monit out of the Debian package monit into ${monit%/*}" >&2
	mwork=$(mktemp -d)
	trap 'rm -rf "${work:-}" "$mwork"' EXIT
	if [ "$(id -u)" -eq 0 ]; then
		[ ${#need[@]} -gt 0 ] || [ $fetch_promtool -eq 1 ] || apt-get update -qq </dev/null
		chown _apt "$mwork" 2>/dev/null || true
	fi
	(cd "$mwork" && apt-get download -qq monit </dev/null >/dev/null)
	deb=$(echo "$mwork"/monit_*.deb)
	# Its shared libraries (libssl, libpam, zlib, libcrypt): the packages of
	# its Depends: line that are not installed yet.
	libs=()
	for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/:any//' | tr -d ' '); do
		[ -n "$dep" ] || continue
		dpkg-query -W -f '${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || libs+=("$dep")
	done
	if [ ${#libs[@]} -gt 0 ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "deps: monit needs: ${libs[*]}; run as root, or: apt-get install -y ${libs[*]}" >&2
			exit 1
		fi
		echo "deps: installing ${libs[*]}" >&2
		apt-get install -y -qq --no-install-recommends "${libs[@]}" </dev/null >/dev/null
	fi
	mkdir -p "${monit%/*}"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/monit >"$monit.tmp"
	chmod 0755 "$monit.tmp"
	"$monit.tmp" -V >/dev/null
	mv "$monit.tmp" "$monit"
fi
