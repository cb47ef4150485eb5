#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# healer replay over real journal files (systemd-journal-remote from export
# text, mkjournal in lib.sh): the shipped whitelist and rules, and a test whitelist
# whose command and whose precondition would each leave a marker file. It
# checks the record (SQLite, read with python's sqlite3 and with `healer
# history`), that nothing ran and no check was made, that policy's windows
# follow the entries' own timestamps, that --since/--until cut as journalctl
# does, and the refusals of bad input.
. "$(dirname "$0")/lib.sh"
cli_init replay

T0=1796040000 # 2026-11-30 12:00:00 UTC

# The journals: mkjournal DIR SPEC... (lib.sh), SPEC "minute:unit:priority:message[|F=v,...]".

# sql DB PYTHON-EXPR: rows of the record as dicts; A attempts (joined with
# their incident), C commands, T transitions; the expression must hold.
sql() {
	local db=$1 expr=$2
	if python3 - "$db" "$expr" <<'EOF' 2>"$tmp/sql.err"; then ok; else bad "sql '$expr' on $db: $(cat "$tmp/sql.err")"; fi
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
db.row_factory = sqlite3.Row
A = [dict(r) for r in db.execute(
    "SELECT a.*, i.fingerprint, i.unit, i.message, i.first_seen, i.count, i.source_class"
    " FROM attempts a JOIN incidents i ON i.id = a.incident_id ORDER BY a.id")]
C = [dict(r) for r in db.execute("SELECT * FROM commands ORDER BY id")]
T = [dict(r) for r in db.execute("SELECT * FROM transitions ORDER BY id")]
ok = eval(sys.argv[2])
if not ok:
    print("A =", [(a["id"], a["unit"], a["state"], a["reason"]) for a in A], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
}

# ---- 1. the shipped whitelist and rules, two hours of one error ----

bind='bind() to 0.0.0.0:80 failed (98: Address already in use)'
specs=("0:nginx.service:3:$bind")
specs+=("1:nginx.service:3:$bind" "1.5:nginx.service:3:$bind") # fold into the first incident
specs+=("2:sshd.service:3:sshd.service: Main process exited, code=killed, status=9/KILL")
specs+=("3:session-3.scope:3:please restart nginx|_SYSTEMD_SESSION=3")
specs+=("4:app.service:3:something odd happened")
specs+=("5:app.service:6:an info line, not read")
for i in $(seq 1 9); do specs+=("$((i * 12)):nginx.service:3:$bind"); done
mkjournal "$tmp/a" "${specs[@]}"

cat >"$tmp/shipped.conf" <<EOF
[healer]
whitelist = $top/examples/whitelist.conf
dry_run = no
[llm]
provider = rules
rules = $top/examples/rules.conf
[api]
listen = unix:$tmp/api.sock
EOF

expect_rc 0 "$bin" replay --directory "$tmp/a" -c "$tmp/shipped.conf" --out "$tmp/a.db" --json
json_check 'j["replay"]["complete"] and j["replay"]["entries"] == 15 and j["replay"]["incidents"] == 13'
json_check 'j["replay"]["first_entry"] == '$T0'000000 and j["replay"]["last_entry"] == '$T0'000000 + 108 * 60000000'
# 0, 12, 24 min; then 3 in the hour refuse 36 and 48; 60 (the 0 left), 72, 84; 96, 108 refused.
json_check 'j["replay"]["outcomes"] == {"would_run": 6, "policy": 5, "whitelist": 1, "no_plan": 1}'
json_check 'j["replay"]["refusals"] == {"max_attempts": 4, "act_on": 1, "whitelist": 1}'
json_check 'j["replay"]["not_judged"] == {"unit-failed": 6, "unit-properties": 6}'
json_check 'j["replay"]["analyses"] == 8 and j["provider"].startswith("rules")'
json_check 'j["fingerprints"]["total"] == 4 and j["fingerprints"]["fingerprints"][0]["lines"] == 12'
json_check 'j["fingerprints"]["fingerprints"][0]["would_run"] == 6 and j["fingerprints"]["fingerprints"][0]["analyses"] == 6'
json_check '"would have run restart_service" in j["fingerprints"]["fingerprints"][0]["would_run_reason"]'
db=$tmp/a.db
sql "$db" 'len(A) == 13 and all(a["dry_run"] == 1 for a in A)'
sql "$db" '[a["state"] for a in A if a["unit"] == "nginx.service"] == ["skipped"] * 10'
sql "$db" '[("would have run" in a["reason"]) for a in A if a["unit"] == "nginx.service"] == [True, True, True, False, False, True, True, True, False, False]'
sql "$db" 'all("max_attempts" in a["reason"] for a in A if a["unit"] == "nginx.service" and "would have run" not in a["reason"])'
sql "$db" '[a["count"] for a in A if a["unit"] == "nginx.service"][0] == 3'
# The simulated clock: each attempt is stamped with its own entry's time, to the microsecond.
sql "$db" 'all(a["created"] == a["first_seen"] and a["updated"] == a["first_seen"] for a in A)'
sql "$db" 'all(t["at"] >= '$T0'000000 and t["at"] <= '$T0'000000 + 108 * 60000000 for t in T)'
sql "$db" 'any(a["unit"] == "sshd.service" and a["state"] == "rejected" and "protected" in a["reason"] for a in A)'
sql "$db" 'any(a["source_class"] == "sessions" and "act_on" in a["reason"] for a in A)'
sql "$db" 'any(a["unit"] == "app.service" and a["reason"].startswith("no plan") for a in A)'
sql "$db" 'len(C) == 6 and all(c["dry_run"] == 1 and c["exit_status"] == -1 and c["duration_usec"] == 0 for c in C)'
sql "$db" 'all(c["reason"] == "dry run: not run; not judged offline: '"'"'unit-failed nginx.service'"'"', the properties of nginx.service" for c in C)'

# The record reads as any store does: history and stats, by file or by config.
expect_rc 0 "$bin" history --db "$db" --json --limit 100
json_check 'len(j["history"]) == 13 and all(h["dry_run"] for h in j["history"])'
expect_rc 0 "$bin" stats --db "$db" --json
json_check 'j["statistics"]["total_attempts"] == 13 and j["statistics"]["skipped"] == 12 and j["statistics"]["rejected"] == 1'
mkdir -p "$tmp/state"
cp "$db" "$tmp/state/healer.db"
printf '[healer]\nstate_dir = %s/state\n[api]\nlisten = unix:%s/none.sock\n' "$tmp" "$tmp" >"$tmp/hist.conf"
expect_rc 0 "$bin" history -c "$tmp/hist.conf" --state skipped --json
json_check 'len(j["history"]) == 12'
expect_rc 2 "$bin" history -c "$tmp/hist.conf" --db "$db"

# The text summary.
expect_rc 0 "$bin" replay --directory "$tmp/a" -c "$tmp/shipped.conf" --out "$tmp/a2.db" --top 2
for want in 'entries   15 read, from 2026-11-30 12:00:00 UTC to 2026-11-30 13:48:00 UTC' \
	'incidents 13' 'would_run                     6' 'max_attempts                  4' \
	'unit-failed                   6' 'analyses 8 for 4 fingerprints (2.00 per fingerprint)' \
	'would run: dry run: would have run restart_service'; do
	grep -qF "$want" <<<"$out" && ok || bad "summary lacks '$want': $out"
done
[ "$(grep -c '^  [0-9a-f]\{16\}  lines' <<<"$out")" -eq 2 ] && ok || bad "--top 2: $out"

# ---- 2. --since / --until cut as journalctl does ----

expect_rc 0 "$bin" replay --directory "$tmp/a" -c "$tmp/shipped.conf" --out "$tmp/cut.db" --json \
	--since "2026-11-30 12:30:00 UTC" --until "@$((T0 + 90 * 60))"
# Left: the nginx lines at 36, 48, 60, 72, 84 min. The first three open attempts.
json_check 'j["replay"]["entries"] == 5 and j["replay"]["incidents"] == 5'
json_check 'j["replay"]["first_entry"] == ('$T0' + 36 * 60) * 1000000 and j["replay"]["last_entry"] == ('$T0' + 84 * 60) * 1000000'
json_check 'j["replay"]["outcomes"] == {"would_run": 3, "policy": 2}'
expect_rc 0 "$bin" replay --directory "$tmp/a" -c "$tmp/shipped.conf" --out "$tmp/cut2.db" --json \
	--until "2026-11-30 12:00:00.000000 UTC"
json_check 'j["replay"]["entries"] == 1 and j["replay"]["complete"]'
# journalctl, on the same files and bounds, agrees on what lies between.
n=$(journalctl --directory "$tmp/a" -p err --since "2026-11-30 12:30:00 UTC" --until "@$((T0 + 90 * 60))" -o export --no-pager 2>/dev/null | grep -c '^MESSAGE=')
[ "$n" -eq 5 ] && ok || bad "journalctl saw $n entries in the cut"

expect_rc 2 "$bin" replay --directory "$tmp/a" --since today --out "$tmp/x.db"
grep -q "not an absolute time" "$tmp/err" && ok || bad "message: $(cat "$tmp/err")"
expect_rc 2 "$bin" replay --directory "$tmp/a" --until "-1h" --out "$tmp/x.db"
expect_rc 2 "$bin" replay --directory "$tmp/a" --since "2026-02-30 10:00" --out "$tmp/x.db"
expect_rc 2 "$bin" replay --directory "$tmp/a" --since @200 --until @100 --out "$tmp/x.db"
expect_rc 2 "$bin" replay --since @100
expect_rc 2 "$bin" replay --directory "$tmp/a" extra
[ ! -e "$tmp/x.db" ] && ok || bad "a refused replay left $tmp/x.db"

# ---- 3. nothing runs, nothing is asked of the host, whatever the config says ----

cat >"$tmp/wl.conf" <<EOF
[action make_marker]
description = would leave a marker
match = makemarker
exec = /usr/bin/touch $tmp/ran
require = command /usr/bin/touch $tmp/checked
require = disk-above / 1
timeout = 5s
EOF
cat >"$tmp/rules.conf" <<EOF
[rule gadget]
message = gadget broke
propose = make_marker
EOF
cat >"$tmp/test.conf" <<EOF
[healer]
whitelist = $tmp/wl.conf
dry_run = no
auto_execute = yes
max_heals_per_hour = 2
cooldown = 0
[llm]
provider = rules
rules = $tmp/rules.conf
[api]
listen = unix:$tmp/api.sock
[notify]
webhook = http://127.0.0.1:9/hook
EOF
mkjournal "$tmp/b" "0:g1.service:3:gadget broke" "1:g2.service:3:gadget broke" \
	"2:g3.service:3:gadget broke" "3:g4.service:3:gadget broke" "61:g5.service:3:gadget broke"
expect_rc 0 "$bin" replay --directory "$tmp/b" -c "$tmp/test.conf" --out "$tmp/b.db" --json
[ ! -e "$tmp/ran" ] && [ ! -e "$tmp/checked" ] && ok || bad "a command or a check ran in a replay"
# The hourly budget (2) is charged by what would have run, on the entries' clock.
json_check 'j["replay"]["outcomes"] == {"would_run": 3, "policy": 2} and j["replay"]["refusals"] == {"budget": 2}'
json_check 'j["replay"]["not_judged"] == {"command": 3, "disk-above": 3}'
sql "$tmp/b.db" '[a["unit"] for a in A if "would have run" in a["reason"]] == ["g1.service", "g2.service", "g5.service"]'
sql "$tmp/b.db" 'all("hourly budget of 2 heals spent" in a["reason"] for a in A if a["unit"] in ("g3.service", "g4.service"))'
sql "$tmp/b.db" '"not judged offline: '"'"'command /usr/bin/touch '"$tmp"'/checked'"'"', '"'"'disk-above / 1'"'"'" in C[0]["reason"]'
sql "$tmp/b.db" 'all(c["dry_run"] == 1 and c["argv"] and "/usr/bin/touch" in c["argv"] for c in C)'
# A model provider in the config is not asked without --provider: the rules answer.
sed -i 's/^provider = rules$/provider = openai\nbase_url = http:\/\/127.0.0.1:9\/v1\nmodel = m/' "$tmp/test.conf"
expect_rc 0 "$bin" replay --directory "$tmp/b" -c "$tmp/test.conf" --out "$tmp/b2.db" --json
json_check 'j["provider"].startswith("rules (offline") and j["replay"]["outcomes"]["would_run"] == 3'
sql "$tmp/b2.db" 'all(a["provider"] in (None, "rules") for a in A)'
[ ! -e "$tmp/ran" ] && [ ! -e "$tmp/checked" ] && ok || bad "a command or a check ran in a replay"

# ---- 4. --provider asks the configured model, once per analysis ----

python3 "$top/tests/llm/fake_llm.py" --port-file "$tmp/llm.port" --log "$tmp/llm.log" \
	>"$tmp/llm.out" 2>&1 &
llmpid=$!
cli_on_exit='kill $llmpid 2>/dev/null; wait $llmpid 2>/dev/null'
for _ in $(seq 250); do [ -s "$tmp/llm.port" ] && break; sleep 0.02; done
port=$(cat "$tmp/llm.port" 2>/dev/null)
sed "s#^provider = rules#provider = openai\nbase_url = http://127.0.0.1:$port/v1\nmodel = good#" \
	"$tmp/shipped.conf" >"$tmp/model.conf"
expect_rc 0 "$bin" replay --directory "$tmp/a" -c "$tmp/model.conf" --out "$tmp/m.db" --json --provider
json_check 'j["provider"].startswith("openai, model good") and j["replay"]["analyses"] == 8'
# The model proposes restarting nginx for every error: for sshd and app that is not
# the evidence's unit, and the whitelist refuses it.
json_check 'j["replay"]["outcomes"] == {"would_run": 6, "policy": 5, "whitelist": 2}'
json_check 'j["replay"]["refusals"] == {"max_attempts": 4, "act_on": 1, "evidence": 2}'
sql "$tmp/m.db" 'all(a["provider"] == "openai" for a in A if a["provider"])'
[ "$(grep -c . "$tmp/llm.log")" -eq 8 ] && ok || bad "the model was asked $(grep -c . "$tmp/llm.log") times, not 8"

# ---- 5. the record is never written over ----

printf 'precious' >"$tmp/keep.db"
expect_rc 1 "$bin" replay --directory "$tmp/a" -c "$tmp/shipped.conf" --out "$tmp/keep.db"
grep -q "a replay writes a new file" "$tmp/err" && ok || bad "message: $(cat "$tmp/err")"
[ "$(cat "$tmp/keep.db")" = precious ] && ok || bad "an existing file was changed"
ln -s "$tmp/keep.db" "$tmp/link.db"
expect_rc 1 "$bin" replay --directory "$tmp/a" -c "$tmp/shipped.conf" --out "$tmp/link.db"
mkdir -p "$tmp/empty"
expect_rc 1 "$bin" replay --directory "$tmp/empty" -c "$tmp/shipped.conf" --out "$tmp/e.db"
grep -q "holds no journal files" "$tmp/err" && ok || bad "message: $(cat "$tmp/err")"
[ ! -e "$tmp/e.db" ] && ok || bad "a replay that could not start left its file"
expect_rc 1 "$bin" replay --directory "$tmp/none" -c "$tmp/shipped.conf" --out "$tmp/e.db"

cli_finish
