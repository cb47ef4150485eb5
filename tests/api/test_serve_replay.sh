#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# healer serve: a replay's record (made here by healer replay from real
# journal files, mkjournal in tests/cli/lib.sh) served read-only over real
# loopback HTTP. History, attempts and statistics are the JSON `healer
# history --db` and `healer stats --db` print; the status says it is a
# replay view and what the record spans; every write is refused (403, after
# the token) and changes nothing: the file's bytes and mtime are the same
# after the session. Host check and token as the live API; refused files
# (missing, not SQLite, empty, another database, newer and older schema, a
# symlink) and bad usage with their exit codes; SIGTERM ends it with 0. Then
# the dashboard in headless Chromium (dashboard_view.py) on a copy holding
# an attempt that awaits approval: the banner shows, nothing that acts does.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/browser.sh"
cli_init serve

T0=1796040000 # 2026-11-30 12:00:00 UTC, the journal's first entry
pids=()
serve_as=() # a command to run healer serve under (setpriv)
cli_on_exit='for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done'

check() { # what CMD...
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fingerprint FILE: its sha256 and its mtime to the nanosecond.
fingerprint() {
	printf '%s %s\n' "$(sha256sum <"$1")" "$(stat -c %y "$1")"
}

# serve NAME ARGS...: starts healer serve in the background (pid in $spid,
# stderr in $tmp/NAME.err) and waits for /healthz on $port.
serve() {
	local name=$1
	shift
	"${serve_as[@]}" "$bin" serve "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	spid=$!
	pids+=("$spid")
	for _ in $(seq 500); do
		curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.02
	done
	bad "healer serve $* did not start: $(cat "$tmp/$name.err")"
	return 1
}

# stop: SIGTERM, then the exit code must be 0 and stderr free of sanitizer reports.
stop() { # name
	local rc
	kill -TERM "$spid"
	wait "$spid"
	rc=$?
	[ "$rc" -eq 0 ] && ok || bad "healer serve exited $rc on SIGTERM: $(cat "$tmp/$1.err")"
	if grep -qE 'Sanitizer|runtime error' "$tmp/$1.err"; then bad "sanitizer: $(cat "$tmp/$1.err")"; else ok; fi
}

# req METHOD PATH [curl args...]: status in $code, body in $out.
req() {
	local method=$1 path=$2
	shift 2
	code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$method" "$@" "http://127.0.0.1:$port$path")
	out=$(cat "$tmp/body")
}
auth() { printf 'Authorization: Bearer %s' "$token"; }

# ---- a record: the shipped whitelist and rules over two hours of journal ----

bind='bind() to 0.0.0.0:80 failed (98: Address already in use)'
specs=("0:nginx.service:3:$bind" "1:nginx.service:3:$bind")
specs+=("2:sshd.service:3:sshd.service: Main process exited, code=killed, status=9/KILL")
specs+=("4:app.service:3:something odd happened")
for i in $(seq 1 9); do specs+=("$((i * 12)):nginx.service:3:$bind"); done
mkjournal "$tmp/j" "${specs[@]}"
cat >"$tmp/replay.conf" <<EOF
[healer]
whitelist = $top/examples/whitelist.conf
[llm]
provider = rules
rules = $top/examples/rules.conf
EOF
mkdir -p "$tmp/rec"
db=$tmp/rec/a.db
expect_rc 0 "$bin" replay --directory "$tmp/j" -c "$tmp/replay.conf" --out "$db" --json
json_check 'j["replay"]["complete"] and j["replay"]["incidents"] == 12'
chmod 600 "$db"
before=$(fingerprint "$db")
expect_rc 0 "$bin" history --db "$db" --json --limit 100
want_history=$out
expect_rc 0 "$bin" history --db "$db" --json --state skipped --limit 3 --offset 2
want_skipped=$out
expect_rc 0 "$bin" stats --db "$db" --json
want_stats=$out

# same JSON-A JSON-B: equal once parsed.
same() {
	python3 -c 'import json, sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$1" "$2"
}

# ---- the server: default token beside the record, made 0600 ----

port=$(free_port)
serve s1 --db "$db" --listen "127.0.0.1:$port" || { cli_finish; exit 1; }
check "the token is made beside the record" test -s "$db.token"
check "the token file is 0600" test "$(stat -c %a "$db.token")" = 600
token=$(cat "$db.token")
check "healer serve says where it listens and where the token is" \
	grep -qF "$db, read-only, on http://127.0.0.1:$port (token in $db.token)" "$tmp/s1.err"

# Open routes, and the dashboard's files (the same embedded page as the live API).
req GET /healthz
check "/healthz is open" test "$code" = 200
json_check 'j == {"status": "success", "healthy": True}'
req GET /
check "GET / is the dashboard" grep -q '<script src="dashboard.js"' "$tmp/body"
req GET /dashboard.js
check "dashboard.js is the file in the tree" cmp -s "$tmp/body" "$top/api/dashboard/dashboard.js"

# Auth as the live API: reads need the token, the Host must name this server.
for p in /api/auto-healer/status /api/auto-healer/history /api/auto-healer/statistics \
	/api/auto-healer/attempts/1; do
	req GET "$p"
	check "GET $p without a token: 401 (got $code)" test "$code" = 401
	req GET "$p" -H "Authorization: Bearer 0123456789abcdef0123456789abcdef"
	check "GET $p with a wrong token: 401 (got $code)" test "$code" = 401
done
json_check '"--token-file" in j["error"]'
req GET /api/auto-healer/status -H "$(auth)" -H "Host: evil.example:$port"
check "a foreign Host header is refused (got $code)" test "$code" = 421
req GET /api/auto-healer/status -H "$(auth)" -H "Host: localhost:$port"
check "Host localhost:PORT is accepted (got $code)" test "$code" = 200

# The status: a replay view, the file, what the record spans; no live fields.
req GET /api/auto-healer/status -H "$(auth)"
check "status answers 200 (got $code)" test "$code" = 200
json_check 'j["auto_healer"]["mode"] == "replay-view" and j["auto_healer"]["read_only"] is True'
json_check 'j["auto_healer"]["file"] == "'"$db"'"'
json_check 'j["auto_healer"]["record"] == {"incidents": 12, "lines": 13, "attempts": 12, "first_seen": "2026-11-30T12:00:00.000000Z", "last_seen": "2026-11-30T13:48:00.000000Z"}'
json_check 'not any(k in j["auto_healer"] for k in ("enabled", "monitoring", "journal", "uptime_seconds"))'

# History, attempts and statistics: what healer history/stats --db print.
req GET "/api/auto-healer/history?limit=100" -H "$(auth)"
check "history answers 200 (got $code)" test "$code" = 200
check "history is healer history --db's JSON" same "$out" "$want_history"
json_check 'len(j["history"]) == 12'
req GET "/api/auto-healer/history?state=skipped&limit=3&offset=2" -H "$(auth)"
check "a filtered page of history is healer history --db's" same "$out" "$want_skipped"
req GET /api/auto-healer/statistics -H "$(auth)"
check "statistics answer 200 (got $code)" test "$code" = 200
check "statistics are healer stats --db's JSON" same "$out" "$want_stats"
first=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["history"][-1]["id"])' "$want_history")
req GET "/api/auto-healer/attempts/$first" -H "$(auth)"
check "an attempt answers 200 (got $code)" test "$code" = 200
json_check 'j["attempt"]["id"] == '"$first"' and j["attempt"]["dry_run"] and j["attempt"]["transitions"]'
json_check '"would have run restart_service" in j["attempt"]["reason"]'
req GET /api/auto-healer/attempts/999 -H "$(auth)"
check "a missing attempt is 404 (got $code)" test "$code" = 404
req GET "/api/auto-healer/history?limit=0" -H "$(auth)"
check "the live API's input checks hold (got $code)" test "$code" = 400

# Every write: 401 without the token, then 403 with it, said to be a read-only view.
prefix="read-only view of replay $db: "
writes=(
	"POST /api/auto-healer/heal application/json {\"message\":\"nginx broke\",\"service\":\"nginx.service\"}"
	"POST /api/test/inject-error application/json {\"message\":\"test\",\"service\":\"x.service\"}"
	"POST /api/auto-healer/attempts/$first/approve - -"
	"POST /api/auto-healer/attempts/$first/reject - -"
	"POST /api/auto-healer/enable - -"
	"POST /api/auto-healer/disable - -"
	"PUT /api/whitelist text/plain [action x]"
	"POST /api/whitelist/test application/json {\"command\":\"systemctl restart nginx\"}"
)
for w in "${writes[@]}"; do
	read -r method path type body <<<"$w"
	args=()
	[ "$type" != - ] && args=(-H "Content-Type: $type" -H 'If-Match: "x"' --data-binary "$body")
	req "$method" "$path" "${args[@]}"
	check "$method $path without a token: 401 (got $code)" test "$code" = 401
	req "$method" "$path" -H "$(auth)" "${args[@]}"
	check "$method $path: 403 (got $code: $out)" test "$code" = 403
	json_check 'j["status"] == "error" and j["error"].startswith("'"$prefix"'") and len(j["error"]) > len("'"$prefix"'") + 10'
done
# A wrong content type or no body is still the view's refusal, not a parse error.
req POST /api/auto-healer/heal -H "$(auth)" -H "Content-Type: text/plain" --data-binary 'x'
check "a write with any body is 403 (got $code)" test "$code" = 403
# Reads only a live daemon can answer: 404, with the reason.
req GET /api/whitelist -H "$(auth)"
check "GET /api/whitelist: 404 (got $code)" test "$code" = 404
json_check 'j["error"].startswith("'"$prefix"'the record holds no whitelist")'
req GET /metrics
check "GET /metrics: 404 (got $code)" test "$code" = 404
json_check 'j["error"].startswith("'"$prefix"'no metrics") and "statistics" in j["error"]'

# Nothing changed: the views, and the file's bytes and mtime.
req GET "/api/auto-healer/history?limit=100" -H "$(auth)"
check "history is unchanged after the refused writes" same "$out" "$want_history"
req GET /api/auto-healer/statistics -H "$(auth)"
check "statistics are unchanged after the refused writes" same "$out" "$want_stats"
stop s1
check "the record's bytes and mtime are unchanged: $before / $(fingerprint "$db")" \
	test "$(fingerprint "$db")" = "$before"
check "nothing listens after SIGTERM" bash -c "! curl -s -o /dev/null http://127.0.0.1:$port/healthz"

# The token again: the same one is read on the next start; --token-file; a readable one refused.
serve s2 --db "$db" --listen "127.0.0.1:$port" || { cli_finish; exit 1; }
check "the token is kept across sessions" test "$(cat "$db.token")" = "$token"
stop s2
port=$(free_port)
serve s3 --db "$db" --listen "127.0.0.1:$port" --token-file "$tmp/my.token" || { cli_finish; exit 1; }
check "--token-file is made 0600" test "$(stat -c %a "$tmp/my.token")" = 600
req GET /api/auto-healer/status -H "Authorization: Bearer $(cat "$tmp/my.token")"
check "--token-file's token is the one asked for (got $code)" test "$code" = 200
# Two views side by side (a live daemon's 8099 is the same case): the second port is busy.
expect_rc 1 "$bin" serve --db "$db" --listen "127.0.0.1:$port" --token-file "$tmp/my.token"
check "a busy port is refused with why" grep -q "cannot bind 127.0.0.1:$port: Address already in use" "$tmp/err"
stop s3
chmod 644 "$tmp/my.token"
expect_rc 1 "$bin" serve --db "$db" --listen "127.0.0.1:$port" --token-file "$tmp/my.token"
check "a token others may read is refused" grep -q "others may read the API token" "$tmp/err"
check "the record is still unchanged" test "$(fingerprint "$db")" = "$before"

# A record where the server may not write (read-only media, another user's
# folder): SQLite cannot make its -shm there, and the file, closed cleanly by
# its replay (no -wal beside it), is read as immutable; nothing is made.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	mkdir -p "$tmp/ro" "$tmp/own"
	cp "$db" "$tmp/ro/c.db"
	chmod 755 "$tmp" "$tmp/ro" # this test's own folders, so that nobody may read them
	chmod 644 "$tmp/ro/c.db"
	chown 65534:65534 "$tmp/own"
	c_before=$(fingerprint "$tmp/ro/c.db")
	port=$(free_port)
	serve_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	if serve s5 --db "$tmp/ro/c.db" --listen "127.0.0.1:$port" --token-file "$tmp/own/t"; then
		token=$(cat "$tmp/own/t")
		req GET "/api/auto-healer/history?limit=100" -H "$(auth)"
		check "a record in a folder the server may not write is served" same "$out" "$want_history"
		stop s5
	fi
	serve_as=()
	check "nothing was made beside it: $(ls "$tmp/ro")" test "$(ls "$tmp/ro")" = c.db
	check "its bytes and mtime are unchanged" test "$(fingerprint "$tmp/ro/c.db")" = "$c_before"
	# A -wal with commits beside it: the file alone is not the record; refused.
	printf 'not empty' >"$tmp/ro/c.db-wal"
	expect_rc 1 setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" serve \
		--db "$tmp/ro/c.db" --listen "127.0.0.1:$port" --token-file "$tmp/own/t"
	check "a record with a -wal it cannot read is refused: $(cat "$tmp/err")" \
		grep -q "healer serve: $tmp/ro/c.db: .*its -wal holds commits" "$tmp/err"
	chmod 700 "$tmp"
else
	echo "info: not root: the read-only folder case is left out"
fi

# ---- refused files and usage ----

refused() { # FILE MESSAGE
	expect_rc 1 "$bin" serve --db "$1" --listen "127.0.0.1:$port" --token-file "$tmp/r.token"
	check "serve $1: says '$2': $(cat "$tmp/err")" grep -qF "healer serve: $1: $2" "$tmp/err"
}
refused "$tmp/none.db" "No such file or directory"
printf 'precious' >"$tmp/text.db"
refused "$tmp/text.db" "file is not a database"
check "a refused file is left as it was" test "$(cat "$tmp/text.db")" = precious
: >"$tmp/empty.db"
refused "$tmp/empty.db" "not a Healer database"
check "an empty file stays empty" test ! -s "$tmp/empty.db"
python3 -c 'import sqlite3, sys; d = sqlite3.connect(sys.argv[1]); d.execute("CREATE TABLE t (a)"); d.commit()' "$tmp/other.db"
refused "$tmp/other.db" "not a Healer database"
cp "$db" "$tmp/newer.db"
python3 -c 'import sqlite3, sys; d = sqlite3.connect(sys.argv[1]); d.execute("PRAGMA user_version = 99"); d.commit()' "$tmp/newer.db"
refused "$tmp/newer.db" "schema version 99 is newer than this Healer's"
cp "$db" "$tmp/older.db"
python3 -c 'import sqlite3, sys; d = sqlite3.connect(sys.argv[1]); d.execute("PRAGMA user_version = 1"); d.commit()' "$tmp/older.db"
refused "$tmp/older.db" "schema version 1 is older than this Healer's"
ln -s "$db" "$tmp/link.db"
refused "$tmp/link.db" "not a regular file"
refused "$tmp/rec" "not a regular file"
check "no token was made for a refused file" test ! -e "$tmp/r.token"
expect_rc 2 "$bin" serve
check "--db is required" grep -q -- "--db FILE is required" "$tmp/err"
expect_rc 2 "$bin" serve --db "$db" extra
expect_rc 2 "$bin" serve --db "$db" --bogus
expect_rc 2 "$bin" serve --db "$db" --listen localhost:8098
check "--listen is checked as [api] listen is" grep -q "must be ADDRESS:PORT" "$tmp/err"
expect_rc 0 "$bin" --help
check "healer --help lists serve" grep -q 'serve --db FILE \[--listen ADDR\] \[--token-file PATH\]' <<<"$out"

# ---- the dashboard, in headless Chromium, on a copy awaiting an approval ----

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
	bad "Chromium is missing; tools/deps.sh --test installs chromium and chromium-driver"
else
	cp "$db" "$tmp/rec/b.db"
	python3 - "$tmp/rec/b.db" "$first" <<'EOF'
import sqlite3, sys
d = sqlite3.connect(sys.argv[1])
d.execute("UPDATE attempts SET state = 'awaiting_approval' WHERE id = ?", (int(sys.argv[2]),))
d.commit()
d.close()
EOF
	b_before=$(fingerprint "$tmp/rec/b.db")
	port=$(free_port)
	if serve s4 --db "$tmp/rec/b.db" --listen "127.0.0.1:$port"; then
		browser_run "$top/tests/api/dashboard_view.py" "http://127.0.0.1:$port" \
			"$(cat "$tmp/rec/b.db.token")" "$tmp/rec/b.db" "$first" \
			"$top/build/artifacts/dashboard-replay-view.png"
		stop s4
		check "the copy's bytes and mtime are unchanged after the browser session" \
			test "$(fingerprint "$tmp/rec/b.db")" = "$b_before"
	fi
fi

cli_finish
