# SPDX-License-Identifier: MIT
# Shared by the dashboard tests: browser_run SCRIPT ARGS... runs a
# headless-Chromium test script (python3), prints what it printed, and adds
# its closing "N passed, N failed" to this test's counters; a script that
# ends without that line counts as one failure. Needs $tmp and bad().
browser_run() {
	local line p f
	python3 "$@" >"$tmp/browser.out" 2>&1
	cat "$tmp/browser.out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/browser.out" | tail -n 1)
	if [ -z "$line" ]; then
		bad "the browser test ended without a result"
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	passed=$((passed + p))
	failed=$((failed + ${f%% failed*}))
}
