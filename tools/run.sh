#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: the daemon does not exist yet, so this shows what the built
# binary can do today against the shipped example whitelist.
set -euo pipefail
bin=$1
cd "$(dirname "$0")/.."
mkdir -p state
echo "healer: the daemon ('healer run') is not built yet; the whitelist tools are." >&2
echo "+ $bin whitelist check examples/whitelist.conf" >&2
"$bin" whitelist check examples/whitelist.conf
echo "+ $bin whitelist test -w examples/whitelist.conf --command 'systemctl restart nginx' --json" >&2
"$bin" whitelist test -w examples/whitelist.conf --command 'systemctl restart nginx' --json
echo "+ $bin whitelist test -w examples/whitelist.conf --command 'systemctl restart sshd' --json" >&2
"$bin" whitelist test -w examples/whitelist.conf --command 'systemctl restart sshd' --json || true
"$bin" run || true
