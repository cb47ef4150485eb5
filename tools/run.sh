#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: the daemon on embedded defaults (the shipped whitelist and
# offline rules built in, the system journal), with its state in a folder
# of this tree (build/demo/state) instead of /var/lib/healer. Ctrl-C stops it.
set -uo pipefail
bin=$1
cd "$(dirname "$0")/.."
state=$PWD/build/demo/state
mkdir -p "$state"
echo "healer: state in $state; Ctrl-C stops it" >&2
if [ ! -S /run/systemd/journal/socket ]; then
	echo "healer: no journald runs on this machine: the daemon waits for a journal to appear" >&2
fi
"$bin" run --check >/dev/null || exit 1
listen=${HEALER_API_LISTEN:-127.0.0.1:8099}
cat >&2 <<EOF
healer: dashboard at http://$listen/ ; the API token is in $state/api.token
healer: inject a test error and watch it handled (history: http://$listen/api/auto-healer/history):
  curl -H "Authorization: Bearer \$(cat $state/api.token)" -H 'Content-Type: application/json' \\
    -d '{"service":"demo","message":"demo failed: test error"}' http://$listen/api/test/inject-error
EOF
HEALER_HEALER_STATE_DIR=$state exec "$bin" run
