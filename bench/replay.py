#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# make bench-replay: `healer replay` over the bench journal (bench/journal_files.py:
# N entries, 1% at err or worse, 100 distinct messages) with the shipped
# whitelist and rules, beside `journalctl --directory -p err -o json` reading
# the same files, alternating, R rounds each. Prints both times (median),
# journal entries per second and selected entries per second, peak RSS, and
# what the replay decided: incidents, analyses per fingerprint, outcomes.
# Figures, not assertions.
import json, os, statistics, subprocess, sys, tempfile, time

healer = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/healer")
n = int(os.environ.get("BENCH_ENTRIES", "1000000"))
rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # nothing written into the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from journal_files import journal_files  # noqa: E402
from rows import row  # noqa: E402


def run(cmd):
    """Wall time, peak RSS (KiB) and output of one run, its output drained from a pipe."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"bench: {cmd[0]} failed with status {status}: {err.decode(errors='replace')}")
    return dt, ru.ru_maxrss, out


def main():
    work, files = journal_files(n)
    with tempfile.TemporaryDirectory(prefix="healer-bench-replay-") as tmp:
        conf = os.path.join(tmp, "healer.conf")
        with open(conf, "w") as f:
            f.write(f"[healer]\nwhitelist = {top}/examples/whitelist.conf\n"
                    f"[llm]\nprovider = rules\nrules = {top}/examples/rules.conf\n"
                    f"[api]\nlisten = unix:{tmp}/api.sock\n")
        times = {"healer": [], "journalctl": []}
        rss = {"healer": 0, "journalctl": 0}
        report = selected = None
        for i in range(rounds):  # alternate, so both see the same cache state
            out_db = os.path.join(tmp, f"replay-{i}.db")
            dt, r, out = run([healer, "replay", "--directory", work, "-c", conf,
                              "--out", out_db, "--json", "--top", "3"])
            times["healer"].append(dt)
            rss["healer"] = max(rss["healer"], r)
            report = json.loads(out)
            os.unlink(out_db)
            dt, r, out = run(["journalctl", "--directory", work, "-p", "err", "-o", "json",
                              "--no-pager"])
            times["journalctl"].append(dt)
            rss["journalctl"] = max(rss["journalctl"], r)
            selected = len(out.splitlines())
    rep, fps = report["replay"], report["fingerprints"]
    h, j = statistics.median(times["healer"]), statistics.median(times["journalctl"])
    span = (rep["last_entry"] - rep["first_entry"]) / 1e6
    print(f"journal: {n} entries in {len(files)} files, {selected} at err or worse, "
          f"{span:.0f} s of journal time")
    print(f"healer replay         {h:8.3f} s  (median of {rounds})  peak RSS "
          f"{rss['healer'] / 1024:6.1f} MiB  {rep['entries']} entries decided")
    print(f"journalctl -p err     {j:8.3f} s  (median of {rounds})  peak RSS "
          f"{rss['journalctl'] / 1024:6.1f} MiB  (reads and prints them, decides nothing)")
    print(f"ratio healer replay/journalctl: {h / j:.2f}")
    print(f"healer replay: {n / h:,.0f} journal entries/s covered, "
          f"{rep['entries'] / h:,.0f} selected entries/s, "
          f"{span / h:,.0f}x journal time")
    per = rep["analyses"] / fps["total"] if fps["total"] else 0
    print(f"decided: {rep['incidents']} incidents, {rep['analyses']} analyses for "
          f"{fps['total']} fingerprints ({per:.2f} analyses per fingerprint)")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(rep["outcomes"].items())))
    print("refusals: " + (", ".join(f"{k} {v}" for k, v in sorted(rep["refusals"].items()))
                          or "none"))
    if rep["entries"] != selected:
        sys.exit(f"bench: the replay read {rep['entries']} entries but journalctl "
                 f"selected {selected}")
    row(f"replay, {n:,} entries", f"{h:.3f} s, {n / h:,.0f} entries/s",
        f"journalctl --directory -p err -o json: {j:.3f} s", f"{h / j:.2f}")
    row("replay, analyses per fingerprint", f"{per:.2f} ({rep['analyses']} for {fps['total']})",
        "", "goal: <= 1")


main()
