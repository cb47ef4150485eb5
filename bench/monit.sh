#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-monit: Healer beside Monit, figures, not assertions. In one
# tier-1b sandbox (tests/sandbox/sandbox.sh: a private journald and a real
# service manager), two copies of one stand-in daemon:
#   a.service  watched by Monit: `set daemon 1`, a `check process` on the
#              daemon's pid file, started through the sandbox's systemctl;
#   b.service  healed by `healer run`: the shipped whitelist and rules
#              (restart_service after the manager's "Failed with result
#              'signal'", from its D-Bus signal (watch_units), or its
#              "Main process exited, code=killed" journal line).
# KILLS rounds (default 20), alternating: kill -9 of a.service's main
# process, wait until it runs again; kill -9 of b.service's, wait until it
# runs again and its attempt has ended healed (settle and verify_window
# included). "Running again" is the moment the new process starts (it writes
# its own clock reading), the figure both share; "healed" is the attempt's
# healed transition. Then the median and max of each, the ratio, and each
# daemon's VmRSS and PSS. A copy that never comes back fails the run.
#
# Healer runs on its defaults but for what the sandbox and the bench need:
#  - state_dir, whitelist and rules in this run's temp folder (the shipped
#    whitelist with a.service added to `protect`, so that Healer leaves
#    Monit's copy alone);
#  - min_priority = warning: the manager writes a unit's failure ("Main
#    process exited, code=killed", "Failed with result 'signal'") at
#    warning, which the default, err, does not read;
#  - cooldown = 0, dedupe_window = 1s, max_attempts = 100,
#    max_heals_per_hour = 1000: the limits that stop a restart loop would
#    stop this bench after its first kill.
# settle and verify_window keep their defaults (5s, 30s) unless SETTLE or
# VERIFY_WINDOW say otherwise; they only lengthen the healed figure, and
# with them one run takes about 11 minutes.
#
# Monit is confined to the sandbox: its control, pid, id, state and log
# files live in this run's temp folder, it has no HTTP server (no `set
# httpd`), its start and stop programs are the sandbox's systemctl, and HOME
# points into the temp folder. The temp folder is removed at exit (kept,
# for a look at the logs and the database, when KEEP_TMP is set).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

if [ "${1:-}" != --inside ]; then
	bin=${1:-build/healer}
	case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
	[ -x "$bin" ] || { echo "bench-monit: $bin not found (make SANITIZE=0 all)" >&2; exit 1; }
	[ "$(id -u)" -eq 0 ] || { echo "bench-monit: the sandbox needs root" >&2; exit 1; }
	monit=$(command -v monit || echo "$top/build/tools/monit")
	[ -x "$monit" ] || { echo "bench-monit: monit is missing (tools/deps.sh --bench fetches it)" >&2; exit 1; }
	systemctl=$(command -v systemctl) || { echo "bench-monit: systemctl is missing" >&2; exit 1; }
	kills=${KILLS:-20}
	[[ $kills =~ ^[1-9][0-9]{0,2}$ ]] || { echo "bench-monit: KILLS must be 1 to 999" >&2; exit 1; }

	tmp=$(mktemp -d /tmp/healer-bench-monit-XXXXXX)
	if [ -n "${KEEP_TMP:-}" ]; then
		trap 'echo "bench-monit: kept $tmp (healer.log, state/healer.db, monit/monit.log)" >&2' EXIT
	else
		trap 'rm -rf "$tmp"' EXIT
	fi
	chmod 0755 "$tmp"
	mkdir -p "$tmp/units" "$tmp/state" "$tmp/run" "$tmp/monit"

	# The stand-in daemon: notes when it started and its pid, then sleeps.
	cat >"$tmp/benchd" <<'EOF'
#!/bin/bash
# benchd FOLDER NAME: a stand-in daemon; kill -9 ends it.
echo "$EPOCHREALTIME" >>"$1/$2.starts"
echo $$ >"$1/$2.pid.new" && mv "$1/$2.pid.new" "$1/$2.pid"
echo "benchd $2: ready"
exec sleep infinity
EOF
	chmod 0755 "$tmp/benchd"
	for c in a b; do
		# No start limit: the bench starts each copy KILLS times.
		printf '[Unit]\nDescription=bench daemon %s\nStartLimitIntervalSec=0\n[Service]\nExecStart=%s %s %s\n' \
			"$c" "$tmp/benchd" "$tmp/run" "$c" >"$tmp/units/$c.service"
	done

	sed 's/^protect = .*/& a.service/' "$top/examples/whitelist.conf" >"$tmp/whitelist.conf"
	grep -q '^protect = .* a\.service$' "$tmp/whitelist.conf" || { echo "bench-monit: sed" >&2; exit 1; }
	{
		printf '[healer]\nstate_dir = %s/state\nwhitelist = %s/whitelist.conf\n' "$tmp" "$tmp"
		printf 'cooldown = 0\nmax_attempts = 100\nmax_heals_per_hour = 1000\n'
		[ -n "${SETTLE:-}" ] && printf 'settle = %s\n' "$SETTLE"
		[ -n "${VERIFY_WINDOW:-}" ] && printf 'verify_window = %s\n' "$VERIFY_WINDOW"
		printf '[journal]\nmin_priority = warning\ndedupe_window = 1s\n'
		printf '[llm]\nprovider = rules\nrules = %s/examples/rules.conf\n' "$top"
	} >"$tmp/healer.conf"
	"$bin" run -c "$tmp/healer.conf" --check >/dev/null || { echo "bench-monit: healer.conf" >&2; exit 1; }

	m=$tmp/monit
	cat >"$m/monitrc" <<EOF
set daemon 1
set logfile $m/monit.log
set pidfile $m/monit.pid
set idfile $m/monit.id
set statefile $m/monit.state
check process bench_a with pidfile $tmp/run/a.pid
	start program = "$systemctl --no-ask-password start a.service"
	stop program = "$systemctl --no-ask-password stop a.service"
EOF
	chmod 0600 "$m/monitrc"
	HOME=$m "$monit" -t -c "$m/monitrc" >/dev/null || { echo "bench-monit: monitrc" >&2; exit 1; }

	HEALER_BM_TMP=$tmp HEALER_BM_BIN=$bin HEALER_BM_MONIT=$monit HEALER_BM_KILLS=$kills HEALER_BM_TOP=$top \
		"$top/tests/sandbox/sandbox.sh" --units "$tmp/units" --start a.service --start b.service \
		-- bash "$0" --inside
	rc=$?
	[ $rc -eq 125 ] && echo "bench-monit: the sandbox did not start" >&2
	exit $rc
fi

# ---- inside the sandbox ----
tmp=$HEALER_BM_TMP
export HOME=$tmp/monit
exec python3 - "$tmp" "$HEALER_BM_BIN" "$HEALER_BM_MONIT" "$HEALER_BM_KILLS" <<'PY'
import os, random, signal, sqlite3, statistics, subprocess, sys, threading, time

tmp, healer_bin, monit_bin, kills = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
run = tmp + "/run"
procs = []


def die(msg):
    print("bench-monit: FAIL: " + msg, file=sys.stderr)
    for name in ("monit/monit.log", "healer.log"):
        try:
            lines = open(os.path.join(tmp, name), errors="replace").read().splitlines()
        except OSError:
            continue
        print("---- last lines of %s ----" % name, file=sys.stderr)
        print("\n".join(lines[-25:]), file=sys.stderr)
    subprocess.run(["systemctl", "--no-pager", "status", "a.service", "b.service"],
                   stdout=sys.stderr, stderr=subprocess.STDOUT)
    for p in procs:
        p.kill()
    sys.exit(1)


def unit(u):
    out = subprocess.run(["systemctl", "show", "-p", "ActiveState", "-p", "MainPID", u],
                         capture_output=True, text=True).stdout
    kv = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    return kv.get("ActiveState", ""), int(kv.get("MainPID", "0") or 0)


def starts(c):
    try:
        return [float(x) for x in open("%s/%s.starts" % (run, c)).read().split()]
    except OSError:
        return []


def wait_until(what, seconds, cond, step=0.002):
    end = time.time() + seconds
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            die("%s: not within %d s" % (what, seconds))
        time.sleep(step)


def db():
    return sqlite3.connect("file:%s/state/healer.db?mode=ro" % tmp, uri=True, timeout=5)


# Both copies run (sandbox.sh started them); then Monit, then Healer.
for c in "ab":
    wait_until("%s.service active" % c, 10,
               lambda: unit(c + ".service")[0] == "active" and os.path.exists("%s/%s.pid" % (run, c)))
monit = subprocess.Popen([monit_bin, "-I", "-c", tmp + "/monit/monitrc"], stdin=subprocess.DEVNULL,
                         stdout=open(tmp + "/monit/monit.out", "w"), stderr=subprocess.STDOUT)
procs.append(monit)
healer = subprocess.Popen([healer_bin, "run", "-c", tmp + "/healer.conf"], stdin=subprocess.DEVNULL,
                          stdout=open(tmp + "/healer.log", "w"), stderr=subprocess.STDOUT)
procs.append(healer)
wait_until("monit started", 10, lambda: monit.poll() is None and os.path.exists(tmp + "/monit/monit.pid"), 0.02)
wait_until("healer started", 10, lambda: healer.poll() is None and os.path.exists(tmp + "/state/healer.pid"), 0.02)
# The journal's own delay, for reference: a `journalctl -f` follower,
# each manager line about b.service stamped as it arrives.
follower = subprocess.Popen(["journalctl", "-f", "-n", "0", "-o", "json", "USER_UNIT=b.service"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
procs.append(follower)
seen = []


def follow():
    for l in follower.stdout:
        seen.append(time.time())


threading.Thread(target=follow, daemon=True).start()
time.sleep(2)  # Monit's first cycles, Healer's first look at the journal

# The settings in effect, as `healer run --check` prints them.
settings, section = {}, ""
for l in subprocess.run([healer_bin, "run", "-c", tmp + "/healer.conf", "--check"],
                        capture_output=True, text=True).stdout.splitlines():
    if l.startswith("["):
        section = l.strip("[]")
    elif " = " in l:
        k, _, v = l.partition(" = ")
        settings[section + "." + k] = v.split("\t")[0]


def span_s(v):
    units = {"ms": 0.001, "s": 1, "min": 60, "h": 3600}
    for u in sorted(units, key=len, reverse=True):
        if v.endswith(u) and v[:-len(u)].isdigit():
            return int(v[:-len(u)]) * units[u]
    return 600.0

ACTIVE = ("detected", "analyzing", "awaiting_approval", "executing", "verifying")


def b_attempts_since(t_us):
    with db() as c:
        return c.execute(
            "SELECT a.id, a.state, (SELECT max(at) FROM transitions t WHERE t.attempt_id = a.id "
            "AND t.to_state = 'healed'), (SELECT min(at) FROM transitions t WHERE t.attempt_id = a.id "
            "AND t.to_state = 'executing'), i.first_seen, (SELECT min(at) FROM transitions t "
            "WHERE t.attempt_id = a.id AND t.to_state = 'detected') "
            "FROM attempts a JOIN incidents i ON a.incident_id = i.id "
            "WHERE i.unit = 'b.service' AND i.first_seen >= ?", (t_us,)).fetchall()


def b_busy():
    with db() as c:
        return c.execute("SELECT count(*) FROM attempts a JOIN incidents i ON a.incident_id = i.id "
                         "WHERE i.unit = 'b.service' AND a.state IN (%s)" % ",".join("?" * len(ACTIVE)),
                         ACTIVE).fetchone()[0]


healed_deadline = span_s(settings.get("healer.settle", "")) + span_s(
    settings.get("healer.verify_window", "")) + 60
res = {"a": [], "b": [], "healed": [], "executing": [], "entry": [], "detected": [], "follower": []}
for rnd in range(kills):
    for c in "ab":
        u = c + ".service"
        time.sleep(random.uniform(0.3, 1.3))  # no lockstep with Monit's 1 s cycle
        state, pid = unit(u)
        if state != "active" or pid <= 0:
            die("%s is %s before kill %d" % (u, state or "unknown", rnd + 1))
        n = len(starts(c))
        t_kill = time.time()
        os.kill(pid, signal.SIGKILL)
        # Running again: the new process's own clock reading, then the unit active.
        new = wait_until("%s running again after kill %d" % (u, rnd + 1), 60,
                         lambda: len(starts(c)) > n and starts(c)[n])
        wait_until("%s active after kill %d" % (u, rnd + 1), 30,
                   lambda: unit(u)[0] == "active" and unit(u)[1] != pid, 0.005)
        res[c].append(new - t_kill)
        if c == "b":
            t_us = int(t_kill * 1e6)
            rows = wait_until("b.service attempt healed after kill %d" % (rnd + 1), healed_deadline,
                              lambda: (lambda r: r if any(x[2] for x in r) and b_busy() == 0 else None)(
                                  b_attempts_since(t_us)), 0.05)
            healed = min(x[2] for x in rows if x[2])
            execd = min(x[3] for x in rows if x[3])
            res["healed"].append(healed / 1e6 - t_kill)
            res["executing"].append(execd / 1e6 - t_kill)
            res["follower"].append(min((x for x in seen if x > t_kill), default=float("nan")) - t_kill)
            res["entry"].append(min(x[4] for x in rows) / 1e6 - t_kill)
            res["detected"].append(min(x[5] for x in rows if x[5]) / 1e6 - t_kill)
        print("  kill %2d %s: running again after %6.0f ms%s" % (
            rnd + 1, u, res[c][-1] * 1000,
            ", attempt healed after %.1f s" % res["healed"][-1] if c == "b" else ""), flush=True)

# Healer left Monit's copy alone, and only Healer restarted b.service.
with db() as c:
    ran_a = c.execute("SELECT count(*) FROM commands m JOIN attempts a ON m.attempt_id = a.id "
                      "JOIN incidents i ON a.incident_id = i.id WHERE i.unit = 'a.service' "
                      "AND m.accepted = 1").fetchone()[0]
    outcomes = c.execute("SELECT i.unit, a.state, count(*) FROM attempts a JOIN incidents i "
                         "ON a.incident_id = i.id GROUP BY i.unit, a.state ORDER BY 1, 2").fetchall()
    sources = c.execute("SELECT i.source, count(*) FROM attempts a JOIN incidents i "
                        "ON a.incident_id = i.id WHERE i.unit = 'b.service' AND a.state = 'healed' "
                        "GROUP BY i.source ORDER BY 1").fetchall()
if ran_a:
    die("Healer ran %d commands for a.service, Monit's copy" % ran_a)


def mem(p):
    f = {}
    for path in ("/proc/%d/status" % p, "/proc/%d/smaps_rollup" % p):
        for l in open(path):
            k, _, v = l.partition(":")
            f[k] = v.split()[0] if v.split() else ""
    return int(f["VmRSS"]), int(f["Pss"]), int(f["VmHWM"])


mm, mh = mem(monit.pid), mem(healer.pid)
for p in procs:
    p.terminate()
    p.wait()

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
memt = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
mver = subprocess.run([monit_bin, "-V"], capture_output=True, text=True).stdout.split("\n")[0]
mver = mver.replace("This is Monit version", "Monit")
hver = subprocess.run([healer_bin, "version"], capture_output=True, text=True).stdout.strip()
u = os.uname()


def row(name, v):
    ms = sorted(x * 1000 for x in v)
    return "  %-54s %9.0f %9.0f %9.0f" % (name, statistics.median(ms), ms[-1], ms[0])


print()
print("Healer vs Monit, time from kill -9 of the main process, %d kills each, alternating" % kills)
print("machine: %s %s %s, %s, %d CPUs, %.0f GiB; %s" % (
    u.sysname, u.release, u.machine, cpu, os.cpu_count(), memt / 1048576,
    time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
print("peers: %s (set daemon 1, check process with pidfile); %s (rules provider, shipped "
      "whitelist and rules)" % (mver, hver))
print("running again: the killed daemon's new process has started (its own clock reading)")
print("  %-54s %9s %9s %9s" % ("", "median ms", "max ms", "min ms"))
print(row("Monit, a.service running again", res["a"]))
print(row("Healer, b.service running again", res["b"]))
print(row("  Healer: kill -> the failure (signal or line)", res["entry"]))
print(row("  journalctl -f: kill -> the line arrives", res["follower"]))
print(row("  Healer: kill -> attempt detected", res["detected"]))
print(row("  Healer: kill -> restart_service executing", res["executing"]))
print(row("Healer, attempt healed (settle %s, verify_window %s)" % (
    settings.get("healer.settle", "?"), settings.get("healer.verify_window", "?")), res["healed"]))
ma, mb = statistics.median(res["a"]), statistics.median(res["b"])
print("ratio Monit/Healer, median running again: %.1fx (goal: at least 5x)" % (ma / mb))
print("ratio Monit/Healer, median to healed, verification included: %.2fx" % (
    ma / statistics.median(res["healed"])))
print("Healer's attempts: " + ", ".join("%s %s %d" % r for r in outcomes))
print("b.service healed, by the incident's source: " + ", ".join("%s %d" % r for r in sources))
# make bench's closing table (bench/rows.py).
sys.dont_write_bytecode = True
sys.path.insert(0, os.environ["HEALER_BM_TOP"] + "/bench")
from rows import row as bench_row  # noqa: E402
bench_row("monit, kill -9 -> running again, median / max",
          "%.0f / %.0f ms" % (mb * 1000, max(res["b"]) * 1000),
          "Monit (set daemon 1): %.0f / %.0f ms" % (ma * 1000, max(res["a"]) * 1000),
          "%.1fx (goal >= 5x)" % (ma / mb))
bench_row("monit, memory VmRSS / PSS", "%d / %d kB" % mh[:2], "Monit: %d / %d kB" % mm[:2])
print("memory at the end (kB)      VmRSS      PSS   VmHWM")
print("  monit               %10d %8d %7d" % mm)
print("  healer run          %10d %8d %7d" % mh)
PY
