/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The service manager's own word that a service failed, straight from its
 * D-Bus signals (PropertiesChanged of org.freedesktop.systemd1.Unit with
 * ActiveState "failed"), without waiting for journald to hand PID 1's line
 * to readers (its change notifications come about a third of a second
 * late). Everything runs on the loop: Subscribe, the matches and the
 * lookups are asynchronous calls, and a manager that never answers only
 * leaves the journal to report failures, as before.
 *
 * The attacker is any local process on the bus: it may send a signal that
 * looks like the manager's, broadcast or addressed to us. Only a message
 * whose sender is the connection that owns org.freedesktop.systemd1 (as the
 * bus daemon itself said, and says again when the owner changes), or any
 * message on a direct connection to a manager running as root, is read.
 * What the manager says is capped like any outside input (unit names,
 * results, properties per signal), and reports are rate-capped per unit and
 * in all: what goes past a cap is dropped and counted, never queued, and
 * PID 1's journal line still reports that failure.
 */

#include <stdint.h>
#include <systemd/sd-bus.h>

#include "healer/metrics.h"

#define UNIT_WATCH_RESULT_MAX 32 /* "exit-code", "signal", "start-limit-hit" ... */
#define UNIT_WATCH_PER_UNIT   5	 /* failures reported per unit per minute */
#define UNIT_WATCH_PER_MINUTE 60 /* failures reported per minute, all units */
/* A failure older than this when its signal arrives is not reported. */
#define UNIT_WATCH_FRESH_USEC (30ULL * 1000000ULL)

typedef struct UnitWatch UnitWatch;

/*
 * A service entered the failed state: unit is its name (a plain unit name
 * ending in ".service"), result the manager's Result ("signal", ...), and
 * realtime_usec when the manager says it changed state (never later than
 * now). The strings are borrowed for the call.
 */
typedef void (*unit_failed_fn)(const char *unit, const char *result, uint64_t realtime_usec,
			       void *userdata);

/*
 * Subscribes to the manager's unit changes on bus (attached to a loop),
 * counting into metrics (healer_unit_signals_total{result}: reported,
 * refused, over_cap; NULL counts nothing).
 * Returns 0 and a new watch, or -errno (-EPERM: a direct connection whose
 * peer is not root). Failures of the asynchronous calls that follow are
 * logged once; the watch then stays silent.
 */
int unit_watch_new(sd_bus *bus, Metrics *metrics, unit_failed_fn fn, void *userdata,
		   UnitWatch **ret);
/* Drops the matches and pending calls. Takes NULL, returns NULL. */
UnitWatch *unit_watch_free(UnitWatch *w);

/* Counters: failures reported, signals refused (sender), reports over a rate cap. */
uint64_t unit_watch_reported(const UnitWatch *w);
uint64_t unit_watch_refused(const UnitWatch *w);
uint64_t unit_watch_dropped(const UnitWatch *w);
