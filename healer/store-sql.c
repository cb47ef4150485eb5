/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/store-private.h"

static int errno_of(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT; /* a row that refers to an attempt or incident that is not there */
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CANTOPEN_SYMLINK:
		return -ELOOP;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_SCHEMA:
		return -EBADMSG;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

int st_sql_fail(Store *s, int rc)
{
	/*
	 * Copied now: the ROLLBACK that usually follows would replace
	 * SQLite's message with its own "not an error".
	 */
	(void)util_snprintf(s->err, sizeof s->err, "%s", sqlite3_errmsg(s->db));
	return errno_of(rc);
}

int st_sql_refuse(Store *s, int r, const char *msg)
{
	(void)util_snprintf(s->err, sizeof s->err, "%s", msg);
	return r;
}

int st_sql_prepare(Store *s, const char *sql, sqlite3_stmt **ret)
{
	sqlite3_stmt *q = NULL;
	int rc;

	for (size_t i = 0; i < s->n_cache; i++)
		if (s->cache[i].sql == sql) {
			*ret = s->cache[i].q;
			return 0;
		}
	/* More call sites than slots is a programmer error; the tests reach them all. */
	if (s->n_cache >= ST_CACHE_MAX)
		return st_sql_refuse(s, -ENOBUFS, "statement cache full");
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q, NULL);
	if (rc != SQLITE_OK)
		return st_sql_fail(s, rc);
	s->cache[s->n_cache].sql = sql;
	s->cache[s->n_cache++].q = q;
	*ret = q;
	return 0;
}

void st_sql_resetp(sqlite3_stmt **q)
{
	if (!*q)
		return;
	(void)sqlite3_reset(*q);
	(void)sqlite3_clear_bindings(*q);
}

int st_sql_step(Store *s, sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return st_sql_fail(s, rc);
}

int st_sql_run(Store *s, sqlite3_stmt *q)
{
	int r;

	while ((r = st_sql_step(s, q)) > 0)
		;
	return r;
}

int st_sql_exec(Store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : st_sql_fail(s, rc);
}

int st_tx_begin(Store *s)
{
	if (s->readonly)
		return st_sql_refuse(s, -EROFS, "the store is open read-only");
	if (!s->batch)
		return st_sql_exec(s, "BEGIN IMMEDIATE");
	/*
	 * SQLite rolls a whole transaction back on its own after some errors
	 * (a full disk, I/O). A savepoint outside a transaction would then
	 * commit this write alone, behind the batch's back: refuse instead.
	 */
	if (sqlite3_get_autocommit(s->db))
		return st_sql_refuse(s, -ECANCELED,
				     "the batch was rolled back by an earlier error");
	return st_sql_exec(s, "SAVEPOINT st_write");
}

int st_tx_end(Store *s, int r)
{
	int k;

	if (s->batch) {
		if (sqlite3_get_autocommit(s->db))
			return r < 0 ? r
				     : st_sql_refuse(s, -ECANCELED, "the batch was rolled back");
		if (r < 0)
			(void)sqlite3_exec(s->db, "ROLLBACK TO st_write", NULL, NULL, NULL);
		k = st_sql_exec(s, "RELEASE st_write");
		return r < 0 ? r : k;
	}
	if (r >= 0) {
		k = st_sql_exec(s, "COMMIT");
		if (k >= 0)
			return r;
		r = k;
	}
	if (!sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

char *st_text_cap(const char *text, size_t cap)
{
	size_t n = strlen(text), mark = strlen(ST_CUT_MARK), k;
	_cleanup_free_ char *clean = NULL;
	char *out;

	if (!text_utf8_valid(text, n)) {
		clean = text_clean(text, n, SIZE_MAX, TEXT_KEEP_NEWLINES, &n, NULL);
		if (!clean)
			return NULL;
		text = clean;
	}
	if (n <= cap)
		return strdup(text);
	assert(cap > mark);
	/* Back to the first byte of a character: never half a sequence. */
	k = cap - mark;
	while (k > 0 && ((unsigned char)text[k] & 0xc0) == 0x80)
		k--;
	out = malloc(k + mark + 1);
	if (!out)
		return NULL;
	memcpy(out, text, k);
	memcpy(out + k, ST_CUT_MARK, mark + 1);
	return out;
}

int st_bind_text(Store *s, sqlite3_stmt *q, int idx, const char *text, size_t cap)
{
	size_t n;
	char *copy;
	int rc;

	if (!text)
		rc = sqlite3_bind_null(q, idx);
	else if ((n = strlen(text)) <= cap && text_utf8_valid(text, n))
		/* Static: the caller's text outlives the step, and the reset clears it. */
		rc = sqlite3_bind_text(q, idx, text, (int)n, SQLITE_STATIC);
	else {
		copy = st_text_cap(text, cap);
		if (!copy)
			return -ENOMEM;
		rc = sqlite3_bind_text(q, idx, copy, -1, free);
	}
	return rc == SQLITE_OK ? 0 : st_sql_fail(s, rc);
}

int st_bind_i64(Store *s, sqlite3_stmt *q, int idx, int64_t v)
{
	int rc = sqlite3_bind_int64(q, idx, v);

	return rc == SQLITE_OK ? 0 : st_sql_fail(s, rc);
}

int st_bind_u64(Store *s, sqlite3_stmt *q, int idx, uint64_t v)
{
	return st_bind_i64(s, q, idx, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

int st_bind_fp(Store *s, sqlite3_stmt *q, int idx, uint64_t fp)
{
	int64_t bits;

	memcpy(&bits, &fp, sizeof bits); /* the same 64 bits, no implementation-defined cast */
	return st_bind_i64(s, q, idx, bits);
}

uint64_t st_column_fp(sqlite3_stmt *q, int col)
{
	int64_t bits = sqlite3_column_int64(q, col);
	uint64_t fp;

	memcpy(&fp, &bits, sizeof fp);
	return fp;
}

uint64_t st_column_u64(sqlite3_stmt *q, int col)
{
	int64_t v = sqlite3_column_int64(q, col);

	return v < 0 ? 0 : (uint64_t)v;
}

int st_column_strdup(sqlite3_stmt *q, int col, char **ret)
{
	const unsigned char *t = sqlite3_column_text(q, col);
	char *c = NULL;

	if (t) {
		c = strdup((const char *)t);
		if (!c)
			return -ENOMEM;
	} else if (sqlite3_column_type(q, col) != SQLITE_NULL)
		return -ENOMEM; /* sqlite3_column_text() returns NULL for a value only on OOM */
	*ret = c;
	return 0;
}

bool st_cursor_valid(const char *cursor)
{
	size_t n = cursor ? strlen(cursor) : 0;

	if (n == 0 || n > CUR_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)cursor[i] < 0x21 || (unsigned char)cursor[i] > 0x7e)
			return false;
	return true;
}
