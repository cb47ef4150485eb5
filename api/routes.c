/* SPDX-License-Identifier: MIT */
/*
 * The endpoints. Each checks its input (types, ranges, sizes) and calls
 * one core function; nothing here touches SQLite or the whitelist file but
 * through healer/. Paths keep the seed system's shape so its scripts work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api-internal.h"
#include "healer/check.h"
#include "healer/embedded.h"
#include "healer/metrics.h"
#include "healer/plan.h"
#include "healer/version.h"
#include "healer/view.h"

/* ---- input ---- */

/* A syslog level by number (0..7) or name; -1 when it is neither. */
static int parse_level(const cJSON *v)
{
	static const char *const names[][2] = {
		{"emerg", "emergency"},	 {"alert", "alert"},  {"crit", "critical"},
		{"err", "error"},	 {"warning", "warn"}, {"notice", "notice"},
		{"info", "information"}, {"debug", "debug"},
	};

	if (!v)
		return 3;
	if (cJSON_IsNumber(v))
		return v->valuedouble >= 0 && v->valuedouble <= 7 &&
				       v->valuedouble == (int)v->valuedouble
			       ? (int)v->valuedouble
			       : -1;
	if (!cJSON_IsString(v))
		return -1;
	for (int i = 0; i < 8; i++)
		if (strcasecmp(v->valuestring, names[i][0]) == 0 ||
		    strcasecmp(v->valuestring, names[i][1]) == 0)
			return i;
	return -1;
}

/* Seconds since the epoch, or "YYYY-MM-DDTHH:MM:SS[.frac][Z]" (UTC); 0 when absent. */
static int parse_timestamp(const cJSON *v, uint64_t *ret)
{
	struct tm tm = {0};
	const char *end;
	double secs;

	*ret = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		secs = v->valuedouble;
	} else if (cJSON_IsString(v)) {
		end = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%S", &tm);
		if (!end)
			end = strptime(v->valuestring, "%Y-%m-%d %H:%M:%S", &tm);
		if (!end)
			return -EINVAL;
		secs = (double)timegm(&tm);
		if (*end == '.') {
			size_t n = strspn(end + 1, "0123456789");

			if (n == 0 || n > 9)
				return -EINVAL;
			secs += strtod(end, NULL);
			end += 1 + n;
		}
		if (*end == 'Z' || strcmp(end, "+00:00") == 0)
			end += *end == 'Z' ? 1 : 6;
		if (*end)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	/* 2001..2100: anything else is a unit mix-up (milliseconds) or nonsense. */
	if (!(secs >= 978307200.0 && secs < 4102444800.0))
		return -ERANGE;
	*ret = (uint64_t)(secs * 1e6);
	return 0;
}

/* A string member, or NULL; *bad set when it is there but not a string (or too long). */
static const char *member_string(const cJSON *o, const char *name, size_t max, bool *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!v || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
		*bad = true;
		return NULL;
	}
	return v->valuestring;
}

/* Reads {"service","message","level","timestamp"}; answers 400 itself and returns -EINVAL. */
static int read_report(Request *q, const cJSON *o, DaemonReport *rep)
{
	bool bad = false;
	char why[256];
	int r;

	*rep = (DaemonReport){0};
	rep->service = member_string(o, "service", 256, &bad);
	if (bad)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "\"service\" must be a string (a unit name)", NULL),
		       -EINVAL;
	rep->message = member_string(o, "message", DAEMON_REPORT_MESSAGE_MAX, &bad);
	if (bad || !rep->message)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "\"message\" is required: a string of at most 4096 bytes",
				       NULL),
		       -EINVAL;
	rep->priority = parse_level(cJSON_GetObjectItemCaseSensitive(o, "level"));
	if (rep->priority < 0)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "\"level\" must be 0..7 or a syslog level name (error, "
				       "critical, ...)",
				       NULL),
		       -EINVAL;
	if (parse_timestamp(cJSON_GetObjectItemCaseSensitive(o, "timestamp"),
			    &rep->timestamp_usec) < 0)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "\"timestamp\" must be seconds since 1970 or "
				       "YYYY-MM-DDTHH:MM:SSZ, between 2001 and 2100",
				       NULL),
		       -EINVAL;
	r = daemon_report_check(rep, why, sizeof why);
	if (r < 0)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST, why, NULL), r;
	return 0;
}

static int64_t param_id(Request *q)
{
	return q->n_params > 0 ? strtoll(q->params[0], NULL, 10) : 0;
}

/* ---- reads ---- */

static enum MHD_Result get_healthz(Request *q)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "healthy", true);
	return api_reply_json(q, MHD_HTTP_OK, api_success(o));
}

static enum MHD_Result get_metrics(Request *q)
{
	char *text = NULL;
	size_t len = 0;
	enum MHD_Result r;

	if (metrics_render(q->api->metrics, &text, &len) < 0)
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
	r = api_reply_text(q, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
			   true);
	free(text);
	return r;
}

/*
 * A view's status: what it is and what the record spans, in place of the
 * fields only a running daemon knows (enabled, monitoring, the journal's
 * lag, the provider): the dashboard reads "mode" to show a read-only page.
 */
static cJSON *view_status(ApiServer *a, int *ret)
{
	cJSON *o, *rec = NULL;

	*ret = st_record_json(a->store, &rec);
	if (*ret < 0)
		return NULL;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "mode", "replay-view") ||
	    !cJSON_AddBoolToObject(o, "read_only", true) ||
	    !cJSON_AddStringToObject(o, "file", a->view_file) ||
	    !cJSON_AddStringToObject(o, "version", HEALER_VERSION) ||
	    !cJSON_AddItemToObject(o, "record", rec)) {
		cJSON_Delete(o);
		cJSON_Delete(rec);
		*ret = -ENOMEM;
		return NULL;
	}
	return o;
}

static enum MHD_Result get_status(Request *q)
{
	cJSON *o = cJSON_CreateObject(), *s;
	int r = 0;

	if (q->api->d) {
		s = daemon_status_json(q->api->d);
		if (s && (!cJSON_AddStringToObject(s, "mode", "live") ||
			  !cJSON_AddBoolToObject(s, "read_only", false))) {
			cJSON_Delete(s);
			s = NULL;
		}
	} else {
		s = view_status(q->api, &r);
	}
	if (!s) {
		cJSON_Delete(o);
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       r < 0 && r != -ENOMEM
					       ? "the record could not be read; see Healer's log"
					       : "out of memory",
				       NULL);
	}
	if (o)
		cJSON_AddItemToObject(o, "auto_healer", s);
	else
		cJSON_Delete(s);
	return api_reply_json(q, MHD_HTTP_OK, api_success(o));
}

/* A whole number in [min, max] from a query argument, def when absent; false when malformed. */
static bool query_uint(Request *q, const char *name, unsigned long long min, unsigned long long max,
		       unsigned long long def, unsigned long long *ret)
{
	const char *v = api_query(q, name);
	char *end;

	*ret = def;
	if (!v)
		return true;
	if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 12)
		return false;
	*ret = strtoull(v, &end, 10);
	return *ret >= min && *ret <= max;
}

static enum MHD_Result get_history(Request *q)
{
	const char *state = api_query(q, "state");
	unsigned long long limit, offset;
	cJSON *o = NULL;
	int r;

	if (!query_uint(q, "limit", 1, ST_HISTORY_MAX, 50, &limit))
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST, "limit must be 1..500", NULL);
	if (!query_uint(q, "offset", 0, 1000000000ULL, 0, &offset))
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "offset must be a whole number from 0", NULL);
	if (state && at_state_from_name(state) < 0)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "state must be one of detected, analyzing, "
				       "awaiting_approval, executing, verifying, healed, failed, "
				       "rejected, skipped, escalated, interrupted",
				       NULL);
	r = st_history_json(q->api->store, state, (size_t)limit, (size_t)offset, &o);
	if (r < 0)
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "the history could not be read; see Healer's log", NULL);
	return api_reply_json(q, MHD_HTTP_OK, api_success(o));
}

static enum MHD_Result get_attempt(Request *q)
{
	cJSON *o = NULL, *top;
	int r = st_attempt_json(q->api->store, param_id(q), &o);

	if (r == -ENOENT)
		return api_reply_error(q, MHD_HTTP_NOT_FOUND, "no such attempt", NULL);
	if (r < 0)
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "the attempt could not be read; see Healer's log", NULL);
	top = cJSON_CreateObject();
	if (top)
		cJSON_AddItemToObject(top, "attempt", o);
	else
		cJSON_Delete(o);
	return api_reply_json(q, MHD_HTTP_OK, api_success(top));
}

static enum MHD_Result get_statistics(Request *q)
{
	cJSON *o = NULL, *top;
	int r = st_statistics_json(q->api->store, &o);

	if (r < 0)
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "the statistics could not be read; see Healer's log", NULL);
	top = cJSON_CreateObject();
	if (top)
		cJSON_AddItemToObject(top, "statistics", o);
	else
		cJSON_Delete(o);
	return api_reply_json(q, MHD_HTTP_OK, api_success(top));
}

/* ---- heal and inject ---- */

static cJSON *ids(int64_t incident, int64_t attempt, const char *via)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "incident_id", (double)incident);
	if (attempt)
		cJSON_AddNumberToObject(o, "attempt_id", (double)attempt);
	else
		cJSON_AddNullToObject(o, "attempt_id");
	if (via)
		cJSON_AddStringToObject(o, "via", via);
	return o;
}

/* The attempt as history shows it, with a reason when policy skipped it. */
static cJSON *attempt_view(Request *q, int64_t attempt)
{
	cJSON *o = NULL;

	if (attempt && st_attempt_json(q->api->store, attempt, &o) < 0)
		o = NULL;
	return o;
}

static void on_heal_finished(int r, int64_t attempt, void *userdata)
{
	Request *q = userdata;
	cJSON *o = cJSON_CreateObject();

	q->waiter = NULL;
	cJSON_AddNumberToObject(o, "attempt_id", (double)attempt);
	cJSON_AddItemToObject(o, "healing_result", attempt_view(q, attempt));
	if (r < 0)
		cJSON_AddStringToObject(o, "note", "Healer is stopping");
	api_resume_json(q, MHD_HTTP_OK, api_success(o));
}

static int on_heal_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	Request *q = userdata;
	cJSON *o = cJSON_CreateObject();

	(void)s;
	(void)usec;
	daemon_waiter_cancel(q->waiter);
	q->waiter = NULL;
	cJSON_AddNumberToObject(o, "attempt_id", (double)q->wait_attempt);
	cJSON_AddItemToObject(o, "healing_result", attempt_view(q, q->wait_attempt));
	cJSON_AddStringToObject(o, "note", "not finished when the wait ended");
	api_resume_json(q, MHD_HTTP_ACCEPTED, api_success(o));
	return 0;
}

static enum MHD_Result post_heal(Request *q)
{
	unsigned long long wait;
	DaemonReport rep;
	int64_t incident = 0, attempt = 0;
	char why[256];
	cJSON *o;
	int r;

	if (!query_uint(q, "wait", 0, API_WAIT_MAX, 0, &wait))
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST, "wait must be 0..120 seconds",
				       NULL);
	o = api_body_object(q);
	if (!o)
		return MHD_YES;
	r = read_report(q, o, &rep);
	if (r < 0) {
		cJSON_Delete(o);
		return MHD_YES;
	}
	r = daemon_submit(q->api->d, &rep, &incident, &attempt, why, sizeof why);
	cJSON_Delete(o);
	if (r < 0)
		return api_reply_error(q,
				       r == -ESHUTDOWN ? MHD_HTTP_SERVICE_UNAVAILABLE
						       : MHD_HTTP_INTERNAL_SERVER_ERROR,
				       why, NULL);
	if (wait > 0 && attempt) {
		r = daemon_wait_attempt(q->api->d, attempt, on_heal_finished, q, &q->waiter);
		if (r >= 0) {
			q->wait_attempt = attempt;
			r = api_suspend(q, (unsigned)wait, on_heal_deadline);
			if (r >= 0)
				return MHD_YES;
			daemon_waiter_cancel(q->waiter);
			q->waiter = NULL;
		}
		if (r == -ENOENT) { /* already over */
			o = ids(incident, attempt, NULL);
			cJSON_AddItemToObject(o, "healing_result", attempt_view(q, attempt));
			return api_reply_json(q, MHD_HTTP_OK, api_success(o));
		}
	}
	o = ids(incident, attempt, NULL);
	cJSON_AddItemToObject(o, "healing_result", attempt_view(q, attempt));
	return api_reply_json(q, MHD_HTTP_ACCEPTED, api_success(o));
}

static void on_injected(int r, int64_t incident, int64_t attempt, const char *via, void *userdata)
{
	Request *q = userdata;

	q->waiter = NULL;
	if (r < 0) {
		api_resume_json(
			q,
			r == -ECANCELED ? MHD_HTTP_SERVICE_UNAVAILABLE
					: MHD_HTTP_INTERNAL_SERVER_ERROR,
			cJSON_Parse(r == -ECANCELED
					    ? "{\"status\":\"error\",\"error\":\"Healer is "
					      "stopping\"}"
					    : "{\"status\":\"error\",\"error\":\"the test error "
					      "could not be recorded; see Healer's log\"}"));
		return;
	}
	api_resume_json(q, MHD_HTTP_ACCEPTED, api_success(ids(incident, attempt, via)));
}

static int on_inject_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	Request *q = userdata;

	(void)s;
	(void)usec;
	/* The daemon answers within its own read-back limit; this is a backstop. */
	daemon_waiter_cancel(q->waiter);
	q->waiter = NULL;
	api_resume_json(q, MHD_HTTP_ACCEPTED,
			cJSON_Parse("{\"status\":\"success\",\"note\":\"injected; still being "
				    "read back\"}"));
	return 0;
}

static enum MHD_Result post_inject(Request *q)
{
	cJSON *o = api_body_object(q);
	int64_t incident = 0, attempt = 0;
	const char *source;
	DaemonReport rep;
	bool bad = false;
	int r;

	if (!o)
		return MHD_YES;
	r = read_report(q, o, &rep);
	source = member_string(o, "source", 32, &bad);
	if (r >= 0 &&
	    (bad || (source && strcmp(source, "journal") != 0 && strcmp(source, "direct") != 0))) {
		api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				"\"source\" must be \"journal\" (the default: written to the "
				"journal Healer reads) or \"direct\"",
				NULL);
		r = -EINVAL;
	}
	if (r < 0) {
		cJSON_Delete(o);
		return MHD_YES;
	}
	rep.injected = true;
	if (source && strcmp(source, "direct") == 0) {
		char why[256];

		r = daemon_submit(q->api->d, &rep, &incident, &attempt, why, sizeof why);
		cJSON_Delete(o);
		if (r < 0)
			return api_reply_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, why, NULL);
		return api_reply_json(q, MHD_HTTP_ACCEPTED,
				      api_success(ids(incident, attempt, "direct")));
	}
	r = daemon_inject(q->api->d, &rep, on_injected, q, &q->waiter, &incident, &attempt);
	cJSON_Delete(o);
	if (r == 1) /* no journal to write to: opened directly */
		return api_reply_json(q, MHD_HTTP_ACCEPTED,
				      api_success(ids(incident, attempt, "direct")));
	if (r < 0)
		return api_reply_error(
			q, r == -EBUSY ? MHD_HTTP_TOO_MANY_REQUESTS : MHD_HTTP_SERVICE_UNAVAILABLE,
			r == -EBUSY ? "too many injections at once; try again"
				    : "the test error could not be injected",
			NULL);
	if (api_suspend(q, 30, on_inject_deadline) < 0) {
		daemon_waiter_cancel(q->waiter);
		q->waiter = NULL;
		return api_reply_json(q, MHD_HTTP_ACCEPTED,
				      cJSON_Parse("{\"status\":\"success\",\"via\":\"journal\"}"));
	}
	return MHD_YES;
}

/* ---- decisions and the switch ---- */

static enum MHD_Result decide(Request *q, bool approve)
{
	int64_t id = param_id(q);
	int r = daemon_decide(q->api->d, id, approve, "api");
	cJSON *o;

	if (r == -ENOENT)
		return api_reply_error(q, MHD_HTTP_NOT_FOUND, "no such attempt", NULL);
	if (r == -EBUSY)
		return api_reply_error(q, MHD_HTTP_CONFLICT, "the attempt is not awaiting approval",
				       NULL);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "attempt_id", (double)id);
	cJSON_AddStringToObject(o, "decision", approve ? "approved" : "rejected");
	return api_reply_json(q, MHD_HTTP_OK, api_success(o));
}

static enum MHD_Result post_approve(Request *q)
{
	return decide(q, true);
}

static enum MHD_Result post_reject(Request *q)
{
	return decide(q, false);
}

static enum MHD_Result set_enabled(Request *q, bool on)
{
	cJSON *o;

	if (daemon_set_enabled(q->api->d, on, "api") < 0)
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "the switch could not be stored; see Healer's log", NULL);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "enabled", on);
	return api_reply_json(q, MHD_HTTP_OK, api_success(o));
}

static enum MHD_Result post_enable(Request *q)
{
	return set_enabled(q, true);
}

static enum MHD_Result post_disable(Request *q)
{
	return set_enabled(q, false);
}

/* ---- the whitelist ---- */

static cJSON *actions_view(const Whitelist *wl)
{
	cJSON *list = cJSON_CreateArray();

	for (size_t i = 0; list && i < wl_n_actions(wl); i++) {
		cJSON *a = cJSON_CreateObject();
		const char *desc = wl_action_description(wl, i);

		cJSON_AddStringToObject(a, "name", wl_action_name(wl, i));
		if (desc)
			cJSON_AddStringToObject(a, "description", desc);
		else
			cJSON_AddNullToObject(a, "description");
		cJSON_AddItemToArray(list, a);
	}
	return list;
}

static enum MHD_Result get_whitelist(Request *q)
{
	_cleanup_free_ char *text = NULL, *etag = NULL;
	cJSON *o;
	size_t len;
	int r = daemon_whitelist_get(q->api->d, &text, &len, &etag);

	if (r < 0)
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "the whitelist file could not be read; see Healer's log",
				       NULL);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "etag", etag);
	cJSON_AddStringToObject(o, "source", settings_whitelist_source(daemon_settings(q->api->d)));
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddItemToObject(o, "actions",
			      actions_view(settings_whitelist(daemon_settings(q->api->d))));
	return api_reply_etag(q, MHD_HTTP_OK, api_success(o), etag);
}

/* "file:line: message" lines as [{"line", "message"}]. */
static cJSON *error_lines(const char *errors)
{
	cJSON *list = cJSON_CreateArray();

	for (const char *l = errors; list && l && *l;) {
		const char *nl = strchr(l, '\n'), *end = nl ? nl : l + strlen(l);
		_cleanup_free_ char *line = strndup(l, (size_t)(end - l));
		cJSON *e = cJSON_CreateObject();
		char *colon = line ? strchr(line, ':') : NULL;
		char *rest = NULL;
		long n = colon ? strtol(colon + 1, &rest, 10) : 0;

		if (colon && rest && rest != colon + 1 && *rest == ':' && n > 0) {
			cJSON_AddNumberToObject(e, "line", (double)n);
			cJSON_AddStringToObject(e, "message", rest[1] == ' ' ? rest + 2 : rest + 1);
		} else {
			cJSON_AddNullToObject(e, "line");
			cJSON_AddStringToObject(e, "message", line ? line : "");
		}
		cJSON_AddItemToArray(list, e);
		l = nl ? nl + 1 : end;
	}
	return list;
}

static enum MHD_Result put_whitelist(Request *q)
{
	_cleanup_free_ char *etag = NULL, *errors = NULL;
	const char *if_match = api_header(q, MHD_HTTP_HEADER_IF_MATCH);
	cJSON *o;
	int r;

	if (!if_match)
		return api_reply_error(q, MHD_HTTP_PRECONDITION_REQUIRED,
				       "send If-Match with the etag of the whitelist you edited "
				       "(GET /api/whitelist gives it)",
				       NULL);
	if (!q->body || q->body_len == 0)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "the body must be the whitelist file's text", NULL);
	if (memchr(q->body, '\0', q->body_len))
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST, "the text holds a NUL byte", NULL);
	r = daemon_whitelist_put(q->api->d, q->body, q->body_len, if_match, "api", &etag, &errors);
	if (r == -ESTALE)
		return api_reply_error(q, MHD_HTTP_PRECONDITION_FAILED,
				       "the whitelist changed since you read it; read it again "
				       "and redo your edit",
				       NULL);
	if (r == -EROFS)
		return api_reply_error(q, MHD_HTTP_CONFLICT, errors ? errors : "read-only", NULL);
	if (r == -EINVAL || (r < 0 && errors)) {
		o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "errors", error_lines(errors));
		return api_reply_error(
			q, r == -EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
			r == -EINVAL ? "the whitelist is not valid; nothing was changed"
				     : "the new whitelist broke the settings; the old "
				       "one was put back",
			o);
	}
	if (r < 0)
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       "the whitelist could not be written; see Healer's log",
				       NULL);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "etag", etag);
	return api_reply_etag(q, MHD_HTTP_OK, api_success(o), etag);
}

/* Each command's preconditions, judged on the host now, next to their texts. */
static void on_plan_checked(const ChkResult *res, size_t n, void *userdata)
{
	Request *q = userdata;
	cJSON *view = TAKE_PTR(q->held), *cmd;
	size_t at = 0;

	q->waiter = NULL;
	cJSON_ArrayForEach(cmd, cJSON_GetObjectItemCaseSensitive(view, "commands"))
	{
		cJSON *req = cJSON_GetObjectItemCaseSensitive(cmd, "requires"), *text;
		cJSON *list = cJSON_AddArrayToObject(cmd, "preconditions");

		cJSON_ArrayForEach(text, req)
		{
			cJSON *p = cJSON_CreateObject();

			cJSON_AddStringToObject(p, "check", cJSON_GetStringValue(text));
			if (res && at < n) {
				cJSON_AddStringToObject(p, "now",
							chk_verdict_name(res[at].verdict));
				cJSON_AddBoolToObject(p, "holds", res[at].verdict == CHK_HOLDS);
				cJSON_AddStringToObject(p, "detail", res[at].detail);
			} else {
				cJSON_AddStringToObject(p, "now", "unknown");
				cJSON_AddBoolToObject(p, "holds", false);
				cJSON_AddStringToObject(p, "detail", "not judged");
			}
			at++;
			cJSON_AddItemToArray(list, p);
		}
	}
	api_resume_json(q, MHD_HTTP_OK, api_success(view));
}

static int on_check_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	Request *q = userdata;

	(void)s;
	(void)usec;
	daemon_waiter_cancel(q->waiter);
	q->waiter = NULL;
	on_plan_checked(NULL, 0, q);
	return 0;
}

static enum MHD_Result post_whitelist_test(Request *q)
{
	_cleanup_(plan_freep) Plan *plan = NULL;
	const Whitelist *wl = settings_whitelist(daemon_settings(q->api->d));
	cJSON *o = api_body_object(q), *out;
	const char *command, *reply, *unit;
	WlVetOptions vo = {0};
	bool bad = false;
	int r;

	if (!o)
		return MHD_YES;
	command = member_string(o, "command", 4096, &bad);
	reply = member_string(o, "reply", API_BODY_MAX, &bad);
	unit = member_string(o, "unit", 256, &bad);
	if (bad || !command == !reply) {
		cJSON_Delete(o);
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				       "send one of \"command\" (a command line) or \"reply\" (a "
				       "model's reply), as a string; \"unit\" optional",
				       NULL);
	}
	vo.evidence_unit = unit;
	vo.allow_any_unit = !unit;
	r = command ? plan_vet_command(wl, command, &vo, &plan)
		    : plan_vet_reply(wl, reply, strlen(reply), &vo, &plan);
	if (r < 0) {
		cJSON_Delete(o);
		return api_reply_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
	}
	out = view_plan(plan);
	/* An accepted plan's preconditions are judged now, on this host, as an attempt would. */
	r = daemon_check_plan(q->api->d, plan, unit, on_plan_checked, q, &q->waiter);
	cJSON_Delete(o);
	if (r >= 0) {
		q->held = out;
		if (api_suspend(q, 30, on_check_deadline) >= 0)
			return MHD_YES;
		daemon_waiter_cancel(q->waiter);
		q->waiter = NULL;
		out = TAKE_PTR(q->held);
	}
	return api_reply_json(q, MHD_HTTP_OK, api_success(out));
}

/* ---- the dashboard: built into the binary, open (it asks for the token itself) ---- */

static enum MHD_Result get_index(Request *q)
{
	return api_reply_text(q, MHD_HTTP_OK, "text/html; charset=utf-8", dashboard_index_html,
			      dashboard_index_html_len, false);
}

static enum MHD_Result get_js(Request *q)
{
	return api_reply_text(q, MHD_HTTP_OK, "text/javascript; charset=utf-8", dashboard_js,
			      dashboard_js_len, false);
}

static enum MHD_Result get_css(Request *q)
{
	return api_reply_text(q, MHD_HTTP_OK, "text/css; charset=utf-8", dashboard_css,
			      dashboard_css_len, false);
}

/*
 * Why a read-only view (healer serve) refuses a route: it acts, or only a
 * running daemon can answer it. Route.live; NULL where a view answers.
 */
#define LIVE_METRICS                                                                  \
	"no metrics: they count a running daemon's work; the record's totals are in " \
	"/api/auto-healer/statistics"
#define LIVE_HEAL   "nothing is healed here; report errors to the running daemon's API"
#define LIVE_INJECT "no journal is followed here; inject test errors through the running daemon"
#define LIVE_DECIDE "decisions go to the running daemon; an attempt in a record never resumes"
#define LIVE_SWITCH "there is no healing here to turn on or off; switch the running daemon"
#define LIVE_WL_GET "the record holds no whitelist; the running daemon serves the live one"
#define LIVE_WL_PUT "the whitelist is edited through the running daemon's API"
#define LIVE_WL_TEST \
	"vetting judges this host now, through the running daemon (or healer whitelist test)"

const Route api_routes[] = {
	{"GET", "/", AUTH_OPEN, get_index, false, NULL, NULL},
	{"GET", "/dashboard.js", AUTH_OPEN, get_js, false, NULL, NULL},
	{"GET", "/dashboard.css", AUTH_OPEN, get_css, false, NULL, NULL},
	{"GET", "/healthz", AUTH_OPEN, get_healthz, false, NULL, NULL},
	{"GET", "/metrics", AUTH_OPEN, get_metrics, false, NULL, LIVE_METRICS},
	{"GET", "/api/auto-healer/status", AUTH_READ, get_status, false, NULL, NULL},
	{"GET", "/api/auto-healer/history", AUTH_READ, get_history, false, NULL, NULL},
	{"GET", "/api/auto-healer/statistics", AUTH_READ, get_statistics, false, NULL, NULL},
	{"GET", "/api/auto-healer/attempts/{}", AUTH_READ, get_attempt, false, NULL, NULL},
	{"POST", "/api/auto-healer/heal", AUTH_WRITE, post_heal, true, "application/json",
	 LIVE_HEAL},
	{"POST", "/api/test/inject-error", AUTH_WRITE, post_inject, true, "application/json",
	 LIVE_INJECT},
	{"POST", "/api/auto-healer/attempts/{}/approve", AUTH_WRITE, post_approve, false, NULL,
	 LIVE_DECIDE},
	{"POST", "/api/auto-healer/attempts/{}/reject", AUTH_WRITE, post_reject, false, NULL,
	 LIVE_DECIDE},
	{"POST", "/api/auto-healer/enable", AUTH_WRITE, post_enable, false, NULL, LIVE_SWITCH},
	{"POST", "/api/auto-healer/disable", AUTH_WRITE, post_disable, false, NULL, LIVE_SWITCH},
	{"GET", "/api/whitelist", AUTH_READ, get_whitelist, false, NULL, LIVE_WL_GET},
	{"PUT", "/api/whitelist", AUTH_WRITE, put_whitelist, true, "text/plain", LIVE_WL_PUT},
	{"POST", "/api/whitelist/test", AUTH_WRITE, post_whitelist_test, true, "application/json",
	 LIVE_WL_TEST},
};
const size_t api_n_routes = ELEMENTSOF(api_routes);
