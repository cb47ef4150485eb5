/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * `healer run`: one sd-event loop from journal entry to verified fix. The
 * journal follower, analyses, checks, children, timers, signals and D-Bus
 * are all sources on it; nothing blocks it. See DESIGN.md "The one flow".
 */

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "healer/metrics.h"
#include "healer/settings.h"
#include "healer/store.h"

typedef struct Daemon Daemon;

/*
 * healer replay: the daemon's own pipeline over a journal folder that
 * already exists (a copied /var/log/journal, systemd-journal-remote's
 * files), read once to its end as fast as the machine allows. The clock is
 * the entries' own timestamps (the newest read so far): folding, policy's
 * windows and every record are stamped with it. Dry run is forced whatever
 * the config says; no command or check runs, no bus, no API, no webhook,
 * no state folder: a check that needs the live host is recorded "not
 * judged offline", never guessed. Each new attempt is decided at its own
 * entry's time before the next entry is read (analyses take no simulated
 * time). The attempts go to a new SQLite file of the store's schema.
 */
typedef struct DaemonReplay {
	const char *directory; /* the journal folder */
	const char *out;       /* the store written: created, refused when it exists */
	uint64_t since_usec;   /* realtime; 0: the journal's head */
	uint64_t until_usec;   /* the first entry past it ends the replay; 0: the end */
} DaemonReplay;

typedef struct DaemonOptions {
	SettingsOptions settings;
	const char *cgroup_parent;  /* tests: a cgroup v2 folder for commands (else discovered) */
	const char *own_unit;	    /* Healer's unit, whose lines are never acted on */
	bool no_bus;		    /* do not connect to the system bus (unit checks fail closed) */
	const DaemonReplay *replay; /* NULL: the live daemon; else copied by daemon_new() */
} DaemonOptions;

/*
 * Loads the settings, opens the store, the journal and the bus, and sets up
 * the loop. Returns 0, or -errno with *ret_errors (one problem per line).
 */
int daemon_new(const DaemonOptions *o, Daemon **ret, char **ret_errors);

/*
 * Runs until SIGTERM/SIGINT (then drains) or a fatal error; a replay also
 * ends after the journal's last entry is decided. Returns the exit code.
 */
int daemon_run(Daemon *d);

/*
 * After a replay ran: what it read and decided, for the summary (the
 * details are in the store it wrote). {"entries", "incidents", "lines_
 * dropped", "first_entry", "last_entry" (realtime µs, 0 when none),
 * "analyses", "outcomes": {"would_run", "policy", "whitelist", "no_plan",
 * "no_commands", or a final state: N}, "refusals": {kind: N},
 * "not_judged": {check kind or "unit-properties": N}, "read_error": text
 * or absent}. NULL when d is not a replay or on OOM.
 */
cJSON *daemon_replay_json(Daemon *d);

Daemon *daemon_free(Daemon *d);
static inline void daemon_freep(Daemon **d)
{
	*d = daemon_free(*d);
}

/*
 * The daemon's controls, for the API (api/): each is one call on the loop,
 * and none blocks it. Strings are copied; results that come later arrive
 * through a DaemonWaiter's callback on the loop.
 */

sd_event *daemon_event(Daemon *d);
/* The live settings (a reload replaces them: take a reference to keep one). */
Settings *daemon_settings(Daemon *d);
Store *daemon_store(Daemon *d);
/* The daemon's counters, gauges and histograms (for GET /metrics); owned by d. */
Metrics *daemon_metrics(Daemon *d);
/* The state folder (for the API's token file). */
const char *daemon_state_dir(Daemon *d);

/* {"enabled","auto_execute","monitoring","max_attempts","provider","model","journal":{...},...}. */
cJSON *daemon_status_json(Daemon *d);

/* An incident reported through the API: the token holder vouches for it. */
typedef struct DaemonReport {
	const char *service; /* a unit name ("nginx" means nginx.service); NULL: none */
	const char *message;
	int priority;		 /* 0..7 */
	uint64_t timestamp_usec; /* realtime; 0: now */
	bool injected;		 /* a test error (history marks it) rather than a manual heal */
} DaemonReport;

#define DAEMON_REPORT_MESSAGE_MAX 4096

/*
 * Checks a report's fields: 0, or -EINVAL with why (the service is not a
 * unit name, the message is empty or too long, the priority out of range).
 */
int daemon_report_check(const DaemonReport *r, char *why, size_t why_len);

/*
 * Opens an incident and its attempt for r now, through the same policy and
 * analysis as the journal's (only act_on and max_age do not apply).
 * When policy skips it, *ret_attempt is an attempt already final (skipped,
 * with the reason).
 */
int daemon_submit(Daemon *d, const DaemonReport *r, int64_t *ret_incident, int64_t *ret_attempt,
		  char *why, size_t why_len);

typedef struct DaemonWaiter DaemonWaiter;

/*
 * An injection's outcome: the incident and attempt it opened, and how it
 * came in: "journal" (written and read back) or "direct" (the journal
 * could not be written, or did not deliver in time). r < 0 when it failed.
 */
typedef void (*daemon_injected_fn)(int r, int64_t incident_id, int64_t attempt_id, const char *via,
				   void *userdata);

/*
 * Injects a test error: writes it to the journal Healer reads, marked with
 * a one-time id, and opens its incident when the follower reads it back
 * (returns 0; done is called once on the loop, unless the waiter is
 * cancelled first; if the entry is not read back within a few seconds the
 * incident is opened directly). When that journal cannot be written (a
 * directory source, journald down) the incident is opened at once: returns
 * 1 with *ret_incident and *ret_attempt, and done is never called.
 */
int daemon_inject(Daemon *d, const DaemonReport *r, daemon_injected_fn done, void *userdata,
		  DaemonWaiter **ret, int64_t *ret_incident, int64_t *ret_attempt);

/* An attempt reached a final state (or the daemon stops: r = -ECANCELED). */
typedef void (*daemon_finished_fn)(int r, int64_t attempt_id, void *userdata);
int daemon_wait_attempt(Daemon *d, int64_t attempt_id, daemon_finished_fn done, void *userdata,
			DaemonWaiter **ret);

/*
 * Evaluates every precondition (require =) of an accepted plan's commands on
 * the host now, in order, as an attempt would (evidence_unit for
 * unit-runs, may be NULL). done gets one result per check, commands'
 * checks one after another. Returns 0, or -errno (done is not called).
 */
typedef struct ChkResult ChkResult;
typedef struct Plan Plan;
typedef void (*daemon_checked_fn)(const ChkResult *results, size_t n, void *userdata);
int daemon_check_plan(Daemon *d, const Plan *plan, const char *evidence_unit,
		      daemon_checked_fn done, void *userdata, DaemonWaiter **ret);

/* The caller lost interest (its connection closed): done is not called. Takes NULL. */
void daemon_waiter_cancel(DaemonWaiter *w);

/*
 * An administrator's decision on an attempt awaiting approval. -ENOENT when
 * there is no such attempt, -EBUSY when it is not awaiting approval.
 */
int daemon_decide(Daemon *d, int64_t attempt_id, bool approve, const char *actor);

/* Turns automatic healing on or off (kept in the store across restarts, audited). */
int daemon_set_enabled(Daemon *d, bool enabled, const char *actor);
bool daemon_enabled(Daemon *d);

/*
 * The live whitelist file's text and its etag (a hash of the text, quoted
 * as HTTP wants it). *ret_path gets the file written by a put.
 */
int daemon_whitelist_get(Daemon *d, char **ret_text, size_t *ret_len, char **ret_etag);

/*
 * Replaces the whitelist: validated as `healer whitelist check` does
 * (-EINVAL and *ret_errors, "file:line: message" lines), refused with
 * -ESTALE when if_match is not the current etag, else written atomically
 * (temp file, fsync, rename, fsync of the folder; the previous text kept
 * as FILE.bak), audited, and live at once. *ret_etag the new etag.
 */
int daemon_whitelist_put(Daemon *d, const char *text, size_t len, const char *if_match,
			 const char *actor, char **ret_etag, char **ret_errors);
