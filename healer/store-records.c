/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "common/util.h"
#include "healer/store-private.h"

/*
 * The smaller records: knowledge, escalations, the audit trail,
 * retention and the totals.
 */

#define ST_LIST_MAX 10000 /* rows a list of escalations returns */

static int knowledge_upsert(Store *s, uint64_t fingerprint, const char *plan_json, bool healed,
			    uint64_t now_usec)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	/*
	 * One row per fingerprint and plan. coalesce(max(a, b), a, b): the
	 * later of two times where either may still be NULL, so that an
	 * outcome recorded late cannot move a time backwards.
	 */
	int r = st_sql_prepare(
		s,
		"INSERT INTO knowledge (fingerprint, plan_json, successes, failures, last_success,"
		" last_failure) VALUES (?1, ?2, ?3, 1 - ?3, CASE WHEN ?3 THEN ?4 END,"
		" CASE WHEN ?3 THEN NULL ELSE ?4 END)"
		" ON CONFLICT (fingerprint, plan_json) DO UPDATE SET"
		" successes = successes + excluded.successes,"
		" failures = failures + excluded.failures,"
		" last_success = coalesce(max(last_success, excluded.last_success),"
		"  last_success, excluded.last_success),"
		" last_failure = coalesce(max(last_failure, excluded.last_failure),"
		"  last_failure, excluded.last_failure)",
		&q);

	if (r >= 0 && (r = st_bind_fp(s, q, 1, fingerprint)) >= 0 &&
	    (r = st_bind_text(s, q, 2, plan_json, ST_PLAN_MAX)) >= 0 &&
	    (r = st_bind_i64(s, q, 3, healed)) >= 0 && (r = st_bind_u64(s, q, 4, now_usec)) >= 0)
		r = st_sql_run(s, q);
	return r;
}

int st_knowledge_record(Store *s, uint64_t fingerprint, const char *plan_json, bool healed,
			uint64_t now_usec)
{
	int r;

	if (!plan_json || !*plan_json)
		return st_sql_refuse(s, -EINVAL, "no plan to record");
	if (strlen(plan_json) > ST_PLAN_MAX)
		return st_sql_refuse(s, -E2BIG, "plan too long to store");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	return st_tx_end(s, knowledge_upsert(s, fingerprint, plan_json, healed, now_usec));
}

/*
 * Among the plans that healed this fingerprint, the one that healed it
 * last and has not failed since: a plan that failed after its last success
 * is not offered again until it heals once more.
 */
int st_knowledge_get(Store *s, uint64_t fingerprint, char **ret_plan_json)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	char *plan = NULL;
	int r = st_sql_prepare(s,
			       "SELECT plan_json FROM knowledge WHERE fingerprint = ?1 AND "
			       "last_success IS NOT NULL"
			       " AND (last_failure IS NULL OR last_success > last_failure)"
			       " ORDER BY last_success DESC, id DESC LIMIT 1",
			       &q);

	if (r >= 0 && (r = st_bind_fp(s, q, 1, fingerprint)) >= 0)
		r = st_sql_step(s, q);
	if (r > 0)
		r = st_column_strdup(q, 0, &plan);
	if (r < 0)
		return r;
	*ret_plan_json = plan;
	return 0;
}

int st_escalation_add(Store *s, uint64_t fingerprint, const char *unit, const char *reason,
		      uint64_t now_usec, int64_t *ret_id)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r;

	if (fingerprint == 0 && !unit)
		return st_sql_refuse(s, -EINVAL, "an escalation needs a fingerprint or a unit");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	r = st_sql_prepare(s,
			   "INSERT INTO escalations (fingerprint, unit, reason, since)"
			   " VALUES (?1, ?2, ?3, ?4)",
			   &q);
	if (r >= 0 && (r = st_bind_fp(s, q, 1, fingerprint)) >= 0 &&
	    (r = st_bind_text(s, q, 2, unit, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 3, reason, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_u64(s, q, 4, now_usec)) >= 0)
		r = st_sql_run(s, q);
	if (r >= 0 && ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	st_sql_resetp(&q);
	return st_tx_end(s, r);
}

int st_escalation_clear(Store *s, int64_t id)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_tx_begin(s);

	if (r < 0)
		return r;
	r = st_sql_prepare(s, "DELETE FROM escalations WHERE id = ?1", &q);
	if (r >= 0 && (r = st_bind_i64(s, q, 1, id)) >= 0) {
		r = st_sql_run(s, q);
		if (r >= 0 && sqlite3_changes(s->db) == 0)
			r = st_sql_refuse(s, -ENOENT, "no such escalation");
	}
	st_sql_resetp(&q);
	return st_tx_end(s, r);
}

void st_escalations_free(StEscalation *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].unit);
		free(e[i].reason);
	}
	free(e);
}

int st_escalations(Store *s, StEscalation **ret, size_t *ret_n)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	StEscalation *v = NULL;
	size_t n = 0;
	int r = st_sql_prepare(s,
			       "SELECT id, fingerprint, unit, reason, since FROM escalations"
			       " ORDER BY id LIMIT ?1",
			       &q);

	if (r >= 0)
		r = st_bind_i64(s, q, 1, ST_LIST_MAX);
	while (r >= 0 && (r = st_sql_step(s, q)) > 0) {
		StEscalation *nv = reallocarray(v, n + 1, sizeof *v);

		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		v[n] = (StEscalation){.id = sqlite3_column_int64(q, 0),
				      .fingerprint = st_column_fp(q, 1),
				      .since_usec = st_column_u64(q, 4)};
		n++;
		if ((r = st_column_strdup(q, 2, &v[n - 1].unit)) < 0 ||
		    (r = st_column_strdup(q, 3, &v[n - 1].reason)) < 0)
			break;
	}
	if (r < 0) {
		st_escalations_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int st_audit(Store *s, const char *actor, const char *what, const char *detail, uint64_t now_usec)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r;

	if (!actor || !what)
		return st_sql_refuse(s, -EINVAL, "an audit record needs an actor and a what");
	r = st_tx_begin(s);
	if (r < 0)
		return r;
	r = st_sql_prepare(s, "INSERT INTO audit (at, actor, what, detail) VALUES (?1, ?2, ?3, ?4)",
			   &q);
	if (r >= 0 && (r = st_bind_u64(s, q, 1, now_usec)) >= 0 &&
	    (r = st_bind_text(s, q, 2, actor, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 3, what, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_text(s, q, 4, detail, ST_REASON_MAX)) >= 0)
		r = st_sql_run(s, q);
	st_sql_resetp(&q);
	return st_tx_end(s, r);
}

/* Runs one DELETE with the cutoff bound to ?1 and adds the rows it removed. */
static int cleanup_one(Store *s, const char *sql, uint64_t before_usec, uint64_t *deleted)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(s, sql, &q);

	if (r >= 0 && (r = st_bind_u64(s, q, 1, before_usec)) >= 0)
		r = st_sql_run(s, q);
	if (r >= 0)
		*deleted += (uint64_t)sqlite3_changes64(s->db);
	return r;
}

/*
 * Attempts that ended before the cutoff go with their transitions and
 * commands (ON DELETE CASCADE; those are not counted), then incidents
 * left without attempts, then old audit records. Knowledge and escalations
 * stay: they are what Healer learnt and what an administrator must clear.
 */
int st_cleanup(Store *s, uint64_t before_usec, uint64_t *ret_deleted)
{
	uint64_t deleted = 0;
	int r = st_tx_begin(s);

	if (r < 0)
		return r;
	if ((r = cleanup_one(s,
			     "DELETE FROM attempts WHERE updated < ?1 AND state IN ('healed',"
			     " 'failed', 'rejected', 'skipped', 'escalated', 'interrupted')",
			     before_usec, &deleted)) >= 0 &&
	    (r = cleanup_one(s,
			     "DELETE FROM incidents WHERE last_seen < ?1 AND NOT EXISTS"
			     " (SELECT 1 FROM attempts a WHERE a.incident_id = incidents.id)",
			     before_usec, &deleted)) >= 0)
		r = cleanup_one(s, "DELETE FROM audit WHERE at < ?1", before_usec, &deleted);
	r = st_tx_end(s, r);
	if (r >= 0 && ret_deleted)
		*ret_deleted = deleted;
	return r;
}

int st_totals(Store *s, uint64_t *ret_incidents, uint64_t *ret_lines, uint64_t *ret_attempts)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(s,
			       "SELECT (SELECT count(*) FROM incidents),"
			       " (SELECT coalesce(sum(count), 0) FROM incidents),"
			       " (SELECT count(*) FROM attempts)",
			       &q);

	if (r >= 0)
		r = st_sql_step(s, q);
	if (r == 0)
		r = -EIO;
	if (r < 0)
		return r;
	if (ret_incidents)
		*ret_incidents = st_column_u64(q, 0);
	if (ret_lines)
		*ret_lines = st_column_u64(q, 1);
	if (ret_attempts)
		*ret_attempts = st_column_u64(q, 2);
	return 0;
}

int st_flag_get(Store *s, const char *name, int64_t *ret)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_sql_prepare(s, "SELECT value FROM flags WHERE name = ?1", &q);

	if (r >= 0)
		r = st_bind_text(s, q, 1, name, ST_REASON_MAX);
	if (r >= 0)
		r = st_sql_step(s, q);
	if (r > 0)
		*ret = sqlite3_column_int64(q, 0);
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int st_flag_set(Store *s, const char *name, int64_t value, uint64_t now_usec)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = st_tx_begin(s);

	if (r < 0)
		return r;
	r = st_sql_prepare(s,
			   "INSERT INTO flags (name, value, at) VALUES (?1, ?2, ?3)"
			   " ON CONFLICT (name) DO UPDATE SET value = ?2, at = ?3",
			   &q);
	if (r >= 0 && (r = st_bind_text(s, q, 1, name, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_i64(s, q, 2, value)) >= 0 && (r = st_bind_u64(s, q, 3, now_usec)) >= 0)
		r = st_sql_run(s, q);
	st_sql_resetp(&q);
	return st_tx_end(s, r);
}
