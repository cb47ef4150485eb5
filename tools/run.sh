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
HEALER_HEALER_STATE_DIR=$state exec "$bin" run
