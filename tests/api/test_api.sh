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
memory_max = 64M

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

tok=$(cat "$tmp/state/api.token")
api() { # METHOD PATH [curl args...]: over TCP with the token; prints the body
	local m=$1 p=$2
	shift 2
	curl -s -X "$m" -H "Authorization: Bearer $tok" "$@" "http://127.0.0.1:$port$p"
}
jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# The switch survives a restart.
api POST /api/auto-healer/disable >/dev/null
stop_healer
check "SIGTERM exits 0" test $? -eq 0
start_healer || exit 1
for _ in $(seq 100); do api GET /healthz >/dev/null && break; sleep 0.05; done
check "disabled across a restart" test "$(api GET /api/auto-healer/status | jq_ 'd["auto_healer"]["enabled"]')" = False
api POST /api/auto-healer/enable >/dev/null
stop_healer

# Approval through the API, public reads, a UNIX socket.
api_listen=unix:$tmp/api.sock
extra_sections="public_reads = yes"
write_config "cooldown = 0" "max_attempts = 100" "auto_execute = no"
start_healer || exit 1
for _ in $(seq 100); do [ -S "$tmp/api.sock" ] && break; sleep 0.05; done
ucurl() { curl -s --unix-socket "$tmp/api.sock" "$@"; }
check "UNIX socket made 0600" test "$(stat -c %a "$tmp/api.sock")" = 600
check "public read without a token" test "$(ucurl http://localhost/api/auto-healer/status | jq_ 'd["status"]')" = success
check "write without a token still 401" test "$(ucurl -o /dev/null -w '%{http_code}' -X POST http://localhost/api/auto-healer/disable)" = 401
# wait_status ID STATE: polls the attempt until it is in STATE (10 s); prints the last state.
wait_status() {
	local st
	for _ in $(seq 200); do
		st=$(ucurl "http://localhost/api/auto-healer/attempts/$1" | jq_ 'd["attempt"]["status"]')
		[ "$st" = "$2" ] && break
		sleep 0.05
	done
	echo "$st"
}
uapi() { ucurl -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' "$@"; }
rm -f "$tmp/thing"
id=$(uapi -d '{"message":"thing broke, approve me","service":"demo"}' http://localhost/api/test/inject-error | jq_ 'd["attempt_id"]')
st=$(wait_status "$id" awaiting_approval)
check "attempt waits for approval ($st)" test "$st" = awaiting_approval
check "nothing ran before approval" test ! -e "$tmp/thing"
check "the waiting attempt shows its plan" test "$(ucurl "http://localhost/api/auto-healer/attempts/$id" | jq_ 'd["attempt"]["plan"][0]["action"]')" = fix_thing
check "approve answers" test "$(uapi -X POST "http://localhost/api/auto-healer/attempts/$id/approve" | jq_ 'd["decision"]')" = approved
st=$(wait_status "$id" healed)
check "approved attempt healed ($st)" test "$st" = healed
check "approve twice: 409" test "$(uapi -o /dev/null -w '%{http_code}' -X POST "http://localhost/api/auto-healer/attempts/$id/approve")" = 409
rm -f "$tmp/thing"
id2=$(uapi -d '{"message":"thing broke, reject me","service":"demo2"}' http://localhost/api/test/inject-error | jq_ 'd["attempt_id"]')
st=$(wait_status "$id2" awaiting_approval)
uapi -X POST "http://localhost/api/auto-healer/attempts/$id2/reject" >/dev/null
st=$(wait_status "$id2" rejected)
check "rejected attempt ends rejected ($st)" test "$st" = rejected
check "nothing ran for it" test ! -e "$tmp/thing"
check "decisions audited" test "$(q "SELECT count(*) FROM audit WHERE actor = 'api' AND what IN ('approve', 'reject')")" -ge 2
stop_healer
check "socket removed at stop" test ! -e "$tmp/api.sock"

# A token file others may read, or one too short, stops the start with a reason.
chmod 644 "$tmp/state/api.token"
"$bin" run -c "$tmp/healer.conf" --no-bus >"$tmp/refused.log" 2>&1
rc=$?
check "world-readable token refused (exit $rc)" test "$rc" -ne 0
check "it says chmod 600" grep -q "chmod 600" "$tmp/refused.log"
printf 'abc123\n' >"$tmp/state/api.token"
chmod 600 "$tmp/state/api.token"
"$bin" run -c "$tmp/healer.conf" --no-bus >"$tmp/refused.log" 2>&1
rc=$?
check "short token refused (exit $rc)" test "$rc" -ne 0
check "it says 128 bits" grep -q "128 bits" "$tmp/refused.log"
daemon_finish
