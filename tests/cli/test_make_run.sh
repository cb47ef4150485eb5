#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run` as a new user meets it (tools/run.sh): it starts (with a
# private journald where none runs, as here), prints the dashboard, the
# token file and a curl line; that curl line injects an error the daemon
# handles; Ctrl-C stops everything it started and leaves nothing behind.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${HEALER_BIN:-$top/build/san/healer}
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() {
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: make run's private journald needs root"
	echo "0 passed, 0 failed"
	exit 0
fi
tmp=$(mktemp -d /tmp/healer-makerun-XXXXXX)
trap 'kill -9 -- -$rpid 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
had_journald=0
[ -S /run/systemd/journal/socket ] && had_journald=1

HEALER_RUN_STATE=$tmp/state HEALER_API_LISTEN=127.0.0.1:$port \
	setsid bash "$top/tools/run.sh" "$bin" >"$tmp/out" 2>&1 &
rpid=$!
for _ in $(seq 200); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.05
done
check "the API answers" curl -sf "http://127.0.0.1:$port/healthz" -o /dev/null
if [ "$had_journald" = 0 ]; then
	check "it says it started a private journald" grep -q "starting a private one" "$tmp/out"
fi
check "it prints the dashboard" grep -q "dashboard at http://127.0.0.1:$port/" "$tmp/out"
check "it prints the token file" grep -q "token is in $tmp/state/api.token" "$tmp/out"
# The printed curl line, as a user would paste it.
line=$(sed -n '/^  curl -H/,/inject-error/{p;/inject-error/q}' "$tmp/out" | tr -d '\\\n')
reply=$(bash -c "$line" 2>/dev/null)
check "the printed curl line injects ($reply)" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["status"]=="success" and d["attempt_id"] else 1)' "$reply"
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("attempt_id") or 0)' "$reply" 2>/dev/null)
tok=$(cat "$tmp/state/api.token" 2>/dev/null)
st=
for _ in $(seq 200); do
	st=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/api/auto-healer/attempts/$id" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["attempt"]["status"])' 2>/dev/null)
	case $st in healed | failed | rejected | skipped) break ;; esac
	sleep 0.05
done
check "the injected error was handled to the end ($st)" test -n "$st" -a "$st" != detected -a "$st" != analyzing
wsrc=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/api/whitelist" | python3 -c 'import json,sys; print(json.load(sys.stdin)["source"])' 2>/dev/null)
check "the shipped whitelist, as a file the editor can change ($wsrc)" test "$wsrc" = "$tmp/state/whitelist.conf"
cli=$(HEALER_HEALER_STATE_DIR=$tmp/state HEALER_API_LISTEN=127.0.0.1:$port "$bin" history --json 2>/dev/null |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["history"]))' 2>/dev/null)
check "the CLI line it prints reaches this run ($cli attempts)" test "${cli:-0}" -ge 1
# Ctrl-C: the terminal sends SIGINT to the whole process group.
kill -INT -- -"$rpid"
for _ in $(seq 200); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.05; done
check "Ctrl-C stops it" bash -c "! kill -0 $rpid 2>/dev/null"
gone() { ! pgrep -f "$tmp/state" >/dev/null && ! pgrep -f 'systemd-journald healer-run' >/dev/null; }
for _ in $(seq 100); do gone && break; sleep 0.05; done
check "no process of it is left" gone
check "its private journal is not on the host" test ! -e /run/systemd/journal.healer-run
check "the port is free again" bash -c "! curl -sf http://127.0.0.1:$port/healthz -o /dev/null"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
