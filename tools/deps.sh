#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages that the build and the tests need, but only
# those that are missing: pkg-config modules are asked of pkg-config, tools of
# the PATH. Runs apt-get update once, and only when something is missing.
set -euo pipefail

need=()
have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1"; }

command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
have_pc libsystemd || need+=(libsystemd-dev)
have_pc libcurl || need+=(libcurl4-openssl-dev)
have_pc libcjson || need+=(libcjson-dev)
have_pc libpcre2-8 || need+=(libpcre2-dev)
have_pc libmicrohttpd || need+=(libmicrohttpd-dev)
have_pc sqlite3 || need+=(libsqlite3-dev)
have_pc libcmark || need+=(libcmark-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -x /lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
[ -x /lib/systemd/systemd-journald ] || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ "${1:-}" = "--lint" ]; then
	command -v clang-format >/dev/null 2>&1 || need+=(clang-format)
fi

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages: ${need[*]}" >&2
	echo "deps: run as root, or: apt-get install -y ${need[*]}" >&2
	exit 1
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
