/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's own log: one line per event on stderr with a "<N>" priority
 * prefix, which journald reads as the line's PRIORITY when Healer runs as a
 * service (SyslogLevelPrefix=yes is the default). Only healer/'s daemon
 * parts log; the library modules return errors instead (STYLE.md rule 4).
 * Healer never acts on these lines: they carry its own _PID and unit.
 */

#include <syslog.h>

#include "common/util.h"

/* Lines below this priority are dropped (LOG_INFO by default; LOG_DEBUG with HEALER_DEBUG=1). */
void log_set_max_level(int prio);
int log_get_max_level(void);

void log_msg(int prio, const char *fmt, ...) _printf_(2, 3);

/* Logs with errno set from r (so %m works) and returns r, which must be negative. */
int log_errno_(int prio, int r, const char *fmt, ...) _printf_(3, 4);
#define log_errno(prio, r, ...) log_errno_((prio), (r), __VA_ARGS__)
