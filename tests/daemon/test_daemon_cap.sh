#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lines from sources outside act_on can never be acted on, and any local
# user can write them: a stream of distinct ones is recorded only up to the
# hourly cap per source, the rest counted, so it cannot fill the disk.
. "$(dirname "$0")/lib.sh"
daemon_init hdcap "$@"

printf '[action noop]\ndescription = harmless\nmatch = noop\nexec = /bin/true\ntimeout = 5s\n' \
	>"$tmp/whitelist.conf"
printf '[rule r]\nmessage = fault\npropose = noop\n' >"$tmp/rules.conf"
write_config
sed -i "s/^act_on = all$/act_on = services/" "$tmp/healer.conf"
start_healer || exit 1
# The test's own lines carry no service unit: they are outside act_on.
python3 - "/run/systemd/journal.$ns/socket" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
for i in range(1100):
    # Distinct words (not numbers, which the fingerprint folds): one incident each.
    w = "".join(chr(97 + (i >> (4 * k)) % 16) for k in range(3))
    s.sendto(("PRIORITY=3\nSYSLOG_IDENTIFIER=spam\nMESSAGE=flood %s line\n" % w).encode(), sys.argv[1])
PY
check "the first 1000 recorded" wait_for 30 "SELECT count(*) FROM incidents WHERE message LIKE 'flood %'" 1000
sleep 1
check "no more than the cap" test "$(q "SELECT count(*) FROM incidents WHERE message LIKE 'flood %'")" = 1000
check "all of them skipped" test "$(q "SELECT count(*) FROM attempts a JOIN incidents i ON a.incident_id = i.id WHERE i.message LIKE 'flood %' AND a.state != 'skipped'")" = 0
tok=$(cat "$tmp/state/api.token")
st=$(curl -s --unix-socket "$tmp/api.sock" -H "Authorization: Bearer $tok" http://localhost/api/auto-healer/status)
check "the rest counted in status" python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["auto_healer"]["unacted_not_stored"] == 100 else 1)' "$st"
stop_healer
daemon_finish
