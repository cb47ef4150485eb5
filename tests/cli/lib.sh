# SPDX-License-Identifier: MIT
# Shared by the CLI tests: a temp folder, counters, and checks on the real
# binary's exit code and JSON output. Source it, then call cli_init NAME.
set -uo pipefail
bin=${HEALER_BIN:-build/san/healer}
data=${HEALER_TEST_DATA:-tests/data}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
passed=0 failed=0
out=
cli_on_exit=: # a test may set this to a command run before the folder goes

cli_init() {
	tmp=$(mktemp -d "/tmp/healer-$1-XXXXXX")
	trap 'eval "$cli_on_exit"; rm -rf "$tmp"' EXIT
}

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# expect_rc WANT CMD...: runs CMD, stdout in $out, stderr in $tmp/err.
expect_rc() {
	local want=$1 rc
	shift
	out=$("$@" 2>"$tmp/err")
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else bad "exit $rc (want $want): $* :: $out $(cat "$tmp/err")"; fi
}

# json_check PYTHON-EXPR: $out is one JSON object, named j in the expression.
json_check() {
	if python3 -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if ('"$1"') else 1)' "$out" 2>/dev/null; then
		ok
	else
		bad "check '$1' failed on: $(head -c 800 <<<"$out")"
	fi
}

# jsonl_check PYTHON-EXPR: $out is JSON lines, the list L in the expression.
jsonl_check() {
	if python3 -c 'import json,sys; L=[json.loads(l) for l in sys.argv[1].splitlines()]; sys.exit(0 if ('"$1"') else 1)' "$out" 2>/dev/null; then
		ok
	else
		bad "check '$1' failed on: $(head -c 800 <<<"$out")"
	fi
}

# mkjournal DIR SPEC...: real journal files in DIR (systemd-journal-remote, from
# the export text tests/cli/mkjournal.py writes); SPEC as that script says.
mkjournal() {
	local dir=$1
	shift
	mkdir -p "$dir"
	python3 "$top/tests/cli/mkjournal.py" "$dir/in.export" "$@" &&
		/lib/systemd/systemd-journal-remote -o "$dir/x.journal" "$dir/in.export" 2>/dev/null &&
		rm -f "$dir/in.export" || bad "could not make the journal in $dir"
}

cli_finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
