#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The REST API against a running daemon on loopback (tier 1a: a private
# journald namespace; see tests/daemon/lib.sh): every endpoint, its auth,
# its errors and its limits, and hostile requests that must change nothing
# while the daemon keeps serving. The checks are in api_checks.py.
. "$(dirname "$0")/../daemon/lib.sh"
daemon_init hapi "$@"

cat >"$tmp/whitelist.conf" <<WL
[action fix_thing]
description = create the thing marker
match = fixthing
exec = /usr/bin/touch $tmp/thing
require = command /usr/bin/test ! -e $tmp/thing
verify = command /usr/bin/test -e $tmp/thing
timeout = 5s

[action note]
description = write a note
match = note
exec = /usr/bin/touch $tmp/note
timeout = 5s
WL
chmod 644 "$tmp/whitelist.conf"
cat >"$tmp/rules.conf" <<'RULES'
[rule thing]
message = thing broke
propose = fix_thing
RULES
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api_listen=127.0.0.1:$port
journal_extra="dedupe_window = 1s"
write_config "cooldown = 0" "max_attempts = 100" "max_heals_per_hour = 1000"
start_healer || exit 1
for _ in $(seq 100); do [ -s "$tmp/state/api.token" ] && break; sleep 0.05; done
check "token file made 0600" test "$(stat -c %a "$tmp/state/api.token")" = 600

python3 "$top/tests/api/api_checks.py" --url "http://127.0.0.1:$port" \
	--token-file "$tmp/state/api.token" --tmp "$tmp" --bin "$bin" --conf "$tmp/healer.conf" \
	--pid "$hpid" --namespace "$ns"
rc=$?
check "api checks pass (exit $rc)" test "$rc" -eq 0
check "daemon still running" kill -0 "$hpid"
stop_healer
check "SIGTERM exits 0" test $? -eq 0
daemon_finish
