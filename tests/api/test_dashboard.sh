#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dashboard in a real headless Chromium (driven over WebDriver by
# dashboard.py) against `healer run` with its API, following a private
# journald (tier 1a): a wrong token shows the 401 message; an error injected
# through the page's form, whose message is an XSS attempt, shows literally
# and ends healed; approve and reject from the page; a whitelist edit with a
# bad line shows the line's error, a stale one the 412 message. Keeps a
# screenshot in build/artifacts/ (out of git).
. "$(dirname "$0")/../daemon/lib.sh"
. "$(dirname "$0")/browser.sh"
daemon_init hdash "$@"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
	echo "FAIL: Chromium is missing; tools/deps.sh --test installs chromium and chromium-driver"
	echo "0 passed, 1 failed"
	exit 1
fi

# Markers stand for symptoms: a fix creates its marker, and only runs while it is absent.
cat >"$tmp/whitelist.conf" <<WL
[healer]
max_commands = 5

[action fix_thing]
description = create the thing marker
match = fixthing
exec = /usr/bin/touch $tmp/thing
require = command /usr/bin/test ! -e $tmp/thing
timeout = 5s

[action fix_gadget]
description = create the gadget marker
match = fixgadget
exec = /usr/bin/touch $tmp/gadget
require = command /usr/bin/test ! -e $tmp/gadget
timeout = 5s

[action fix_widget]
description = create the widget marker
match = fixwidget
exec = /usr/bin/touch $tmp/widget
timeout = 5s
WL
cat >"$tmp/rules.conf" <<'RULES'
[rule thing]
message = thing broke
propose = fix_thing

[rule gadget]
message = gadget broke
propose = fix_gadget

[rule widget]
message = widget broke
propose = fix_widget
RULES
chmod 644 "$tmp/whitelist.conf"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api_listen=127.0.0.1:$port
write_config "cooldown = 0" "max_attempts = 10"
start_healer || exit 1
for _ in $(seq 250); do
	[ -s "$tmp/state/api.token" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
	sleep 0.02
done
check "the API serves" curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"
token=$(cat "$tmp/state/api.token")

# The page and its files, as the browser gets them: embedded, with the strict policy.
if ! curl -s "http://127.0.0.1:$port/" | grep -q '<script src="dashboard.js"'; then
	bad "GET / is not the dashboard: the API does not serve api/dashboard/ (dashboard_index_html)"
	daemon_finish
	exit 1
fi
ok
check "the page has its Content-Security-Policy" bash -c \
	"curl -s -D - -o /dev/null http://127.0.0.1:$port/ | grep -qi \"^content-security-policy: default-src 'none'\""
check "dashboard.js is the file in the tree" bash -c \
	"curl -s http://127.0.0.1:$port/dashboard.js | cmp -s - '$top/api/dashboard/dashboard.js'"
check "dashboard.css is the file in the tree" bash -c \
	"curl -s http://127.0.0.1:$port/dashboard.css | cmp -s - '$top/api/dashboard/dashboard.css'"

shot=$top/build/artifacts/dashboard.png
# Switches the daemon to approvals, as an administrator would: edit, SIGHUP.
approval="sed -i 's/^\\[healer\\]\$/[healer]\\nauto_execute = no/' '$tmp/healer.conf' && kill -HUP $hpid"
browser_run "$top/tests/api/dashboard.py" "http://127.0.0.1:$port" "$token" "$shot" "$approval"

# What the clicks did on the host, beyond the page.
check "the injected error's fix ran" test -e "$tmp/thing"
check "the approved fix ran" test -e "$tmp/gadget"
check "the rejected fix did not run" test ! -e "$tmp/widget"
check "the saved whitelist is on disk" grep -q '^# saved from the dashboard$' "$tmp/whitelist.conf"
check "the refused line is not on disk" bash -c "! grep -q 'relative/path' '$tmp/whitelist.conf'"
stop_healer
check "the daemon exits cleanly" test $? -eq 0
daemon_finish
