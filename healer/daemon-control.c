/* SPDX-License-Identifier: MIT */
/*
 * The daemon's controls for the API: status, reports (manual heals and
 * injected test errors), waiting for outcomes, decisions, the enable switch
 * and the whitelist. Everything runs on the loop; nothing here blocks on
 * anything but the local disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/text.h"
#include "healer/daemon-internal.h"
#include "healer/embedded.h"
#include "healer/log.h"
#include "healer/version.h"
#include "journal/journal.h"

/* How long an injected entry may take to come back through the journal. */
#define INJECT_READBACK_USEC (5 * USEC_PER_SEC)
#define WAITERS_MAX	     1024 /* injections and waits at once */

typedef enum WaitKind { WAIT_INJECT, WAIT_ATTEMPT, WAIT_CHECK } WaitKind;

struct DaemonWaiter {
	Daemon *d;
	DaemonWaiter *next;
	WaitKind kind;
	bool cancelled; /* nobody listens; an injection still happens */
	bool resolved;	/* an injection read back in the current batch */
	/* WAIT_INJECT */
	char nonce[33];
	char *service, *message;
	int priority;
	uint64_t timestamp_usec;
	int64_t incident_id, attempt_id;
	sd_event_source *timer;
	daemon_injected_fn injected;
	/* WAIT_ATTEMPT */
	daemon_finished_fn finished;
	/* WAIT_CHECK */
	ChkRun *chk;
	daemon_checked_fn checked;
	void *userdata;
};

static const Config *dcfg(const Daemon *d)
{
	return settings_config(d->settings);
}

sd_event *daemon_event(Daemon *d)
{
	return d->event;
}

Settings *daemon_settings(Daemon *d)
{
	return d->settings;
}

Store *daemon_store(Daemon *d)
{
	return d->store;
}

Metrics *daemon_metrics(Daemon *d)
{
	return d->metrics;
}

const char *daemon_state_dir(Daemon *d)
{
	return d->state_dir;
}

bool daemon_enabled(Daemon *d)
{
	return d->enabled_override >= 0 ? d->enabled_override : dcfg(d)->enabled;
}

/* ---- status ---- */

static void add_str(cJSON *o, const char *k, const char *v)
{
	cJSON_AddItemToObject(o, k, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

cJSON *daemon_status_json(Daemon *d)
{
	const Config *c = dcfg(d);
	const LlmClientOptions *lo = settings_client_options(d->settings);
	cJSON *o = cJSON_CreateObject(), *j;
	JrReader *r = d->follower ? fl_reader(d->follower) : NULL;
	const char *cursor = r ? jr_last_cursor(r) : NULL;
	char src[300];

	if (!o)
		return NULL;
	cJSON_AddBoolToObject(o, "enabled", daemon_enabled(d));
	cJSON_AddBoolToObject(o, "auto_execute", c->auto_execute);
	cJSON_AddBoolToObject(o, "dry_run", c->dry_run);
	cJSON_AddBoolToObject(o, "monitoring", d->follower && !d->stopping);
	cJSON_AddNumberToObject(o, "max_attempts", (double)c->max_attempts);
	add_str(o, "provider", lo && lo->endpoint.kind ? cfg_provider_name(c->provider) : "rules");
	add_str(o, "model", lo && lo->endpoint.kind ? c->model : NULL);
	add_str(o, "key_missing", settings_key_missing(d->settings));
	add_str(o, "whitelist", settings_whitelist_source(d->settings));
	j = cJSON_AddObjectToObject(o, "journal");
	if (j) {
		(void)snprintf(src, sizeof src, "%s%s%s",
			       c->source == JR_SOURCE_SYSTEM	  ? "system"
			       : c->source == JR_SOURCE_DIRECTORY ? "directory:"
								  : "namespace:",
			       c->source_arg ? c->source_arg : "", "");
		add_str(j, "source", src);
		add_str(j, "cursor", cursor);
		cJSON_AddNumberToObject(j, "lag_seconds", (double)d->lag_usec / USEC_PER_SEC);
		cJSON_AddNumberToObject(j, "lines", (double)d->lines);
		cJSON_AddNumberToObject(j, "incidents", (double)d->incidents);
	}
	j = cJSON_AddObjectToObject(o, "unit_signals");
	if (j) {
		cJSON_AddBoolToObject(j, "watching", d->watch != NULL);
		cJSON_AddNumberToObject(j, "failures", (double)unit_watch_reported(d->watch));
		cJSON_AddNumberToObject(j, "refused", (double)unit_watch_refused(d->watch));
		cJSON_AddNumberToObject(j, "over_cap", (double)unit_watch_dropped(d->watch));
	}
	add_str(o, "circuit",
		d->analyzer && analyzer_breaker_open(d->analyzer) ? "open" : "closed");
	add_str(o, "commands_in", d->cgroup_parent ? "cgroups" : "process groups");
	cJSON_AddNumberToObject(o, "analyses_running", (double)d->n_analyzing);
	cJSON_AddNumberToObject(o, "analyses_queued", (double)d->n_queued);
	cJSON_AddNumberToObject(o, "queue_dropped", (double)d->queue_dropped);
	cJSON_AddNumberToObject(o, "incidents_dropped", (double)d->tracked_dropped);
	cJSON_AddNumberToObject(o, "unacted_not_stored", (double)d->unacted_dropped_total);
	cJSON_AddNumberToObject(o, "uptime_seconds",
				(double)((daemon_mono() - d->started_mono) / USEC_PER_SEC));
	add_str(o, "version", HEALER_VERSION);
	return o;
}

/* ---- reports ---- */

/* A unit name as systemd spells them: [A-Za-z0-9:_.@\-], not beginning with '.' or '-'. */
static bool unit_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || s[0] == '.' || s[0] == '-')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-\\") ==
	       n;
}

int daemon_report_check(const DaemonReport *r, char *why, size_t why_len)
{
	const char *m = r->message;

	if (r->service && !unit_name_ok(r->service))
		return snprintf(why, why_len,
				"\"service\" must be a unit name (letters, digits and :_.@-, up to "
				"255)"),
		       -EINVAL;
	if (!m || !*m)
		return snprintf(why, why_len, "\"message\" must not be empty"), -EINVAL;
	if (strlen(m) > DAEMON_REPORT_MESSAGE_MAX)
		return snprintf(why, why_len, "\"message\" is longer than %d bytes",
				DAEMON_REPORT_MESSAGE_MAX),
		       -EINVAL;
	if (r->priority < 0 || r->priority > 7)
		return snprintf(why, why_len, "\"level\" must be 0..7 or a syslog level name"),
		       -EINVAL;
	return 0;
}

/* The identifier a report's lines carry: the unit's name without its type. */
static char *report_identifier(const char *unit)
{
	const char *dot = strrchr(unit, '.');

	return strndup(unit, dot && dot != unit ? (size_t)(dot - unit) : strlen(unit));
}

/* Opens the incident of a report, inside the caller's transaction. */
static int open_report(Daemon *d, const char *service, const char *message, int priority,
		       uint64_t ts, bool injected, int64_t *ret_incident, int64_t *ret_attempt)
{
	_cleanup_free_ char *unit = service ? wl_unit_mangle(service) : NULL;
	_cleanup_free_ char *ident = unit ? report_identifier(unit) : NULL;
	_cleanup_free_ char *clean =
		text_clean(message, strlen(message), DAEMON_REPORT_MESSAGE_MAX, 0, NULL, NULL);
	StIncident in;

	if ((service && (!unit || !ident)) || !clean)
		return -ENOMEM;
	in = (StIncident){
		.fingerprint = jr_fingerprint(unit, ident, clean),
		.unit = unit,
		.identifier = ident,
		.source = injected ? "injected" : "manual",
		.source_class = pol_source_name(unit ? POL_SOURCE_SERVICE : POL_SOURCE_UNITLESS),
		.priority = priority,
		.message = clean,
		.first_seen_usec = ts ? ts : daemon_now(d),
		.last_seen_usec = ts ? ts : daemon_now(d),
		.count = 1,
	};
	return daemon_open_incident(d, &in, unit ? POL_SOURCE_SERVICE : POL_SOURCE_UNITLESS, true,
				    ret_incident, ret_attempt);
}

/* A report outside a journal batch: its own transaction, then its attempt is queued. */
static int submit(Daemon *d, const char *service, const char *message, int priority, uint64_t ts,
		  bool injected, int64_t *ret_incident, int64_t *ret_attempt)
{
	int r;

	if (d->stopping)
		return -ESHUTDOWN;
	r = st_batch_begin(d->store);
	if (r < 0)
		return r;
	r = open_report(d, service, message, priority, ts, injected, ret_incident, ret_attempt);
	if (r >= 0)
		r = st_batch_commit(d->store, NULL);
	if (r < 0) {
		st_batch_rollback(d->store);
		for (size_t i = 0; i < d->n_fresh; i++)
			daemon_attempt_gone(d, d->fresh[i]);
		d->n_fresh = 0;
		return r;
	}
	daemon_enqueue_fresh(d);
	return 0;
}

int daemon_submit(Daemon *d, const DaemonReport *rep, int64_t *ret_incident, int64_t *ret_attempt,
		  char *why, size_t why_len)
{
	int r = daemon_report_check(rep, why, why_len);

	if (r < 0)
		return r;
	r = submit(d, rep->service, rep->message, rep->priority, rep->timestamp_usec, rep->injected,
		   ret_incident, ret_attempt);
	if (r < 0)
		snprintf(why, why_len, "%s",
			 r == -ESHUTDOWN ? "Healer is stopping"
					 : "the incident could not be recorded");
	return r;
}

/* ---- waiters ---- */

static size_t n_waiters(const Daemon *d)
{
	size_t n = 0;

	for (const DaemonWaiter *w = d->waiters; w; w = w->next)
		n++;
	return n;
}

static void waiter_unlink(DaemonWaiter *w)
{
	for (DaemonWaiter **p = &w->d->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	sd_event_source_disable_unref(w->timer);
	chk_run_cancel(w->chk);
	free(w->service);
	free(w->message);
	free(w);
}

static void inject_answer(DaemonWaiter *w, int r, const char *via)
{
	if (!w->cancelled && w->injected)
		w->injected(r, w->incident_id, w->attempt_id, via, w->userdata);
	waiter_unlink(w);
}

/* The entry did not come back in time: the incident is opened directly. */
static int on_inject_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	DaemonWaiter *w = userdata;
	int r;

	(void)s;
	(void)usec;
	log_msg(LOG_WARNING, "An injected test error was not read back from the journal within "
			     "5s; opening its incident directly");
	r = submit(w->d, w->service, w->message, w->priority, w->timestamp_usec, true,
		   &w->incident_id, &w->attempt_id);
	inject_answer(w, r, "direct");
	return 0;
}

int daemon_inject(Daemon *d, const DaemonReport *rep, daemon_injected_fn done, void *userdata,
		  DaemonWaiter **ret, int64_t *ret_incident, int64_t *ret_attempt)
{
	_cleanup_free_ char *unit = NULL, *ident = NULL;
	unsigned char raw[16];
	char sock[256], prio[4];
	DaemonWaiter *w;
	int r;

	*ret = NULL;
	if (d->stopping)
		return -ESHUTDOWN;
	if (n_waiters(d) >= WAITERS_MAX)
		return -EBUSY;
	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		return -EIO;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	*w = (DaemonWaiter){.d = d,
			    .kind = WAIT_INJECT,
			    .priority = rep->priority,
			    .timestamp_usec = rep->timestamp_usec,
			    .injected = done,
			    .userdata = userdata};
	for (size_t i = 0; i < sizeof raw; i++)
		(void)snprintf(w->nonce + 2 * i, 3, "%02x", raw[i]);
	w->service = rep->service ? strdup(rep->service) : NULL;
	w->message = strdup(rep->message);
	w->next = d->waiters;
	d->waiters = w;
	if ((rep->service && !w->service) || !w->message) {
		waiter_unlink(w);
		return -ENOMEM;
	}
	unit = rep->service ? wl_unit_mangle(rep->service) : NULL;
	ident = unit ? report_identifier(unit) : strdup("healer-test");
	(void)snprintf(prio, sizeof prio, "%d", rep->priority);
	r = jr_socket_path(dcfg(d)->source, dcfg(d)->source_arg, sock, sizeof sock);
	if (r >= 0 && ident) {
		JrField f[] = {
			{"MESSAGE", rep->message},	{"PRIORITY", prio},
			{"SYSLOG_IDENTIFIER", ident},	{"HEALER_INJECTED", "1"},
			{"HEALER_INJECT_ID", w->nonce}, {"HEALER_CLAIMED_UNIT", unit ? unit : ""},
		};

		r = jr_send(sock, f, unit ? ELEMENTSOF(f) : ELEMENTSOF(f) - 1);
	}
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &w->timer, CLOCK_MONOTONIC,
					       INJECT_READBACK_USEC, USEC_PER_MSEC,
					       on_inject_timeout, w);
	if (r < 0) {
		/* No journal to write to: straight in, answered now. */
		r = submit(d, w->service, w->message, w->priority, w->timestamp_usec, true,
			   ret_incident, ret_attempt);
		waiter_unlink(w);
		return r < 0 ? r : 1;
	}
	*ret = w;
	return 0;
}

void daemon_own_entry(const JrEntry *e, void *userdata)
{
	Daemon *d = userdata;
	DaemonWaiter *w;
	int r;

	/* Only this process's entries (_PID, set by journald) can be injections. */
	if (e->pid != getpid() || !e->inject_id || d->batch_error)
		return;
	for (w = d->waiters; w; w = w->next)
		if (w->kind == WAIT_INJECT && !w->resolved && strcmp(w->nonce, e->inject_id) == 0)
			break;
	if (!w)
		return;
	r = open_report(d, w->service, w->message, w->priority,
			w->timestamp_usec ? w->timestamp_usec : e->realtime_usec, true,
			&w->incident_id, &w->attempt_id);
	if (r < 0) {
		d->batch_error = r;
		log_errno(LOG_ERR, r, "Failed to record an injected error: %s",
			  st_errmsg(d->store));
		return;
	}
	w->resolved = true;
	w->timer = sd_event_source_disable_unref(w->timer);
}

void daemon_waiters_batch_done(Daemon *d)
{
	for (DaemonWaiter *w = d->waiters, *next; w; w = next) {
		next = w->next;
		if (w->kind == WAIT_INJECT && w->resolved)
			inject_answer(w, 0, "journal");
	}
}

int daemon_wait_attempt(Daemon *d, int64_t attempt_id, daemon_finished_fn done, void *userdata,
			DaemonWaiter **ret)
{
	DaemonWaiter *w;
	Attempt *a = d->attempts;

	*ret = NULL;
	while (a && a->id != attempt_id)
		a = a->next;
	if (!a)
		return -ENOENT; /* already final (or never was): read it from the store */
	if (n_waiters(d) >= WAITERS_MAX)
		return -EBUSY;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	*w = (DaemonWaiter){.d = d,
			    .kind = WAIT_ATTEMPT,
			    .attempt_id = attempt_id,
			    .finished = done,
			    .userdata = userdata,
			    .next = d->waiters};
	d->waiters = w;
	*ret = w;
	return 0;
}

void daemon_waiters_attempt_done(Daemon *d, int64_t id)
{
	for (DaemonWaiter *w = d->waiters, *next; w; w = next) {
		next = w->next;
		if (w->kind != WAIT_ATTEMPT || w->attempt_id != id)
			continue;
		if (!w->cancelled && w->finished)
			w->finished(0, id, w->userdata);
		waiter_unlink(w);
	}
}

static void on_plan_checked(const ChkResult *res, size_t n, bool all_hold, void *userdata)
{
	DaemonWaiter *w = userdata;

	(void)all_hold;
	w->chk = NULL;
	if (!w->cancelled && w->checked)
		w->checked(res, n, w->userdata);
	waiter_unlink(w);
}

int daemon_check_plan(Daemon *d, const Plan *plan, const char *evidence_unit,
		      daemon_checked_fn done, void *userdata, DaemonWaiter **ret)
{
	_cleanup_free_ WlCheck *all = NULL;
	ChkOptions o = {
		.bus = d->bus,
		.wl = settings_whitelist(d->settings),
		.evidence_unit = evidence_unit,
	};
	size_t n = 0;
	DaemonWaiter *w;
	int r;

	*ret = NULL;
	if (n_waiters(d) >= WAITERS_MAX)
		return -EBUSY;
	for (size_t i = 0; plan->accepted && i < plan->n_commands; i++)
		n += plan->commands[i]->n_requires;
	if (n == 0)
		return -ENODATA;
	all = calloc(n, sizeof *all);
	w = calloc(1, sizeof *w);
	if (!all || !w) {
		free(w);
		return -ENOMEM;
	}
	n = 0;
	for (size_t i = 0; i < plan->n_commands; i++)
		for (size_t k = 0; k < plan->commands[i]->n_requires; k++)
	all[n++] = plan->commands[i]->requires[k]; /* chk_run copies them */
	*w = (DaemonWaiter){.d = d,
			    .kind = WAIT_CHECK,
			    .checked = done,
			    .userdata = userdata,
			    .next = d->waiters};
	d->waiters = w;
	r = chk_run(d->event, all, n, &o, on_plan_checked, w, &w->chk);
	if (r < 0) {
		waiter_unlink(w);
		return r;
	}
	*ret = w;
	return 0;
}

void daemon_waiter_cancel(DaemonWaiter *w)
{
	if (!w)
		return;
	/* An injection still opens its incident; only the answer is dropped. */
	if (w->kind == WAIT_INJECT && !w->cancelled && w->timer) {
		w->cancelled = true;
		return;
	}
	waiter_unlink(w);
}

void daemon_waiters_free(Daemon *d)
{
	while (d->waiters) {
		DaemonWaiter *w = d->waiters;

		if (!w->cancelled) {
			if (w->kind == WAIT_INJECT && w->injected)
				w->injected(-ECANCELED, 0, 0, NULL, w->userdata);
			else if (w->kind == WAIT_ATTEMPT && w->finished)
				w->finished(-ECANCELED, w->attempt_id, w->userdata);
			else if (w->kind == WAIT_CHECK && w->checked)
				w->checked(NULL, 0, w->userdata);
		}
		waiter_unlink(w);
	}
}

/* ---- decisions and the switch ---- */

int daemon_decide(Daemon *d, int64_t attempt_id, bool approve, const char *actor)
{
	Attempt *a = d->attempts;
	StAttempt sa = {0};
	int r;

	while (a && a->id != attempt_id)
		a = a->next;
	if (!a) {
		r = st_attempt_get(d->store, attempt_id, &sa);
		st_attempt_done(&sa);
		return r == -ENOENT ? -ENOENT : -EBUSY;
	}
	if (a->state != AT_AWAITING_APPROVAL)
		return -EBUSY;
	attempt_decide(a, approve, actor);
	return 0;
}

int daemon_set_enabled(Daemon *d, bool enabled, const char *actor)
{
	int r = st_flag_set(d->store, "enabled", enabled, daemon_now(d));

	if (r < 0)
		return r;
	(void)st_audit(d->store, actor, enabled ? "enable" : "disable", NULL, daemon_now(d));
	d->enabled_override = enabled;
	daemon_apply_policy(d);
	log_msg(LOG_NOTICE, "Automatic healing %s by %s", enabled ? "enabled" : "disabled", actor);
	if (enabled)
		daemon_kick(d);
	return 0;
}

/* ---- the whitelist ---- */

/* Two independent 64-bit FNV-1a hashes of the text: an etag, not a secret. */
static char *etag_of(const char *text, size_t len)
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
	char *e;

	for (size_t i = 0; i < len; i++) {
		a = (a ^ (unsigned char)text[i]) * 0x100000001b3ULL;
		b = (b ^ (unsigned char)text[len - 1 - i]) * 0x100000001b3ULL;
	}
	if (asprintf(&e, "\"%016llx%016llx\"", (unsigned long long)a, (unsigned long long)b) < 0)
		return NULL;
	return e;
}

/* The file a put writes, or NULL when the built-in example is in use. */
static const char *whitelist_file(Daemon *d)
{
	const char *src = settings_whitelist_source(d->settings);

	return src && src[0] == '/' ? src : NULL;
}

int daemon_whitelist_get(Daemon *d, char **ret_text, size_t *ret_len, char **ret_etag)
{
	const char *path = whitelist_file(d);
	char *text = NULL, why[256];
	size_t len = 0;
	int r;

	if (path) {
		r = util_read_trusted_file(path, WL_MAX_FILE_BYTES, &text, &len, why, sizeof why);
		if (r < 0)
			return r;
	} else {
		text = strndup(embedded_whitelist_conf, embedded_whitelist_conf_len);
		len = embedded_whitelist_conf_len;
		if (!text)
			return -ENOMEM;
	}
	*ret_etag = etag_of(text, len);
	if (!*ret_etag) {
		free(text);
		return -ENOMEM;
	}
	*ret_text = text;
	*ret_len = len;
	return 0;
}

/* Writes text to path through a temp file in its folder: all or nothing. */
static int write_atomic(const char *path, const char *text, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL, *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	int fd, dfd, r = 0;

	if (!slash)
		return -ENOMEM;
	*(slash == dir ? slash + 1 : slash) = '\0';
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t at = 0; at < len && r == 0;) {
		ssize_t n = write(fd, text + at, len - at);

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			at += (size_t)n;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

int daemon_whitelist_put(Daemon *d, const char *text, size_t len, const char *if_match,
			 const char *actor, char **ret_etag, char **ret_errors)
{
	_cleanup_free_ char *old = NULL, *old_etag = NULL, *bak = NULL, *detail = NULL;
	_cleanup_(wl_freep) Whitelist *wl = NULL;
	/* A copy: the reload below frees the settings the live name lives in. */
	_cleanup_free_ char *path = whitelist_file(d) ? strdup(whitelist_file(d)) : NULL;
	size_t old_len = 0;
	struct stat st;
	int r;

	*ret_etag = NULL;
	*ret_errors = NULL;
	if (!path && whitelist_file(d))
		return -ENOMEM;
	if (!path) {
		*ret_errors = strdup("the built-in example whitelist is in use; create the file "
				     "[healer] whitelist names (" CFG_DEFAULT_WHITELIST
				     ") to edit it here");
		return -EROFS;
	}
	/* Checked as `healer whitelist check` checks the file: the same parser, the same name. */
	r = wl_parse(path, text, len, &wl, ret_errors);
	if (r < 0)
		return r;
	r = daemon_whitelist_get(d, &old, &old_len, &old_etag);
	if (r < 0)
		return r;
	if (!if_match || strcmp(if_match, old_etag) != 0)
		return -ESTALE;
	if (stat(path, &st) < 0)
		return -errno;
	if (asprintf(&bak, "%s.bak", path) < 0)
		return -ENOMEM;
	r = write_atomic(bak, old, old_len, st.st_mode & 0644);
	if (r >= 0)
		r = write_atomic(path, text, len, st.st_mode & 0644);
	if (r < 0)
		return log_errno(LOG_ERR, r, "Failed to write %s: %m", path);
	r = daemon_reload(d, ret_errors);
	if (r < 0) {
		/* Something else in the settings is broken: the old text goes back. */
		int k = write_atomic(path, old, old_len, st.st_mode & 0644);

		if (k < 0)
			log_errno(LOG_ERR, k, "Failed to restore %s from %s: %m", path, bak);
		return r;
	}
	*ret_etag = etag_of(text, len);
	if (!*ret_etag)
		return -ENOMEM;
	if (asprintf(&detail, "%s: %s -> %s (%zu bytes)", path, old_etag, *ret_etag, len) >= 0)
		(void)st_audit(d->store, actor, "whitelist", detail, daemon_now(d));
	log_msg(LOG_NOTICE, "Whitelist %s replaced by %s", path, actor);
	return 0;
}
