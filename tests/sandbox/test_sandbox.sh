#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tier-1b sandbox itself: a real service manager answers systemctl, its
# units' output reaches the private journal with trusted fields, kill -9 and
# restart behave as under PID 1, several sandboxes run at once, a signal
# tears one down, and nothing is left on the host.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sandbox=$here/sandbox.sh
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# Polls COMMAND for up to SECONDS: journald batches, units take a moment.
eventually() {
	local secs=$1 end
	shift
	end=$(($(now_ms) + secs * 1000))
	until "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# Inside the sandbox: what a test sees.
if [ "${1:-}" = --inside ]; then
	[ "${HEALER_SANDBOX:-}" = 1 ] && ok || bad "HEALER_SANDBOX not set"
	[ -f "$HEALER_SANDBOX_UNITS/app.service" ] && ok || bad "units not in $HEALER_SANDBOX_UNITS"
	echo "info: sandbox ready in ${HEALER_SANDBOX_READY_MS} ms"

	[ "$(systemctl is-active app.service)" = active ] && ok || bad "app.service not active"
	[ "$(systemctl is-active never.service)" = inactive ] && ok || bad "never.service not inactive"

	# A unit's "<3>" line: PRIORITY=3 and the trusted unit, from the journal.
	# The writer lives on a moment after its line: journald reads a sender's
	# unit from /proc, and a process already gone leaves the line unitless.
	tag=boom-$RANDOM$RANDOM
	printf '[Service]\nType=oneshot\nSyslogLevelPrefix=yes\nExecStart=/bin/sh -c "echo \\"<3>%s\\"; sleep 1"\n' "$tag" \
		>"$HEALER_SANDBOX_UNITS/boom.service"
	systemctl daemon-reload && systemctl start boom.service && ok || bad "boom.service did not run"
	line() { journalctl --no-pager -o export MESSAGE="$tag" | grep -E '^(PRIORITY|_SYSTEMD_UNIT)='; }
	if eventually 3 sh -c "journalctl -o export MESSAGE=$tag | grep -q ^PRIORITY="; then
		out=$(line)
		grep -qx 'PRIORITY=3' <<<"$out" && ok || bad "PRIORITY: $out"
		grep -qx '_SYSTEMD_UNIT=boom.service' <<<"$out" && ok || bad "_SYSTEMD_UNIT: $out"
	else
		bad "no journal entry for $tag"
	fi
	# Only the sandbox's journal is visible: the manager's own lines are
	# there, nothing of the host (whose journal holds no "Startup finished").
	journalctl --no-pager -q USER_UNIT=boom.service | grep -q 'Finished boom.service' && ok ||
		bad "manager lines: $(journalctl --no-pager -q | tail -n 5)"

	# kill -9 of the main process: failed; restart: active again.
	pid=$(systemctl show -P MainPID app.service)
	[ "${pid:-0}" -gt 1 ] && ok || bad "MainPID '$pid'"
	kill -9 "$pid"
	eventually 3 sh -c '[ "$(systemctl is-active app.service)" = failed ]' && ok ||
		bad "after kill -9: $(systemctl is-active app.service)"
	[ "$(systemctl show -P Result app.service)" = signal ] && ok ||
		bad "Result=$(systemctl show -P Result app.service)"
	t=$(now_ms)
	systemctl restart app.service && [ "$(systemctl is-active app.service)" = active ] && ok ||
		bad "restart: $(systemctl is-active app.service)"
	echo "info: systemctl restart took $(($(now_ms) - t)) ms"
	[ "$(systemctl show -P MainPID app.service)" != "$pid" ] && ok || bad "same MainPID"
	echo "inside: $passed $failed"
	exit 0
fi

tmp=$(mktemp -d /tmp/healer-sandbox-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/units"
printf '[Service]\nExecStart=/bin/sleep infinity\n' >"$tmp/units/app.service"
printf '[Service]\nExecStart=/bin/sleep infinity\n' >"$tmp/units/never.service"

# What a sandbox could leave on the host. Other tests run at the same time
# and make journal namespaces (journal.NAME, journald@NAME, ID.NAME): those
# entries are not ours and are left out.
host_state() {
	find /run/systemd /run/log /run/dbus /run/user /var/log/journal -maxdepth 2 2>/dev/null |
		grep -vE 'journal\.|journald@|/[0-9a-f]{32}\.' | sort
	ls -d /run/mount /run/systemd/system /run/systemd/private /run/log/journal \
		/run/dbus/system_bus_socket /run/user/0 /root/.config/systemd \
		/root/.local/share/systemd 2>/dev/null
	stat -c '%n %s %Y' /etc/systemd/journald.conf
}
# The cgroups of one sandbox.sh, by its pid.
cgroups_of() {
	find /sys/fs/cgroup -maxdepth 6 -type d -name "healer-sandbox-$1-*" 2>/dev/null
}
before=$(host_state)

# 1. One sandbox with the checks above; its pid names its cgroups.
t=$(now_ms)
"$sandbox" --units "$tmp/units" --start app.service -- bash "$0" --inside >"$tmp/out" 2>&1 &
pid=$!
wait $pid
rc=$?
echo "info: one sandbox with its checks took $(($(now_ms) - t)) ms"
grep -E '^(info|FAIL)' "$tmp/out"
[ $rc -eq 0 ] && ok || bad "sandbox exit $rc: $(tail -n 20 "$tmp/out")"
read -r _ p f < <(grep '^inside:' "$tmp/out") || { p=0 f=1; bad "no result from inside"; }
passed=$((passed + p)) failed=$((failed + f))
[ -z "$(cgroups_of $pid)" ] && ok || bad "cgroups left: $(cgroups_of $pid)"

# 2. The command's status is the sandbox's; a bare start is quick.
t=$(now_ms)
"$sandbox" -- true && ok || bad "sandbox -- true failed"
echo "info: sandbox -- true took $(($(now_ms) - t)) ms"
"$sandbox" -- sh -c 'exit 7'
[ $? -eq 7 ] && ok || bad "exit status not passed through"

# 3. Fails loudly when it cannot start, with the reason.
err=$("$sandbox" --units "$tmp/none" -- true 2>&1)
[ $? -eq 125 ] && grep -q 'not a folder' <<<"$err" && ok || bad "bad --units: $err"
err=$("$sandbox" 2>&1)
[ $? -eq 125 ] && grep -q usage <<<"$err" && ok || bad "no command: $err"

# 4. Four at once, each with its own manager and journal.
t=$(now_ms)
pids=()
for i in 1 2 3 4; do
	"$sandbox" --units "$tmp/units" --start app.service -- sh -c \
		'[ "$(systemctl is-active app.service)" = active ] || exit 1
		 # journald may not have taken the line in yet: wait, then count.
		 for i in $(seq 300); do
			n=$(journalctl -q --no-pager | grep -c "Startup finished")
			[ "$n" -gt 0 ] && break
			sleep 0.01
		 done
		 [ "$n" -eq 1 ] || { echo "$n startup lines"; exit 1; }' >"$tmp/par$i" 2>&1 &
	pids+=($!)
done
for i in 0 1 2 3; do
	wait "${pids[i]}" && ok || bad "parallel sandbox $i: $(cat "$tmp/par$((i + 1))")"
	[ -z "$(cgroups_of "${pids[i]}")" ] && ok || bad "cgroups left: $(cgroups_of "${pids[i]}")"
done
echo "info: four sandboxes in parallel took $(($(now_ms) - t)) ms"

# 5. SIGTERM to sandbox.sh: the namespace dies with it, cgroups go.
n=9$RANDOM$RANDOM
"$sandbox" -- sleep "$n" >/dev/null 2>&1 &
pid=$!
eventually 5 pgrep -fx "sleep $n" && ok || bad "sleep $n did not start"
kill -TERM $pid
wait $pid
[ $? -ne 0 ] && ok || bad "killed sandbox exited 0"
[ -z "$(cgroups_of $pid)" ] && ok || bad "cgroups left after SIGTERM: $(cgroups_of $pid)"
eventually 2 sh -c "! pgrep -fx 'sleep $n'" && ok || bad "sleep $n survived"

# 6. Nothing left on the host.
after=$(host_state)
[ "$before" = "$after" ] && ok || bad "host changed: $(diff <(echo "$before") <(echo "$after"))"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
