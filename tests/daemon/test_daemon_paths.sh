#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Attempt paths beside the main flow (tier 1a, a private journald):
#  - one attempt per unit at a time: a second incident on the same unit
#    waits, says so, and runs only once the first has ended; when the one
#    woken first gives way (an action's cooldown), the next is still woken;
#    when the first one's failure escalates the unit, the waiting one runs
#    nothing;
#  - a plan from knowledge is vetted again: after a whitelist change and
#    SIGHUP it is refused (action gone, argument no longer allowed) and the
#    rules decide, or its new precondition fails and nothing runs;
#  - decisions go to the running daemon; one that comes too late (a
#    rejection once the plan runs, an approval after approval_timeout) is
#    ignored and said; an approval after a reload that removed the action
#    runs nothing; the CLI refuses what is not awaiting approval.
# Commands are tests/progs/ex_mark, which leaves timestamped marks, so that
# what ran, and when, is read from the host and not from Healer's records.
. "$(dirname "$0")/lib.sh"
daemon_init hdpaths "$@"

marks=$tmp/marks
wl_action() { # NAME MS LABEL [STATUS [LINE...]]: an action that runs ex_mark
	printf '[action %s]\nmatch = %s\nexec = %s %s %s %s%s\ntimeout = 10s\n' \
		"$1" "$1" "$progs/ex_mark" "$marks" "$2" "$3" "${4:+ $4}"
	[ $# -gt 4 ] && printf '%s\n' "${@:5}"
	echo
}
# whitelist KAPPA-ACTION PACKAGE-PATTERN [RHO-REQUIRE]; mark_u only while $with_u is set
with_u=yes
whitelist() {
	{
		wl_action mark_a 2000 a
		wl_action mark_b 200 b
		wl_action mark_g 4000 g "" "cooldown = 1h"
		wl_action mark_e 100 e
		wl_action mark_z 8000 z 1
		wl_action mark_h 0 h
		wl_action mark_t 0 t
		wl_action mark_i 5000 i
		[ -n "$with_u" ] && wl_action mark_u 0 u
		wl_action "$1" 0 "${1#fix_}"
		wl_action fix_r 0 r "" ${3:+"require = $3"}
		printf '[action fix_p]\nmatch = fix_p {name}\nexec = %s %s 0 p-{name}\n' "$progs/ex_mark" "$marks"
		printf 'param name = text %s\n' "$2"
	} >"$tmp/whitelist.conf"
}
rules() { # KAPPA-ACTION; messages are anchored: "theta broke" holds "eta broke"
	cat >"$tmp/rules.conf" <<RULES
[rule alpha]
message = ^alpha broke$
propose = mark_a
[rule beta]
message = ^beta broke$
propose = mark_b
[rule gamma]
message = ^gamma broke$
propose = mark_g
[rule delta]
message = ^delta broke$
propose = mark_g
[rule epsilon]
message = ^epsilon broke$
propose = mark_e
[rule zeta]
message = ^zeta broke$
propose = mark_z
[rule eta]
message = ^eta broke$
propose = mark_h
[rule theta]
message = ^theta broke$
propose = mark_t
[rule iota]
message = ^iota broke$
propose = mark_i
[rule upsilon]
message = ^upsilon broke$
propose = mark_u
[rule kappa]
message = ^kappa broke$
propose = $1
[rule package]
message = ^package (?<name>[a-z0-9]+) broke$
propose = fix_p name={name}
[rule rho]
message = ^rho broke$
propose = fix_r
RULES
}
# How often LABEL started, from the marks.
starts() { grep -c "^$1 start " "$marks" 2>/dev/null; }
# hq EXPR: Python over the history in $out, with H (newest first), A(msg)
# (the attempts of that message, newest first), T(h, text) (h's transitions
# whose reason holds text) and X(h, state) (when h entered state).
hq() {
	python3 -c '
import json, sys
H = json.loads(sys.argv[1])["history"]
def A(msg): return [h for h in H if h["error"]["message"] == msg]
def T(h, text): return [t for t in h["transitions"] if text in (t["reason"] or "")]
def X(h, state): return [t["at"] for t in h["transitions"] if t["to"] == state]
sys.exit(0 if ('"$1"') else 1)' "$out" 2>/dev/null
}
# hw SECONDS EXPR: polls the history until hq EXPR holds.
hw() {
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
	while :; do
		history
		hq "$2" && return 0
		[ $(($(date +%s%N) / 1000000)) -ge "$deadline" ] && break
		sleep 0.05
	done
	echo "hw: '$2' not true on: $(head -c 3000 <<<"$out")" >&2
	return 1
}
attempt_id() { # MESSAGE: the newest attempt's id, from $out
	python3 -c 'import json,sys; print([h["id"] for h in json.loads(sys.argv[1])["history"] if h["error"]["message"]==sys.argv[2]][0])' "$out" "$1"
}

whitelist fix_k "[a-z0-9]+"
rules fix_k
journal_extra="dedupe_window = 1s"
write_config "cooldown = 0" "max_attempts = 10" "max_heals_per_hour = 100" "escalate_after = 1"
check "run --check passes" "$bin" run -c "$tmp/healer.conf" --check
start_healer || exit 1

# 1. Two incidents on one unit arrive together: one runs, the other waits
# (and says for which attempt), then runs after the first has ended: the
# first holds its unit until it is verified.
jsend_unit foo.service 3 "alpha broke"
jsend_unit foo.service 3 "beta broke"
# Judged from the stored transitions once both have ended, not from a live
# sample that a loaded machine could miss.
check "both healed" hw 30 'len(A("alpha broke") + A("beta broke")) == 2 and all(h["status"] == "healed" for h in A("alpha broke") + A("beta broke"))'
check "one waited, naming the other attempt and the unit" hq '
(lambda w, o: len(w) == 1 and len(o) == 1 and
 T(w[0], "waiting: attempt %d acts on foo.service" % o[0]["id"]))(
 [h for h in A("alpha broke") + A("beta broke") if T(h, "waiting: ")],
 [h for h in A("alpha broke") + A("beta broke") if not T(h, "waiting: ")])'
check "the waiting one waited before the other was healed, and ran nothing meanwhile" hq '
(lambda w, o: max(t["at"] for t in T(w, "waiting: ")) < X(o, "healed")[0] <= X(w, "executing")[0])(
 *sorted(A("alpha broke") + A("beta broke"), key=lambda h: not T(h, "waiting: ")))'
check "their commands did not overlap" python3 -c '
import sys
t = {}
for l in open(sys.argv[1]):
    label, what, ns = l.split()
    t.setdefault(label, {})[what] = int(ns)
first, second = sorted([t["a"], t["b"]], key=lambda x: x["start"])
sys.exit(0 if first["end"] <= second["start"] else 1)' "$marks"
check "the second executed after the first was healed" hq '
(lambda f, s: X(s, "executing")[0] >= X(f, "healed")[0])(*sorted(A("alpha broke") + A("beta broke"), key=lambda h: X(h, "executing")[0]))'

# 2. Three on one unit. The one woken first gives way (the action's cooldown,
# since the first has just run it): the third must still be woken, and run.
# The first's command takes 4 s, room to send the others while it runs.
jsend_unit bar.service 3 "gamma broke"
hw 15 'A("gamma broke") and A("gamma broke")[0]["status"] == "executing"' >/dev/null
jsend_unit bar.service 3 "delta broke"
jsend_unit bar.service 3 "epsilon broke"
check "both later ones wait" hw 15 'A("delta broke") and A("epsilon broke") and T(A("delta broke")[0], "waiting: ") and T(A("epsilon broke")[0], "waiting: ")'
check "the first healed" hw 15 'A("gamma broke")[0]["status"] == "healed"'
check "the second gave way to the cooldown" hw 15 'A("delta broke")[0]["status"] == "skipped" and "cooldown of action mark_g" in A("delta broke")[0]["reason"]'
check "the third was still woken, and healed" hw 15 'A("epsilon broke")[0]["status"] == "healed"'
check "mark_g ran once, mark_e once ($(starts g), $(starts e))" test "$(starts g)/$(starts e)" = 1/1

# 3. The first fails and escalates its unit (escalate_after = 1): the one
# that waited for the unit must run nothing. The first's command takes 8 s,
# room for a loaded machine to send the second while it runs.
jsend_unit baz.service 3 "zeta broke"
hw 15 'A("zeta broke") and A("zeta broke")[0]["status"] == "executing"' >/dev/null
jsend_unit baz.service 3 "eta broke"
check "eta waits" hw 15 'A("eta broke") and T(A("eta broke")[0], "waiting: ")'
check "zeta failed and escalated" hw 30 'A("zeta broke")[0]["status"] == "escalated"'
check "eta skipped: its unit is escalated" hw 15 '
A("eta broke")[0]["status"] == "skipped" and "baz.service was escalated" in A("eta broke")[0]["reason"] and A("eta broke")[0]["actions"] == []'
check "eta's command never ran ($(starts h))" test "$(starts h)" = 0

# 4. Knowledge. Three errors heal once each by the rules: their plans are stored.
for m in "kappa broke" "package beta7 broke" "rho broke"; do jsend 3 "$m"; done
check "three heals by the rules" hw 20 '
all(A(m) and A(m)[0]["status"] == "healed" and A(m)[0]["provider"] == "rules" for m in ("kappa broke", "package beta7 broke", "rho broke"))'
check "their plans are known" test "$(q "SELECT count(*) FROM knowledge WHERE instr(plan_json, '\"fix_') > 0 AND successes = 1 AND failures = 0")" = 3
# The whitelist changes: fix_k is gone (kappa's rule proposes fix_k2 now),
# fix_p takes letters only, fix_r requires what does not hold.
whitelist fix_k2 "[a-z]+" "command /usr/bin/test -e $tmp/never"
rules fix_k2
check "the new whitelist is valid" "$bin" whitelist check "$tmp/whitelist.conf"
kill -HUP "$hpid"
for _ in $(seq 100); do grep -q "Reloaded" "$tmp/healer.log" && break; sleep 0.05; done
check "reloaded" grep -q "Reloaded" "$tmp/healer.log"
sleep 1.1 # past dedupe_window: the same lines open new incidents
for m in "kappa broke" "package beta7 broke" "rho broke"; do jsend 3 "$m"; done
# 4a. Its action is gone: the stored plan is refused, history says so, and
# the rules decide (and heal).
check "kappa: the stored plan refused, then the rules healed" hw 20 '
len(A("kappa broke")) == 2 and A("kappa broke")[0]["status"] == "healed" and
A("kappa broke")[0]["provider"] == "rules" and
[c["action"] for c in A("kappa broke")[0]["actions"]] == ["fix_k2"] and
len(T(A("kappa broke")[0], "the stored plan")) == 1 and "fix_k" in T(A("kappa broke")[0], "the stored plan")[0]["reason"]'
check "the old plan did not run again ($(starts k), $(starts k2))" test "$(starts k)/$(starts k2)" = 1/1
# 4b. Its argument is no longer allowed: refused, said; the rules propose the
# same and are refused too: nothing runs.
check "package: the stored plan refused, then the rules' too; nothing ran" hw 20 '
len(A("package beta7 broke")) == 2 and A("package beta7 broke")[0]["status"] == "rejected" and
A("package beta7 broke")[0]["provider"] == "rules" and A("package beta7 broke")[0]["actions"] == [] and
len(T(A("package beta7 broke")[0], "the stored plan")) == 1'
check "fix_p did not run again ($(starts p-beta7))" test "$(starts p-beta7)" = 1
# 4c. The action stays but its new precondition fails: the plan is the
# stored one, and nothing runs.
check "rho: the stored plan, refused by its precondition" hw 20 '
len(A("rho broke")) == 2 and A("rho broke")[0]["status"] == "rejected" and
A("rho broke")[0]["provider"] == "knowledge" and "precondition" in A("rho broke")[0]["reason"] and
[(c["action"], c["accepted"], c["exit_code"]) for c in A("rho broke")[0]["actions"]] == [("fix_r", False, -1)]'
check "fix_r did not run again ($(starts r))" test "$(starts r)" = 1
stop_healer

# 5. Decisions with auto_execute = no.
write_config "cooldown = 0" "max_attempts = 10" "max_heals_per_hour = 100" "auto_execute = no"
start_healer || exit 1
# 5a. Decisions go to the running daemon: while it is down they are refused
# and nothing is recorded; the attempt waits across the restart.
jsend 3 "theta broke"
check "theta awaits approval" hw 15 'A("theta broke") and A("theta broke")[0]["status"] == "awaiting_approval"'
id=$(attempt_id "theta broke")
stop_healer
"$bin" approve -c "$tmp/healer.conf" "$id" >/dev/null 2>"$tmp/cli.err"
check "approve while down: exit 3 ($?)" test $? = 3
check "... saying the daemon is not running" grep -q "not running" "$tmp/cli.err"
start_healer || exit 1
check "theta still awaits approval after the restart" hw 15 'A("theta broke")[0]["status"] == "awaiting_approval"'
check "reject" "$bin" reject -c "$tmp/healer.conf" "$id"
check "rejected, nothing run" hw 15 "A('theta broke')[0]['status'] == 'rejected' and A('theta broke')[0]['reason'] == 'rejected by api' and A('theta broke')[0]['actions'] == []"
check "theta's command never ran ($(starts t))" test "$(starts t)" = 0
# 5b. A rejection once the approved plan runs is refused (409): the plan runs
# to its end, and only the approval is audited.
sleep 1.1
jsend 3 "iota broke"
check "iota awaits approval" hw 15 'A("iota broke") and A("iota broke")[0]["status"] == "awaiting_approval"'
id=$(attempt_id "iota broke")
check "approve" "$bin" approve -c "$tmp/healer.conf" "$id"
check "iota executes" hw 15 'A("iota broke")[0]["status"] == "executing"'
"$bin" reject -c "$tmp/healer.conf" "$id" >/dev/null 2>"$tmp/cli.err"
check "a rejection while it runs: exit 1 ($?)" test $? = 1
check "... and why" grep -q "not awaiting approval" "$tmp/cli.err"
check "the approval ran the plan" hw 15 "A('iota broke')[0]['status'] == 'healed' and A('iota broke')[0]['actions'][0]['exit_code'] == 0"
check "only the approval is audited" test "$(q "SELECT group_concat(what) FROM (SELECT what FROM audit WHERE detail = 'attempt $id' ORDER BY id)")" = "approve"
# 5c. The CLI refuses what is not awaiting approval.
"$bin" approve -c "$tmp/healer.conf" "$id" >/dev/null 2>"$tmp/cli.err"
check "approving a healed attempt: exit 1 ($?)" test $? = 1
check "... and why" grep -q "attempt $id is healed, not awaiting approval" "$tmp/cli.err"
"$bin" reject -c "$tmp/healer.conf" 999999 >/dev/null 2>&1
check "no such attempt: exit 1" test $? = 1
"$bin" approve -c "$tmp/healer.conf" >/dev/null 2>&1
check "no id: exit 2" test $? = 2
# 5d. The whitelist loses the action while the plan awaits approval (SIGHUP):
# the approved plan is vetted again, refused, and nothing runs.
jsend 3 "upsilon broke"
check "upsilon awaits approval" hw 15 'A("upsilon broke") and A("upsilon broke")[0]["status"] == "awaiting_approval"'
id=$(attempt_id "upsilon broke")
with_u=
whitelist fix_k2 "[a-z]+" "command /usr/bin/test -e $tmp/never"
reloads=$(grep -c "Reloaded" "$tmp/healer.log")
kill -HUP "$hpid"
for _ in $(seq 100); do [ "$(grep -c "Reloaded" "$tmp/healer.log")" -gt "$reloads" ] && break; sleep 0.05; done
check "reloaded without mark_u" test "$(grep -c "Reloaded" "$tmp/healer.log")" -gt "$reloads"
check "approve upsilon" "$bin" approve -c "$tmp/healer.conf" "$id"
check "the approved plan is refused by the whitelist in force" hw 15 "A('upsilon broke')[0]['status'] == 'rejected' and 'no longer allows' in A('upsilon broke')[0]['reason'] and A('upsilon broke')[0]['actions'] == []"
check "mark_u never ran ($(starts u))" test "$(starts u)" = 0
stop_healer

# 5e. approval_timeout passes while the daemon is down: the attempt expires
# at start and nothing runs.
write_config "cooldown = 0" "max_attempts = 10" "max_heals_per_hour = 100" "auto_execute = no" "approval_timeout = 5s"
start_healer || exit 1
sleep 1.1
jsend 3 "theta broke"
# 5 s: room for a loaded machine to see the wait before it expires.
check "theta awaits approval again" hw 15 'len(A("theta broke")) == 2 and A("theta broke")[0]["status"] == "awaiting_approval"'
stop_healer
sleep 5.2
start_healer || exit 1
check "expired at start" hw 15 "A('theta broke')[0]['status'] == 'rejected' and 'approval_timeout' in A('theta broke')[0]['reason'] and A('theta broke')[0]['actions'] == []"
check "theta's command never ran ($(starts t))" test "$(starts t)" = 0
stop_healer
if [ "$failed" -gt 0 ]; then
	echo "healer.log, last lines:" >&2
	tail -n 60 "$tmp/healer.log" >&2
fi
daemon_finish
