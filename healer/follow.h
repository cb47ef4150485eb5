/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Follows the journal on an sd-event loop: wakes on the journal's fd, reads
 * what is new in bounded batches (so a storm never starves the API or the
 * children), skips Healer's own lines, hands each entry to a callback, and
 * keeps the cursor so a restart neither repeats nor misses an entry.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "healer/cursor.h"
#include "journal/journal.h"

typedef struct Follower Follower;

#define FL_OWN_UNIT	  "healer.service"
#define FL_OWN_IDENTIFIER "healer"
#define FL_BATCH_USEC	  (5 * 1000)

/*
 * Whether e is one of Healer's own lines: written by this process, by its
 * unit (trusted fields), or under its identifier. Healer never acts on its
 * own lines, or one failed heal could feed the next. NULL own_unit or
 * own_identifier mean FL_OWN_UNIT / FL_OWN_IDENTIFIER.
 */
bool fl_is_own_line(const JrEntry *e, const char *own_unit, const char *own_identifier);

/*
 * Batch hooks (optional): begin is called before the first entry of a batch
 * is handed over, end after the last with the cursor of the last entry read
 * (NULL when none was). The daemon commits its incidents and that cursor in
 * one transaction there; end returning < 0 stops the follower (the entries
 * of that batch were not recorded, and a restart reads them again).
 */
typedef void (*fl_batch_begin_fn)(void *userdata);
typedef int (*fl_batch_end_fn)(const char *cursor, void *userdata);

typedef struct FlOptions {
	const char *own_unit;	    /* Healer's unit; its lines are skipped ("healer.service") */
	const char *own_identifier; /* likewise ("healer") */
	uint64_t lookback_usec;	    /* first start, no cursor: begin at now - lookback */
	unsigned batch;		    /* entries per loop iteration at most (default 500) */
	/*
	 * Time one batch may take (default FL_BATCH_USEC): in a storm the API,
	 * children and timers get the loop back this often.
	 */
	uint64_t batch_usec;
	fl_batch_begin_fn batch_begin;
	fl_batch_end_fn batch_end; /* when set, the store is only read and saved at the end */
	/* Optional: sees Healer's own lines (never acted on), inside the batch. */
	void (*own_entry)(const JrEntry *e, void *userdata);
	/*
	 * Replay (healer replay): read what the journal holds, from since_usec
	 * (0: its head, never a stored cursor) up to the first entry past
	 * until_usec (0: its end, as journalctl --until stops), then call
	 * at_end once, after the last batch's end hook. Nothing is watched or
	 * polled. The entries' _PID values are another boot's, so the own-line
	 * test leaves this process's pid out.
	 */
	bool no_follow;
	uint64_t since_usec, until_usec;
	void (*at_end)(void *userdata);
} FlOptions;

/*
 * Called for every new entry that is not Healer's own; e is borrowed. The
 * callback must not free the follower (stop it from the loop instead).
 */
typedef void (*fl_entry_fn)(const JrEntry *e, void *userdata);

/*
 * Takes ownership of reader (and of store, which may be NULL) and starts
 * following on ev. Positions the reader at the stored cursor, else at
 * now - lookback. Returns 0 or -errno (a stored cursor that is not a cursor
 * is -EBADMSG).
 */
int fl_new(sd_event *ev, JrReader *reader, CursorStore *store, const FlOptions *opts,
	   fl_entry_fn cb, void *userdata, Follower **ret);

/* Saves the cursor durably, stops following and frees everything. */
Follower *fl_free(Follower *f);
static inline void fl_freep(Follower **f)
{
	*f = fl_free(*f);
}

/*
 * Whether the stored cursor was not found in this journal (another
 * machine's, or vacuumed away), so reading began at now - lookback.
 */
bool fl_cursor_was_stale(const Follower *f);

/* The reader (for context lines); owned by the follower. */
JrReader *fl_reader(Follower *f);

/* Reads whatever journald has made visible now (a verifier's last look). */
void fl_catch_up(Follower *f);

/* Stops reading (shutdown); the position is kept. */
void fl_pause(Follower *f);

/*
 * From the entry callback: the batch ends after this entry (its end hook
 * runs), and reading goes on at the next loop iteration. A replay ends a
 * batch at each new attempt, so that the attempt is decided at its own
 * entry's time.
 */
void fl_end_batch(Follower *f);

/*
 * Holds reading between batches (true) until released (false), e.g. while
 * the attempts of the last batch are decided on a simulated clock. Nothing
 * is lost: the next batch starts where the last one ended.
 */
void fl_hold(Follower *f, bool hold);

/* Counters for statistics and tests. */
uint64_t fl_entries_seen(const Follower *f);
uint64_t fl_entries_skipped(const Follower *f);
/* The last error while reading (negative errno), 0 when none. */
int fl_last_error(const Follower *f);
