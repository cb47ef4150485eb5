#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CLI contract of `healer journal scan` against a real journal made by
# systemd-journal-remote from tests/data/journal/basic.export.
set -uo pipefail
bin=${HEALER_BIN:-build/san/healer}
data=${HEALER_TEST_DATA:-tests/data}
passed=0 failed=0
tmp=$(mktemp -d /tmp/healer-jcli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_rc() {
	local want=$1
	shift
	out=$("$@" 2>"$tmp/err")
	local rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else bad "exit $rc (want $want): $* :: $(cat "$tmp/err")"; fi
}
# py EXPR over the JSON lines of $out (as L, a list)
py() {
	if python3 -c 'import json,sys; L=[json.loads(l) for l in sys.argv[1].splitlines()]; sys.exit(0 if ('"$1"') else 1)' "$out" 2>/dev/null; then
		ok
	else
		bad "check '$1' failed on: $(head -c 600 <<<"$out")"
	fi
}

mkdir -p "$tmp/j"
/lib/systemd/systemd-journal-remote -o "$tmp/j/x.journal" "$data/journal/basic.export" 2>/dev/null ||
	bad "systemd-journal-remote failed"

expect_rc 0 "$bin" journal scan --directory "$tmp/j" --all --json
py 'len(L) == 12'
py 'L[0] == {**L[0], "unit": "nginx.service", "identifier": "nginx", "priority": 3, "count": 1, "message": "bind() to 0.0.0.0:80 failed (98: Address already in use)"}'
py 'all(len(i["fingerprint"]) == 16 and int(i["fingerprint"], 16) >= 0 for i in L)'
py 'L[0]["first_seen"] == "2026-09-21T14:13:23.000000Z" and L[0]["cursor"].startswith("s=")'
py 'L[1]["unit"] == "nginx.service" and L[2]["unit"] == "user@1000.service" and L[2]["identifier"] == "sshd"'
py '[i["count"] for i in L if i["unit"] == "php-fpm.service"] == [50, 1]'
py 'not any(i["identifier"] in ("healer", "healerd") for i in L)'
grep -q '63 entries read, 12 incidents, 2 own lines skipped' "$tmp/err" && ok || bad "summary: $(cat "$tmp/err")"

expect_rc 0 "$bin" journal scan --file "$tmp/j/x.journal" --all --json
py 'len(L) == 12'
expect_rc 0 "$bin" journal scan --file "$tmp/j/x.journal" --all --priority warning --json
py 'len(L) == 16 and L[-3]["message"] == "disk 91% full" and L[-2]["identifier"] == "evil?[2J tag"'
expect_rc 0 "$bin" journal scan --file "$tmp/j/x.journal" --all --priority crit --json
py 'len(L) == 4 and max(i["priority"] for i in L) == 2'
# Entries are from 2026-09: a recent window holds none of them.
expect_rc 0 "$bin" journal scan --directory "$tmp/j" --since 10min --json
py 'len(L) == 0'
expect_rc 0 "$bin" journal scan --directory "$tmp/j" --all
grep -q ' x50 <3> php-fpm.service php-fpm: ' <<<"$out" && ok || bad "text output: $out"

expect_rc 1 "$bin" journal scan --directory "$tmp/none" --all
grep -q "cannot open journal directory '$tmp/none': No such file or directory (check --directory)" "$tmp/err" && ok ||
	bad "message: $(cat "$tmp/err")"
expect_rc 1 "$bin" journal scan --file "$tmp/none.journal" --all
expect_rc 2 "$bin" journal scan --all --since 5min
expect_rc 2 "$bin" journal scan --directory "$tmp/j" --namespace x
expect_rc 2 "$bin" journal scan --priority loud
expect_rc 2 "$bin" journal scan --since soon
expect_rc 2 "$bin" journal bogus

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
