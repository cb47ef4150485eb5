#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes journal export text for systemd-journal-remote: one entry per SPEC,
"minute:unit:priority:message[|FIELD=value,...]", minutes after T0
(2026-11-30 12:00:00 UTC), in time order (a journal file is read in the
order it was written). Used by mkjournal() in tests/cli/lib.sh.

usage: mkjournal.py OUT SPEC...
"""
import sys

t0 = 1796040000 * 1000000
boot = "0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d"
with open(sys.argv[1], "w") as out:
    for n, spec in enumerate(sys.argv[2:]):
        minute, unit, prio, msg = spec.split(":", 3)
        extra = {}
        if "|" in msg:
            msg, rest = msg.split("|", 1)
            extra = dict(kv.split("=", 1) for kv in rest.split(","))
        t = t0 + int(float(minute) * 60 * 1000000)  # given in time order
        f = {"__REALTIME_TIMESTAMP": t, "__MONOTONIC_TIMESTAMP": t - t0 + 5000000,
             "_BOOT_ID": boot, "_HOSTNAME": "web1", "_TRANSPORT": "journal",
             "_SYSTEMD_UNIT": unit, "_PID": 1000 + n, "_UID": 0, "_COMM": "svc",
             "SYSLOG_IDENTIFIER": unit.split(".")[0], "PRIORITY": prio, "MESSAGE": msg}
        f.update(extra)
        out.write("".join(f"{k}={v}\n" for k, v in f.items()) + "\n")
