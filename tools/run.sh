#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: the daemon ('healer run') is not built yet, so this shows the
# parts that are, on the embedded defaults (the shipped examples, offline
# rules), against the files of this tree only. It changes nothing on the host.
set -uo pipefail
bin=$1
cd "$(dirname "$0")/.."
demo=build/demo && mkdir -p "$demo"
say() { printf '\n+ %s\n' "$*" >&2; }

echo "healer: the daemon ('healer run') is not built yet; here are the parts that are." >&2
say "$bin whitelist check examples/whitelist.conf"
"$bin" whitelist check examples/whitelist.conf
say "$bin whitelist test --command 'systemctl restart nginx' --json"
"$bin" whitelist test -w examples/whitelist.conf --command 'systemctl restart nginx' --json
say "$bin whitelist test --command 'systemctl restart sshd; reboot' --json"
"$bin" whitelist test -w examples/whitelist.conf --command 'systemctl restart sshd; reboot' --json
say "$bin analyze --unit nginx.service --message 'bind() to 0.0.0.0:80 failed (98: Address already in use)'"
"$bin" analyze --unit nginx.service \
	--message 'bind() to 0.0.0.0:80 failed (98: Address already in use)'
if [ -x /lib/systemd/systemd-journal-remote ]; then
	rm -rf "$demo"/journal && mkdir -p "$demo"/journal
	/lib/systemd/systemd-journal-remote -o "$demo"/journal/x.journal \
		tests/data/journal/basic.export 2>/dev/null
	say "$bin journal scan --directory $demo/journal --all"
	"$bin" journal scan --directory "$demo"/journal --all
fi
say "$bin run"
"$bin" run
exit 0
