#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon's guards between deciding and acting, end to end (tier 1a):
#  - plans the host refuses (a precondition) do not spend the budget;
#  - what an administrator changes after an attempt was accepted holds
#    before it acts: healing disabled, dry run turned on (by a reload or
#    across a restart), the action taken out of the whitelist;
#  - an escalation stops the attempts of that fingerprint already waiting;
#  - a restart remembers each action's own cooldown, and the budget an
#    attempt spent before a crash;
#  - an error that recurs while the symptoms are checked a last time fails
#    the attempt;
#  - an action without a unit parameter keeps its own cooldown, whatever
#    unit the incidents came from;
#  - attempts waiting for a busy unit all end, even when the one woken
#    first ends without acting (the hourly budget spent).
# Incidents from a unit come from journal files written by
# systemd-journal-remote (trusted fields as journald sets them), the
# others from a private journald namespace.
. "$(dirname "$0")/lib.sh"
daemon_init hdguard "$@"

id=
final='("healed","failed","rejected","skipped","escalated","interrupted")'
cat >"$tmp/whitelist.conf" <<WL
[healer]
max_commands = 5

[action probe]
description = no unit parameter, a cooldown of its own
match = probe
exec = /bin/true
cooldown = 1h
timeout = 5s

[action hold]
description = holds its unit a while
match = hold
exec = $progs/ex_sleep 1000
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

[action slow_fix]
description = takes a while
match = slowfix
exec = $progs/ex_sleep 1500
timeout = 5s

[action flap_fix]
description = its symptom check is slow once the fix ran
match = flapfix
exec = /usr/bin/touch $tmp/flap
require = command $tmp/slowcheck
timeout = 5s

[action cool_fix]
description = a fix with a cooldown of its own
match = coolfix
exec = /bin/true
cooldown = 1h
timeout = 5s
WL
# The symptom holds while the flap marker is absent; once it exists, the
# check answers "gone" after a while, time for the error to come back.
printf '#!/bin/sh\n[ -e %s/flap ] || exit 0\n/bin/sleep 4\nexit 1\n' "$tmp" >"$tmp/slowcheck"
chmod 0755 "$tmp/slowcheck"
thing='
[action fix_thing]
description = create the thing marker
match = fixthing
exec = /usr/bin/touch '"$tmp"'/thing
require = command /usr/bin/test ! -e '"$tmp"'/thing
timeout = 5s'
cp "$tmp/whitelist.conf" "$tmp/whitelist.narrow"
printf '%s\n' "$thing" >>"$tmp/whitelist.conf"
cp "$tmp/whitelist.conf" "$tmp/whitelist.full"
cat >"$tmp/rules.conf" <<'RULES'
[rule probe]
message = probe-error
propose = probe

[rule hold]
message = hold-error
propose = hold

[rule thing]
message = thing broke
propose = fix_thing

[rule gadget]
message = gadget broke
propose = fix_gadget

[rule broken]
message = widget broke
propose = broken_fix

[rule slow]
message = slowpoke broke
propose = slow_fix

[rule flap]
message = flapper broke
propose = flap_fix

[rule cool]
message = cooler broke
propose = cool_fix
RULES

# conf SOURCE LOOKBACK LINE...: healer.conf reading SOURCE; LINEs go to [healer].
conf() {
	local src=$1 lookback=$2
	shift 2
	{
		printf '[healer]\nstate_dir = %s/state\nwhitelist = %s/whitelist.conf\n' "$tmp" "$tmp"
		printf 'act_on = all\nsettle = 100ms\nverify_window = 1s\ncooldown = 0\n'
		printf 'max_attempts = 10\n'
		printf '%s\n' "$@"
		printf '[journal]\nsource = %s\nlookback = %s\ndedupe_window = 1s\n' "$src" "$lookback"
		printf '[llm]\nprovider = rules\nrules = %s/rules.conf\n' "$tmp"
	} >"$tmp/healer.conf"
}
# A scenario of its own: no history, no budget spent, no cooldowns.
fresh() {
	rm -rf "$tmp/state" "$tmp/thing" "$tmp/gadget"
	mkdir -p "$tmp/state"
}
nsconf() { conf "namespace:$ns" 0 "$@"; }

# unit_journal DIR UNIT MESSAGE...: a journal file in DIR with one error
# line per MESSAGE, from UNIT as journald records a service's output.
unit_journal() {
	local dir=$1 unit=$2
	shift 2
	mkdir -p "$dir"
	python3 - "$unit" "$@" >"$dir.export" <<'PY'
import sys, time, uuid
unit, now, boot = sys.argv[1], int(time.time() * 1e6), uuid.uuid4().hex
for i, msg in enumerate(sys.argv[2:]):
    print("__REALTIME_TIMESTAMP=%d" % (now - 2000000 + i * 1000))
    print("__MONOTONIC_TIMESTAMP=%d" % (5000000 + i * 1000))
    print("_BOOT_ID=%s\n_HOSTNAME=testhost\n_TRANSPORT=stdout" % boot)
    print("_SYSTEMD_UNIT=%s\n_PID=4242\n_UID=0\n_COMM=app" % unit)
    print("SYSLOG_IDENTIFIER=app\nPRIORITY=3\nMESSAGE=%s\n" % msg)
PY
	/lib/systemd/systemd-journal-remote -o "$dir/x.journal" "$dir.export" 2>/dev/null ||
		bad "systemd-journal-remote failed"
}

# wait_healer_log PATTERN: the daemon's log shows PATTERN (within 5 s).
wait_healer_log() {
	for _ in $(seq 100); do grep -q "$1" "$tmp/healer.log" && return 0; sleep 0.05; done
	echo "wait_healer_log: no '$1'" >&2
	return 1
}

# reload LINE...: healer.conf anew (namespace source), then SIGHUP, and wait until it is live.
reload() {
	local n
	n=$(grep -c "Reloaded:" "$tmp/healer.log")
	nsconf "$@"
	kill -HUP "$hpid"
	for _ in $(seq 100); do
		[ "$(grep -c "Reloaded:" "$tmp/healer.log")" -gt "$n" ] && return 0
		sleep 0.05
	done
	echo "reload: not live" >&2
	return 1
}

# awaiting TEXT: the id of the attempt awaiting approval whose message has TEXT.
awaiting() {
	hist_wait 15 'any(h["status"]=="awaiting_approval" and "'"$1"'" in h["error"]["message"] for h in H)' || return 1
	id=$(python3 -c 'import json,sys; print([h["id"] for h in json.loads(sys.argv[1])["history"] if h["status"]=="awaiting_approval" and sys.argv[2] in h["error"]["message"]][0])' "$out" "$1")
}

# 1. Plans the host refuses (a precondition does not hold) spend no budget:
#    with max_heals_per_hour = 2, three refusals, then a real heal.
fresh
nsconf "max_heals_per_hour = 2"
start_healer || exit 1
touch "$tmp/gadget"
jsend 3 "gadget broke one way"
jsend 3 "gadget broke another way"
jsend 3 "gadget broke in a third way"
check "refused plans: all three rejected by the precondition" hist_wait 15 \
	'sum(1 for h in H if "gadget" in h["error"]["message"] and h["status"]=="rejected" and "precondition" in h["reason"])==3'
jsend 3 "thing broke for real"
check "refused plans: a real heal still runs" hist_wait 15 \
	'any(h["status"]=="healed" and "for real" in h["error"]["message"] for h in H)'
stop_healer

# 2. Accepted, awaiting approval, then the administrator changes the
#    settings: the approval runs nothing.
fresh
nsconf "auto_execute = no" "approval_timeout = 1min"
start_healer || exit 1
jsend 3 "thing broke as healing is switched off"
awaiting "switched off"
reload "auto_execute = no" "approval_timeout = 1min" "enabled = no"
"$bin" approve -c "$tmp/healer.conf" "$id" >/dev/null
check "disabled: skipped at approval" hist_wait 15 \
	"any(h['id']==$id and h['status']=='skipped' and 'disabled' in h['reason'] for h in H)"
check "disabled: nothing ran" test ! -e "$tmp/thing"

reload "auto_execute = no" "approval_timeout = 1min"
rm -f "$tmp/thing" # each case on its own, whatever the one before did
jsend 3 "thing broke as dry run comes on"
awaiting "dry run comes on"
reload "auto_execute = no" "approval_timeout = 1min" "dry_run = yes"
"$bin" approve -c "$tmp/healer.conf" "$id" >/dev/null
check "dry run on reload: recorded at approval" hist_wait 15 \
	"any(h['id']==$id and h['status']=='skipped' and 'dry run' in h['reason'] for h in H)"
check "dry run on reload: nothing ran" test ! -e "$tmp/thing"

reload "auto_execute = no" "approval_timeout = 1min"
rm -f "$tmp/thing"
jsend 3 "thing broke as the whitelist narrows"
awaiting "whitelist narrows"
cp "$tmp/whitelist.narrow" "$tmp/whitelist.conf"
reload "auto_execute = no" "approval_timeout = 1min"
"$bin" approve -c "$tmp/healer.conf" "$id" >/dev/null
check "narrowed whitelist: rejected at approval" hist_wait 15 \
	"any(h['id']==$id and h['status']=='rejected' and 'no longer allows' in h['reason'] for h in H)"
check "narrowed whitelist: nothing ran" test ! -e "$tmp/thing"
cp "$tmp/whitelist.full" "$tmp/whitelist.conf"

reload "auto_execute = no" "approval_timeout = 1min"
rm -f "$tmp/thing"
jsend 3 "thing broke before a dry-run restart"
awaiting "dry-run restart"
stop_healer
nsconf "auto_execute = no" "approval_timeout = 1min" "dry_run = yes"
start_healer || exit 1
check "dry run after a restart: still awaiting" hist_wait 5 \
	"any(h['id']==$id and h['status']=='awaiting_approval' for h in H)"
"$bin" approve -c "$tmp/healer.conf" "$id" >/dev/null
check "dry run after a restart: recorded at approval" hist_wait 15 \
	"any(h['id']==$id and h['status']=='skipped' and 'dry run' in h['reason'] for h in H)"
check "dry run after a restart: nothing ran" test ! -e "$tmp/thing"
stop_healer

# 3. Three attempts of one fingerprint await approval; the first two fail
#    and escalate it (escalate_after = 2): the third runs nothing.
fresh
nsconf "auto_execute = no" "approval_timeout = 1min" "escalate_after = 2"
start_healer || exit 1
ids=()
for i in 1 2 3; do
	jsend 3 "widget broke"
	hist_wait 15 "sum(1 for h in H if h['status']=='awaiting_approval')==$i" >/dev/null ||
		bad "widget attempt $i not awaiting approval"
	sleep 1.1 # past dedupe_window: the next line is an incident of its own
done
ids=($(q "SELECT id FROM attempts WHERE state = 'awaiting_approval' ORDER BY id"))
"$bin" approve -c "$tmp/healer.conf" "${ids[0]}" >/dev/null
hist_wait 15 "any(h['id']==${ids[0]} and h['status']=='failed' for h in H)" >/dev/null
"$bin" approve -c "$tmp/healer.conf" "${ids[1]}" >/dev/null
check "escalation: the second failure escalates" hist_wait 15 \
	"any(h['id']==${ids[1]} and h['status']=='escalated' for h in H)"
"$bin" approve -c "$tmp/healer.conf" "${ids[2]}" >/dev/null
check "escalation: the third is skipped at approval" hist_wait 15 \
	"any(h['id']==${ids[2]} and h['status']=='skipped' and 'escalated' in h['reason'] for h in H)"
check "escalation: the fix ran twice only" wait_for 2 \
	"SELECT count(*) FROM commands WHERE action = 'broken_fix' AND dry_run = 0" 2
stop_healer

# 4. A restart remembers an action's own cooldown (cool_fix, 1h).
fresh
nsconf
start_healer || exit 1
jsend 3 "cooler broke first"
check "cooldown across a restart: healed" hist_wait 15 \
	'any(h["status"]=="healed" and "cooler broke first" in h["error"]["message"] for h in H)'
stop_healer
start_healer || exit 1
jsend 3 "cooler broke once more"
check "cooldown across a restart: kept" hist_wait 15 \
	'any(h["status"]=="skipped" and "once more" in h["error"]["message"] and "cooldown of action cool_fix" in h["reason"] for h in H)'
stop_healer

# 5. kill -9 while a command runs: after the restart that attempt is
#    interrupted, and the heal it started still counts (max_heals_per_hour = 1).
fresh
nsconf "max_heals_per_hour = 1"
start_healer || exit 1
jsend 3 "slowpoke broke"
command_runs() { pgrep -P "$hpid" ex_sleep >/dev/null; }
for _ in $(seq 300); do command_runs && break; sleep 0.05; done
check "crash: the command runs" command_runs
kill -9 "$hpid"
wait "$hpid" 2>/dev/null
hpid=
start_healer || exit 1
check "crash: the attempt is interrupted" hist_wait 5 \
	'any(h["status"]=="interrupted" and "slowpoke" in h["error"]["message"] for h in H)'
jsend 3 "thing broke after the crash"
check "crash: the budget it spent is remembered" hist_wait 15 \
	'any(h["status"]=="skipped" and "after the crash" in h["error"]["message"] and "hourly budget" in h["reason"] for h in H)'
check "crash: nothing else ran" test ! -e "$tmp/thing"
stop_healer
# 6. The error comes back while the last look at the symptoms runs: failed.
fresh
rm -f "$tmp/flap"
nsconf
start_healer || exit 1
jsend 3 "flapper broke"
hist_wait 15 'any(h["status"]=="verifying" and "flapper" in h["error"]["message"] for h in H)' >/dev/null
symptom_check_runs() { [ -e "$tmp/flap" ] && pgrep -P "$hpid" -f slowcheck >/dev/null; }
for _ in $(seq 200); do symptom_check_runs && break; sleep 0.05; done
check "recurrence in the last look: the check runs" symptom_check_runs
jsend 3 "flapper broke"
check "recurrence in the last look: failed" hist_wait 15 \
	'any(h["status"]=="failed" and "flapper" in h["error"]["message"] and "recurred" in h["reason"] for h in H)'
stop_healer

# The namespace's journald has no client from here on and may exit when
# idle: the scenarios that read journal files come last.
# 7. An action without a unit parameter (probe, cooldown = 1h) proposed for
#    two different errors of one unit: its cooldown holds for the second.
fresh
unit_journal "$tmp/j1" u1.service "probe-error alpha" "probe-error beta gamma"
conf "directory:$tmp/j1" 1min
start_healer || exit 1
check "action cooldown: two attempts end" wait_for 20 \
	"SELECT count(*) FROM attempts WHERE state IN $final" 2
check "action cooldown: the action ran once" wait_for 2 \
	"SELECT count(*) FROM commands WHERE action = 'probe' AND dry_run = 0" 1
check "action cooldown: the second skipped for it" wait_for 2 \
	"SELECT state, reason LIKE '%cooldown of action probe%' FROM attempts ORDER BY id" \
	"healed|0
skipped|1"
stop_healer

# 8. Three errors of one unit, max_heals_per_hour = 1: the first acts, the
#    two waiting for the unit both end (the budget refuses them).
fresh
unit_journal "$tmp/j2" u2.service "hold-error one" "hold-error two two" "hold-error three three three"
conf "directory:$tmp/j2" 1min "max_heals_per_hour = 1"
start_healer || exit 1
check "unit waiters: all three end" wait_for 20 \
	"SELECT count(*) FROM attempts WHERE state IN $final" 3
check "unit waiters: one acted, two refused by the budget" wait_for 2 \
	"SELECT state, count(*) FROM attempts GROUP BY state ORDER BY state" "healed|1
skipped|2"
check "unit waiters: the refusals name the budget" wait_for 2 \
	"SELECT count(*) FROM attempts WHERE state = 'skipped' AND reason LIKE '%hourly budget%'" 2
stop_healer

daemon_finish
