#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test of a build folder (default build/san) from the top of the
# tree and closes with the total "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/san}
export HEALER_TEST_DATA=$PWD/tests/data HEALER_PROGS_DIR=$PWD/$build/progs HEALER_BIN=$PWD/$build/healer
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 broken=()

count() { # name, output file, exit code
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	if [ -z "$line" ]; then
		broken+=("$1 (exit $3, no result line)")
		failed=$((failed + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed*}
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		broken+=("$1 (exit $3)")
		failed=$((failed + 1))
	fi
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	timeout 600 "$t" >"$out" 2>&1
	rc=$?
	sed "s/^/[$name] /" "$out" | grep -E 'FAIL|ERROR|Sanitizer|runtime error|passed, |\] info: ' || true
	count "$name" "$out" $rc
done
for r in "$build"/fuzz/replay_*; do
	[ -x "$r" ] || continue
	name=$(basename "$r")
	target=${name#replay_}
	timeout 600 "$r" tests/fuzz/corpus/"$target" >"$out" 2>&1
	rc=$?
	sed "s/^/[$name] /" "$out" | grep -E 'FAIL|ERROR|Sanitizer|runtime error|passed, |\] info: ' || true
	count "$name" "$out" $rc
done
for s in tests/cli/test_*.sh tests/llm/test_*.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s")
	timeout 600 bash "$s" >"$out" 2>&1
	rc=$?
	sed "s/^/[$name] /" "$out" | grep -E 'FAIL|ERROR|passed, ' || true
	count "$name" "$out" $rc
done
for b in "${broken[@]}"; do echo "BROKEN: $b"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
