#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test of a build folder (default build/san) from the top of the
# tree and closes with the total "N passed, N failed". Test programs are
# independent (each makes its own temp dirs, journald namespaces and ports),
# so they run side by side, JOBS at a time; their results print in a fixed
# order once all are done.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/san}
# At most 8 side by side unless JOBS says otherwise: every test brings its
# own journald, daemons and sometimes a service manager or a browser, and
# on a machine with many cores the host's limits (inotify instances, pids,
# memory) would be shared by more of them than the suite is ever run with.
jobs=${JOBS:-$(($(nproc 2>/dev/null || echo 2) + 2))}
[ -n "${JOBS:-}" ] || [ "$jobs" -le 8 ] || jobs=8
export HEALER_TEST_DATA=$PWD/tests/data HEALER_PROGS_DIR=$PWD/$build/progs HEALER_BIN=$PWD/$build/healer
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 broken=() failing=()

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name, then the command; output to $tmp/NAME.out, exit code to $tmp/NAME.rc.
names=()
launch() {
	local name=$1
	shift
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n 2>/dev/null || true
	done
	names+=("$name")
	(
		timeout 600 "$@" >"$tmp/$name.out" 2>&1
		echo $? >"$tmp/$name.rc"
	) &
}

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
	[ "$f" -eq 0 ] || failing+=("$1")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		broken+=("$1 (exit $3)")
		failed=$((failed + 1))
	fi
}

# A libFuzzer target for a few seconds from its seed corpus: it must start,
# read the corpus and find nothing. New inputs go to a temp folder; a crash
# is kept under build/libfuzzer/artifacts/ (out of git) and named.
fuzz_smoke() { # target
	local top=$PWD bin=$PWD/build/libfuzzer/fuzz_$1 work=$tmp/fuzz-$1
	local art=$PWD/build/libfuzzer/artifacts/smoke-$1-
	mkdir -p "$work/corpus" "${art%/*}"
	if (cd "$work" && "$bin" -max_total_time=3 -max_len=65536 -seed=1 \
		-artifact_prefix="$art" corpus "$top/tests/fuzz/corpus/$1"); then
		echo "1 passed, 0 failed"
	else
		echo "FAIL libFuzzer found a crash in $1: $(ls "$art"* 2>/dev/null | tr '\n' ' ')"
		echo "0 passed, 1 failed"
	fi
}

for t in "$build"/tests/test_*; do
	[ -x "$t" ] && launch "$(basename "$t")" "$t"
done
for r in "$build"/fuzz/replay_*; do
	[ -x "$r" ] || continue
	name=$(basename "$r")
	launch "$name" "$r" tests/fuzz/corpus/"${name#replay_}"
done
for s in tests/cli/test_*.sh tests/llm/test_*.sh tests/sandbox/test_*.sh tests/daemon/test_*.sh \
	tests/api/test_*.sh tests/install/test_*.sh tests/scenarios/test_*.sh; do
	[ -f "$s" ] && launch "$(basename "$s")" bash "$s"
done
for f in build/libfuzzer/fuzz_*; do
	[ -x "$f" ] || continue
	target=${f##*/fuzz_}
	[ -d tests/fuzz/corpus/"$target" ] &&
		launch "libfuzzer_$target" bash -c "$(declare -f fuzz_smoke); tmp=$tmp; fuzz_smoke $target"
done
wait

for name in "${names[@]}"; do
	rc=$(cat "$tmp/$name.rc" 2>/dev/null || echo 125)
	sed "s/^/[$name] /" "$tmp/$name.out" |
		grep -E 'FAIL|ERROR|Sanitizer|runtime error|passed, |\] info: ' || true
	count "$name" "$tmp/$name.out" "$rc"
done
# The failures once more at the very end, so that a log cut to its last
# lines (as CI shows it) still names them.
for name in "${failing[@]}"; do
	echo "FAILED: $name"
	grep -E 'FAIL|ERROR|Sanitizer|runtime error' "$tmp/$name.out" | head -n 20 | sed 's/^/    /'
done
for b in "${broken[@]}"; do
	echo "BROKEN: $b"
	tail -n 20 "$tmp/${b%% (*}.out" 2>/dev/null | sed 's/^/    /'
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
