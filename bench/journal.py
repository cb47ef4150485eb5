#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# make bench-journal: a journal of N entries (1% at err or worse, 100 distinct
# messages among them) made by systemd-journal-remote, then, in the same run,
# `healer journal scan --all --json` against `journalctl -p err -o json` over
# the same files. Prints both times (median of R rounds), their ratio, entries
# per second and peak RSS. Figures, not assertions.
import json, os, resource, statistics, subprocess, sys, time

healer = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/healer")
n = int(os.environ.get("BENCH_ENTRIES", "1000000"))
rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
sys.dont_write_bytecode = True  # nothing written into the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from journal_files import journal_files  # noqa: E402
from rows import row  # noqa: E402

work, files = journal_files(n)
fargs = [f"--file={f}" for f in files]
cmds = {
    "healer": [healer, "journal", "scan", *fargs, "--all", "--json"],
    "journalctl": ["journalctl", *fargs, "-p", "err", "-o", "json", "--no-pager"],
}

def run(cmd):
    """Wall time and peak RSS (KiB) of one run, output to a pipe that is drained."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"bench: {cmd[0]} failed with status {status}")
    return dt, ru.ru_maxrss, out

times = {k: [] for k in cmds}
rss = {k: 0 for k in cmds}
outs = {}
for _ in range(rounds):
    for name, cmd in cmds.items():  # alternate, so both see the same cache state
        dt, r, out = run(cmd)
        times[name].append(dt)
        rss[name] = max(rss[name], r)
        outs[name] = out

incidents = [json.loads(l) for l in outs["healer"].splitlines()]
folded = sum(i["count"] for i in incidents)
matched = len(outs["journalctl"].splitlines())
h, j = statistics.median(times["healer"]), statistics.median(times["journalctl"])
print(f"journal: {n} entries in {len(files)} files, {matched} at err or worse")
print(f"healer journal scan   {h:8.3f} s  (median of {rounds})  peak RSS {rss['healer'] / 1024:6.1f} MiB"
      f"  {len(incidents)} incidents holding {folded} entries")
print(f"journalctl -p err     {j:8.3f} s  (median of {rounds})  peak RSS {rss['journalctl'] / 1024:6.1f} MiB")
print(f"ratio healer/journalctl: {h / j:.2f}  (goal: at most 0.50)")
print(f"healer: {n / h:,.0f} journal entries/s covered, {matched / h:,.0f} selected entries/s")
if folded != matched:
    sys.exit(f"bench: healer folded {folded} entries but journalctl selected {matched}")
row(f"journal scan, {n:,} entries", f"{h:.3f} s, {rss['healer'] / 1024:.1f} MiB",
    f"journalctl -p err -o json: {j:.3f} s, {rss['journalctl'] / 1024:.1f} MiB",
    f"{h / j:.2f} (goal <= 0.50)")
