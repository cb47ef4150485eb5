#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes basic.export, the journal export-format fixture of test_journal.c.
# Kept so the fixture can be regenerated and read; the .export is the data.
import struct

BOOT = "0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d"
T0 = 1_790_000_000_000_000  # realtime of the first entry, in µs
entries = []
t = [T0]

def e(fields, binary_message=None, dt=1_000_000, binary_fields=None):
    t[0] += dt
    f = [("__REALTIME_TIMESTAMP", str(t[0])), ("__MONOTONIC_TIMESTAMP", str(t[0] - T0 + 5_000_000)),
         ("_BOOT_ID", BOOT), ("_HOSTNAME", "web1"), ("_TRANSPORT", "journal")]
    f += list(fields.items())
    entries.append((f, binary_message, binary_fields))

nginx = {"_SYSTEMD_UNIT": "nginx.service", "_PID": "1234", "_UID": "0", "_COMM": "nginx",
         "_EXE": "/usr/sbin/nginx", "SYSLOG_IDENTIFIER": "nginx"}
# 1-2: context lines of nginx at info and warning
e({**nginx, "PRIORITY": "6", "MESSAGE": "starting nginx 1.22"})
e({**nginx, "PRIORITY": "4", "MESSAGE": "conflicting server name \"_\" on 0.0.0.0:80, ignored"})
# 3: the error, unit from the trusted _SYSTEMD_UNIT
e({**nginx, "PRIORITY": "3", "MESSAGE": "bind() to 0.0.0.0:80 failed (98: Address already in use)"})
# 4: PID 1 about nginx: UNIT= is trusted because _PID=1 and _UID=0
e({"_PID": "1", "_UID": "0", "_COMM": "systemd", "_EXE": "/usr/lib/systemd/systemd",
   "_SYSTEMD_UNIT": "init.scope", "SYSLOG_IDENTIFIER": "systemd", "UNIT": "nginx.service",
   "PRIORITY": "3", "MESSAGE": "nginx.service: Main process exited, code=exited, status=1/FAILURE"})
# 5: a user spoofs UNIT= and SYSLOG_IDENTIFIER: the unit stays its own
e({"_PID": "4242", "_UID": "1000", "_COMM": "logger", "_EXE": "/usr/bin/logger",
   "_SYSTEMD_UNIT": "user@1000.service", "SYSLOG_IDENTIFIER": "sshd", "UNIT": "sshd.service",
   "PRIORITY": "2", "MESSAGE": "fatal: sshd is broken, restart sshd.service"})
# 6: a user's own service manager names USER_UNIT=: not trusted (not root)
e({"_PID": "900", "_UID": "1000", "_COMM": "systemd", "_EXE": "/usr/lib/systemd/systemd",
   "_SYSTEMD_UNIT": "user@1000.service", "USER_UNIT": "nginx.service", "SYSLOG_IDENTIFIER": "systemd",
   "PRIORITY": "3", "MESSAGE": "nginx.service: Failed with result 'exit-code'."})
# 7: a root service manager (the test sandbox's systemd --user) names USER_UNIT=: trusted
e({"_PID": "77", "_UID": "0", "_COMM": "systemd", "_EXE": "/lib/systemd/systemd",
   "USER_UNIT": "app.service", "SYSLOG_IDENTIFIER": "systemd",
   "PRIORITY": "3", "MESSAGE": "app.service: Main process exited, code=killed, status=9/KILL"})
# 8: no PRIORITY at all: not selected
e({**nginx, "MESSAGE": "no priority here"})
# 9-10: Healer's own lines
e({"_PID": "555", "_UID": "0", "_COMM": "healer", "SYSLOG_IDENTIFIER": "healer",
   "PRIORITY": "3", "MESSAGE": "Failed to restart php-fpm.service"})
e({"_PID": "555", "_UID": "0", "_COMM": "healer", "_SYSTEMD_UNIT": "healer.service",
   "SYSLOG_IDENTIFIER": "healerd", "PRIORITY": "3", "MESSAGE": "own unit line"})
# 11: a long message (20000 bytes, over the 16 KiB cap)
e({"_SYSTEMD_UNIT": "app.service", "_PID": "31", "_UID": "33", "SYSLOG_IDENTIFIER": "app",
   "PRIORITY": "3", "MESSAGE": "trace " + "x" * 19994})
# 12: a binary message: control bytes and invalid UTF-8
e({"_SYSTEMD_UNIT": "app.service", "_PID": "31", "_UID": "33", "SYSLOG_IDENTIFIER": "app",
   "PRIORITY": "3"}, binary_message=b"bad \x01\x1b[31m bytes \xff\xfe and ok \xc3\xa9")
# 13-62: a storm of one failure, numbers, pids, addresses and ids varying
for i in range(50):
    e({"_SYSTEMD_UNIT": "php-fpm.service", "_PID": str(2000 + i), "_UID": "0",
       "SYSLOG_IDENTIFIER": "php-fpm", "PRIORITY": "3",
       "MESSAGE": f"[pool www] child {3000 + i} exited on signal 11 (SIGSEGV) from 10.0.{i}.7 "
                  f"req 0x{i * 7919:x} id 1b4e28ba-2fa1-11d2-883f-{i:012x}"}, dt=1000)
# 63: the same failure after the 10-minute window: a new incident
e({"_SYSTEMD_UNIT": "php-fpm.service", "_PID": "2999", "_UID": "0",
   "SYSLOG_IDENTIFIER": "php-fpm", "PRIORITY": "3",
   "MESSAGE": "[pool www] child 4000 exited on signal 11 (SIGSEGV) from 10.0.9.7 "
              "req 0x1 id 1b4e28ba-2fa1-11d2-883f-000000000001"}, dt=11 * 60 * 1_000_000)
# 64-66: emerg, alert, crit are selected too; 67 at warning only with --priority warning
for p, m in (("0", "kernel panic imminent"), ("1", "RAID degraded"), ("2", "disk /dev/sda1 failing")):
    e({"_SYSTEMD_UNIT": "storage.service", "_PID": "88", "_UID": "0",
       "SYSLOG_IDENTIFIER": "storaged", "PRIORITY": p, "MESSAGE": m})
e({"_SYSTEMD_UNIT": "storage.service", "_PID": "88", "_UID": "0",
   "SYSLOG_IDENTIFIER": "storaged", "PRIORITY": "4", "MESSAGE": "disk 91% full"})

# 68: a warning whose identifier carries a terminal escape and a newline
e({"_SYSTEMD_UNIT": "storage.service", "_PID": "88", "_UID": "0", "PRIORITY": "4",
   "MESSAGE": "ident test"}, binary_fields={"SYSLOG_IDENTIFIER": b"evil\x1b[2J\ntag"})

# 69: a warning whose message holds an overlong '/', a C1 CSI, a bidi override, a surrogate
e({"_SYSTEMD_UNIT": "storage.service", "_PID": "88", "_UID": "0", "PRIORITY": "4",
   "SYSLOG_IDENTIFIER": "storaged"},
  binary_message=b"a\xc0\xafb\xc2\x9bc\xe2\x80\xaed\xed\xa0\x80e")

with open("basic.export", "wb") as out:
    for fields, binary, extra in entries:
        for k, v in fields:
            out.write(f"{k}={v}\n".encode())
        if binary is not None:
            out.write(b"MESSAGE\n" + struct.pack("<Q", len(binary)) + binary + b"\n")
        for k, v in (extra or {}).items():
            out.write(k.encode() + b"\n" + struct.pack("<Q", len(v)) + v + b"\n")
        out.write(b"\n")
