/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the service manager itself says about a unit, read over sd-bus
 * (org.freedesktop.systemd1), asynchronously on the loop: a hung PID 1 never
 * stalls the journal or the API. The preconditions (unit-failed, unit-runs)
 * and the verifier (unit-active) read their facts here, and the unit safety
 * rule lives here once: the properties that make a unit unsafe to touch.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "whitelist/whitelist.h"

#define UNIT_BUS_TIMEOUT_USEC (5ULL * 1000000ULL)
#define UNIT_MAX_EXEC_PATHS   64 /* paths collected from ExecStart*=/ExecStartPre*= */

typedef struct UnitInfo {
	char *id;	  /* the primary name */
	char **names;	  /* every name (aliases), NULL-terminated */
	char *load_state; /* "loaded", "not-found", "masked", ... */
	char *active_state;
	char *sub_state;
	uint32_t n_restarts; /* NRestarts (services), 0 when absent */
	uint64_t restart_usec;
	bool refuse_manual_start;
	bool refuse_manual_stop;
	char *failure_action; /* "none", "reboot", ... */
	char *success_action;
	char *start_limit_action;
	char *job_timeout_action;
	char **exec_paths;	 /* every absolute path in ExecStart*=, ExecStartPre*= (argv),
				    NULL-terminated */
	char *working_directory; /* WorkingDirectory=, NULL when unset */
} UnitInfo;

void unit_info_done(UnitInfo *u);

typedef struct UnitQuery UnitQuery;

/*
 * Called once from the loop. r is 0 with u filled (borrowed: valid during the
 * call), or -errno (-ENOENT: no such unit, -ETIMEDOUT, -ECONNREFUSED ...)
 * with error a one-line reason and u NULL.
 */
typedef void (*unit_done_fn)(int r, const UnitInfo *u, const char *error, void *userdata);

/*
 * Reads the unit's properties over bus (attached to the loop). *ret
 * (optional) identifies the query until done runs. Returns 0 or -errno
 * (done is not called then).
 */
int unit_query(sd_bus *bus, const char *unit, unit_done_fn done, void *userdata, UnitQuery **ret);
/* Cancels a query: done is not called. Takes NULL, returns NULL. */
UnitQuery *unit_query_cancel(UnitQuery *q);

/*
 * Why acting on this unit is refused, or NULL when it may be touched:
 * RefuseManualStart=yes; FailureAction=, SuccessAction=, StartLimitAction=
 * or JobTimeoutAction= other than none (a restart could reboot the host);
 * a name or alias the whitelist protects; not loaded. The reason is a
 * static string or written into buf.
 */
const char *unit_refusal(const UnitInfo *u, const Whitelist *wl, char *buf, size_t len);

/*
 * Whether path is one the unit runs: equal to an absolute path its
 * ExecStart*= or ExecStartPre*= lines name, or at a component boundary
 * beneath its WorkingDirectory= (not "/"). path must be canonical.
 */
bool unit_runs_path(const UnitInfo *u, const char *path);

/*
 * Opens the system bus for the daemon (sd_bus_open_system) attached to e.
 * Returns 0, or -errno when no bus is reachable: unit checks then cannot be
 * judged and fail closed.
 */
int unit_bus_open(sd_event *e, sd_bus **ret);
