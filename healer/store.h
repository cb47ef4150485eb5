/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The store: STATE_DIR/healer.db in SQLite, WAL mode, synchronous=NORMAL
 * (FULL when the journal cursor is committed), versioned schema
 * migrations. It holds incidents, attempts with every state transition,
 * the commands each attempt ran (argv, exit, duration, redacted output),
 * knowledge (fingerprint -> the plan that healed it), the journal cursor,
 * and an audit trail (approvals, whitelist edits, enable/disable).
 *
 * Called synchronously from the loop. The journal cursor is committed in
 * the same transaction as the incidents its entries produced
 * (st_batch_begin ... st_batch_commit), so that after a kill -9 at any
 * moment a restart loses no entry and counts none twice. Outside a batch,
 * every write commits on its own.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "healer/cursor.h"

typedef struct Store Store;

#define ST_OUTPUT_MAX  (16 * 1024) /* bytes of a command's output kept */
#define ST_REASON_MAX  1024	   /* bytes of any reason or detail kept */
#define ST_HISTORY_MAX 500	   /* rows one history query may return */

typedef enum AttemptState {
	AT_DETECTED,
	AT_ANALYZING,
	AT_AWAITING_APPROVAL,
	AT_EXECUTING,
	AT_VERIFYING,
	AT_HEALED,
	AT_FAILED,
	AT_REJECTED,
	AT_SKIPPED,
	AT_ESCALATED,
	AT_INTERRUPTED,
	_AT_STATE_MAX,
} AttemptState;

const char *at_state_name(AttemptState s);
/* -EINVAL for an unknown name. */
int at_state_from_name(const char *name);
bool at_state_is_final(AttemptState s);

/*
 * Opens (creating when missing) the database at path and migrates it to the
 * current schema. A database from a newer Healer is refused (-EPROTO). On
 * failure *ret_error (required) says why in one line.
 */
int st_open(const char *path, Store **ret, char **ret_error);
/*
 * Opens read-only (replay files, the CLI's history); no migration, and an
 * empty file is refused as no store. Where SQLite cannot make its -shm
 * beside the file (a folder the caller may not write) and no -wal with
 * commits lies there, the file is read as immutable (no lock, nothing made).
 */
int st_open_readonly(const char *path, Store **ret, char **ret_error);
Store *st_close(Store *s);
static inline void st_closep(Store **s)
{
	*s = st_close(*s);
}

/* The last SQLite error message, for logs. */
const char *st_errmsg(const Store *s);

/* One journal batch: incidents and the cursor that produced them, all or nothing. */
int st_batch_begin(Store *s);
/* Stores cursor (NULL: unchanged) and commits the batch durably. */
int st_batch_commit(Store *s, const char *cursor);
void st_batch_rollback(Store *s);

int st_cursor_load(Store *s, char **ret); /* 0 and NULL when none */
/* A CursorStore view of the store (for the follower); s must outlive it. */
CursorStore *st_cursor_store(Store *s);

typedef struct StIncident {
	uint64_t fingerprint;
	const char *unit;	  /* trusted, may be NULL */
	const char *identifier;	  /* may be NULL */
	const char *source;	  /* "journal", "manager-signal", "manual", "injected" */
	const char *source_class; /* "service", "kernel", "user-unit", "session", "unitless" */
	int priority;
	const char *message; /* cleaned text */
	uint64_t first_seen_usec, last_seen_usec;
	uint64_t count;
	const char *first_cursor; /* may be NULL */
} StIncident;

/* Inserts a new incident; *ret_id its row id. */
int st_incident_add(Store *s, const StIncident *in, int64_t *ret_id);
/* One more line folded into incident id (count += n, last_seen). */
int st_incident_touch(Store *s, int64_t id, uint64_t n, uint64_t last_seen_usec);

typedef struct StAttempt {
	int64_t id;
	int64_t incident_id;
	uint64_t fingerprint;
	char *unit; /* may be NULL */
	AttemptState state;
	char *reason; /* why the last transition happened */
	uint64_t created_usec, updated_usec;
	char *provider;	 /* "knowledge", "rules", "gemini", ... NULL before analysis */
	char *plan_json; /* [{"action","args":{...}}], NULL before analysis */
	bool dry_run;
	bool executed; /* it reached executing (its commands may have run) */
} StAttempt;

void st_attempt_done(StAttempt *a);

/* A new attempt in state detected (or skipped, with reason) for an incident. */
int st_attempt_add(Store *s, int64_t incident_id, AttemptState state, const char *reason,
		   uint64_t now_usec, bool dry_run, int64_t *ret_id);
/* Moves attempt id to state `to`, storing the transition, its time and reason. */
int st_attempt_transition(Store *s, int64_t id, AttemptState to, const char *reason,
			  uint64_t now_usec);
/* Records the analysis: who answered, the diagnosis, the plan (JSON text) and the reply. */
int st_attempt_set_analysis(Store *s, int64_t id, const char *provider, const char *model,
			    const char *diagnosis, const char *plan_json, const char *reply);
int st_attempt_get(Store *s, int64_t id, StAttempt *ret); /* -ENOENT */
/* Attempts not in a final state, oldest first: a restart resumes or interrupts them. */
int st_attempts_unfinished(Store *s, StAttempt **ret, size_t *ret_n);
/*
 * Attempts created at or after since_usec, skipped ones left out (what
 * policy replays at start), oldest first; at most the newest 10,000.
 */
int st_attempts_since(Store *s, uint64_t since_usec, StAttempt **ret, size_t *ret_n);
void st_attempts_free(StAttempt *a, size_t n);

typedef struct StCommand {
	int64_t attempt_id;
	unsigned index;
	const char *action;
	const char *const *argv; /* NULL-terminated, NULL for a builtin */
	bool accepted;		 /* false: refused before running (precondition, safety) */
	const char *reason;	 /* why refused or failed, may be NULL */
	int exit_status;	 /* -1 when killed or not run */
	int term_signal;
	bool timed_out;
	uint64_t duration_usec;
	const char *output; /* redacted and cleaned by the caller; cut at ST_OUTPUT_MAX */
	bool dry_run;
} StCommand;

int st_command_add(Store *s, const StCommand *c);

/* The plan that last healed fingerprint and has not failed since; 0 and NULL when none. */
int st_knowledge_get(Store *s, uint64_t fingerprint, char **ret_plan_json);
/* Records an outcome of a plan for fingerprint (healed true: a success). */
int st_knowledge_record(Store *s, uint64_t fingerprint, const char *plan_json, bool healed,
			uint64_t now_usec);

/*
 * Escalations: a fingerprint or unit that failed escalate_after times within
 * escalate_window gets no more automatic attempts until an administrator
 * clears it. unit may be NULL (fingerprint only); fingerprint 0 means unit only.
 */
typedef struct StEscalation {
	int64_t id;
	uint64_t fingerprint;
	char *unit;
	char *reason;
	uint64_t since_usec;
} StEscalation;

int st_escalation_add(Store *s, uint64_t fingerprint, const char *unit, const char *reason,
		      uint64_t now_usec, int64_t *ret_id);
/* Clears escalation id; -ENOENT when there is none. */
int st_escalation_clear(Store *s, int64_t id);
int st_escalations(Store *s, StEscalation **ret, size_t *ret_n);
void st_escalations_free(StEscalation *e, size_t n);

/* A switch an administrator set (e.g. "enabled"): 0, or -ENOENT when never set. */
int st_flag_get(Store *s, const char *name, int64_t *ret);
int st_flag_set(Store *s, const char *name, int64_t value, uint64_t now_usec);

/* An audit record: actor ("api", "cli", "daemon"), what ("approve", ...), detail. */
int st_audit(Store *s, const char *actor, const char *what, const char *detail, uint64_t now_usec);

/* Deletes what is older than before_usec (attempts in a final state, their rows). */
int st_cleanup(Store *s, uint64_t before_usec, uint64_t *ret_deleted);

/*
 * Read views for the CLI and the API, as cJSON (one shape, see api/README):
 * history newest first, filtered by state (NULL: all), limit <= ST_HISTORY_MAX;
 * one attempt with its transitions and commands; the statistics.
 */
int st_history_json(Store *s, const char *state, size_t limit, size_t offset, cJSON **ret);
int st_attempt_json(Store *s, int64_t id, cJSON **ret);
int st_statistics_json(Store *s, cJSON **ret);
/*
 * Fingerprints by the lines they folded, most first, at most limit
 * (<= ST_HISTORY_MAX): {"total": distinct fingerprints, "fingerprints":
 * [{"fingerprint", "unit", "identifier", "message", "level" (the newest
 * incident's), "incidents", "lines", "analyses", "would_run" (attempts a
 * dry run recorded commands for), "last_status", "last_reason" (the newest
 * attempt's), "would_run_reason" (the newest such attempt's, or null)}]}.
 */
int st_fingerprints_json(Store *s, size_t limit, cJSON **ret);
/*
 * What a record holds and the time it spans (a read-only view's status):
 * {"incidents", "lines" (folded into them), "attempts", "first_seen" (the
 * oldest incident's first line), "last_seen" (the newest line), times as
 * the other views give them, null when there is no incident}.
 */
int st_record_json(Store *s, cJSON **ret);

/* Totals for the accounting checks: incidents, lines folded into them. */
int st_totals(Store *s, uint64_t *ret_incidents, uint64_t *ret_lines, uint64_t *ret_attempts);
