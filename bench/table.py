#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# make bench's closing table: the rows each benchmark appended to FILE
# (bench/rows.py), in the order they ran, under the machine and date. A
# benchmark that failed leaves its rows out; the table says which are missing.
import os, platform, sys, time

path = sys.argv[1]
expected = sys.argv[2:]  # each benchmark's rows start with its name
rows = []
if os.path.exists(path):
    with open(path) as f:
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
head = ("Measure", "Healer", "Reference (same run)", "Ratio / goal")
widths = [max(len(r[i]) if i < len(r) else 0 for r in rows + [list(head)]) for i in range(4)]
cpus = os.cpu_count()
with open("/proc/meminfo") as f:
    mem = int(f.readline().split()[1]) // 1024
print()
print(f"make bench, {time.strftime('%Y-%m-%d', time.gmtime())}, {platform.machine()}, "
      f"{cpus} CPUs, {mem} MB, kernel {platform.release()}")
line = "-+-".join("-" * w for w in widths)
print(" | ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
print(line)
for r in rows:
    r = (r + [""] * 4)[:4]
    print(" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
missing = [b for b in expected if not any(r[0].startswith(b) for r in rows)]
if missing:
    print("no figures from: " + ", ".join(missing) + " (see its output above)")
    sys.exit(1)
