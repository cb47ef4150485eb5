#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CLI contract of `healer analyze`: the offline rules by default, a real
# provider through tests/llm/fake_llm.py on 127.0.0.1, config and key-file
# refusals, and the JSON shape of `whitelist test --json` plus the analysis.
. "$(dirname "$0")/lib.sh"
cli_init acli
server=
cli_on_exit='[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null'
bind='bind() to 0.0.0.0:80 failed (98: Address already in use)'
wl="$top/examples/whitelist.conf"
rules="$top/examples/rules.conf"
# No config at all: embedded defaults, the offline rules answer.
printf '[llm]\nrules = %s\n' "$rules" >"$tmp/rules-only.conf"
expect_rc 0 env -u GEMINI_API_KEY "$bin" analyze -c "$tmp/rules-only.conf" -w "$wl" --unit nginx.service --message "$bind" --json
json_check 'j["provider"] == "rules" and j["model"] is None and j["verdict"] == "accept" and j["fallback"] is False and j["error"] is None'
json_check 'j["commands"][0]["argv"] == ["/usr/bin/systemctl", "--no-pager", "--no-ask-password", "restart", "--", "nginx.service"]'
json_check 'isinstance(j["rule"], str) and isinstance(j["diagnosis"], str) and j["calls"] == []'

# The unit comes from the evidence: a rule cannot restart another one.
expect_rc 1 "$bin" analyze -c "$tmp/rules-only.conf" -w "$wl" --unit sshd.service --message "sshd.service: Main process exited, code=exited, status=255/EXCEPTION" --json
json_check 'j["verdict"] == "reject" and j["commands"] == []'

# A unit without a suffix is a .service, as systemctl reads it.
expect_rc 0 "$bin" analyze -c "$tmp/rules-only.conf" -w "$wl" --unit nginx --message "$bind" --json
json_check 'j["verdict"] == "accept" and j["commands"][0]["args"]["unit"] == "nginx.service"'

# Nothing matches: no plan, a reason.
expect_rc 1 "$bin" analyze -c "$tmp/rules-only.conf" -w "$wl" --unit app.service --message "all is well" --json
json_check 'j["verdict"] == "reject" and "no offline rule" in j["error"]'

# A provider without a key: the rules answer, and say why.
printf '[llm]\nprovider = gemini\nrules = %s\n' "$rules" >"$tmp/gemini-nokey.conf"
expect_rc 0 env -u GEMINI_API_KEY -u HEALER_LLM_API_KEY "$bin" analyze -c "$tmp/gemini-nokey.conf" -w "$wl" --unit nginx.service --message "$bind" --json
json_check 'j["provider"] == "rules" and j["fallback"] is True and "no API key for gemini" in j["error"]'
expect_rc 1 env -u GEMINI_API_KEY -u HEALER_LLM_API_KEY "$bin" analyze -c "$tmp/gemini-nokey.conf" -w "$wl" --unit app.service --message "all is well" --json
json_check 'j["fallback"] is True and "no API key for gemini" in j["error"] and "no offline rule" in j["error"]'

# A real HTTP exchange with the fake Gemini server.
python3 "$top/tests/llm/fake_llm.py" --port-file "$tmp/port" --log "$tmp/log" --key k-123 &
server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
printf '[llm]\nprovider = gemini\nmodel = good\nbase_url = http://127.0.0.1:%s\nrules = %s\ntimeout = 5s\n' "$port" "$rules" >"$tmp/gemini.conf"
expect_rc 0 env GEMINI_API_KEY=k-123 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind password=hunter2" --json
json_check 'j["provider"] == "gemini" and j["model"] == "good" and j["verdict"] == "accept" and j["fallback"] is False'
json_check 'j["calls"][0]["http_status"] == 200 and j["calls"][0]["tokens_total"] > 0 and j["redactions"] == 1'
grep -q hunter2 "$tmp/log" && bad "a secret reached the server" || ok
grep -q '"problems": \[\]' "$tmp/log" && ok || bad "server found problems: $(tail -c 600 "$tmp/log")"

# The key from a file: 0600 is taken, 0644 refused.
printf 'k-123\n' >"$tmp/key"
chmod 0600 "$tmp/key"
printf 'api_key_file = %s\n' "$tmp/key" >>"$tmp/gemini.conf"
expect_rc 0 env -u GEMINI_API_KEY "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind" --json
json_check 'j["provider"] == "gemini" and j["verdict"] == "accept"'
chmod 0644 "$tmp/key"
expect_rc 2 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind"
grep -q "mode 0600 or stricter; refusing it" "$tmp/err" && ok || bad "key file message: $(cat "$tmp/err")"

# A provider that fails: the rules answer.
sed -i 's/^model = good/model = e401/' "$tmp/gemini.conf"
chmod 0600 "$tmp/key"
expect_rc 0 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind" --json
json_check 'j["provider"] == "gemini" and j["fallback"] is True and "HTTP 401" in j["error"] and j["verdict"] == "accept"'

# Context lines go to the model.
printf 'starting nginx\nlistening on :80\n' >"$tmp/ctx"
sed -i 's/^model = e401/model = echo/' "$tmp/gemini.conf"
expect_rc 0 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind" --context-file "$tmp/ctx" --json
json_check '"listening on :80" in j["diagnosis"] and j["commands"] == []'
# More lines than are sent: the last ones, nearest the error, and a note.
seq -f 'ctx line %g' 250 >"$tmp/ctx250"
expect_rc 0 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind" --context-file "$tmp/ctx250" --json
json_check '"ctx line 250" in j["diagnosis"] and "ctx line 51\"" in j["diagnosis"] and "ctx line 50\"" not in j["diagnosis"]'
grep -q "ctx250: the first 50 lines left out; the last 200 are sent" "$tmp/err" && ok || bad "context note: $(cat "$tmp/err")"

# Bytes that are not text, from the command line: the request is still valid
# JSON and the server reads plain text (invalid bytes and bidi as '?').
expect_rc 0 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$(printf 'bind \xff\xfe failed \xe2\x80\xaenigol')" --json
json_check '"bind ?? failed ?nigol" in j["diagnosis"]'
python3 -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if L[-1]["body"] is not None and L[-1]["problems"] == [] else 1)' "$tmp/log" && ok || bad "request was not clean JSON: $(tail -c 400 "$tmp/log")"

# A configuration fault: the rules answer, the JSON names the fault, and
# standard error says what to fix.
sed -i 's/^model = echo/model = badkey/' "$tmp/gemini.conf"
expect_rc 0 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind" --json
json_check 'j["fault"] == "key" and j["fallback"] is True and "configuration fault" in j["error"] and j["calls"][0]["outcome"] == "config"'
grep -q "configuration fault (key): the provider refuses the API key" "$tmp/err" && ok || bad "fault advice: $(cat "$tmp/err")"
sed -i 's/^model = badkey/model = echo/' "$tmp/gemini.conf"

# A local server asked for a grammar-enforced schema.
printf '[llm]\nprovider = openai\nmodel = local-good\nbase_url = http://127.0.0.1:%s/v1\nrules = %s\nresponse_format = json_schema\n' "$port" "$rules" >"$tmp/local.conf"
expect_rc 0 "$bin" analyze -c "$tmp/local.conf" -w "$wl" --unit nginx.service --message "$bind" --json
json_check 'j["provider"] == "openai" and j["verdict"] == "accept" and j["fault"] is None'
python3 -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if L[-1]["body"]["response_format"]["type"] == "json_schema" and L[-1]["problems"] == [] else 1)' "$tmp/log" && ok || bad "local json_schema: $(tail -c 400 "$tmp/log")"

# Without --json: a report for people.
sed -i 's/^model = echo/model = good/' "$tmp/gemini.conf"
expect_rc 0 "$bin" analyze -c "$tmp/gemini.conf" -w "$wl" --unit nginx.service --message "$bind"
grep -q '^provider: gemini (good)$' <<<"$out" && ok || bad "text output: $out"
grep -q '^call 1: HTTP 200, ok, ' <<<"$out" && ok || bad "text output: $out"
grep -q '^verdict: accept$' <<<"$out" && ok || bad "text output: $out"
grep -q '^run: restart_service: /usr/bin/systemctl --no-pager --no-ask-password restart -- nginx.service$' <<<"$out" && ok || bad "text output: $out"
expect_rc 1 "$bin" analyze -c "$tmp/rules-only.conf" -w "$wl" --unit app.service --message "all is well"
grep -q '^verdict: reject$' <<<"$out" && grep -q '^reason: no offline rule matches' <<<"$out" && ok || bad "text output: $out"

# Config refusals.
printf '[llm]\nprovider = openai\n' >"$tmp/openai.conf"
expect_rc 2 "$bin" analyze -c "$tmp/openai.conf" --unit a.service --message x
grep -q "base_url is required for provider openai" "$tmp/err" && ok || bad "openai message: $(cat "$tmp/err")"
printf '[llm]\napi_key = sk-123\ntimeout = 0s\n' >"$tmp/bad.conf"
expect_rc 2 "$bin" analyze -c "$tmp/bad.conf" --unit a.service --message x
grep -q "bad.conf:2: API keys do not belong in the config file" "$tmp/err" && ok || bad "api_key message: $(cat "$tmp/err")"
grep -q "bad.conf:3: timeout: must be a time span from 1s to 10min" "$tmp/err" && ok || bad "timeout message: $(cat "$tmp/err")"
printf '[llm]\nprovider = gemini\nbase_url = http://10.0.0.1\n' >"$tmp/http.conf"
expect_rc 2 "$bin" analyze -c "$tmp/http.conf" --unit a.service --message x
grep -q "must be https://" "$tmp/err" && ok || bad "http message: $(cat "$tmp/err")"
expect_rc 2 "$bin" analyze -c "$tmp/missing.conf" --unit a.service --message x
expect_rc 2 "$bin" analyze --unit a.service
expect_rc 2 "$bin" analyze --message x

cli_finish
