# SPDX-License-Identifier: MIT
# Shared by the tests that run the daemon against a real service manager and
# journald (tier 1b of TESTING.md, sandbox.sh). Such a test script runs
# twice: outside (as root: a temp folder, units, configuration), then inside
# the sandbox, started by sb_run with --inside as its first argument.
#
#   outside: sb_outer NAME; write units and files below $tmp; sb_run [OPTS] -- [ARGS]
#   inside:  sb_inside; start_healer CONF LOG; hist_wait ...; stop_healer
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${HEALER_BIN:-$top/build/san/healer}
progs=${HEALER_PROGS_DIR:-$top/build/san/progs}
case $bin in /*) ;; *) bin=$top/$bin ;; esac
case $progs in /*) ;; *) progs=$top/$progs ;; esac
passed=0 failed=0
hpid= conf=

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# ---- outside ----

# sb_outer NAME: root, or SKIP and exit; $tmp made (0755: units running as
# nobody read below it) and removed at exit.
sb_outer() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: the sandbox needs root"
		echo "0 passed, 0 failed"
		exit 0
	fi
	tmp=$(mktemp -d "/tmp/healer-$1-XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	chmod 0755 "$tmp"
}

# sb_unit DIR NAME TEXT: one unit file.
sb_unit() {
	mkdir -p "$1"
	printf '%s\n' "$3" >"$1/$2"
}

# sb_whitelist OUT ROOTS: the shipped whitelist with fix_permissions' roots
# replaced by ROOTS (a pcre2 alternative of folders, e.g. "/tmp/x/srv").
sb_whitelist() {
	sed "s#^param path = path .*#param path = path ($2)/[A-Za-z0-9._+@/-]+#" \
		"$top/examples/whitelist.conf" >"$1"
	grep -qF "param path = path ($2)/" "$1" || {
		echo "FAIL: the shipped whitelist has no fix_permissions path to replace" >&2
		return 1
	}
}

# sb_run [--pid1] [sandbox.sh options] -- [ARGS]: this script again inside a
# sandbox (tier 1b, sandbox.sh), or with --pid1 inside a container whose
# PID 1 is systemd (tier 2, nspawn.sh: the tree and $tmp bound at their own
# paths), as `bash $0 --inside ARGS`, with $tmp as HEALER_SB_TMP; returns
# its status. A sandbox that did not start counts as one failure.
sb_run() {
	local runner=$top/tests/sandbox/sandbox.sh opts=() rc dir
	if [ "${1:-}" = --pid1 ]; then
		runner=$top/tests/sandbox/nspawn.sh
		for dir in "$top" "$tmp" "$(dirname "$bin")" "$progs"; do
			opts+=(--bind "$dir")
		done
		shift
	fi
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	HEALER_SB_TMP=$tmp HEALER_BIN=$bin HEALER_PROGS_DIR=$progs \
		"$runner" "${opts[@]}" -- bash "$(cd "$(dirname "$0")" && pwd)/${0##*/}" --inside "$@"
	rc=$?
	if [ $rc -eq 125 ]; then
		echo "FAIL: the sandbox did not start"
		echo "0 passed, 1 failed"
	fi
	return $rc
}

# ---- inside ----

sb_inside() {
	tmp=$HEALER_SB_TMP
}

# start_healer CONF LOG [ARGS]: the daemon in the background ($hpid); returns
# once its API answers (healer status exits 3 while no daemon answers).
start_healer() {
	local log=$2 rc
	conf=$1
	shift 2
	"$bin" run -c "$conf" "$@" >>"$log" 2>&1 &
	hpid=$!
	for _ in $(seq 250); do
		"$bin" status -c "$conf" >/dev/null 2>&1
		rc=$?
		[ $rc -ne 3 ] && return 0
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.02
	done
	echo "FAIL: healer did not start:" >&2
	tail -20 "$log" >&2
	return 1
}

stop_healer() { # SIGTERM, wait; returns the daemon's exit code
	local rc
	kill -TERM "$hpid" 2>/dev/null
	wait "$hpid"
	rc=$?
	hpid=
	return $rc
}

# hist_wait SECONDS PYTHON-EXPR: polls the daemon's history until the
# expression over H (its attempts, newest first) is true; the last history
# stays in $out. $hist_prelude (Python) may define helpers for it.
hist_prelude=
hist_wait() {
	local end=$(($(now_ms) + $1 * 1000))
	while :; do
		out=$("$bin" history -c "$conf" --json --limit 500 2>/dev/null)
		python3 -c "import json, sys
H = json.loads(sys.argv[1])['history']
$hist_prelude
sys.exit(0 if ($2) else 1)" "$out" 2>/dev/null && return 0
		[ "$(now_ms)" -lt "$end" ] || break
		sleep 0.05
	done
	echo "hist_wait: '$2' not true on: $(head -c 3000 <<<"$out")" >&2
	return 1
}
