#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CLI client of the REST API against a live daemon (tier 1a: a private
# journald namespace; see tests/daemon/lib.sh): every command in both
# output modes, over a UNIX socket and over TCP loopback; the daemon down
# (exit 3 and what to do; history and stats from the store); a wrong token
# (exit 1, the file named), an unreadable one (exit 2); whitelist put with a
# bad line and with a stale etag. The token must never reach any output.
. "$(dirname "$0")/../daemon/lib.sh"
daemon_init hcli "$@"

cat >"$tmp/whitelist.conf" <<WL
[action note]
description = write a note
match = note
exec = /usr/bin/touch $tmp/note
timeout = 5s
WL
chmod 644 "$tmp/whitelist.conf"
cat >"$tmp/rules.conf" <<'RULES'
[rule note]
message = note broke
propose = note
RULES
journal_extra="dedupe_window = 1s"
conf=$tmp/healer.conf
touch "$tmp/all.out"

# rc WANT-RC CMD...: stdout in $out, stderr in $err, both kept in all.out.
rc() {
	local want=$1 got
	shift
	out=$("$@" 2>"$tmp/err")
	got=$?
	err=$(cat "$tmp/err")
	printf '%s\n%s\n' "$out" "$err" >>"$tmp/all.out"
	if [ "$got" -eq "$want" ]; then ok; else bad "exit $got (want $want): $* :: $out :: $err"; fi
}
cl() { # WANT-RC ARGS...: healer ARGS
	local want=$1
	shift
	rc "$want" "$bin" "$@"
}
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# jc PYTHON-EXPR: $out is one JSON object, j in the expression.
jc() {
	if python3 -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if ('"$1"') else 1)' "$out" 2>/dev/null; then
		ok
	else
		bad "'$1' not true on: $(head -c 600 <<<"$out")"
	fi
}
# has TEXT WHERE: WHERE (a string) holds TEXT (fixed).
has() {
	if grep -qF -- "$1" <<<"$2"; then ok; else bad "'$1' not in: $(head -c 600 <<<"$2")"; fi
}
# status_of ID: the attempt's status in the history (the daemon's or the store's).
status_of() {
	"$bin" history -c "$conf" --json --limit 500 2>/dev/null |
		python3 -c 'import json,sys; print([h["status"] for h in json.load(sys.stdin)["history"] if h["id"]=='"$1"'][0])' 2>/dev/null
}
wait_status() { # ID STATUS
	for _ in $(seq 200); do
		[ "$(status_of "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	echo "attempt $1 is '$(status_of "$1")', not $2" >&2
	return 1
}

# Every command, both output modes, against the daemon on $api_listen.
scenario() {
	local via=$1 id id2 etag
	cl 0 status -c "$conf"
	has "enabled: yes" "$out"
	has "auto_execute: no" "$out"
	cl 0 status -c "$conf" --json
	jc 'j["status"] == "success" and j["auto_healer"]["enabled"] is True'
	# A proxy named by the environment is never used: the token stays on the host.
	rc 0 env http_proxy=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1 "$bin" status -c "$conf"

	# heal --wait: not finished (it awaits approval) when the wait ends.
	cl 0 heal -c "$conf" --service "alpha-$via" --message "note broke alpha $via" --level err --wait 1 --json
	jc 'j["status"] == "success" and j["attempt_id"] > 0 and "not finished" in j["note"]'
	id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["attempt_id"])' "$out")
	check "$via: alpha awaits approval" wait_status "$id" awaiting_approval
	cl 0 heal -c "$conf" --service "beta-$via" --message "note broke beta $via" --level 3
	has "incident: " "$out"
	has "attempt: " "$out"
	id2=$(sed -n 's/^attempt: //p' <<<"$out")
	check "$via: beta awaits approval" wait_status "$id2" awaiting_approval

	cl 0 approve -c "$conf" "$id"
	has "attempt $id approved" "$out"
	check "$via: approved and healed" wait_status "$id" healed
	cl 1 approve -c "$conf" "$id"
	has "attempt $id is healed, not awaiting approval" "$err"
	cl 0 reject -c "$conf" --json "$id2"
	jc 'j["status"] == "success" and j["decision"] == "rejected"'
	check "$via: rejected" wait_status "$id2" rejected
	cl 1 reject -c "$conf" 999999
	has "no such attempt (HTTP 404)" "$err"
	cl 1 approve -c "$conf" --json "$id2"
	jc 'j["status"] == "error"'

	cl 0 history -c "$conf" --limit 5
	grep -qE "^ *$id  .*healed +alpha-$via\.service" <<<"$out" && ok || bad "$via: history line for $id: $out"
	cl 0 history -c "$conf" --json --state rejected
	jc 'j["status"] == "success" and all(h["status"] == "rejected" for h in j["history"]) and any(h["id"] == '"$id2"' for h in j["history"])'
	cl 0 stats -c "$conf"
	has "total_attempts: " "$out"
	has "by_action:" "$out"
	cl 0 stats -c "$conf" --json
	jc 'j["status"] == "success" and j["statistics"]["successful"] >= 1'

	cl 0 disable -c "$conf"
	has "automatic healing disabled" "$out"
	cl 0 status -c "$conf" --json
	jc 'j["auto_healer"]["enabled"] is False'
	cl 0 enable -c "$conf" --json
	jc 'j["status"] == "success" and j["enabled"] is True'

	cl 0 inject -c "$conf" --message "note broke gamma $via" --service "gamma-$via"
	has "via: journal" "$out"
	has "attempt: " "$out"
	cl 0 inject -c "$conf" --message "note broke delta $via" --source direct --json
	jc 'j["status"] == "success" and j["via"] == "direct" and j["incident_id"] > 0'

	# The live whitelist: a header line with the etag, then the file.
	cl 0 whitelist show -c "$conf"
	head -n 1 <<<"$out" | grep -qE '^# healer etag: "[0-9a-f]+" \(live whitelist: '"$tmp"'/whitelist.conf\)$' && ok || bad "$via: show header: $(head -n 1 <<<"$out")"
	has "[action note]" "$out"
	printf '%s\n' "$out" >"$tmp/wl-$via.conf"
	cl 0 whitelist show -c "$conf" --json
	jc 'j["etag"].startswith("\"") and "[action note]" in j["text"] and j["actions"][0]["name"] == "note"'
	etag=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["etag"])' "$out")

	# An edit put back: the etag from the header line.
	printf '\n[action note2_%s]\nmatch = note2\nexec = /usr/bin/touch %s/note2\n' "$via" "$tmp" >>"$tmp/wl-$via.conf"
	cl 0 whitelist put -c "$conf" "$tmp/wl-$via.conf"
	has "whitelist replaced from $tmp/wl-$via.conf; etag \"" "$out"
	cl 0 whitelist show -c "$conf"
	has "[action note2_$via]" "$out"
	check "$via: the header line is not written into the whitelist" test "$(grep -c '^# healer etag' "$tmp/whitelist.conf")" = 0
	# Someone else changed it since: the same file again is refused, so is an old --etag.
	cl 1 whitelist put -c "$conf" "$tmp/wl-$via.conf"
	has "someone else changed the whitelist since etag" "$err"
	cl 1 whitelist put -c "$conf" --etag "$etag" --json "$tmp/wl-$via.conf"
	jc 'j["status"] == "error"'
	# A bad line: each error as FILE:LINE, counted in the file (its header line included).
	"$bin" whitelist show -c "$conf" >"$tmp/bad-$via.conf"
	printf '\n[action broken]\nmatch = x\nexec = relative/path\n' >>"$tmp/bad-$via.conf"
	cl 1 whitelist put -c "$conf" "$tmp/bad-$via.conf"
	has "the whitelist is not valid; nothing was changed" "$err"
	line=$(grep -n '^exec = relative/path' "$tmp/bad-$via.conf" | cut -d: -f1)
	has "$tmp/bad-$via.conf:$line: " "$err"
	cl 1 whitelist put -c "$conf" --json "$tmp/bad-$via.conf"
	jc 'j["status"] == "error" and j["errors"][0]["line"] == '"$((line - 1))"
	# A file without the header line: put reads the live etag first.
	grep -v '^# healer etag' "$tmp/wl-$via.conf" >"$tmp/plain-$via.conf"
	cl 0 whitelist put -c "$conf" --json "$tmp/plain-$via.conf"
	jc 'j["status"] == "success" and j["etag"].startswith("\"")'
	# The local forms stay local.
	cl 0 whitelist show --local "$tmp/whitelist.conf"
	has "note2_$via" "$out"
	cl 0 whitelist show -w "$tmp/whitelist.conf"
	has "max_commands: " "$out"
}

# The daemon is down: what cannot work says so (exit 3); the record is still read.
down() {
	local via=$1 where=$2
	cl 3 status -c "$conf"
	has "the daemon is not running: nothing listens on $where" "$err"
	has "\`healer run\` or \`systemctl start healer\` starts it" "$err"
	cl 3 approve -c "$conf" 1
	has "not running" "$err"
	cl 3 heal -c "$conf" --message "note broke while down"
	cl 3 whitelist show -c "$conf"
	cl 3 whitelist put -c "$conf" "$tmp/whitelist.conf"
	cl 3 enable -c "$conf" --json
	[ -z "$out" ] && ok || bad "$via: --json printed something with no daemon: $out"
	cl 0 history -c "$conf" --json --limit 3
	jc 'j["status"] == "success" and j["count"] == 3 and j["total"] >= 4 and len(j["history"]) == 3'
	has "the daemon is not running (nothing listens on $where); read from the store" "$err"
	cl 0 history -c "$conf"
	grep -qE "healed +alpha-$via\.service" <<<"$out" && ok || bad "$via: history from the store: $out"
	cl 0 stats -c "$conf" --json
	jc 'j["status"] == "success" and j["statistics"]["total_attempts"] >= 4'
	cl 0 stats -c "$conf"
	has "total_attempts: " "$out"
}

# ---- over a UNIX socket (lib.sh's default) ----
write_config "cooldown = 0" "max_attempts = 100" "max_heals_per_hour = 1000" "auto_execute = no"
start_healer || exit 1
scenario unix
token=$(cat "$tmp/state/api.token")

# A wrong token, then a file that holds none: the file is named.
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/wrong.token"
chmod 600 "$tmp/wrong.token"
sed "s|^\[api\]$|[api]\ntoken_file = $tmp/wrong.token|" "$conf" >"$tmp/wrong.conf"
cl 1 status -c "$tmp/wrong.conf"
has "the daemon refused the API token from $tmp/wrong.token (HTTP 401)" "$err"
cl 1 approve -c "$tmp/wrong.conf" --json 1
jc 'j["status"] == "error"'
echo short >"$tmp/wrong.token"
cl 2 status -c "$tmp/wrong.conf"
has "$tmp/wrong.token does not hold an API token" "$err"
rm "$tmp/wrong.token"
cl 2 status -c "$tmp/wrong.conf"
has "cannot read the API token in $tmp/wrong.token: No such file or directory" "$err"
# Another user: the socket is root's (0600).
chmod 755 "$tmp"
if "${nobody[@]}" true 2>/dev/null; then
	rc 3 "${nobody[@]}" "$bin" status -c "$conf"
	has "no permission to connect to unix:$tmp/api.sock" "$err"
fi

stop_healer
down unix "unix:$tmp/api.sock"
# A socket file left behind with nobody listening: refused, the same message.
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/api.sock"
cl 3 status -c "$conf"
has "the daemon is not running: nothing listens on unix:$tmp/api.sock" "$err"
rm -f "$tmp/api.sock"

# ---- over TCP loopback ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api_listen=127.0.0.1:$port
write_config "cooldown = 0" "max_attempts = 100" "max_heals_per_hour = 1000" "auto_execute = no"
start_healer || exit 1
scenario tcp
# Another user cannot read the token (0600 root): exit 2, and what to do.
if "${nobody[@]}" true 2>/dev/null; then
	rc 2 "${nobody[@]}" "$bin" status -c "$conf"
	has "cannot read the API token in $tmp/state/api.token: Permission denied; run this as root" "$err"
fi
stop_healer
down tcp "127.0.0.1:$port"

# ---- a server that is not the daemon: the client's own limits ----
sed "s|^listen = .*|listen = unix:$tmp/fake.sock|" "$conf" >"$tmp/fake.conf"
python3 - "$tmp/fake.sock" "$tmp/fake.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
log = open(sys.argv[2], "wb", buffering=0)
while True:
    c, _ = s.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(65536)
        if not d:
            break
        req += d
    log.write(req)
    line = req.split(b"\r\n", 1)[0]
    if b"/status" in line:  # 17 MiB of JSON
        body = b'{"status":"success","pad":"' + b"x" * (17 << 20) + b'"}'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        try:
            c.sendall(body)
        except OSError:
            pass
    elif b"/history" in line:  # sent elsewhere: not followed
        c.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n")
    else:  # closed without an answer
        pass
    c.close()
PY
fakepid=$!
for _ in $(seq 100); do [ -S "$tmp/fake.sock" ] && break; sleep 0.05; done
cl 1 status -c "$tmp/fake.conf"
has "is over the 16 MiB cap" "$err"
cl 1 history -c "$tmp/fake.conf"
has "answered HTTP 302" "$err"
cl 3 enable -c "$tmp/fake.conf"
has "closed the connection without an answer" "$err"
kill "$fakepid" 2>/dev/null
wait "$fakepid" 2>/dev/null
check "the token went in its header" grep -qaF "Authorization: Bearer $token" "$tmp/fake.log"
check "the Host is localhost over a socket" grep -qa "^Host: localhost" "$tmp/fake.log"
check "the token never went into a URL" test "$(grep -aE '^(GET|POST|PUT) ' "$tmp/fake.log" | grep -cF "$token")" = 0

# ---- usage and configuration: exit 2 before any request ----
cl 2 heal -c "$conf" --service x
cl 2 heal -c "$conf" --message m --wait 121
cl 2 inject -c "$conf" --message m --source mail
cl 2 inject -c "$conf" --message m --wait 3
cl 2 approve -c "$conf" abc
cl 2 approve -c "$conf"
cl 2 history -c "$conf" --limit 0
cl 2 stats -c "$conf" --limit 5
cl 2 status -c "$tmp/missing.conf"
cl 2 whitelist put -c "$conf" "$tmp/missing.conf"
cl 2 whitelist put -c "$conf" --etag $'"a"\r\nX-Evil: 1' "$tmp/whitelist.conf"
cl 2 whitelist show --local -c "$conf"

check "the token never reached any output" test "$(grep -cF "$token" "$tmp/all.out")" = 0
daemon_finish
