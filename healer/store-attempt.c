/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>

#include "common/util.h"
#include "healer/store-private.h"

/*
 * Incidents, attempts with their transitions, and the commands attempts
 * ran. Each public write is one transaction (or one savepoint of the open
 * batch), so a failure half-way leaves nothing behind.
 */

#define ST_ARG_MAX  4096 /* bytes of one stored argv element */
#define ST_ARGV_MAX 64	 /* argv elements stored; the whitelist allows fewer */

static int incident_insert(Store *s, const StIncident *in, int64_t *ret_id)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(
		s,
		"INSERT INTO incidents (fingerprint, unit, identifier, source, source_class,"
		" priority, message, first_seen, last_seen, count, first_cursor)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
		&q);

	if (r >= 0 && (r = st_bind_fp(s, q, 1, in->fingerprint)) >= 0 &&
	    (r = st_bind_text(s, q, 2, in->unit, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 3, in->identifier, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 4, in->source, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 5, in->source_class, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_i64(s, q, 6, in->priority)) >= 0 &&
	    (r = st_bind_text(s, q, 7, in->message, ST_MESSAGE_MAX)) >= 0 &&
	    (r = st_bind_u64(s, q, 8, in->first_seen_usec)) >= 0 &&
	    (r = st_bind_u64(s, q, 9, in->last_seen_usec)) >= 0 &&
	    (r = st_bind_u64(s, q, 10, in->count)) >= 0 &&
	    (r = st_bind_text(s, q, 11, in->first_cursor, CUR_MAX_BYTES)) >= 0)
		r = st_sql_run(s, q);
	if (r >= 0)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return r;
}

int st_incident_add(Store *s, const StIncident *in, int64_t *ret_id)
{
	int64_t id = 0;
	int r;

	if (!in || !in->source || !in->message)
		return st_sql_refuse(s, -EINVAL, "an incident needs a source and a message");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	r = st_tx_end(s, incident_insert(s, in, &id));
	if (r >= 0 && ret_id)
		*ret_id = id;
	return r;
}

/* 0, or -ENOENT when the statement just run changed no row. */
static int changed_one(Store *s, int r)
{
	if (r >= 0 && sqlite3_changes(s->db) == 0)
		return st_sql_refuse(s, -ENOENT, "no such row");
	return r;
}

int st_incident_touch(Store *s, int64_t id, uint64_t n, uint64_t last_seen_usec)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_tx_begin(s);

	if (r < 0)
		return r;
	/* SQLite turns an overflowing integer sum into a REAL: saturate instead. */
	r = st_sql_prepare(s,
			   "UPDATE incidents SET count = CASE WHEN ?2 > 9223372036854775807 - count"
			   " THEN 9223372036854775807 ELSE count + ?2 END,"
			   " last_seen = max(last_seen, ?3) WHERE id = ?1",
			   &q);
	if (r >= 0 && (r = st_bind_i64(s, q, 1, id)) >= 0 && (r = st_bind_u64(s, q, 2, n)) >= 0 &&
	    (r = st_bind_u64(s, q, 3, last_seen_usec)) >= 0)
		r = changed_one(s, st_sql_run(s, q));
	st_sql_resetp(&q);
	return st_tx_end(s, r);
}

static int transition_insert(Store *s, int64_t id, const char *from, AttemptState to,
			     const char *reason, uint64_t now_usec)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(
		s,
		"INSERT INTO transitions (attempt_id, from_state, to_state, reason, at)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
		&q);

	if (r >= 0 && (r = st_bind_i64(s, q, 1, id)) >= 0 &&
	    (r = st_bind_text(s, q, 2, from, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 3, at_state_name(to), ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 4, reason, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_u64(s, q, 5, now_usec)) >= 0)
		r = st_sql_run(s, q);
	return r;
}

static int attempt_insert(Store *s, int64_t incident_id, AttemptState state, const char *reason,
			  uint64_t now_usec, bool dry_run, int64_t *ret_id)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(
		s,
		"INSERT INTO attempts (incident_id, state, reason, created, updated, dry_run)"
		" VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
		&q);

	if (r >= 0 && (r = st_bind_i64(s, q, 1, incident_id)) >= 0 &&
	    (r = st_bind_text(s, q, 2, at_state_name(state), ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 3, reason, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_u64(s, q, 4, now_usec)) >= 0 && (r = st_bind_i64(s, q, 5, dry_run)) >= 0)
		r = st_sql_run(s, q);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(s->db);
	return transition_insert(s, *ret_id, NULL, state, reason, now_usec);
}

int st_attempt_add(Store *s, int64_t incident_id, AttemptState state, const char *reason,
		   uint64_t now_usec, bool dry_run, int64_t *ret_id)
{
	int64_t id = 0;
	int r;

	if ((unsigned)state >= _AT_STATE_MAX)
		return st_sql_refuse(s, -EINVAL, "no such attempt state");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	r = st_tx_end(s, attempt_insert(s, incident_id, state, reason, now_usec, dry_run, &id));
	if (r >= 0 && ret_id)
		*ret_id = id;
	return r;
}

/* The current state of attempt id: its index, -ENOENT, or -EBADMSG for a name we do not know. */
static int attempt_state(Store *s, int64_t id)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(s, "SELECT state FROM attempts WHERE id = ?1", &q);

	if (r >= 0 && (r = st_bind_i64(s, q, 1, id)) >= 0)
		r = st_sql_step(s, q);
	if (r == 0)
		return st_sql_refuse(s, -ENOENT, "no such attempt");
	if (r < 0)
		return r;
	r = at_state_from_name((const char *)sqlite3_column_text(q, 0));
	return r < 0 ? st_sql_refuse(s, -EBADMSG, "unknown attempt state in the database") : r;
}

static int attempt_move(Store *s, int64_t id, AttemptState to, const char *reason,
			uint64_t now_usec)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	char msg[96];
	int from = attempt_state(s, id), r;

	if (from < 0)
		return from;
	/* A final state is final: nothing may reopen a healed or rejected attempt. */
	if (at_state_is_final(from)) {
		(void)util_snprintf(msg, sizeof msg, "attempt %" PRId64 " is already %s", id,
				    at_state_name(from));
		return st_sql_refuse(s, -EINVAL, msg);
	}
	r = st_sql_prepare(
		s, "UPDATE attempts SET state = ?2, reason = ?3, updated = ?4 WHERE id = ?1", &q);
	if (r >= 0 && (r = st_bind_i64(s, q, 1, id)) >= 0 &&
	    (r = st_bind_text(s, q, 2, at_state_name(to), ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 3, reason, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_u64(s, q, 4, now_usec)) >= 0)
		r = st_sql_run(s, q);
	if (r < 0)
		return r;
	return transition_insert(s, id, at_state_name(from), to, reason, now_usec);
}

int st_attempt_transition(Store *s, int64_t id, AttemptState to, const char *reason,
			  uint64_t now_usec)
{
	int r;

	if ((unsigned)to >= _AT_STATE_MAX)
		return st_sql_refuse(s, -EINVAL, "no such attempt state");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	return st_tx_end(s, attempt_move(s, id, to, reason, now_usec));
}

int st_attempt_set_analysis(Store *s, int64_t id, const char *provider, const char *model,
			    const char *diagnosis, const char *plan_json, const char *reply)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r;

	/* A plan cut short would be another plan (or no JSON at all): refuse it whole. */
	if (plan_json && strlen(plan_json) > ST_PLAN_MAX)
		return st_sql_refuse(s, -E2BIG, "plan too long to store");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	r = st_sql_prepare(s,
			   "UPDATE attempts SET provider = ?2, model = ?3, diagnosis = ?4,"
			   " plan_json = ?5, reply = ?6 WHERE id = ?1",
			   &q);
	if (r >= 0 && (r = st_bind_i64(s, q, 1, id)) >= 0 &&
	    (r = st_bind_text(s, q, 2, provider, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 3, model, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 4, diagnosis, ST_MESSAGE_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 5, plan_json, ST_PLAN_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 6, reply, ST_MESSAGE_MAX)) >= 0)
		r = changed_one(s, st_sql_run(s, q));
	st_sql_resetp(&q);
	return st_tx_end(s, r);
}

#define ATTEMPT_COLUMNS                                                                    \
	"SELECT a.id, a.incident_id, i.fingerprint, i.unit, a.state, a.reason, a.created," \
	" a.updated, a.provider, a.plan_json, a.dry_run,"                                  \
	" EXISTS (SELECT 1 FROM transitions t WHERE t.attempt_id = a.id"                   \
	" AND t.to_state = 'executing')"                                                   \
	" FROM attempts a JOIN incidents i ON i.id = a.incident_id"

static int attempt_read(Store *s, sqlite3_stmt *q, StAttempt *ret)
{
	StAttempt a = {
		.id = sqlite3_column_int64(q, 0),
		.incident_id = sqlite3_column_int64(q, 1),
		.fingerprint = st_column_fp(q, 2),
		.created_usec = st_column_u64(q, 6),
		.updated_usec = st_column_u64(q, 7),
		.dry_run = sqlite3_column_int(q, 10) != 0,
		.executed = sqlite3_column_int(q, 11) != 0,
	};
	int state = at_state_from_name((const char *)sqlite3_column_text(q, 4));

	if (state < 0)
		return st_sql_refuse(s, -EBADMSG, "unknown attempt state in the database");
	a.state = state;
	if (st_column_strdup(q, 3, &a.unit) < 0 || st_column_strdup(q, 5, &a.reason) < 0 ||
	    st_column_strdup(q, 8, &a.provider) < 0 || st_column_strdup(q, 9, &a.plan_json) < 0) {
		st_attempt_done(&a);
		return -ENOMEM;
	}
	*ret = a;
	return 0;
}

void st_attempt_done(StAttempt *a)
{
	if (!a)
		return;
	free(a->unit);
	free(a->reason);
	free(a->provider);
	free(a->plan_json);
	*a = (StAttempt){0};
}

void st_attempts_free(StAttempt *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		st_attempt_done(&a[i]);
	free(a);
}

int st_attempt_get(Store *s, int64_t id, StAttempt *ret)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(s, ATTEMPT_COLUMNS " WHERE a.id = ?1", &q);

	if (r >= 0 && (r = st_bind_i64(s, q, 1, id)) >= 0)
		r = st_sql_step(s, q);
	if (r == 0)
		return st_sql_refuse(s, -ENOENT, "no such attempt");
	return r < 0 ? r : attempt_read(s, q, ret);
}

/* Every row of q as attempts; reversed when q runs newest first. */
static int attempts_collect(Store *s, sqlite3_stmt *q, bool reverse, StAttempt **ret, size_t *ret_n)
{
	StAttempt *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	while ((r = st_sql_step(s, q)) > 0) {
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			StAttempt *nv = reallocarray(v, c, sizeof *v);

			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = c;
		}
		if ((r = attempt_read(s, q, &v[n])) < 0)
			break;
		n++;
	}
	if (r < 0) {
		st_attempts_free(v, n);
		return r;
	}
	for (size_t i = 0; reverse && i < n / 2; i++) {
		StAttempt t = v[i];

		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int st_attempts_unfinished(Store *s, StAttempt **ret, size_t *ret_n)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	/* The final states, as at_state_is_final() has them. */
	int r = st_sql_prepare(s,
			       ATTEMPT_COLUMNS
			       " WHERE a.state NOT IN ('healed', 'failed', 'rejected', 'skipped',"
			       " 'escalated', 'interrupted') ORDER BY a.created, a.id LIMIT ?1",
			       &q);

	if (r >= 0 && (r = st_bind_i64(s, q, 1, ST_SINCE_MAX)) >= 0)
		r = attempts_collect(s, q, false, ret, ret_n);
	return r;
}

/*
 * The attempts created since since_usec but skipped ones, oldest first; the
 * newest ST_SINCE_MAX of them. Skipped attempts are left out in the query,
 * not after it: a flood of lines policy skips must not push the attempts
 * that count out of the cap.
 */
int st_attempts_since(Store *s, uint64_t since_usec, StAttempt **ret, size_t *ret_n)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(s,
			       ATTEMPT_COLUMNS " WHERE a.created >= ?1 AND a.state != 'skipped'"
					       " ORDER BY a.created DESC, a.id DESC LIMIT ?2",
			       &q);

	if (r >= 0 && (r = st_bind_u64(s, q, 1, since_usec)) >= 0 &&
	    (r = st_bind_i64(s, q, 2, ST_SINCE_MAX)) >= 0)
		r = attempts_collect(s, q, true, ret, ret_n);
	return r;
}

/* argv as a JSON array of strings, each element and their number capped. */
static int argv_json(const char *const *argv, char **ret)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	if (!a)
		return -ENOMEM;
	for (i = 0; argv[i] && i < ST_ARGV_MAX; i++) {
		_cleanup_free_ char *t = st_text_cap(argv[i], ST_ARG_MAX);

		if (!t || !cJSON_AddItemToArray(a, cJSON_CreateString(t)))
			goto oom;
	}
	if (argv[i] && !cJSON_AddItemToArray(a, cJSON_CreateString(ST_CUT_MARK)))
		goto oom;
	*ret = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return *ret ? 0 : -ENOMEM;
oom:
	cJSON_Delete(a);
	return -ENOMEM;
}

static int command_insert(Store *s, const StCommand *c)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	char *argv = NULL;
	int r = c->argv ? argv_json(c->argv, &argv) : 0;

	if (r >= 0)
		r = st_sql_prepare(
			s,
			"INSERT INTO commands (attempt_id, idx, action, argv, accepted, reason,"
			" exit_status, term_signal, timed_out, duration_usec, output, dry_run)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
			&q);
	if (r >= 0)
		r = sqlite3_bind_text(q, 4, argv, -1, cJSON_free) == SQLITE_OK ? 0 : -ENOMEM;
	else
		cJSON_free(argv);
	if (r >= 0 && (r = st_bind_i64(s, q, 1, c->attempt_id)) >= 0 &&
	    (r = st_bind_i64(s, q, 2, c->index)) >= 0 &&
	    (r = st_bind_text(s, q, 3, c->action, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_i64(s, q, 5, c->accepted)) >= 0 &&
	    (r = st_bind_text(s, q, 6, c->reason, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_i64(s, q, 7, c->exit_status)) >= 0 &&
	    (r = st_bind_i64(s, q, 8, c->term_signal)) >= 0 &&
	    (r = st_bind_i64(s, q, 9, c->timed_out)) >= 0 &&
	    (r = st_bind_u64(s, q, 10, c->duration_usec)) >= 0 &&
	    (r = st_bind_text(s, q, 11, c->output, ST_OUTPUT_MAX)) >= 0 &&
	    (r = st_bind_i64(s, q, 12, c->dry_run)) >= 0)
		r = st_sql_run(s, q);
	return r;
}

int st_command_add(Store *s, const StCommand *c)
{
	int r;

	if (!c || !c->action)
		return st_sql_refuse(s, -EINVAL, "a command needs an action");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	return st_tx_end(s, command_insert(s, c));
}
