#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: the daemon on embedded defaults (the shipped whitelist, copied
# into the state folder so that it can be edited, and the offline rules
# built in), with its state in a folder of this tree
# (build/demo/state) instead of /var/lib/healer, and its API on
# 127.0.0.1:8099 (HEALER_API_LISTEN overrides). It follows the system
# journal; where no journald runs (a container, a build machine), it starts
# a private one for this run, in a mount namespace of its own with /run on a
# tmpfs, so that nothing of it outlives Ctrl-C.
set -uo pipefail
bin=$1
cd "$(dirname "$0")/.."
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
state=${HEALER_RUN_STATE:-$PWD/build/demo/state} # tests give their own folder
listen=${HEALER_API_LISTEN:-127.0.0.1:8099}
ns=healer-run

if [ "${2:-}" != --inside ] && [ ! -S /run/systemd/journal/socket ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
		echo "healer: no journald runs here, and a private one needs root and unshare" >&2
		exit 1
	fi
	echo "healer: no journald runs on this machine: starting a private one (journal namespace '$ns') for this run" >&2
	exec unshare -m --propagation private bash "$0" "$bin" --inside
fi

source_args=()
if [ "${2:-}" = --inside ]; then
	mount -t tmpfs -o mode=0755 tmpfs /run || exit 1
	mkdir -p "/run/systemd/journald@$ns.conf.d"
	printf '[Journal]\nStorage=volatile\n' >"/run/systemd/journald@$ns.conf.d/run.conf"
	/lib/systemd/systemd-journald "$ns" >/dev/null 2>&1 &
	jpid=$!
	trap 'kill "$jpid" 2>/dev/null; wait "$jpid" 2>/dev/null' EXIT
	for _ in $(seq 200); do
		[ -S "/run/systemd/journal.$ns/socket" ] && break
		sleep 0.02
	done
	[ -S "/run/systemd/journal.$ns/socket" ] || { echo "healer: the private journald did not start" >&2; exit 1; }
	source_args=(HEALER_JOURNAL_SOURCE="namespace:$ns")
fi

mkdir -p "$state"
# The shipped whitelist, as a file of this run, so that the dashboard's editor
# and `healer whitelist put` have something to edit (the built-in copy is read-only).
wl=$state/whitelist.conf
[ -e "$wl" ] || install -m 0644 examples/whitelist.conf "$wl" || exit 1
run_env=("${source_args[@]}" HEALER_HEALER_STATE_DIR="$state" HEALER_API_LISTEN="$listen"
	HEALER_HEALER_WHITELIST="$wl")
env "${run_env[@]}" "$bin" run --check >/dev/null || exit 1
cat >&2 <<EOF
healer: state in $state; Ctrl-C stops everything this started
healer: dashboard at http://$listen/ ; the API token is in $state/api.token (made at first start)
healer: inject a test error and watch it handled (or on the dashboard):
  curl -H "Authorization: Bearer \$(cat $state/api.token)" -H 'Content-Type: application/json' \\
    -d '{"service":"demo","message":"Main process exited, code=killed, status=9/KILL"}' \\
    http://$listen/api/test/inject-error
  curl -H "Authorization: Bearer \$(cat $state/api.token)" http://$listen/api/auto-healer/history
healer: the CLI talks to this run with: HEALER_HEALER_STATE_DIR=$state HEALER_API_LISTEN=$listen $bin history
EOF
# Not exec: the trap above stops the private journald once the daemon is gone.
env "${run_env[@]}" "$bin" run &
hpid=$!
trap 'kill -TERM "$hpid" 2>/dev/null' INT TERM
wait "$hpid"
rc=$?
# A signal interrupts the wait while the daemon still drains: wait again.
while kill -0 "$hpid" 2>/dev/null; do
	wait "$hpid"
	rc=$?
done
exit "$rc"
