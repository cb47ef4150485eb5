/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Evaluates whitelist checks (require = / verify =) on the host, never from
 * the evidence text, asynchronously on the loop: unit states over sd-bus
 * (healer/units.h), statvfs, /proc/meminfo, fstat of an opened path, a
 * command run by the executor, an HTTP GET to loopback. A check that cannot
 * be judged (no bus, a timeout, an unreadable file) is CHK_UNKNOWN, and the
 * caller treats it as "does not hold": fail closed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "whitelist/whitelist.h"

typedef enum ChkVerdict {
	CHK_HOLDS,
	CHK_FAILS,
	CHK_UNKNOWN,
} ChkVerdict;

typedef struct ChkResult {
	ChkVerdict verdict;
	char *detail; /* what was seen: "ActiveState=active", "disk 42% < 90%"; never NULL */
} ChkResult;

typedef struct ChkOptions {
	sd_bus *bus;		   /* may be NULL: unit checks are then CHK_UNKNOWN */
	const Whitelist *wl;	   /* for the unit safety rule; may be NULL */
	const char *evidence_unit; /* the incident's trusted unit (unit-runs); may be NULL */
	uint64_t timeout_usec;	   /* per check (command, http, bus); 0: 10 s */
	/*
	 * unit-failed on an activating unit: how long to watch NRestarts rise
	 * (0: 2 * RestartUSec, at least 1 s and at most 10 s).
	 */
	uint64_t restart_watch_usec;
	/* Test hook: the file read for memory-below (NULL: /proc/meminfo). */
	const char *meminfo_path;
} ChkOptions;

typedef struct ChkRun ChkRun;

/*
 * Called once from the loop with one result per check, in order; results and
 * their strings are borrowed for the call. all_hold is true when every
 * verdict is CHK_HOLDS.
 */
typedef void (*chk_done_fn)(const ChkResult *results, size_t n, bool all_hold, void *userdata);

/*
 * Evaluates n checks (copied; the caller may free them), one after another.
 * done is never called inline. *ret (optional) identifies the run until done
 * runs. Returns 0 or -errno (done is not called then).
 */
int chk_run(sd_event *e, const WlCheck *checks, size_t n, const ChkOptions *o, chk_done_fn done,
	    void *userdata, ChkRun **ret);

/* Cancels a run: done is not called, children are killed. Takes NULL, returns NULL. */
ChkRun *chk_run_cancel(ChkRun *r);

const char *chk_verdict_name(ChkVerdict v);
