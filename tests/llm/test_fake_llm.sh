#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Self-test of tests/llm/fake_llm.py with curl: request checks, scenarios,
# the attempt counters, a stall that must not block other requests, the log.
# Closes with "N passed, N failed"; exit 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0 failed=0
# The interpreter itself: a version manager's shim costs half a second a call.
py=$(python3 -c 'import sys; print(sys.executable)')
tmp=$(mktemp -d /tmp/healer-fakellm-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}
# pyjson FILE EXPR: EXPR (Python, over j = the file's JSON) must be true.
pyjson() {
	"$py" -c 'import json,sys; j=json.load(open(sys.argv[1],"rb")); sys.exit(0 if ('"$2"') else 1)' "$1" 2>/dev/null
}
# lastlog EXPR: EXPR over e = the latest log entry.
lastlog() {
	"$py" -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if ('"$1"') else 1)' "$tmp/log" 2>/dev/null ||
		{ echo "  last log entry: $(tail -n 1 "$tmp/log")" >&2; return 1; }
}

# byprompt's answers: the first regex found in the user prompt, groups filled in.
cat >"$tmp/plans.json" <<'JSON'
[{"match": "(?P<u>\\S+\\.service) failed: bind\\(\\) to (?P<a>\\S+) failed",
  "reply": "{\"diagnosis\": \"\\g<a> is taken\", \"commands\": [{\"action\": \"restart_service\", \"args\": {\"unit\": \"\\g<u>\"}}]}"}]
JSON
"$py" tests/llm/fake_llm.py --port-file "$tmp/port" --log "$tmp/log" --key K --plans "$tmp/plans.json" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port" 2>/dev/null)
if ! [[ "$port" =~ ^[0-9]+$ ]]; then
	echo "FAIL: no port file" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
ok
check "no .tmp left behind" test ! -e "$tmp/port.tmp"
base=http://127.0.0.1:$port

# Request bodies of the documented shapes.
gemini_body() { # user text
	"$py" - "$1" <<'EOF'
import json, sys
schema = {"type": "OBJECT", "properties": {
    "diagnosis": {"type": "STRING"},
    "commands": {"type": "ARRAY", "items": {"type": "OBJECT", "properties": {
        "action": {"type": "STRING"},
        "args": {"type": "OBJECT", "properties": {"unit": {"type": "STRING"}}}},
        "required": ["action"]}}},
    "required": ["diagnosis", "commands"], "propertyOrdering": ["diagnosis", "commands"]}
print(json.dumps({"contents": [{"role": "user", "parts": [{"text": sys.argv[1]}]}],
                  "systemInstruction": {"parts": [{"text": "You are Healer."}]},
                  "generationConfig": {"temperature": 0, "maxOutputTokens": 1024,
                                       "responseMimeType": "application/json",
                                       "responseSchema": schema}}))
EOF
}
openai_body() { # model, format (schema|object|none)
	"$py" - "$1" "$2" <<'EOF'
import json, sys
schema = {"type": "object", "properties": {
    "diagnosis": {"type": "string"},
    "commands": {"type": "array", "items": {"type": "object", "properties": {
        "action": {"type": "string"}}, "required": ["action"], "additionalProperties": False}}},
    "required": ["diagnosis", "commands"], "additionalProperties": False}
b = {"model": sys.argv[1], "messages": [{"role": "system", "content": "You are Healer."},
                                        {"role": "user", "content": "nginx failed"}],
     "max_tokens": 1024, "temperature": 0}
if sys.argv[2] == "schema":
    b["response_format"] = {"type": "json_schema", "json_schema": {
        "name": "healer_plan", "strict": True, "schema": schema}}
    b["provider"] = {"require_parameters": True}
elif sys.argv[2] == "object":
    b["response_format"] = {"type": "json_object"}
print(json.dumps(b))
EOF
}
gemini_body "nginx.service failed: bind() to 0.0.0.0:80 failed" >"$tmp/g.json"
openai_body google/good schema >"$tmp/o.json"

# gemini SCENARIO [curl args...]: status in $code, body in $tmp/out, headers in $tmp/hdr;
# the body is $gbody (default $tmp/g.json), the key $gkey (default K; empty: none).
gemini() {
	local s=$1 keyh=()
	shift
	[ -n "${gkey-K}" ] && keyh=(-H "x-goog-api-key: ${gkey-K}")
	code=$(curl -s -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' "${keyh[@]}" \
		-H 'Content-Type: application/json' --data-binary @"${gbody:-$tmp/g.json}" "$@" \
		"$base/v1beta/models/$s:generateContent")
}
# jmod IN OUT STATEMENTS: OUT is IN's JSON (as b) after the Python STATEMENTS.
jmod() {
	"$py" -c 'import json, sys; b = json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(b, open(sys.argv[2], "w"))' "$1" "$2" "$3"
}
# openai PATH BODYFILE [curl args...]
openai() {
	local path=$1 bodyfile=$2
	shift 2
	code=$(curl -s -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @"$bodyfile" "$@" "$base$path")
}
plan='{"diagnosis": "nginx lost its port", "commands": [{"action": "restart_service", "args": {"unit": "nginx.service"}}]}'
export PLAN=$plan

# Good requests: right shape, no problems, real reply format.
gemini good
check "gemini good: 200 (got $code)" test "$code" = 200
check "gemini good: reply format" pyjson "$tmp/out" 'j["candidates"][0]["content"]["parts"][0]["text"] == __import__("os").environ["PLAN"] and j["candidates"][0]["finishReason"] == "STOP" and set(j["usageMetadata"]) == {"promptTokenCount", "candidatesTokenCount", "totalTokenCount"} and j["modelVersion"] == "good" and j["responseId"]'
check "gemini good: no problems, logged" lastlog 'e["problems"] == [] and e["scenario"] == "good" and e["attempt"] == 1 and e["method"] == "POST" and e["headers"]["x-goog-api-key"] == "K" and e["body"]["contents"][0]["role"] == "user" and e["raw_body_len"] > 100'
check "gemini good: Content-Length, not chunked" grep -qi '^content-length: ' "$tmp/hdr"

openai /api/v1/chat/completions "$tmp/o.json" -H 'Authorization: Bearer K' -H 'HTTP-Referer: https://example.org' -H 'X-Title: Healer'
check "openrouter good: 200 (got $code)" test "$code" = 200
check "openrouter good: reply format" pyjson "$tmp/out" 'j["choices"][0]["message"] == {"role": "assistant", "content": __import__("os").environ["PLAN"]} and j["choices"][0]["finish_reason"] == "stop" and j["model"] == "google/good" and j["id"] and set(j["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}'
check "openrouter good: no problems" lastlog 'e["problems"] == [] and e["scenario"] == "good" and e["path"] == "/api/v1/chat/completions" and e["headers"]["x-title"] == "Healer"'

openai_body local-good object >"$tmp/l.json"
openai /v1/chat/completions "$tmp/l.json"
check "local-good without Authorization: 200, no problems" lastlog 'e["problems"] == [] and e["scenario"] == "local-good"'
openai_body local-good none >"$tmp/l2.json"
openai /chat/completions "$tmp/l2.json"
check "local-good without response_format: no problems" lastlog 'e["problems"] == []'

# Deviations are recorded.
code=$(curl -s -o "$tmp/out" -w '%{http_code}' -H 'x-goog-api-key: K' -H 'Content-Type: application/json' \
	--data-binary @"$tmp/g.json" "$base/v1beta/models/good:generateContent?key=K")
check "?key= is a problem" lastlog 'any("key=" in p for p in e["problems"]) and e["path"].endswith("?key=K")'
gkey=wrong gemini good
check "wrong Gemini key is a problem" lastlog 'any("expected key" in p for p in e["problems"])'
check "wrong Gemini key: 400 INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 400 and j["error"]["status"] == "INVALID_ARGUMENT" and "API key not valid" in j["error"]["message"] and any(d["@type"].endswith("google.rpc.ErrorInfo") and d["reason"] == "API_KEY_INVALID" for d in j["error"]["details"])'
gkey= gemini good
check "no Gemini key: 403 PERMISSION_DENIED (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 403 and j["error"]["status"] == "PERMISSION_DENIED"'
openai /chat/completions "$tmp/o.json"
check "missing Authorization is a problem" lastlog 'any("authorization" in p for p in e["problems"])'
check "missing Authorization: 401 (got $code)" pyjson "$tmp/out" 'j["error"] == {"code": 401, "message": "No auth credentials found"}'
openai /chat/completions "$tmp/o.json" -H 'Authorization: Bearer wrong'
check "wrong OpenRouter key: 401 (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 401'
"$py" -c '
import json, sys
b = json.load(open(sys.argv[1]))
del b["systemInstruction"]
b["generationConfig"]["responseSchema"]["type"] = "object"
b["generationConfig"]["responseSchema"]["additionalProperties"] = False
b["generationConfig"]["maxOutputTokens"] = "1024"
b["tools"] = []
print(json.dumps(b))' "$tmp/g.json" >"$tmp/bad.json"
curl -s -o /dev/null -H 'x-goog-api-key: K' -H 'Content-Type: text/plain' --data-binary @"$tmp/bad.json" \
	"$base/v1beta/models/good:generateContent"
check "bad Gemini shape: every deviation recorded" lastlog 'len(e["problems"]) >= 6 and all(any(w in p for p in e["problems"]) for w in ("systemInstruction", "upper-case", "additionalProperties", "maxOutputTokens", "tools", "content-type"))'
"$py" -c '
import json, sys
b = json.load(open(sys.argv[1]))
b["messages"] = [{"role": "user", "content": "x"}]
b["response_format"]["json_schema"]["schema"]["type"] = "OBJECT"
b["response_format"]["json_schema"]["strict"] = False
print(json.dumps(b))' "$tmp/o.json" >"$tmp/bad.json"
openai /v1/chat/completions "$tmp/bad.json" -H 'Authorization: Bearer K'
check "bad OpenAI shape: problems recorded" lastlog 'any("system" in p for p in e["problems"]) and any("strict" in p for p in e["problems"])'
curl -s -o /dev/null -H 'x-goog-api-key: K' -H 'Content-Type: application/json' --data-binary 'not json{' \
	"$base/v1beta/models/good:generateContent"
check "unparsable body: body null, problem" lastlog 'e["body"] is None and any("not valid" in p for p in e["problems"])'

# What the real services refuse.
gemini badkey
check "badkey: 400 API_KEY_INVALID with the right key too (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 400 and j["error"]["details"][0]["reason"] == "API_KEY_INVALID"'
gemini ebilling
check "ebilling: Gemini's 400 FAILED_PRECONDITION (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 400 and j["error"]["status"] == "FAILED_PRECONDITION"'
openai_body or/ebilling schema >"$tmp/b.json"
openai /api/v1/chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "ebilling: OpenRouter's 402 (got $code)" test "$code" = 402

# Strict mode at every level, refused the way OpenRouter passes OpenAI's 400 on.
items='b["response_format"]["json_schema"]["schema"]["properties"]["commands"]["items"]'
jmod "$tmp/o.json" "$tmp/s1.json" "$items"'["properties"]["args"] = {"type": "object", "properties": {"unit": {"type": ["string", "null"]}}, "required": ["unit"], "additionalProperties": False}'
openai /api/v1/chat/completions "$tmp/s1.json" -H 'Authorization: Bearer K'
check "strict: args missing from the command's required: 400 (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 400 and j["error"]["message"] == "Provider returned error" and "Missing \x27args\x27" in j["error"]["metadata"]["raw"] and "\x27items\x27" in j["error"]["metadata"]["raw"] and j["error"]["metadata"]["provider_name"] == "OpenAI"'
check "strict: the refusal is a logged problem too" lastlog 'any("strict mode" in p and "args" in p for p in e["problems"])'
jmod "$tmp/s1.json" "$tmp/s2.json" "$items"'["required"] = ["action", "args"]; del '"$items"'["properties"]["args"]["additionalProperties"]'
openai /api/v1/chat/completions "$tmp/s2.json" -H 'Authorization: Bearer K'
check "strict: a nested object without additionalProperties false: 400 (got $code)" pyjson "$tmp/out" '"additionalProperties" in j["error"]["metadata"]["raw"] and "\x27args\x27" in j["error"]["metadata"]["raw"]'
jmod "$tmp/s2.json" "$tmp/s3.json" "$items"'["properties"]["args"]["additionalProperties"] = False'
openai /api/v1/chat/completions "$tmp/s3.json" -H 'Authorization: Bearer K'
check "strict: every level strict, optional values nullable: 200 (got $code)" bash -c '[ '"$code"' = 200 ]'
check "strict: no problems" lastlog 'e["problems"] == []'
jmod "$tmp/s1.json" "$tmp/s4.json" 'b["model"] = "local-good"; b["response_format"]["json_schema"]["strict"] = False; del b["provider"]'
openai /v1/chat/completions "$tmp/s4.json"
check "not strict: no strict-mode refusal (got $code)" test "$code" = 200

# Thinking: thoughts count against maxOutputTokens.
gemini thinking
check "thinking, no thinkingConfig, cap 1024: MAX_TOKENS, no text, thoughts = cap" pyjson "$tmp/out" 'j["candidates"][0]["finishReason"] == "MAX_TOKENS" and "parts" not in j["candidates"][0]["content"] and j["usageMetadata"]["thoughtsTokenCount"] == 1024 and "candidatesTokenCount" not in j["usageMetadata"]'
jmod "$tmp/g.json" "$tmp/t0.json" 'b["generationConfig"]["thinkingConfig"] = {"thinkingBudget": 0}'
gbody=$tmp/t0.json gemini gemini-2.5-flash
check "gemini-2.5-flash, thinkingBudget 0: the plan, no thoughts" pyjson "$tmp/out" 'j["candidates"][0]["finishReason"] == "STOP" and j["candidates"][0]["content"]["parts"] == [{"text": __import__("os").environ["PLAN"]}] and "thoughtsTokenCount" not in j["usageMetadata"]'
gemini gemini-2.5-flash
check "gemini-2.5-flash, no thinkingConfig, cap 1024: MAX_TOKENS" pyjson "$tmp/out" 'j["candidates"][0]["finishReason"] == "MAX_TOKENS"'
gbody=$tmp/t0.json gemini gemini-2.5-pro
check "gemini-2.5-pro refuses thinkingBudget 0 (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 400 and "only works in thinking mode" in j["error"]["message"]'
jmod "$tmp/g.json" "$tmp/t1.json" 'b["generationConfig"]["thinkingConfig"] = {"thinkingBudget": 128}; b["generationConfig"]["maxOutputTokens"] = 1536'
gbody=$tmp/t1.json gemini gemini-2.5-pro
check "gemini-2.5-pro, budget 128: the plan, 128 thoughts in the total" pyjson "$tmp/out" 'j["candidates"][0]["finishReason"] == "STOP" and j["usageMetadata"]["thoughtsTokenCount"] == 128 and j["usageMetadata"]["totalTokenCount"] == j["usageMetadata"]["promptTokenCount"] + j["usageMetadata"]["candidatesTokenCount"] + 128'
jmod "$tmp/g.json" "$tmp/t2.json" 'b["generationConfig"]["thinkingConfig"] = {"thinkingLevel": "low"}; b["generationConfig"]["maxOutputTokens"] = 9000'
gbody=$tmp/t2.json gemini gemini-3-pro-preview
check "gemini-3, thinkingLevel low: the plan, 400 thoughts" pyjson "$tmp/out" 'j["candidates"][0]["finishReason"] == "STOP" and j["usageMetadata"]["thoughtsTokenCount"] == 400'
gbody=$tmp/t2.json gemini gemini-2.5-flash
check "thinkingLevel on 2.5: 400 (got $code)" test "$code" = 400
jmod "$tmp/g.json" "$tmp/t3.json" 'b["generationConfig"]["thinkingConfig"] = {"thinkingLevel": "low", "thinkingBudget": 10}'
gbody=$tmp/t3.json gemini gemini-3-pro-preview
check "budget and level together: 400 (got $code)" test "$code" = 400
check "budget and level together: a problem" lastlog 'any("both" in p for p in e["problems"])'
gbody=$tmp/t0.json gemini gemini-2.0-flash
check "gemini-2.0-flash refuses a thinkingConfig (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 400 and "not supported" in j["error"]["message"]'
gemini gemini-2.0-flash
check "gemini-2.0-flash without one: the plan" pyjson "$tmp/out" 'j["candidates"][0]["finishReason"] == "STOP"'
jmod "$tmp/g.json" "$tmp/t4.json" 'b["generationConfig"]["maxOutputTokens"] = 4096'
gbody=$tmp/t4.json gemini thoughts
check "thoughts: a thought part (a plan of its own), then the answer" pyjson "$tmp/out" 'len(j["candidates"][0]["content"]["parts"]) == 2 and j["candidates"][0]["content"]["parts"][0]["thought"] is True and "reboot" in j["candidates"][0]["content"]["parts"][0]["text"] and j["candidates"][0]["content"]["parts"][1] == {"text": __import__("os").environ["PLAN"]} and j["usageMetadata"]["thoughtsTokenCount"] == 1500'
jmod "$tmp/t4.json" "$tmp/t5.json" 'b["generationConfig"]["thinkingConfig"] = {"includeThoughts": True}'
gbody=$tmp/t5.json gemini thinking
check "thinking with includeThoughts: the thought part first" pyjson "$tmp/out" 'j["candidates"][0]["content"]["parts"][0]["thought"] is True and j["candidates"][0]["finishReason"] == "STOP"'
openai_body or/thinking schema >"$tmp/b.json"
openai /api/v1/chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "OpenRouter thinking, max_tokens 1024: length, no content, reasoning_tokens" pyjson "$tmp/out" 'j["choices"][0]["finish_reason"] == "length" and j["choices"][0]["message"]["content"] == "" and j["usage"]["completion_tokens_details"]["reasoning_tokens"] == 1024'

# Errors inside a 200, Retry-After as an HTTP date, the transient 402.
openai_body or/choiceerror schema >"$tmp/b.json"
openai /api/v1/chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "choiceerror 1: HTTP 200, choices[0].error 502, finish_reason error (got $code)" pyjson "$tmp/out" 'j["choices"][0]["error"]["code"] == 502 and j["choices"][0]["finish_reason"] == "error"'
openai /api/v1/chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "choiceerror 2: the plan" pyjson "$tmp/out" 'j["choices"][0]["finish_reason"] == "stop"'
openai_body or/choiceerrorfatal schema >"$tmp/b.json"
openai /api/v1/chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "choiceerrorfatal: choices[0].error 400" pyjson "$tmp/out" 'j["choices"][0]["error"]["code"] == 400'
gemini r429date
# Measured against the answer's own Date header: a loaded machine may take
# seconds to get here, and the server's clock is what the date speaks of.
check "r429date: 429 with Retry-After an HTTP date 1-3 s past its Date (got $code)" "$py" -c '
import email.utils, re, sys
h = open(sys.argv[1]).read()
m = re.search(r"(?im)^retry-after: (.+?)\r?$", h)
d = re.search(r"(?im)^date: (.+?)\r?$", h)
t = email.utils.parsedate_to_datetime(m.group(1)).timestamp()
now = email.utils.parsedate_to_datetime(d.group(1)).timestamp()
sys.exit(0 if m.group(1).endswith(" GMT") and 1 <= t - now <= 3 else 1)' "$tmp/hdr"
gemini r429date
check "r429date: then 200 (got $code)" test "$code" = 200
openai_body or/r402inflight schema >"$tmp/b.json"
openai /api/v1/chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "r402inflight: 402 with limit_source in-flight (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 402 and j["error"]["metadata"]["limit_source"] == "openrouter_in_flight_budget"'
check "r402inflight: Retry-After 1" grep -qi '^retry-after: 1' "$tmp/hdr"
openai /api/v1/chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "r402inflight: then 200 (got $code)" test "$code" = 200

# Scenarios.
check "r429 attempts 1..3: 429 429 200" bash -c '
	for want in 429 429 200; do
		c=$(curl -s -o '"$tmp"'/r -w "%{http_code}" -H "x-goog-api-key: K" -H "Content-Type: application/json" \
			--data-binary @'"$tmp"'/g.json '"$base"'/v1beta/models/r429:generateContent)
		[ "$c" = "$want" ] || exit 1
	done'
check "r429 attempt counter" lastlog 'e["scenario"] == "r429" and e["attempt"] == 3'
curl -s -X POST "$base/_reset" >/dev/null
gemini r429
check "after /_reset, r429 is 429 again with RetryInfo 1s" pyjson "$tmp/out" 'j["error"]["status"] == "RESOURCE_EXHAUSTED" and any(d.get("retryDelay") == "1s" and d["@type"].endswith("RetryInfo") for d in j["error"]["details"])'
openai_body or/r429forever schema >"$tmp/r.json"
openai /api/v1/chat/completions "$tmp/r.json" -H 'Authorization: Bearer K'
check "OpenAI r429forever: 429 + Retry-After: 1" grep -qi '^retry-after: 1' "$tmp/hdr"
check "OpenAI 429 error body" pyjson "$tmp/out" 'j["error"]["code"] == 429 and "metadata" in j["error"]'
gemini r503
check "r503: first 503 UNAVAILABLE" pyjson "$tmp/out" 'j["error"]["status"] == "UNAVAILABLE" and "overloaded" in j["error"]["message"]'
gemini r503
check "r503: then 200 (got $code)" test "$code" = 200
gemini truncated
check "truncated: MAX_TOKENS" pyjson "$tmp/out" 'j["candidates"][0]["finishReason"] == "MAX_TOKENS"'
gemini blocked
check "blocked: no candidates, blockReason" pyjson "$tmp/out" '"candidates" not in j and j["promptFeedback"]["blockReason"] == "SAFETY"'
openai_body blocked schema >"$tmp/b.json"
openai /chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "OpenAI blocked: content_filter" pyjson "$tmp/out" 'j["choices"][0]["finish_reason"] == "content_filter" and j["choices"][0]["message"]["content"] == ""'
openai_body error200 schema >"$tmp/b.json"
openai /chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "OpenAI error200: HTTP 200 with error body" pyjson "$tmp/out" 'j == {"error": {"code": 502, "message": "upstream died", "metadata": {"provider_name": "x"}}}'
gemini multipart
check "multipart: two parts make the plan" pyjson "$tmp/out" 'len(j["candidates"][0]["content"]["parts"]) == 2 and "".join(p["text"] for p in j["candidates"][0]["content"]["parts"]) == __import__("os").environ["PLAN"]'
gemini e403
check "e403: PERMISSION_DENIED (got $code)" pyjson "$tmp/out" 'j["error"]["code"] == 403 and j["error"]["status"] == "PERMISSION_DENIED"'
openai_body e402 schema >"$tmp/b.json"
openai /chat/completions "$tmp/b.json" -H 'Authorization: Bearer K'
check "OpenAI e402 (got $code)" test "$code" = 402
gemini no-such-model
check "unknown scenario: 404 NOT_FOUND" pyjson "$tmp/out" 'j["error"]["status"] == "NOT_FOUND"'
gemini notjson
check "notjson: 200 html" bash -c '[ "$(cat '"$tmp"'/out)" = "<html>gateway</html>" ] && [ '"$code"' = 200 ]'
gemini badutf8
check "badutf8: body is not UTF-8" "$py" -c 'import sys; b=open(sys.argv[1],"rb").read(); assert b"\xff\xfe" in b
try: b.decode("utf-8"); sys.exit(1)
except UnicodeDecodeError: pass' "$tmp/out"
gemini emptychoices
check "emptychoices: candidates []" pyjson "$tmp/out" 'j["candidates"] == [] and "promptFeedback" not in j'
gemini echo
check "echo: diagnosis is the user prompt" pyjson "$tmp/out" '__import__("json").loads(j["candidates"][0]["content"]["parts"][0]["text"])["diagnosis"] == "nginx.service failed: bind() to 0.0.0.0:80 failed"'
gemini byprompt
check "byprompt: the matching entry, groups filled in" pyjson "$tmp/out" '__import__("json").loads(j["candidates"][0]["content"]["parts"][0]["text"]) == {"diagnosis": "0.0.0.0:80 is taken", "commands": [{"action": "restart_service", "args": {"unit": "nginx.service"}}]}'
gemini_body "the disk is full" >"$tmp/g2.json"
gbody=$tmp/g2.json gemini byprompt
check "byprompt: no entry matches, no commands" pyjson "$tmp/out" '__import__("json").loads(j["candidates"][0]["content"]["parts"][0]["text"])["commands"] == []'
size=$(curl -s -o "$tmp/huge" -w '%{size_download}' -H 'x-goog-api-key: K' -H 'Content-Type: application/json' \
	--data-binary @"$tmp/g.json" "$base/v1beta/models/huge:generateContent")
check "huge: >= 3 MiB ($size)" test "$size" -ge $((3 * 1024 * 1024))
check "huge: valid JSON, one giant text" pyjson "$tmp/huge" 'len(j["candidates"][0]["content"]["parts"][0]["text"]) == 3 * 1024 * 1024'

# A stall times the client out but does not hold up a parallel request.
start=$(date +%s.%N)
curl -s -o /dev/null -m 2 -H 'x-goog-api-key: K' -H 'Content-Type: application/json' --data-binary @"$tmp/g.json" \
	"$base/v1beta/models/stall:generateContent" &
stall=$!
sleep 0.3
gemini good
good_s=$("$py" -c "import time; print(time.time() - $start)")
check "good answers during a stall (200 in ${good_s}s)" "$py" -c "import sys; sys.exit(0 if '$code' == '200' and $good_s < 1.5 else 1)"
wait "$stall"
check "stall: curl --max-time 2 times out (exit 28)" test $? -eq 28
code=$(curl -s -o "$tmp/drip" -w '%{http_code}' -m 2.5 -H 'x-goog-api-key: K' -H 'Content-Type: application/json' \
	--data-binary @"$tmp/g.json" "$base/v1beta/models/slowdrip:generateContent")
check "slowdrip: headers, then a few bytes before the timeout" bash -c '[ '"$code"' = 200 ] && n=$(wc -c <'"$tmp"'/drip) && [ "$n" -ge 1 ] && [ "$n" -le 4 ]'

# The log: one JSON object per request, the same as GET /_log.
curl -s "$base/_log" >"$tmp/all.json"
check "GET /_log matches the log file" "$py" -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
arr = json.load(open(sys.argv[2]))
keys = {"n", "method", "path", "headers", "body", "raw_body_len", "problems", "scenario", "attempt"}
assert arr == lines and len(lines) >= 30
assert [e["n"] for e in lines] == list(range(1, len(lines) + 1))
assert all(keys <= set(e) for e in lines)' "$tmp/log" "$tmp/all.json"

# SIGTERM ends the server and removes the port file.
kill "$pid"
wait "$pid"
check "exit 0 on SIGTERM" test $? -eq 0
pid=
check "port file removed" test ! -e "$tmp/port"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
