#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CLI contract of `healer journal scan` against a real journal made by
# systemd-journal-remote from tests/data/journal/basic.export.
. "$(dirname "$0")/lib.sh"
cli_init jcli

mkdir -p "$tmp/j"
/lib/systemd/systemd-journal-remote -o "$tmp/j/x.journal" "$data/journal/basic.export" 2>/dev/null ||
	bad "systemd-journal-remote failed"

expect_rc 0 "$bin" journal scan --directory "$tmp/j" --all --json
jsonl_check 'len(L) == 12'
jsonl_check 'L[0] == {**L[0], "unit": "nginx.service", "identifier": "nginx", "priority": 3, "count": 1, "message": "bind() to 0.0.0.0:80 failed (98: Address already in use)"}'
jsonl_check 'all(len(i["fingerprint"]) == 16 and int(i["fingerprint"], 16) >= 0 for i in L)'
jsonl_check 'L[0]["first_seen"] == "2026-09-21T14:13:23.000000Z" and L[0]["cursor"].startswith("s=")'
jsonl_check 'L[1]["unit"] == "nginx.service" and L[2]["unit"] == "user@1000.service" and L[2]["identifier"] == "sshd"'
jsonl_check '[i["count"] for i in L if i["unit"] == "php-fpm.service"] == [50, 1]'
jsonl_check 'not any(i["identifier"] in ("healer", "healerd") for i in L)'
grep -q '63 entries read, 12 incidents, 2 own lines skipped' "$tmp/err" && ok || bad "summary: $(cat "$tmp/err")"

expect_rc 0 "$bin" journal scan --file "$tmp/j/x.journal" --all --json
jsonl_check 'len(L) == 12'
expect_rc 0 "$bin" journal scan --file "$tmp/j/x.journal" --all --priority warning --json
jsonl_check 'len(L) == 16 and L[-3]["message"] == "disk 91% full" and L[-2]["identifier"] == "evil?[2J tag"'
expect_rc 0 "$bin" journal scan --file "$tmp/j/x.journal" --all --priority crit --json
jsonl_check 'len(L) == 4 and max(i["priority"] for i in L) == 2'
# Entries are from 2026-09: a recent window holds none of them.
expect_rc 0 "$bin" journal scan --directory "$tmp/j" --since 10min --json
jsonl_check 'len(L) == 0'
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

cli_finish
