#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon with a model behind a real loopback HTTP server
# (tests/llm/fake_llm.py, OpenAI wire format): the provider's plan heals and
# history says who answered; the same error later reuses the stored plan
# without calling the model; with a stalled model, analyses beyond
# max_concurrent_analyses queue, the queue is bounded (the oldest waiting
# attempt is dropped, with that reason), and SIGTERM interrupts the rest.
. "$(dirname "$0")/lib.sh"
daemon_init hdllm "$@"

python3 "$top/tests/llm/fake_llm.py" --port-file "$tmp/llm.port" --log "$tmp/llm.log" \
	>"$tmp/llm.out" 2>&1 &
llmpid=$!
for _ in $(seq 200); do [ -s "$tmp/llm.port" ] && break; sleep 0.02; done
port=$(cat "$tmp/llm.port")
cat >"$tmp/whitelist.conf" <<WL
[action fix_thing]
description = create the thing marker
match = fixthing
exec = /usr/bin/touch $tmp/thing
require = command /usr/bin/test ! -e $tmp/thing
verify = command /usr/bin/test -e $tmp/thing
timeout = 5s
WL
: >"$tmp/rules.conf"
journal_extra="dedupe_window = 1s"
llm_config() { # MODEL, then [healer] lines
	local model=$1
	shift
	write_config "cooldown = 0" "$@"
	sed -i "s#^provider = rules#provider = openai\nbase_url = http://127.0.0.1:$port/v1\nmodel = $model\ntimeout = 40s#" \
		"$tmp/healer.conf"
}
requests() { grep -c . "$tmp/llm.log" 2>/dev/null || echo 0; }

llm_config fixthing
start_healer || exit 1
jsend 3 "thing broke for the model"
check "the model's plan healed" hist_wait 15 'any(h["status"]=="healed" and h["provider"]=="openai" and h["actions"][0]["action"]=="fix_thing" for h in H)'
check "one request to the model ($(requests))" test "$(requests)" = 1
rm -f "$tmp/thing"
sleep 1.1
jsend 3 "thing broke for the model"
check "the stored plan healed again" hist_wait 15 'sum(h["status"]=="healed" for h in H)==2 and H[0]["provider"]=="knowledge"'
check "no second request to the model ($(requests))" test "$(requests)" = 1
stop_healer

llm_config stall "max_concurrent_analyses = 1" "max_queued = 2"
start_healer || exit 1
for w in ka kb kc kd ke; do jsend 3 "stalled $w broke"; done
check "the oldest waiting attempts gave way" hist_wait 15 'sum(h["status"]=="skipped" and "queue was full" in h["reason"] for h in H)==2'
check "one analysing, two queued" hist_wait 5 'sum(h["status"]=="analyzing" for h in H)==1 and sum(h["status"]=="detected" for h in H)==2'
stop_healer
check "SIGTERM interrupts the rest" hist_wait 5 'sum(h["status"]=="interrupted" and "stalled" in h["error"]["message"] for h in H)==3'
kill "$llmpid" 2>/dev/null
daemon_finish
