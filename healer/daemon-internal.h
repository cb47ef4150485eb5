/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by daemon.c (the loop, intake, signals) and attempt.c (the state machine). */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "healer/analyze.h"
#include "healer/check.h"
#include "healer/daemon.h"
#include "healer/executor.h"
#include "healer/follow.h"
#include "healer/notify.h"
#include "healer/plan.h"
#include "healer/policy.h"
#include "healer/store.h"
#include "healer/unit-watch.h"
#include "healer/units.h"
#include "common/util.h"

#define DAEMON_TRACK_MAX	10000 /* open incidents remembered for folding */
#define DAEMON_UNACTED_PER_HOUR 1000  /* incidents recorded an hour per source outside act_on */
#define DAEMON_TRACK_BUCKETS	32768 /* a power of two, above twice the maximum */
#define ATTEMPT_TIMER_ACCURACY	USEC_PER_MSEC
/* How much earlier than the manager's signal PID 1's line of that failure may be stamped. */
#define DAEMON_SIGNAL_EARLY_USEC (5 * USEC_PER_SEC)

/* Where an incident came from (StIncident.source, the history's "source"). */
#define DAEMON_ORIGIN_JOURNAL "journal"
#define DAEMON_ORIGIN_MANAGER "manager-signal" /* the service manager's D-Bus signal */

typedef struct Attempt Attempt;

/* A replay's counts by a fixed word (outcome, refusal kind, check kind): names are static. */
#define REPLAY_KINDS_MAX 32
typedef struct ReplayCounts {
	const char *name[REPLAY_KINDS_MAX];
	uint64_t n[REPLAY_KINDS_MAX];
	size_t len;
} ReplayCounts;

typedef struct ReplayTally {
	ReplayCounts outcomes;	 /* how each attempt ended (REPLAY_* or a state's name) */
	ReplayCounts refusals;	 /* policy's refusal kinds, REJECT_WHITELIST, REJECT_EVIDENCE */
	ReplayCounts not_judged; /* check kinds, and "unit-properties" */
	uint64_t analyses;	 /* analyses started, the knowledge's included */
	uint64_t first_usec, last_usec;
} ReplayTally;

/* How a replayed attempt ended, beyond its state. */
#define REPLAY_WOULD_RUN   "would_run"
#define REPLAY_POLICY	   "policy"
#define REPLAY_WHITELIST   "whitelist"
#define REPLAY_NO_PLAN	   "no_plan"
#define REPLAY_NO_COMMANDS "no_commands"

/* An open incident: lines with its fingerprint fold into it for dedupe_window. */
typedef struct Tracked {
	uint64_t fingerprint;
	int64_t incident_id;
	uint64_t first_seen_usec;
	uint64_t last_seen_usec;
	bool from_manager; /* opened by the manager's signal: see track_folds() */
	/*
	 * One failure of a service reaches the daemon twice: as the manager's
	 * signal and as PID 1's journal line, in either order. Reports of one
	 * way not yet matched by the other (see track_echo(), capped).
	 */
	uint8_t signals_unpaired, lines_unpaired;
	bool used;
} Tracked;

struct Attempt {
	Daemon *d;
	Attempt *prev, *next; /* d->attempts */
	int64_t id, incident_id;
	AttemptState state;
	Settings *settings; /* what it started with; the live ones from the moment it would act */
	Analyzer *analyzer;

	uint64_t fingerprint;
	char *unit, *identifier, *message, *cursor;
	int priority;
	uint64_t count;
	uint64_t entry_usec;
	PolSource source;
	bool vouched;
	bool queued;	   /* waiting for an analysis slot */
	bool waiting_unit; /* waiting until no other attempt acts on its unit */
	bool dry_run;

	AnalysisJob *job;
	Plan *plan;
	char *plan_json;
	char *provider;
	size_t next_cmd;
	bool gate_all;	    /* checking every command's gate (approval, dry run) */
	bool symptom_check; /* the last look: symptoms must be gone */
	ChkRun *chk;
	UnitQuery *uq;
	ExChild *child;
	uint64_t cmd_started;
	sd_event_source *timer; /* settle, verify window, approval expiry */
	uint64_t done_realtime; /* when the last command finished (realtime µs) */
	uint64_t done_mono;
	bool recurred;
	bool acting; /* holds its unit (executing or verifying) */
	/* How it ended, in a replay's fixed words (static strings; NULL: its state's name). */
	const char *outcome, *refusal;
};

struct Daemon {
	DaemonOptions opts;
	sd_event *event;
	sd_bus *bus;
	UnitWatch *watch; /* the manager's unit signals; NULL: the journal only */
	Settings *settings;
	Analyzer *analyzer;
	Store *store;
	Follower *follower;
	Policy *policy;
	Notifier *notifier;
	char *cgroup_parent, *cgroup_why;
	char *self_exe;
	char *state_dir;
	char *pid_file;

	Tracked *tracked;
	size_t n_tracked_buckets, n_tracked;
	uint64_t tracked_dropped;

	StEscalation *esc; /* escalations policy enforces, to notice the ones cleared */
	size_t n_esc;
	Attempt *attempts; /* every live attempt */
	size_t n_analyzing;
	size_t n_queued;
	uint64_t queue_dropped;
	Attempt **fresh; /* opened in the current batch: started once it commits */
	size_t n_fresh, cap_fresh;
	sd_event_source *kick;
	sd_event_source *watchdog, *cleanup;
	int batch_error; /* a store write of the current batch failed */
	bool stopping;
	int exit_code;
	uint64_t started_mono;
	uint64_t lines, incidents;
	uint64_t lag_usec; /* how late the newest entry was read */
	uint64_t unacted_window[_POL_SOURCE_MAX], unacted_n[_POL_SOURCE_MAX];
	uint64_t unacted_dropped[_POL_SOURCE_MAX], unacted_dropped_total;
	int enabled_override;  /* the API's enable/disable (kept in the store), -1: the config's */
	DaemonWaiter *waiters; /* the API's injections and waits */
	Metrics *metrics;      /* healer_* for GET /metrics: counted here, rendered by the API */

	/* healer replay (opts.replay, a copy in replay_opts): see daemon.h. */
	DaemonReplay replay_opts;
	uint64_t clock;	     /* the simulated realtime clock: the newest entry read */
	bool replay_ended;   /* the follower read its last entry */
	bool replay_created; /* it created replay_opts.out (removed if it cannot start) */
	ReplayTally tally;
};

/* Realtime µs: the clock, or in a replay the simulated one. */
uint64_t daemon_now(const Daemon *d);
uint64_t daemon_mono(void);

/* The policy configuration from the settings. */
void daemon_policy_config(const Config *c, PolicyConfig *ret);
/* Applies the live settings and the enable/disable switch to policy. */
void daemon_apply_policy(Daemon *d);
/* Loads config, whitelist and rules anew; on failure the old ones stay (errors in *ret_errors). */
int daemon_reload(Daemon *d, char **ret_errors);

/*
 * Opens an incident and its attempt (policy decides: detected or skipped).
 * Inside a journal batch the attempt starts once the batch commits;
 * outside, call daemon_enqueue_fresh() after committing.
 */
int daemon_open_incident(Daemon *d, const StIncident *in, PolSource src, bool vouched,
			 int64_t *ret_incident, int64_t *ret_attempt);
/* Queues the attempts opened since the last call (after their commit). */
void daemon_enqueue_fresh(Daemon *d);

/* daemon-control.c: the waiters. */
/* An own journal line (inside a batch): an injection read back opens its incident. */
void daemon_own_entry(const JrEntry *e, void *userdata);
/* After a batch commits: injections read back in it are answered. */
void daemon_waiters_batch_done(Daemon *d);
/* Attempt id ended. */
void daemon_waiters_attempt_done(Daemon *d, int64_t id);
/* The daemon stops or is freed: every waiter is answered -ECANCELED and freed. */
void daemon_waiters_free(Daemon *d);

/*
 * Why attempts or commands were refused, for healer_rejections_total: a
 * fixed vocabulary, never the text of a reason.
 */
#define REJECT_WHITELIST	"whitelist"
#define REJECT_EVIDENCE		"evidence"
#define REJECT_PRECONDITION	"precondition"
#define REJECT_UNIT_SAFETY	"unit-safety"
#define REJECT_APPROVAL		"approval-rejected"
#define REJECT_APPROVAL_EXPIRED "approval-expired"

/* Records an escalation policy just decided (store and the daemon's list). */
void daemon_escalated(Daemon *d, uint64_t fingerprint, const char *unit, const char *reason);

/* Starts queued attempts while analysis slots are free (from a defer source). */
void daemon_kick(Daemon *d);
/* An attempt ended: unlinks and frees it, wakes attempts waiting for its unit. */
void daemon_attempt_gone(Daemon *d, Attempt *a);
/* The live attempt other than self acting on unit (executing or verifying), or NULL. */
const Attempt *daemon_unit_holder(Daemon *d, const Attempt *self, const char *unit);
/* The journal saw fp again at realtime: attempts verifying fp learn it recurred. */
void daemon_note_recurrence(Daemon *d, uint64_t fp, uint64_t realtime_usec);

Attempt *attempt_new(Daemon *d, int64_t id, int64_t incident_id, const StIncident *in);
Attempt *attempt_free(Attempt *a);
/* detected -> analyzing: knowledge first, then the provider (or the rules). */
void attempt_analyze(Attempt *a);
/* Moves to a final state, records everything, notifies, and frees a. */
void attempt_finish(Attempt *a, AttemptState to, const char *fmt, ...) _printf_(3, 4);
/* An administrator's decision on an attempt awaiting approval. */
void attempt_decide(Attempt *a, bool approve, const char *actor);
/* Resumes an attempt found awaiting approval at start (its plan vetted again). */
int attempt_resume_approval(Daemon *d, const StAttempt *sa);
/* Shutdown: stops what can stop; running commands finish (true while one runs). */
bool attempt_stop(Attempt *a);
/* A unit this attempt waited for is free again. */
void attempt_unit_free(Attempt *a);
/* Moves the attempt to a non-final state, stored with its reason. */
int attempt_transition(Attempt *a, AttemptState to, const char *reason);

/* daemon-replay.c: a replay's bookkeeping (no-ops for the live daemon). */
static inline bool daemon_replaying(const Daemon *d)
{
	return d->opts.replay != NULL;
}
/* Counts one under name (static) in c; past REPLAY_KINDS_MAX names, under "other". */
void replay_count(ReplayCounts *c, const char *name);
/* An attempt (id) ended with this outcome and refusal kind (NULL: none). */
void replay_attempt_ended(Daemon *d, const char *outcome, const char *refusal);
/* The replay read the journal's last entry: the loop ends once no attempt is live. */
void replay_at_end(void *userdata);
/* After a batch or an attempt's end: reading holds while attempts are live. */
void replay_pace(Daemon *d);
