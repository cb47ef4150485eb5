#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes N entries in journal export format to stdout: 1% at err or worse
# (100 distinct messages among them, with varying numbers, each always from
# the same unit), the rest info and
# notice lines from a few dozen units, a second apart at most.
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
out = sys.stdout.buffer
boot = "5e1f0c2d3b4a49e8a7b6c5d4e3f2a1b0"
t0 = 1_790_000_000_000_000
units = [f"svc{i:02d}.service" for i in range(40)]
things = ["database", "cache", "upstream", "socket", "worker", "config", "certificate", "disk",
          "queue", "session"]
faults = ["timed out", "refused", "was reset", "is missing", "is corrupt", "overflowed",
          "is read-only", "expired", "is locked", "was denied"]
chunk = []
for i in range(n):
    u = units[((i // 100) % 100) % 40 if i % 100 == 7 else i % 40]
    if i % 100 == 7:
        k = (i // 100) % 100
        prio = (0, 1, 2, 3)[k % 4]
        msg = (f"{things[k % 10]} {faults[k // 10]}: request {i} to 10.0.{i % 250}.{k % 250} "
               f"failed after {i % 977} ms")
    else:
        prio = 6 if i % 3 else 5
        msg = f"handled request {i} in {i % 113} ms"
    chunk.append(
        f"__REALTIME_TIMESTAMP={t0 + i * 1000}\n__MONOTONIC_TIMESTAMP={1_000_000 + i * 1000}\n"
        f"_BOOT_ID={boot}\n_HOSTNAME=bench\n_TRANSPORT=journal\n_SYSTEMD_UNIT={u}\n"
        f"_PID={1000 + i % 40}\n_UID=0\n_COMM=svc\nSYSLOG_IDENTIFIER=svc{i % 40:02d}\n"
        f"PRIORITY={prio}\nMESSAGE={msg}\n\n")
    if len(chunk) == 10000:
        out.write("".join(chunk).encode())
        chunk = []
out.write("".join(chunk).encode())
