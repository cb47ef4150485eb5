/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * `healer run`: one sd-event loop from journal entry to verified fix. The
 * journal follower, analyses, checks, children, timers, signals and D-Bus
 * are all sources on it; nothing blocks it. See DESIGN.md "The one flow".
 */

#include <stdbool.h>
#include <stdint.h>

#include "healer/settings.h"

typedef struct Daemon Daemon;

typedef struct DaemonOptions {
	SettingsOptions settings;
	const char *cgroup_parent; /* tests: a cgroup v2 folder for commands (else discovered) */
	const char *own_unit;	   /* Healer's unit, whose lines are never acted on */
	bool no_bus;		   /* do not connect to the system bus (unit checks fail closed) */
} DaemonOptions;

/*
 * Loads the settings, opens the store, the journal and the bus, and sets up
 * the loop. Returns 0, or -errno with *ret_errors (one problem per line).
 */
int daemon_new(const DaemonOptions *o, Daemon **ret, char **ret_errors);

/* Runs until SIGTERM/SIGINT (then drains) or a fatal error. Returns the exit code. */
int daemon_run(Daemon *d);

Daemon *daemon_free(Daemon *d);
static inline void daemon_freep(Daemon **d)
{
	*d = daemon_free(*d);
}
