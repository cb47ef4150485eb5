#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon end to end against a live private journald (tier 1a): an
# error line becomes an attempt that runs a whitelisted command, verifies
# it and ends healed; a symptom that is not real refuses the command; a fix
# that does not work fails, then escalates; a recurrence fails verification;
# approval, rejection, expiry and a restart while awaiting approval; dry run;
# SIGHUP with a broken whitelist keeps the old one; SIGTERM lets a running
# command finish. No systemd units are involved (those are in tier 1b).
. "$(dirname "$0")/lib.sh"
daemon_init hdflow "$@"

# Markers stand for symptoms: the symptom is real while its marker is absent.
# The hourly budget is raised throughout: on a loaded machine a repeated line
# can open one more attempt than on an idle one, and the budget is not what
# this test is about (test_daemon_guards.sh is).
cat >"$tmp/whitelist.conf" <<WL
[healer]
max_commands = 5

[action fix_thing]
description = create the thing marker
match = fixthing
exec = /usr/bin/touch $tmp/thing
require = command /usr/bin/test ! -e $tmp/thing
verify = command /usr/bin/test -e $tmp/thing
timeout = 5s

[action fix_gadget]
description = create the gadget marker
match = fixgadget
exec = /usr/bin/touch $tmp/gadget
require = command /usr/bin/test ! -e $tmp/gadget
timeout = 5s

[action broken_fix]
description = a fix that never works
match = brokenfix
exec = /bin/false
timeout = 5s

[action flappy_fix]
description = a fix after which the error comes back
match = flappyfix
exec = /bin/true
timeout = 5s

[action slow_fix]
description = takes a while
match = slowfix
exec = $progs/ex_sleep 4000
timeout = 8s
WL
cat >"$tmp/rules.conf" <<'RULES'
[rule thing]
message = thing broke
propose = fix_thing

[rule gadget]
message = gadget broke
propose = fix_gadget

[rule broken]
message = widget broke
propose = broken_fix

[rule flappy]
message = flapper broke
propose = flappy_fix

[rule slow]
message = slowpoke broke
propose = slow_fix
RULES
# A webhook receiver and a notify socket, both real: what the daemon tells the world.
python3 - "$tmp/hook.port" "$tmp/hook.log" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_port))
s.serve_forever()
PY
hookpid=$!
python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    m = s.recv(4096)
    with open(sys.argv[2], "ab") as f:
        f.write(m.replace(b"\n", b" ") + b"\n")
PY
notifypid=$!
for _ in $(seq 100); do [ -s "$tmp/hook.port" ] && [ -S "$tmp/notify.sock" ] && break; sleep 0.02; done
healer_env=(NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=400000)
extra_sections="[notify]
webhook = http://127.0.0.1:$(cat "$tmp/hook.port")/hook"
journal_extra="dedupe_window = 1s"
write_config "cooldown = 0" "max_heals_per_hour = 100" "max_attempts = 10" "escalate_after = 2"

check "run --check passes" "$bin" run -c "$tmp/healer.conf" --check
start_healer || exit 1

# 1. A real symptom, a working fix: healed, with the command recorded.
jsend 3 "thing broke badly"
check "healed" hist_wait 15 'any(h["status"]=="healed" and "thing broke" in h["error"]["message"] and h["provider"]=="rules" and h["actions"][0]["exit_code"]==0 for h in H)'
check "the fix ran" test -e "$tmp/thing"
check "sd_notify READY" grep -q "READY=1" "$tmp/notify.log"
check "sd_notify STATUS" grep -q "STATUS=following the journal" "$tmp/notify.log"
check "sd_notify WATCHDOG" grep -q "WATCHDOG=1" "$tmp/notify.log"
for _ in $(seq 100); do grep -q '"event":"healed"' "$tmp/hook.log" 2>/dev/null && break; sleep 0.05; done
check "webhook told of the heal" python3 -c '
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(m["event"] == "healed" for m in L) and all("text" in m and "time" in m for m in L) else 1)' "$tmp/hook.log"

# 2. The line claims a symptom the host does not confirm: nothing runs.
touch "$tmp/gadget"
jsend 3 "gadget broke again"
check "precondition refuses" hist_wait 15 'any(h["status"]=="rejected" and "gadget" in h["error"]["message"] and "precondition" in h["reason"] for h in H)'

# 3. A fix that fails: failed, then escalated, then no more attempts.
jsend 3 "widget broke"
check "failed" hist_wait 15 'any(h["status"]=="failed" and "widget" in h["error"]["message"] for h in H)'
sleep 1.1
jsend 3 "widget broke"
check "escalated" hist_wait 15 'any(h["status"]=="escalated" and "widget" in h["error"]["message"] for h in H)'
sleep 1.1
jsend 3 "widget broke"
check "skipped once escalated" hist_wait 15 'any(h["status"]=="skipped" and "widget" in h["error"]["message"] and "escalat" in h["reason"] for h in H)'
check "webhook told of the escalation" grep -q '"event":"escalated"' "$tmp/hook.log"
# An administrator clears it: automatic attempts resume.
esc=$("$bin" escalations -c "$tmp/healer.conf" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
check "clear the escalation" "$bin" clear -c "$tmp/healer.conf" "$esc"
for _ in $(seq 100); do grep -q "Escalation $esc cleared" "$tmp/healer.log" && break; sleep 0.05; done
sleep 1.1
jsend 3 "widget broke"
check "attempts resume after clear" hist_wait 15 '[h["status"] for h in H if "widget" in h["error"]["message"]][0]=="failed"'
# A restart inside escalate_window replays the failures: the cleared mark stays cleared.
stop_healer >/dev/null
start_healer || exit 1
sleep 1.1
jsend 3 "widget broke"
check "a restart keeps the clear" hist_wait 15 '[h["status"] for h in H if "widget" in h["error"]["message"]][:2]==["escalated","failed"]'

# 4. The error comes back right after the fix: verification fails. A long
# verify_window, so that a loaded machine still sees the attempt verifying
# before the test sends the recurrence.
stop_healer >/dev/null
sed -i 's/^verify_window = 2s$/verify_window = 10s/' "$tmp/healer.conf"
start_healer || exit 1
jsend 3 "flapper broke"
hist_wait 15 'any(h["status"]=="verifying" and "flapper" in h["error"]["message"] for h in H)' >/dev/null 2>&1
jsend 3 "flapper broke"
check "recurrence fails" hist_wait 30 'any(h["status"]=="failed" and "flapper" in h["error"]["message"] and "recur" in h["reason"] for h in H)'
stop_healer >/dev/null
sed -i 's/^verify_window = 10s$/verify_window = 2s/' "$tmp/healer.conf"
start_healer || exit 1

# 5. Healer's own lines are never acted on.
jsend 3 "thing broke from healer itself" SYSLOG_IDENTIFIER=healer
jsend 3 "gadget broke marker line"
hist_wait 15 'any("marker line" in h["error"]["message"] for h in H)' >/dev/null
check "own line ignored" hist_wait 2 'not any("healer itself" in h["error"]["message"] for h in H)'

# 6. SIGHUP with a broken whitelist: refused with file:line, the old one stays live.
cp "$tmp/whitelist.conf" "$tmp/whitelist.good"
printf '[action bad]\nexec = relative/path\n' >>"$tmp/whitelist.conf"
kill -HUP "$hpid"
for _ in $(seq 100); do grep -q "Reload refused" "$tmp/healer.log" && break; sleep 0.05; done
check "reload refused with file:line" grep -q "whitelist.conf:[0-9]*:" "$tmp/healer.log"
rm -f "$tmp/thing"
jsend 3 "thing broke after reload"
check "old whitelist still live" hist_wait 15 'any(h["status"]=="healed" and "after reload" in h["error"]["message"] for h in H)'
cp "$tmp/whitelist.good" "$tmp/whitelist.conf"

# 7. SIGTERM while a command runs: it finishes, the attempt is interrupted, exit 0.
jsend 3 "slowpoke broke"
hist_wait 15 'any(h["status"]=="executing" and "slowpoke" in h["error"]["message"] for h in H)' >/dev/null
t0=$(date +%s%N)
stop_healer
rc=$?
t1=$(date +%s%N)
check "SIGTERM exits 0 (got $rc)" test "$rc" -eq 0
check "the running command finished" hist_wait 2 'any(h["status"]=="interrupted" and "slowpoke" in h["error"]["message"] and "woke" in h["actions"][0]["output"] for h in H)'
echo "info: SIGTERM with a command running: exit after $(((t1 - t0) / 1000000)) ms"

# 8. auto_execute = no: awaiting approval, across a restart; approve, reject, expiry.
# A long approval_timeout while the test approves and rejects (a loaded
# machine can take seconds between the steps), a short one for the expiry.
write_config "cooldown = 0" "max_heals_per_hour = 100" "max_attempts = 10" "auto_execute = no" "approval_timeout = 10min"
rm -f "$tmp/thing" "$tmp/gadget"
start_healer || exit 1
jsend 3 "thing broke, needs approval"
check "awaiting approval" hist_wait 15 'any(h["status"]=="awaiting_approval" and "needs approval" in h["error"]["message"] for h in H)'
id=$(python3 -c 'import json,sys; print([h["id"] for h in json.loads(sys.argv[1])["history"] if h["status"]=="awaiting_approval"][0])' "$out")
stop_healer
start_healer || exit 1
check "still awaiting after a restart" hist_wait 5 "any(h['id']==$id and h['status']=='awaiting_approval' for h in H)"
check "approve" "$bin" approve -c "$tmp/healer.conf" "$id"
check "approved and healed" hist_wait 15 "any(h['id']==$id and h['status']=='healed' for h in H)"
jsend 3 "gadget broke, to be rejected"
check "awaiting (2)" hist_wait 15 'any(h["status"]=="awaiting_approval" and "to be rejected" in h["error"]["message"] for h in H)'
id=$(python3 -c 'import json,sys; print([h["id"] for h in json.loads(sys.argv[1])["history"] if h["status"]=="awaiting_approval"][0])' "$out")
check "reject" "$bin" reject -c "$tmp/healer.conf" "$id"
check "rejected" hist_wait 15 "any(h['id']==$id and h['status']=='rejected' for h in H)"
check "the rejected fix did not run" test ! -e "$tmp/gadget"
stop_healer
write_config "cooldown = 0" "max_heals_per_hour = 100" "max_attempts = 10" "auto_execute = no" "approval_timeout = 2s"
start_healer || exit 1
jsend 3 "gadget broke, left alone"
check "expired" hist_wait 15 'any(h["status"]=="rejected" and "left alone" in h["error"]["message"] and "approval_timeout" in h["reason"] for h in H)'
stop_healer

# A cursor that is not in this journal (another machine's): detected, and said.
python3 - "$tmp/state/healer.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE cursor SET cursor = 's=0123456789abcdef0123456789abcdef;i=9;b=0123456789abcdef0123456789abcdef;m=1;t=5f0000000000;x=9'")
c.commit()
PY
start_healer || exit 1
for _ in $(seq 100); do grep -q "not in this journal" "$tmp/healer.log" && break; sleep 0.05; done
check "a foreign cursor is detected" grep -q "not in this journal" "$tmp/healer.log"
stop_healer

# 9. dry run: everything but the commands.
write_config "cooldown = 0" "max_heals_per_hour = 100" "dry_run = yes"
start_healer || exit 1
jsend 3 "gadget broke in a dry run"
check "dry run recorded" hist_wait 15 'any(h["status"]=="skipped" and "dry run" in h["reason"] and "fix_gadget" in h["reason"] for h in H)'
check "dry run ran nothing" test ! -e "$tmp/gadget"
stop_healer

# 10. Default act_on: a line without a unit is recorded and skipped with that reason.
write_config "cooldown = 0" "max_heals_per_hour = 100"
sed -i '/^act_on = all$/d' "$tmp/healer.conf"
start_healer || exit 1
jsend 3 "thing broke without a unit"
check "act_on skips unitless" hist_wait 15 'any(h["status"]=="skipped" and "without a unit" in h["error"]["message"] and "act_on" in h["reason"] for h in H)'
stop_healer
kill "$hookpid" "$notifypid" 2>/dev/null
daemon_finish
