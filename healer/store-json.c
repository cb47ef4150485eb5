/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "healer/store-private.h"

/*
 * The read views, one JSON shape for the CLI and the REST API:
 *
 * history item: {"id", "timestamp", "updated", "error": {"service", "unit",
 * "identifier", "message", "level", "priority", "timestamp", "fingerprint",
 * "count", "source", "source_class"}, "status", "reason", "diagnosis",
 * "provider", "model", "dry_run", "plan": [{"action", "args"}] (null before
 * analysis), "actions": [{"action", "argv",
 * "exit_code", "signal", "duration_ms", "output", "accepted", "reason",
 * "timed_out", "dry_run"}], "transitions": [{"from", "to", "at",
 * "reason"}], "verification", "success"}
 *
 * Times are ISO 8601 in UTC with microseconds; fingerprints 16 hex digits.
 * "service" is the trusted unit, else the (untrusted) identifier.
 * "verification" is the reason of the step out of verifying, null before.
 * Each view reads in one transaction, so that its parts agree.
 */

#define ST_KEYS_MAX 1000 /* actions or providers one statistics view lists */

typedef struct JsonCtx {
	Store *s;
	bool ok; /* false after a cJSON allocation failed */
} JsonCtx;

static void iso8601(uint64_t usec, char *buf, size_t len)
{
	time_t t = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		(void)util_snprintf(buf, len, "invalid");
		return;
	}
	(void)util_snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRIu64 "Z",
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			    tm.tm_sec, (uint64_t)(usec % USEC_PER_SEC));
}

static const char *level_name(int64_t priority)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "err",
					    "warning", "notice", "info", "debug"};

	return priority >= 0 && priority < (int64_t)ELEMENTSOF(names) ? names[priority] : "unknown";
}

static void add_text(JsonCtx *c, cJSON *o, const char *key, const char *v)
{
	if (!(v ? cJSON_AddStringToObject(o, key, v) : cJSON_AddNullToObject(o, key)))
		c->ok = false;
}

static void add_col(JsonCtx *c, cJSON *o, const char *key, sqlite3_stmt *q, int col)
{
	add_text(c, o, key, (const char *)sqlite3_column_text(q, col));
}

static void add_num(JsonCtx *c, cJSON *o, const char *key, double v)
{
	if (!cJSON_AddNumberToObject(o, key, v))
		c->ok = false;
}

static void add_bool(JsonCtx *c, cJSON *o, const char *key, bool v)
{
	if (!cJSON_AddBoolToObject(o, key, v))
		c->ok = false;
}

static void add_time(JsonCtx *c, cJSON *o, const char *key, uint64_t usec)
{
	char buf[40];

	iso8601(usec, buf, sizeof buf);
	add_text(c, o, key, buf);
}

static cJSON *add_child(JsonCtx *c, cJSON *o, const char *key, cJSON *child)
{
	if (!child || !cJSON_AddItemToObject(o, key, child)) {
		cJSON_Delete(child);
		c->ok = false;
		return NULL;
	}
	return child;
}

static cJSON *add_to_array(JsonCtx *c, cJSON *a, cJSON *item)
{
	if (!item || !cJSON_AddItemToArray(a, item)) {
		cJSON_Delete(item);
		c->ok = false;
		return NULL;
	}
	return item;
}

/* A read transaction of its own, unless a batch already holds one. */
static int read_begin(Store *s)
{
	return s->batch ? 0 : st_sql_exec(s, "BEGIN");
}

static void read_end(Store *s)
{
	if (!s->batch && !sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

/* Ends a view's read: *ret gets top, or top is freed and the error returned. */
static int view_end(JsonCtx *c, cJSON *top, int r, cJSON **ret)
{
	read_end(c->s);
	if (r >= 0 && !c->ok)
		r = -ENOMEM;
	if (r < 0) {
		cJSON_Delete(top);
		return r;
	}
	*ret = top;
	return 0;
}

static int add_actions(JsonCtx *c, cJSON *item, int64_t id)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	cJSON *list = add_child(c, item, "actions", cJSON_CreateArray()), *o, *parsed;
	int r = st_sql_prepare(
		c->s,
		"SELECT action, argv, exit_status, term_signal, duration_usec, output,"
		" accepted, reason, timed_out, dry_run FROM commands"
		" WHERE attempt_id = ?1 ORDER BY idx",
		&q);

	if (r >= 0)
		r = st_bind_i64(c->s, q, 1, id);
	while (r >= 0 && list && (r = st_sql_step(c->s, q)) > 0) {
		const char *argv = (const char *)sqlite3_column_text(q, 1);

		if (!(o = add_to_array(c, list, cJSON_CreateObject())))
			break;
		add_col(c, o, "action", q, 0);
		/* Written by st_command_add(); a file edited by hand may hold anything. */
		parsed = argv ? cJSON_Parse(argv) : NULL;
		if (parsed && cJSON_IsArray(parsed))
			add_child(c, o, "argv", parsed);
		else {
			cJSON_Delete(parsed);
			add_text(c, o, "argv", NULL);
		}
		add_num(c, o, "exit_code", sqlite3_column_int(q, 2));
		if (sqlite3_column_int(q, 3))
			add_num(c, o, "signal", sqlite3_column_int(q, 3));
		else
			add_text(c, o, "signal", NULL);
		add_num(c, o, "duration_ms", (double)(st_column_u64(q, 4) / USEC_PER_MSEC));
		add_col(c, o, "output", q, 5);
		add_bool(c, o, "accepted", sqlite3_column_int(q, 6));
		add_col(c, o, "reason", q, 7);
		add_bool(c, o, "timed_out", sqlite3_column_int(q, 8));
		add_bool(c, o, "dry_run", sqlite3_column_int(q, 9));
	}
	return r;
}

static int add_transitions(JsonCtx *c, cJSON *item, int64_t id)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	cJSON *list = add_child(c, item, "transitions", cJSON_CreateArray()), *o;
	_cleanup_free_ char *verification = NULL;
	int r = st_sql_prepare(c->s,
			       "SELECT from_state, to_state, at, reason FROM transitions"
			       " WHERE attempt_id = ?1 ORDER BY id",
			       &q);

	if (r >= 0)
		r = st_bind_i64(c->s, q, 1, id);
	while (r >= 0 && list && (r = st_sql_step(c->s, q)) > 0) {
		const char *from = (const char *)sqlite3_column_text(q, 0);

		if (!(o = add_to_array(c, list, cJSON_CreateObject())))
			break;
		add_col(c, o, "from", q, 0);
		add_col(c, o, "to", q, 1);
		add_time(c, o, "at", st_column_u64(q, 2));
		add_col(c, o, "reason", q, 3);
		/* The verdict of the verification: its reason, else the state it led to. */
		if (from && strcmp(from, "verifying") == 0) {
			free(verification);
			verification = NULL;
			r = st_column_strdup(q, sqlite3_column_type(q, 3) == SQLITE_NULL ? 1 : 3,
					     &verification);
		}
	}
	add_text(c, item, "verification", verification);
	return r;
}

#define ITEM_COLUMNS                                                                              \
	"SELECT a.id, a.created, a.updated, a.state, a.reason, a.diagnosis, a.provider, a.model," \
	" a.dry_run, i.unit, i.identifier, i.message, i.priority, i.first_seen, i.fingerprint,"   \
	" i.count, i.source, i.source_class, a.plan_json"                                         \
	" FROM attempts a JOIN incidents i ON i.id = a.incident_id"

static void add_error(JsonCtx *c, cJSON *item, sqlite3_stmt *q)
{
	cJSON *e = add_child(c, item, "error", cJSON_CreateObject());
	const char *unit = (const char *)sqlite3_column_text(q, 9);
	char fp[17];

	if (!e)
		return;
	add_text(c, e, "service", unit ? unit : (const char *)sqlite3_column_text(q, 10));
	add_text(c, e, "unit", unit);
	add_col(c, e, "identifier", q, 10);
	add_col(c, e, "message", q, 11);
	add_text(c, e, "level", level_name(sqlite3_column_int64(q, 12)));
	add_num(c, e, "priority", sqlite3_column_int(q, 12));
	add_time(c, e, "timestamp", st_column_u64(q, 13));
	(void)util_snprintf(fp, sizeof fp, "%016" PRIx64, st_column_fp(q, 14));
	add_text(c, e, "fingerprint", fp);
	add_num(c, e, "count", (double)st_column_u64(q, 15));
	add_col(c, e, "source", q, 16);
	add_col(c, e, "source_class", q, 17);
}

/*
 * The vetted plan ([{"action", "args"}]), so that an approver sees what would
 * run before anything has; null before analysis.
 */
static void add_plan(JsonCtx *c, cJSON *item, const char *json)
{
	/* Written by the daemon from plan_to_json(); a file edited by hand may hold anything. */
	cJSON *plan = json ? cJSON_Parse(json) : NULL;

	if (plan && cJSON_IsArray(plan)) {
		add_child(c, item, "plan", plan);
		return;
	}
	cJSON_Delete(plan);
	add_text(c, item, "plan", NULL);
}

/* One history item from a row of ITEM_COLUMNS, added to list. */
static int add_item(JsonCtx *c, cJSON *list, sqlite3_stmt *q)
{
	cJSON *o = add_to_array(c, list, cJSON_CreateObject());
	int64_t id = sqlite3_column_int64(q, 0);
	const char *state = (const char *)sqlite3_column_text(q, 3);
	int r;

	if (!o)
		return -ENOMEM;
	add_num(c, o, "id", (double)id);
	add_time(c, o, "timestamp", st_column_u64(q, 1));
	add_time(c, o, "updated", st_column_u64(q, 2));
	add_error(c, o, q);
	add_text(c, o, "status", state);
	add_col(c, o, "reason", q, 4);
	add_col(c, o, "diagnosis", q, 5);
	add_col(c, o, "provider", q, 6);
	add_col(c, o, "model", q, 7);
	add_bool(c, o, "dry_run", sqlite3_column_int(q, 8));
	add_plan(c, o, (const char *)sqlite3_column_text(q, 18));
	if ((r = add_actions(c, o, id)) < 0 || (r = add_transitions(c, o, id)) < 0)
		return r;
	add_bool(c, o, "success", state && strcmp(state, "healed") == 0);
	return c->ok ? 0 : -ENOMEM;
}

static int history_rows(JsonCtx *c, cJSON *top, const char *state, size_t limit, size_t offset)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL, *n = NULL;
	cJSON *list = add_child(c, top, "history", cJSON_CreateArray());
	size_t count = 0;
	int r = st_sql_prepare(c->s,
			       ITEM_COLUMNS
			       " WHERE (?1 IS NULL OR a.state = ?1)"
			       " ORDER BY a.created DESC, a.id DESC LIMIT ?2 OFFSET ?3",
			       &q);

	if (!list)
		return -ENOMEM;
	if (r >= 0 && (r = st_bind_text(c->s, q, 1, state, ST_REASON_MAX)) >= 0 &&
	    (r = st_bind_u64(c->s, q, 2, limit)) >= 0)
		r = st_bind_u64(c->s, q, 3, offset);
	while (r >= 0 && (r = st_sql_step(c->s, q)) > 0) {
		if ((r = add_item(c, list, q)) < 0)
			return r;
		count++;
	}
	if (r < 0)
		return r;
	add_num(c, top, "count", (double)count);
	r = st_sql_prepare(c->s, "SELECT count(*) FROM attempts WHERE (?1 IS NULL OR state = ?1)",
			   &n);
	if (r >= 0 && (r = st_bind_text(c->s, n, 1, state, ST_REASON_MAX)) >= 0 &&
	    (r = st_sql_step(c->s, n)) > 0)
		add_num(c, top, "total", (double)st_column_u64(n, 0));
	return r < 0 ? r : 0;
}

/* {"count": items here, "total": items matching, "history": [...]} */
int st_history_json(Store *s, const char *state, size_t limit, size_t offset, cJSON **ret)
{
	JsonCtx c = {.s = s, .ok = true};
	cJSON *top;
	int r;

	if (state && at_state_from_name(state) < 0)
		return st_sql_refuse(s, -EINVAL, "no such attempt state");
	if (limit > ST_HISTORY_MAX)
		return st_sql_refuse(s, -E2BIG, "history limit too large");
	top = cJSON_CreateObject();
	if (!top)
		return -ENOMEM;
	r = read_begin(s);
	if (r >= 0)
		r = history_rows(&c, top, state, limit, offset);
	return view_end(&c, top, r, ret);
}

/* One history item; -ENOENT when there is no such attempt. */
int st_attempt_json(Store *s, int64_t id, cJSON **ret)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	JsonCtx c = {.s = s, .ok = true};
	cJSON *holder = cJSON_CreateArray();
	int r = holder ? read_begin(s) : -ENOMEM;

	if (r >= 0 && (r = st_sql_prepare(s, ITEM_COLUMNS " WHERE a.id = ?1", &q)) >= 0 &&
	    (r = st_bind_i64(s, q, 1, id)) >= 0) {
		r = st_sql_step(s, q);
		if (r == 0)
			r = st_sql_refuse(s, -ENOENT, "no such attempt");
		else if (r > 0)
			r = add_item(&c, holder, q);
	}
	st_sql_resetp(&q);
	read_end(s);
	if (r < 0) {
		cJSON_Delete(holder);
		return r;
	}
	*ret = cJSON_DetachItemFromArray(holder, 0);
	cJSON_Delete(holder);
	return 0;
}

static int stats_states(JsonCtx *c, cJSON *top)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	uint64_t by_state[_AT_STATE_MAX] = {0}, total = 0, pending = 0, healed, failed;
	int r = st_sql_prepare(c->s, "SELECT state, count(*) FROM attempts GROUP BY state", &q);

	while (r >= 0 && (r = st_sql_step(c->s, q)) > 0) {
		int state = at_state_from_name((const char *)sqlite3_column_text(q, 0));
		uint64_t n = st_column_u64(q, 1);

		total += n;
		if (state < 0 || !at_state_is_final(state))
			pending += n;
		if (state >= 0)
			by_state[state] += n;
	}
	if (r < 0)
		return r;
	healed = by_state[AT_HEALED];
	failed = by_state[AT_FAILED];
	add_num(c, top, "total_attempts", (double)total);
	add_num(c, top, "successful", (double)healed);
	add_num(c, top, "failed", (double)failed);
	add_num(c, top, "pending", (double)pending);
	add_num(c, top, "rejected", (double)by_state[AT_REJECTED]);
	add_num(c, top, "skipped", (double)by_state[AT_SKIPPED]);
	add_num(c, top, "escalated", (double)by_state[AT_ESCALATED]);
	add_num(c, top, "interrupted", (double)by_state[AT_INTERRUPTED]);
	add_num(c, top, "success_rate",
		healed + failed ? (double)healed / (double)(healed + failed) : 0);
	return 0;
}

/* "SELECT name, a, b, c ... GROUP BY name" as {name: {keys[0]: a, ...}} under key. */
static int stats_group(JsonCtx *c, cJSON *top, const char *key, const char *sql,
		       const char *const *keys, size_t n_keys)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	cJSON *group = add_child(c, top, key, cJSON_CreateObject()), *o;
	int r = st_sql_prepare(c->s, sql, &q);

	if (r >= 0)
		r = st_bind_i64(c->s, q, 1, ST_KEYS_MAX);
	while (r >= 0 && group && (r = st_sql_step(c->s, q)) > 0) {
		const char *name = (const char *)sqlite3_column_text(q, 0);

		if (!name || !(o = add_child(c, group, name, cJSON_CreateObject())))
			continue;
		for (size_t i = 0; i < n_keys; i++)
			add_num(c, o, keys[i], (double)st_column_u64(q, (int)i + 1));
	}
	return r;
}

static int stats_rows(JsonCtx *c, cJSON *top)
{
	static const char *const action_keys[] = {"runs", "failures", "refused"};
	static const char *const provider_keys[] = {"attempts", "successful", "failed"};
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	int r = stats_states(c, top);

	if (r >= 0)
		r = st_sql_prepare(c->s,
				   "SELECT coalesce(avg(updated - created), 0), (SELECT count(*)"
				   " FROM incidents) FROM attempts WHERE state = 'healed'",
				   &q);
	if (r >= 0 && (r = st_sql_step(c->s, q)) > 0) {
		add_num(c, top, "mean_time_to_heal_ms",
			sqlite3_column_double(q, 0) / (double)USEC_PER_MSEC);
		add_num(c, top, "incidents", (double)st_column_u64(q, 1));
	}
	/*
	 * Analyses a model answered (llm_calls), and plans reused from knowledge
	 * without asking one (llm_cache_hits).
	 */
	st_sql_resetp(&q);
	if (r >= 0)
		r = st_sql_prepare(
			c->s,
			"SELECT coalesce(sum(provider NOT IN ('rules', 'knowledge')), 0),"
			" coalesce(sum(provider = 'knowledge'), 0) FROM attempts"
			" WHERE provider IS NOT NULL",
			&q);
	if (r >= 0 && (r = st_sql_step(c->s, q)) > 0) {
		add_num(c, top, "llm_calls", (double)st_column_u64(q, 0));
		add_num(c, top, "llm_cache_hits", (double)st_column_u64(q, 1));
	}
	/* A run is a command that was accepted and not a dry run; a failure one of those that
	 * did not exit 0. */
	if (r >= 0)
		r = stats_group(
			c, top, "by_action",
			"SELECT action, sum(accepted AND NOT dry_run),"
			" sum(accepted AND NOT dry_run AND (exit_status != 0 OR term_signal != 0"
			" OR timed_out)), sum(NOT accepted) FROM commands"
			" GROUP BY action ORDER BY action LIMIT ?1",
			action_keys, ELEMENTSOF(action_keys));
	if (r >= 0)
		r = stats_group(
			c, top, "by_provider",
			"SELECT provider, count(*), sum(state = 'healed'), sum(state = 'failed')"
			" FROM attempts WHERE provider IS NOT NULL"
			" GROUP BY provider ORDER BY provider LIMIT ?1",
			provider_keys, ELEMENTSOF(provider_keys));
	return r;
}

/*
 * {"total_attempts", "successful", "failed", "pending", "rejected", "skipped",
 * "escalated", "interrupted", "success_rate" (healed / (healed + failed), 0
 * when neither), "mean_time_to_heal_ms" (attempt created to healed),
 * "incidents", "llm_calls" (analyses a model answered), "llm_cache_hits" (plans
 * reused from knowledge), "by_action": {name: {"runs", "failures", "refused"}},
 * "by_provider": {name: {"attempts", "successful", "failed"}}}
 */
int st_statistics_json(Store *s, cJSON **ret)
{
	JsonCtx c = {.s = s, .ok = true};
	cJSON *top = cJSON_CreateObject();
	int r = top ? read_begin(s) : -ENOMEM;

	if (r >= 0)
		r = stats_rows(&c, top);
	return view_end(&c, top, r, ret);
}

/*
 * One row per fingerprint: the newest incident's unit, identifier and
 * message; its incidents, the lines folded into them, the attempts that
 * were analysed, those a dry run recorded as would have run (commands
 * written as dry run), and the newest attempt's state and reason. The
 * bare columns come from the row of max(a.id), as SQLite defines.
 */
static int fingerprint_rows(JsonCtx *c, cJSON *list, size_t limit)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	char fp[17];
	cJSON *o;
	int r = st_sql_prepare(
		c->s,
		"SELECT i.fingerprint, count(*), sum(i.count), sum(a.provider IS NOT NULL),"
		" sum(EXISTS (SELECT 1 FROM commands k WHERE k.attempt_id = a.id AND k.dry_run)),"
		" max(a.id), a.state, a.reason, i.unit, i.identifier, i.message, i.priority,"
		" (SELECT w.reason FROM attempts w JOIN incidents v ON v.id = w.incident_id"
		"  WHERE v.fingerprint = i.fingerprint AND EXISTS (SELECT 1 FROM commands k"
		"  WHERE k.attempt_id = w.id AND k.dry_run) ORDER BY w.id DESC LIMIT 1)"
		" FROM incidents i JOIN attempts a ON a.incident_id = i.id"
		" GROUP BY i.fingerprint ORDER BY sum(i.count) DESC, max(a.id) LIMIT ?1",
		&q);

	if (r >= 0)
		r = st_bind_u64(c->s, q, 1, limit);
	while (r >= 0 && (r = st_sql_step(c->s, q)) > 0) {
		if (!(o = add_to_array(c, list, cJSON_CreateObject())))
			continue;
		(void)util_snprintf(fp, sizeof fp, "%016" PRIx64, st_column_fp(q, 0));
		add_text(c, o, "fingerprint", fp);
		add_col(c, o, "unit", q, 8);
		add_col(c, o, "identifier", q, 9);
		add_col(c, o, "message", q, 10);
		add_text(c, o, "level", level_name(sqlite3_column_int64(q, 11)));
		add_num(c, o, "incidents", (double)st_column_u64(q, 1));
		add_num(c, o, "lines", (double)st_column_u64(q, 2));
		add_num(c, o, "analyses", (double)st_column_u64(q, 3));
		add_num(c, o, "would_run", (double)st_column_u64(q, 4));
		add_col(c, o, "last_status", q, 6);
		add_col(c, o, "last_reason", q, 7);
		add_col(c, o, "would_run_reason", q, 12);
	}
	return r;
}

int st_fingerprints_json(Store *s, size_t limit, cJSON **ret)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	JsonCtx c = {.s = s, .ok = true};
	cJSON *top = cJSON_CreateObject(), *list = NULL;
	int r = top ? read_begin(s) : -ENOMEM;

	if (r >= 0)
		r = st_sql_prepare(s, "SELECT count(DISTINCT fingerprint) FROM incidents", &q);
	if (r >= 0 && (r = st_sql_step(s, q)) > 0)
		add_num(&c, top, "total", (double)st_column_u64(q, 0));
	if (r >= 0)
		list = add_child(&c, top, "fingerprints", cJSON_CreateArray());
	if (r >= 0 && list)
		r = fingerprint_rows(&c, list, limit > ST_HISTORY_MAX ? ST_HISTORY_MAX : limit);
	return view_end(&c, top, r, ret);
}

int st_record_json(Store *s, cJSON **ret)
{
	_cleanup_(st_sql_resetp) sqlite3_stmt *q = NULL;
	JsonCtx c = {.s = s, .ok = true};
	cJSON *top = cJSON_CreateObject();
	int r = top ? read_begin(s) : -ENOMEM;

	if (r >= 0)
		r = st_sql_prepare(
			s,
			"SELECT count(*), coalesce(sum(count), 0), min(first_seen),"
			" max(last_seen), (SELECT count(*) FROM attempts) FROM incidents",
			&q);
	if (r >= 0 && (r = st_sql_step(s, q)) > 0) {
		add_num(&c, top, "incidents", (double)st_column_u64(q, 0));
		add_num(&c, top, "lines", (double)st_column_u64(q, 1));
		add_num(&c, top, "attempts", (double)st_column_u64(q, 4));
		if (sqlite3_column_type(q, 2) == SQLITE_NULL) {
			add_text(&c, top, "first_seen", NULL);
			add_text(&c, top, "last_seen", NULL);
		} else {
			add_time(&c, top, "first_seen", st_column_u64(q, 2));
			add_time(&c, top, "last_seen", st_column_u64(q, 3));
		}
	}
	return view_end(&c, top, r, ret);
}
