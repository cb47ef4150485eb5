/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the store's files share and nobody else sees: the handle, the
 * statement cache, transactions and capped binding. Every SQL text in the
 * store is a string literal; data only ever reaches SQLite as a bound
 * parameter.
 */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "healer/store.h"

#define ST_MESSAGE_MAX (16 * 1024) /* bytes of an incident's message, a diagnosis, a reply */
#define ST_PLAN_MAX    (64 * 1024) /* bytes of plan JSON: refused beyond, never cut */
#define ST_SINCE_MAX   10000	   /* attempts st_attempts_since() returns (the newest) */
#define ST_CUT_MARK    "\xe2\x80\xa6[truncated]"
#define ST_CACHE_MAX   96

struct Store {
	sqlite3 *db;
	bool readonly;
	bool batch; /* a transaction opened by st_batch_begin() */
	char err[256];
	size_t n_cache;
	struct {
		const char *sql;
		sqlite3_stmt *q;
	} cache[ST_CACHE_MAX];
};

/* Remembers SQLite's message for st_errmsg() and maps rc to a negative errno. */
int st_sql_fail(Store *s, int rc);
/* Remembers msg (our own refusal) and returns r. */
int st_sql_refuse(Store *s, int r, const char *msg);

/*
 * The prepared statement for sql, from the cache (keyed by the literal's
 * address; the same call site always hits). Pair it with
 * _cleanup_(st_sql_resetp) so that it is reset whatever happens.
 */
int st_sql_prepare(Store *s, const char *sql, sqlite3_stmt **ret);
void st_sql_resetp(sqlite3_stmt **q);
/* Steps q to its end (a write): 0 or -errno. */
int st_sql_run(Store *s, sqlite3_stmt *q);
/* Runs constant SQL text (never text built from data): 0 or -errno. */
int st_sql_exec(Store *s, const char *sql);
/* Steps q once: 1 with a row, 0 at the end, or -errno. */
int st_sql_step(Store *s, sqlite3_stmt *q);

/*
 * One write: BEGIN IMMEDIATE ... COMMIT on its own, or a savepoint inside
 * the open batch (so that a write that fails half-way leaves the batch as
 * it was). st_tx_end() commits when r >= 0, else rolls back; it returns r,
 * or the commit's error.
 */
int st_tx_begin(Store *s);
int st_tx_end(Store *s, int r);

/*
 * Binds text cut to cap bytes on a UTF-8 boundary and marked with
 * ST_CUT_MARK; invalid UTF-8 is cleaned first. NULL binds NULL.
 */
int st_bind_text(Store *s, sqlite3_stmt *q, int idx, const char *text, size_t cap);
/* A time or count: SQLite integers are signed, so anything past INT64_MAX is clamped. */
int st_bind_u64(Store *s, sqlite3_stmt *q, int idx, uint64_t v);
int st_bind_i64(Store *s, sqlite3_stmt *q, int idx, int64_t v);
/*
 * Fingerprints are stored as INTEGER by a lossless cast: the uint64 bits
 * reinterpreted as int64 (so values >= 2^63 read as negative in the
 * sqlite3 shell) and cast back on the way out. Equality and the index work
 * on the bits; only ordering by fingerprint would be odd, and nothing does.
 */
int st_bind_fp(Store *s, sqlite3_stmt *q, int idx, uint64_t fp);
uint64_t st_column_fp(sqlite3_stmt *q, int col);
uint64_t st_column_u64(sqlite3_stmt *q, int col);
/* A copy of a TEXT column (NULL stays NULL): 0 or -ENOMEM. */
int st_column_strdup(sqlite3_stmt *q, int col, char **ret);

/* A newly allocated capped copy as st_bind_text() stores it; NULL on OOM. */
char *st_text_cap(const char *text, size_t cap);

/* Whether cursor is one a journal could have written (printable ASCII, capped). */
bool st_cursor_valid(const char *cursor);
