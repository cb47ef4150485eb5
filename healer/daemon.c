/* SPDX-License-Identifier: MIT */
/*
 * The daemon's loop: journal intake (entries -> incidents -> attempts, one
 * transaction per batch with the cursor), the analysis queue, signals
 * (SIGHUP reload, SIGUSR1 cleared escalations, SIGTERM drain), sd_notify and the
 * watchdog. The attempts' state machine lives in attempt.c.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "healer/daemon-internal.h"
#include "healer/log.h"

#define CLEANUP_INTERVAL_USEC (6 * USEC_PER_HOUR)

uint64_t daemon_now(const Daemon *d)
{
	return daemon_replaying(d) ? d->clock : util_realtime_usec();
}

uint64_t daemon_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

void daemon_policy_config(const Config *c, PolicyConfig *ret)
{
	*ret = (PolicyConfig){
		.enabled = c->enabled,
		.act_on = c->act_on,
		.max_age_usec = c->max_age_usec,
		.max_attempts = (unsigned)c->max_attempts,
		.attempt_window_usec = c->attempt_window_usec,
		.cooldown_usec = c->cooldown_usec,
		.max_heals_per_hour = (unsigned)c->max_heals_per_hour,
		.escalate_after = (unsigned)c->escalate_after,
		.escalate_window_usec = c->escalate_window_usec,
		.max_tracked = DAEMON_TRACK_MAX,
	};
}

static const Config *dcfg(const Daemon *d)
{
	return settings_config(d->settings);
}

static void status(Daemon *d, const char *fmt, ...) _printf_(2, 3);
static void status(Daemon *d, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	(void)d;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	(void)sd_notifyf(0, "STATUS=%s", buf);
}

/* ---- open incidents, folded by fingerprint for dedupe_window ---- */

static Tracked *track_slot(Daemon *d, uint64_t fp)
{
	size_t mask = d->n_tracked_buckets - 1;
	uint64_t x = fp * 0x9e3779b97f4a7c15ULL;
	size_t h = (size_t)(x ^ (x >> 29)) & mask;

	while (d->tracked[h].used && d->tracked[h].fingerprint != fp)
		h = (h + 1) & mask;
	return &d->tracked[h];
}

/*
 * Forgets incidents whose window has passed; when every slot is still in
 * use (a flood of distinct lines), forgets them all and counts them: a
 * later line then opens a new incident, which policy still limits. Never
 * blocks, never grows. False when it could not (out of memory): the table
 * is as full as before.
 */
static bool track_compact(Daemon *d, uint64_t now)
{
	size_t nb = d->n_tracked_buckets, kept = 0;
	Tracked *old = d->tracked, *fresh = calloc(nb, sizeof *fresh);

	if (!fresh)
		return false;
	d->tracked = fresh;
	for (size_t i = 0; i < nb; i++)
		if (old[i].used && now - old[i].first_seen_usec < dcfg(d)->window_usec &&
		    kept < DAEMON_TRACK_MAX / 2) {
			*track_slot(d, old[i].fingerprint) = old[i];
			kept++;
		} else if (old[i].used && now - old[i].first_seen_usec < dcfg(d)->window_usec) {
			d->tracked_dropped++;
			metrics_add(d->metrics, M_INCIDENTS_DROPPED, 1, "tracking-table-full",
				    NULL);
		}
	d->n_tracked = kept;
	free(old);
	return true;
}

/* ---- intake ---- */

static void fail_batch(Daemon *d, int r, const char *what)
{
	if (d->batch_error == 0)
		log_errno(LOG_ERR, r, "Failed to record %s: %s", what, st_errmsg(d->store));
	d->batch_error = r;
}

static int fresh_push(Daemon *d, Attempt *a)
{
	if (d->n_fresh == d->cap_fresh) {
		size_t nc = d->cap_fresh ? d->cap_fresh * 2 : 64;
		Attempt **n = realloc(d->fresh, nc * sizeof *n);

		if (!n)
			return -ENOMEM;
		d->fresh = n;
		d->cap_fresh = nc;
	}
	d->fresh[d->n_fresh++] = a;
	return 0;
}

/*
 * A new incident becomes an attempt: detected when policy admits it,
 * otherwise recorded as skipped with the reason. Queued attempts start only
 * after the batch has committed.
 */
static int open_attempt(Daemon *d, const StIncident *in, int64_t incident_id, PolSource src,
			bool vouched, int64_t *ret_attempt)
{
	PolIncident pi = {
		.fingerprint = in->fingerprint,
		.unit = in->unit,
		.source = src,
		.entry_usec = in->first_seen_usec,
		.vouched = vouched,
	};
	char why[512];
	int64_t id;
	Attempt *a;
	int r;

	if (ret_attempt)
		*ret_attempt = 0;
	if (!pol_admit(d->policy, &pi, daemon_now(d), why, sizeof why)) {
		metrics_add(d->metrics, M_ATTEMPTS, 1, at_state_name(AT_SKIPPED), NULL);
		replay_attempt_ended(d, REPLAY_POLICY, pol_refusal_kind(d->policy));
		return st_attempt_add(d->store, incident_id, AT_SKIPPED, why, daemon_now(d),
				      dcfg(d)->dry_run, ret_attempt);
	}
	r = st_attempt_add(d->store, incident_id, AT_DETECTED, "a new incident", daemon_now(d),
			   dcfg(d)->dry_run, &id);
	if (r < 0)
		return r;
	a = attempt_new(d, id, incident_id, in);
	if (!a)
		return -ENOMEM;
	a->source = src;
	a->vouched = vouched;
	pol_attempt_started(d->policy, in->fingerprint, in->unit, daemon_now(d));
	if (ret_attempt)
		*ret_attempt = id;
	r = fresh_push(d, a);
	/* A replay decides the attempt at this entry's time, before the next entry is read. */
	if (r >= 0 && daemon_replaying(d) && d->follower)
		fl_end_batch(d->follower);
	return r;
}

int daemon_open_incident(Daemon *d, const StIncident *in, PolSource src, bool vouched,
			 int64_t *ret_incident, int64_t *ret_attempt)
{
	int64_t id;
	int r = st_incident_add(d->store, in, &id);

	if (r < 0)
		return r;
	*ret_incident = id;
	d->incidents++;
	metrics_add(d->metrics, M_INCIDENTS, 1, in->source, NULL);
	return open_attempt(d, in, id, src, vouched, ret_attempt);
}

/*
 * Incidents from sources outside act_on can never become attempts, and
 * any local user can make them (a session, a user unit): each is recorded,
 * but at most DAEMON_UNACTED_PER_HOUR an hour per source, so that a stream
 * of distinct lines cannot fill the disk under the store. The rest are
 * counted (status, log) and not stored.
 */
static bool record_budget(Daemon *d, PolSource src, uint64_t now)
{
	if (dcfg(d)->act_on & (1u << src))
		return true;
	if (now - d->unacted_window[src] >= USEC_PER_HOUR) {
		if (d->unacted_dropped[src] > 0)
			log_msg(LOG_WARNING,
				"%llu lines from %s sources in the last hour were over the cap "
				"of %u recorded incidents and were not stored",
				(unsigned long long)d->unacted_dropped[src], pol_source_name(src),
				DAEMON_UNACTED_PER_HOUR);
		d->unacted_window[src] = now;
		d->unacted_n[src] = 0;
		d->unacted_dropped[src] = 0;
	}
	if (d->unacted_n[src] < DAEMON_UNACTED_PER_HOUR) {
		d->unacted_n[src]++;
		return true;
	}
	d->unacted_dropped[src]++;
	d->unacted_dropped_total++;
	return false;
}

/* A replay's clock: the newest entry read (the journal's order may step back a little). */
static void replay_tick(Daemon *d, uint64_t realtime_usec)
{
	if (realtime_usec > d->clock)
		d->clock = realtime_usec;
	if (!d->tally.first_usec || realtime_usec < d->tally.first_usec)
		d->tally.first_usec = realtime_usec;
	if (realtime_usec > d->tally.last_usec)
		d->tally.last_usec = realtime_usec;
}

/*
 * Whether a report at realtime `at` folds into t's incident: within
 * dedupe_window of its first report. An incident the manager's signal
 * opened also takes reports a little before it: PID 1 writes its journal
 * line before it changes the unit's state and sends the signal, and
 * journald stamps the line when it arrives, so the line of that very
 * failure may carry an earlier time than the signal.
 */
static bool track_folds(const Daemon *d, const Tracked *t, uint64_t at, bool from_manager)
{
	if (!t->used)
		return false;
	/* Either may come first: the signal's time can also precede the line's. */
	if (at < t->first_seen_usec)
		return (t->from_manager || from_manager) &&
		       t->first_seen_usec - at <= DAEMON_SIGNAL_EARLY_USEC;
	return at - t->first_seen_usec < dcfg(d)->window_usec;
}

/*
 * Whether a report folding into t is the second word of a failure already
 * reported the other way (the manager's signal, then PID 1's line about
 * the same failure, or the reverse). That echo is no new failure: it must
 * not count as a recurrence of an attempt that may have healed the unit
 * before journald handed the line over. Pairing is by count, so a signal
 * over the rate cap only delays the next note, never loses one.
 */
static bool track_echo(Tracked *t, bool from_manager)
{
	uint8_t *mine = from_manager ? &t->signals_unpaired : &t->lines_unpaired;
	uint8_t *theirs = from_manager ? &t->lines_unpaired : &t->signals_unpaired;

	if (*theirs > 0) {
		(*theirs)--;
		return true;
	}
	if (*mine < UINT8_MAX)
		(*mine)++;
	return false;
}

/*
 * One report of an error, inside a batch: a journal entry, or the
 * manager's word that a service failed, put as PID 1 would write it. Folds
 * into the open incident of its fingerprint, or opens one (act_on's record
 * budget, policy, then analysis once the batch commits).
 */
static void intake(Daemon *d, const JrEntry *e, const char *origin)
{
	uint64_t fp = jr_fingerprint(e->unit, e->identifier, e->message), now = daemon_now(d);
	bool from_manager = strcmp(origin, DAEMON_ORIGIN_MANAGER) == 0;
	PolSource src;
	StIncident in;
	Tracked *t;
	int64_t id;
	int r;

	t = track_slot(d, fp);
	if (track_folds(d, t, e->realtime_usec, from_manager)) {
		bool echo = track_echo(t, from_manager);

		if (!echo)
			daemon_note_recurrence(d, fp, e->realtime_usec);
		r = st_incident_touch(d->store, t->incident_id, 1, e->realtime_usec);
		if (r < 0)
			fail_batch(d, r, "a repeated line");
		return;
	}
	daemon_note_recurrence(d, fp, e->realtime_usec);
	src = pol_classify(e);
	if (!record_budget(d, src, now))
		return;
	in = (StIncident){
		.fingerprint = fp,
		.unit = e->unit,
		.identifier = e->identifier,
		.source = origin,
		.source_class = pol_source_name(src),
		.priority = e->priority,
		.message = e->message,
		.first_seen_usec = e->realtime_usec,
		.last_seen_usec = e->realtime_usec,
		.count = 1,
		.first_cursor = e->cursor,
	};
	r = daemon_open_incident(d, &in, src, false, &id, NULL);
	if (r < 0) {
		fail_batch(d, r, "an incident");
		return;
	}
	if (!t->used && d->n_tracked + 1 > DAEMON_TRACK_MAX) {
		/*
		 * A table that cannot be compacted stays at its maximum: the new
		 * incident is not remembered for folding (counted), and the probe
		 * in track_slot() always finds a free slot.
		 */
		if (!track_compact(d, now)) {
			d->tracked_dropped++;
			metrics_add(d->metrics, M_INCIDENTS_DROPPED, 1, "tracking-table-full",
				    NULL);
			return;
		}
		t = track_slot(d, fp);
	}
	if (!t->used)
		d->n_tracked++;
	*t = (Tracked){.fingerprint = fp,
		       .incident_id = id,
		       .first_seen_usec = e->realtime_usec,
		       .from_manager = from_manager,
		       .signals_unpaired = from_manager,
		       .lines_unpaired = !from_manager,
		       .used = true};
}

static void on_entry(const JrEntry *e, void *userdata)
{
	Daemon *d = userdata;
	uint64_t now;

	if (d->batch_error)
		return;
	if (daemon_replaying(d))
		replay_tick(d, e->realtime_usec);
	now = daemon_now(d);
	d->lines++;
	d->lag_usec = now > e->realtime_usec ? now - e->realtime_usec : 0;
	metrics_add(d->metrics, M_JOURNAL_ENTRIES, 1, NULL, NULL);
	metrics_set(d->metrics, M_JOURNAL_LAG, (double)d->lag_usec / USEC_PER_SEC, NULL, NULL);
	intake(d, e, DAEMON_ORIGIN_JOURNAL);
}

static void on_batch_begin(void *userdata)
{
	Daemon *d = userdata;
	int r = st_batch_begin(d->store);

	d->batch_error = r < 0 ? r : 0;
	if (r < 0)
		log_errno(LOG_ERR, r, "Failed to begin a batch: %s", st_errmsg(d->store));
}

/*
 * The batch's incidents and its cursor commit together; only then do its
 * attempts start. When the commit fails nothing of the batch happened: the
 * daemon stops (exit 1, systemd restarts it) and reads those entries again.
 */
static int on_batch_end(const char *cursor, void *userdata)
{
	Daemon *d = userdata;
	int r = d->batch_error;

	if (r >= 0)
		r = st_batch_commit(d->store, cursor);
	if (r < 0) {
		st_batch_rollback(d->store);
		log_errno(LOG_ERR, r,
			  "Failed to commit a journal batch (%s); stopping so that a "
			  "restart reads it again",
			  st_errmsg(d->store));
		for (size_t i = 0; i < d->n_fresh; i++)
			daemon_attempt_gone(d, d->fresh[i]);
		d->n_fresh = 0;
		d->exit_code = 1;
		(void)sd_event_exit(d->event, 1);
		return r;
	}
	daemon_enqueue_fresh(d);
	daemon_waiters_batch_done(d);
	replay_pace(d);
	return 0;
}

/*
 * The manager says a service failed (unit-watch.c checked that the manager
 * said it, and capped it): the incident PID 1's line "X.service: Failed
 * with result 'R'." would open, put exactly as PID 1 words it, so that the
 * line, which journald hands over a few hundred ms later, folds into it.
 * Its own batch, committed (or failing) as a journal batch does.
 */
static void on_unit_failed(const char *unit, const char *result, uint64_t realtime_usec,
			   void *userdata)
{
	Daemon *d = userdata;
	char message[512], name[300], ident[] = "systemd";
	JrEntry e;

	/* watch_units is read at start only (d->watch exists when it was yes). */
	if (d->stopping)
		return;
	if (d->opts.own_unit && strcmp(unit, d->opts.own_unit) == 0)
		return;
	if (util_snprintf(name, sizeof name, "%s", unit) < 0 ||
	    util_snprintf(message, sizeof message, "%s: Failed with result '%s'.", unit, result) <
		    0)
		return;
	e = (JrEntry){
		.message = message,
		.message_len = strlen(message),
		.identifier = ident,
		.priority = JR_PID1_PRIORITY,
		.realtime_usec = realtime_usec,
		.pid = 1,
		.uid = 0,
		.unit = name,
	};
	on_batch_begin(d);
	if (d->batch_error == 0)
		intake(d, &e, DAEMON_ORIGIN_MANAGER);
	(void)on_batch_end(NULL, d);
}

void daemon_enqueue_fresh(Daemon *d)
{
	for (size_t i = 0; i < d->n_fresh; i++) {
		d->fresh[i]->queued = true;
		d->n_queued++;
	}
	d->n_fresh = 0;
	/* The queue is bounded: the oldest waiting attempt gives way, counted. */
	for (Attempt *a = d->attempts, *next; a && d->n_queued > dcfg(d)->max_queued; a = next) {
		next = a->next;
		if (!a->queued)
			continue;
		a->queued = false;
		d->n_queued--;
		d->queue_dropped++;
		metrics_add(d->metrics, M_INCIDENTS_DROPPED, 1, "queue-full", NULL);
		attempt_finish(a, AT_SKIPPED, "the analysis queue was full (max_queued = %llu)",
			       (unsigned long long)dcfg(d)->max_queued);
	}
	daemon_kick(d);
}

/* ---- the queue ---- */

static int on_kick(sd_event_source *s, void *userdata)
{
	Daemon *d = userdata;

	(void)s;
	while (!d->stopping && d->n_queued > 0 &&
	       d->n_analyzing < dcfg(d)->max_concurrent_analyses) {
		Attempt *a = d->attempts;

		while (a && !a->queued)
			a = a->next;
		if (!a)
			break;
		a->queued = false;
		d->n_queued--;
		d->n_analyzing++;
		attempt_analyze(a);
	}
	return 0;
}

void daemon_kick(Daemon *d)
{
	if (d->kick && !d->stopping)
		(void)sd_event_source_set_enabled(d->kick, SD_EVENT_ONESHOT);
}

const Attempt *daemon_unit_holder(Daemon *d, const Attempt *self, const char *unit)
{
	for (Attempt *a = d->attempts; a; a = a->next)
		if (a != self && a->acting && a->unit && strcmp(a->unit, unit) == 0)
			return a;
	return NULL;
}

static Attempt *first_waiting(Daemon *d, const char *unit)
{
	for (Attempt *w = d->attempts; w; w = w->next)
		if (w->waiting_unit && w->unit && strcmp(w->unit, unit) == 0)
			return w;
	return NULL;
}

static void maybe_exit(Daemon *d)
{
	for (Attempt *a = d->attempts; a; a = a->next)
		if (a->child)
			return;
	if (d->stopping)
		(void)sd_event_exit(d->event, d->exit_code);
}

/*
 * Wakes the attempts waiting for unit, oldest first, until one of them acts
 * on it or none waits. A woken attempt may end at once without acting (the
 * budget is spent, a cooldown runs, healing was switched off): the next one
 * is woken then, so that no waiter is left behind. The list is searched
 * afresh each time, since a woken attempt may end and be freed.
 */
static void wake_unit_waiters(Daemon *d, const char *unit)
{
	while (!d->stopping && !daemon_unit_holder(d, NULL, unit)) {
		Attempt *w = first_waiting(d, unit);

		if (!w)
			return;
		attempt_unit_free(w);
	}
}

void daemon_attempt_gone(Daemon *d, Attempt *a)
{
	/* Holding its unit or waiting for it: the next waiter may go now. */
	_cleanup_free_ char *unit = a->acting || a->waiting_unit ? TAKE_PTR(a->unit) : NULL;
	int64_t id = a->id;

	if (a->queued && d->n_queued > 0)
		d->n_queued--;
	if (a->prev == a) {
		d->attempts = NULL;
	} else {
		if (d->attempts == a)
			d->attempts = a->next;
		else
			a->prev->next = a->next;
		if (a->next)
			a->next->prev = a->prev;
		else if (d->attempts)
			d->attempts->prev = a->prev;
	}
	attempt_free(a);
	daemon_waiters_attempt_done(d, id);
	if (d->stopping) {
		maybe_exit(d);
		return;
	}
	if (unit)
		wake_unit_waiters(d, unit);
	replay_pace(d);
}

/* ---- escalations, reload, shutdown ---- */

void daemon_escalated(Daemon *d, uint64_t fingerprint, const char *unit, const char *reason)
{
	/* Exactly what policy marked: the fingerprint, the unit, or both. */
	uint64_t fp = pol_is_escalated(d->policy, fingerprint, NULL) ? fingerprint : 0;
	const char *u = unit && pol_is_escalated(d->policy, 0, unit) ? unit : NULL;
	StEscalation *n;
	int64_t id;

	if (st_escalation_add(d->store, fp, u, reason, daemon_now(d), &id) < 0) {
		log_msg(LOG_ERR, "Failed to store an escalation: %s", st_errmsg(d->store));
		return;
	}
	n = realloc(d->esc, (d->n_esc + 1) * sizeof *n);
	if (!n)
		return;
	d->esc = n;
	d->esc[d->n_esc] =
		(StEscalation){.id = id, .fingerprint = fp, .unit = u ? strdup(u) : NULL};
	d->n_esc++;
}

/*
 * An administrator cleared escalations in the store (healer clear ID):
 * policy forgets those marks and the failures behind them.
 */
static void sync_escalations(Daemon *d)
{
	StEscalation *v = NULL;
	size_t n = 0, kept = 0;

	if (st_escalations(d->store, &v, &n) < 0) {
		log_msg(LOG_ERR, "Failed to read escalations: %s", st_errmsg(d->store));
		return;
	}
	for (size_t i = 0; i < d->n_esc; i++) {
		bool still = false;

		for (size_t k = 0; k < n && !still; k++)
			still = v[k].id == d->esc[i].id;
		if (still) {
			d->esc[kept++] = d->esc[i];
			continue;
		}
		pol_clear_escalation(d->policy, d->esc[i].fingerprint, d->esc[i].unit);
		log_msg(LOG_INFO, "Escalation %lld cleared by an administrator",
			(long long)d->esc[i].id);
		free(d->esc[i].unit);
		free(d->esc[i].reason);
	}
	d->n_esc = kept;
	st_escalations_free(v, n);
}

static int on_sigusr1(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)s;
	(void)si;
	sync_escalations(userdata);
	return 0;
}

/*
 * SIGHUP: config, whitelist and rules are loaded anew; a broken file is
 * refused with its file:line errors and the old settings stay live.
 * Attempts in flight keep the settings they started with until they
 * would act: then the live ones decide (attempt.c, adopt_live_settings).
 */
int daemon_reload(Daemon *d, char **ret_errors)
{
	_cleanup_(settings_unrefp) Settings *s = NULL;
	_cleanup_free_ char *errors = NULL, *fixed = NULL;
	Analyzer *an = NULL;
	int r;

	(void)sd_notify(0, "RELOADING=1");
	r = settings_load(&d->opts.settings, &s, &errors);
	if (r < 0) {
		log_msg(LOG_ERR, "Reload refused, the old settings stay live:");
		for (char *l = errors, *nl; l && *l; l = nl) {
			nl = strchr(l, '\n');
			if (nl)
				*nl = '\0';
			log_msg(LOG_ERR, "  %s", l);
			if (nl)
				*nl++ = '\n';
		}
		(void)sd_notify(0, "READY=1");
		if (ret_errors)
			*ret_errors = TAKE_PTR(errors);
		return r;
	}
	r = analyzer_new(d->event, s, &an);
	if (r < 0) {
		log_errno(LOG_ERR, r, "Reload refused: %m");
		(void)sd_notify(0, "READY=1");
		return r;
	}
	fixed = cfg_unreloadable_changes(dcfg(d), settings_config(s));
	if (fixed)
		log_msg(LOG_WARNING, "Reload: %s changed; this takes a restart, ignoring", fixed);
	analyzer_unref(d->analyzer);
	d->analyzer = an;
	settings_unref(d->settings);
	d->settings = TAKE_PTR(s);
	daemon_apply_policy(d);
	log_msg(LOG_INFO, "Reloaded: whitelist %s, provider %s",
		settings_whitelist_source(d->settings), cfg_provider_name(dcfg(d)->provider));
	(void)sd_notify(0, "READY=1");
	daemon_kick(d);
	return 0;
}

void daemon_apply_policy(Daemon *d)
{
	PolicyConfig pc;

	daemon_policy_config(dcfg(d), &pc);
	if (d->enabled_override >= 0)
		pc.enabled = d->enabled_override;
	pol_set_config(d->policy, &pc);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)s;
	(void)si;
	(void)daemon_reload(userdata, NULL);
	return 0;
}

/*
 * SIGTERM: no new work; analyses and checks stop, a command that runs
 * finishes (up to its timeout), attempts are stored as interrupted (those
 * awaiting approval stay so), then the loop ends with 0.
 */
static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	Daemon *d = userdata;
	bool busy = false;

	(void)s;
	if (d->stopping)
		return 0;
	log_msg(LOG_INFO, "Stopping (signal %u)", si->ssi_signo);
	(void)sd_notify(0, "STOPPING=1");
	d->stopping = true;
	if (d->follower)
		fl_pause(d->follower);
	for (Attempt *a = d->attempts, *next; a; a = next) {
		next = a->next;
		busy |= attempt_stop(a);
	}
	daemon_waiters_free(d);
	if (!busy)
		(void)sd_event_exit(d->event, d->exit_code);
	return 0;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	uint64_t interval = 0;

	(void)userdata;
	(void)sd_notify(0, "WATCHDOG=1");
	(void)sd_watchdog_enabled(0, &interval);
	(void)sd_event_source_set_time(s, usec + interval / 2);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int on_cleanup(sd_event_source *s, uint64_t usec, void *userdata)
{
	Daemon *d = userdata;
	uint64_t deleted = 0, now = daemon_now(d);
	int r;

	r = st_cleanup(d->store, now > dcfg(d)->retention_usec ? now - dcfg(d)->retention_usec : 0,
		       &deleted);
	if (r < 0)
		log_errno(LOG_WARNING, r, "Cleanup failed: %s, ignoring", st_errmsg(d->store));
	else if (deleted > 0)
		log_msg(LOG_INFO, "Cleanup: %llu old rows removed", (unsigned long long)deleted);
	(void)sd_event_source_set_time(s, usec + CLEANUP_INTERVAL_USEC);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* ---- start ---- */

/*
 * Attempts a crash or restart left behind: those awaiting approval wait on
 * (their plan vetted again); every other one is marked interrupted, since
 * what it had done cannot be known for sure.
 */
static int recover(Daemon *d)
{
	StAttempt *v = NULL;
	size_t n = 0;
	int r = st_attempts_unfinished(d->store, &v, &n);

	if (r < 0)
		return log_errno(LOG_ERR, r, "Failed to read unfinished attempts: %s",
				 st_errmsg(d->store));
	for (size_t i = 0; i < n && r >= 0; i++) {
		char why[256];

		if (v[i].state == AT_AWAITING_APPROVAL) {
			r = attempt_resume_approval(d, &v[i]);
			continue;
		}
		(void)util_snprintf(why, sizeof why, "Healer restarted while it was %s",
				    at_state_name(v[i].state));
		r = st_attempt_transition(d->store, v[i].id, AT_INTERRUPTED, why, daemon_now(d));
		if (r >= 0)
			metrics_add(d->metrics, M_ATTEMPTS, 1, at_state_name(AT_INTERRUPTED), NULL);
	}
	st_attempts_free(v, n);
	if (r < 0)
		return log_errno(LOG_ERR, r, "Failed to recover attempts: %s", st_errmsg(d->store));
	return 0;
}

/* Whether the store holds an escalation of exactly this fingerprint or unit. */
static bool esc_stored(const StEscalation *e, size_t n, uint64_t fingerprint, const char *unit)
{
	for (size_t i = 0; i < n; i++)
		if (fingerprint ? e[i].fingerprint == fingerprint
				: e[i].unit && unit && strcmp(e[i].unit, unit) == 0)
			return true;
	return false;
}

/*
 * A heal an attempt of an earlier run charged, charged again: the budget,
 * and each action's cooldown under the unit today's whitelist gives its
 * command (nothing runs from this vetting; a plan it refuses restores the
 * budget only). At the attempt's last transition, which is no earlier than
 * when its commands started: a cooldown restored runs no shorter than it did.
 */
static void replay_charge(Daemon *d, const StAttempt *a)
{
	WlVetOptions vo = {.evidence_unit = a->unit, .allow_any_unit = true};
	_cleanup_(plan_freep) Plan *p = NULL;
	PolAction actions[WL_MAX_COMMANDS_CAP];
	size_t n = 0;

	if (a->plan_json &&
	    plan_vet_json(settings_whitelist(d->settings), a->plan_json, &vo, &p) >= 0 &&
	    p->accepted)
		for (size_t i = 0; i < p->n_commands && n < ELEMENTSOF(actions); i++)
			actions[n++] = (PolAction){p->commands[i]->action, p->commands[i]->unit};
	pol_heal_charged(d->policy, actions, n, a->updated_usec);
}

/*
 * Policy remembers what happened inside its windows, and every escalation.
 * Replaying failures can mark a fingerprint or unit escalated again although
 * an administrator cleared that mark: a mark the store no longer holds was
 * cleared, and the clear forgets the failures behind it, as it did live
 * (no attempt runs between an escalation and its clear, so the clear's exact
 * time does not matter).
 */
static int replay_policy(Daemon *d)
{
	const Config *c = dcfg(d);
	uint64_t now = daemon_now(d), span = c->attempt_window_usec;
	StAttempt *v = NULL;
	StEscalation *e = NULL;
	size_t n = 0, ne = 0;
	int r;

	if (c->escalate_window_usec > span)
		span = c->escalate_window_usec;
	if (span < USEC_PER_HOUR)
		span = USEC_PER_HOUR;
	r = st_escalations(d->store, &e, &ne);
	if (r >= 0)
		r = st_attempts_since(d->store, now > span ? now - span : 0, &v, &n);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		const StAttempt *a = &v[i];

		pol_attempt_started(d->policy, a->fingerprint, a->unit, a->created_usec);
		/*
		 * What reached executing was charged (its first command started),
		 * whatever it ended as: interrupted by a stop or a crash too. A
		 * rejection there was its gate refusing: nothing ran.
		 */
		if (a->executed && a->state != AT_REJECTED)
			replay_charge(d, a);
		if (a->state != AT_HEALED && a->state != AT_FAILED && a->state != AT_ESCALATED)
			continue;
		if (!pol_attempt_ended(d->policy, a->fingerprint, a->unit, a->state == AT_HEALED,
				       a->updated_usec))
			continue;
		if (pol_is_escalated(d->policy, a->fingerprint, NULL) &&
		    !esc_stored(e, ne, a->fingerprint, NULL))
			pol_clear_escalation(d->policy, a->fingerprint, NULL);
		if (a->unit && pol_is_escalated(d->policy, 0, a->unit) &&
		    !esc_stored(e, ne, 0, a->unit))
			pol_clear_escalation(d->policy, 0, a->unit);
	}
	st_attempts_free(v, n);
	for (size_t i = 0; r >= 0 && i < ne; i++)
		pol_escalate(d->policy, e[i].fingerprint, e[i].unit);
	if (r < 0) {
		st_escalations_free(e, ne);
		return log_errno(LOG_ERR, r, "Failed to read policy history: %s",
				 st_errmsg(d->store));
	}
	d->esc = e; /* kept: sync_escalations() notices the ones cleared */
	d->n_esc = ne;
	return 0;
}

static int open_journal(Daemon *d, JrReader **ret)
{
	const Config *c = dcfg(d);
	JrOpenOptions o = {
		.source = (JrSource)c->source,
		.directory = c->source == JR_SOURCE_DIRECTORY ? c->source_arg : NULL,
		.namespace_name = c->source == JR_SOURCE_NAMESPACE ? c->source_arg : NULL,
		.max_priority = c->min_priority,
	};

	if (daemon_replaying(d)) {
		o.source = JR_SOURCE_DIRECTORY;
		o.directory = d->replay_opts.directory;
		o.namespace_name = NULL;
	}
	return jr_open(&o, ret);
}

static int start_follower(Daemon *d)
{
	const Config *c = dcfg(d);
	JrReader *reader = NULL;
	CursorStore *cs;
	FlOptions fo = {
		.own_unit = d->opts.own_unit,
		.lookback_usec = c->lookback_usec,
		.batch_begin = on_batch_begin,
		.batch_end = on_batch_end,
		.own_entry = daemon_own_entry,
	};
	int r = open_journal(d, &reader);

	if (daemon_replaying(d)) {
		/* No injection is waited for, and the entries are read once, to the end. */
		fo.own_entry = NULL;
		fo.no_follow = true;
		fo.since_usec = d->replay_opts.since_usec;
		fo.until_usec = d->replay_opts.until_usec;
		fo.at_end = replay_at_end;
	}
	if (r < 0 && daemon_replaying(d))
		return log_errno(LOG_ERR, r, "Failed to open the journal folder %s: %m",
				 d->replay_opts.directory);
	if (r >= 0 && daemon_replaying(d) && jr_has_files(reader) <= 0) {
		jr_free(reader);
		return log_errno(LOG_ERR, -ENOENT,
				 "%s holds no journal files (*.journal) this user may read",
				 d->replay_opts.directory);
	}
	if (r < 0)
		return log_errno(LOG_ERR, r, "Failed to open the journal (%s%s%s): %m",
				 c->source == JR_SOURCE_SYSTEM	    ? "system"
				 : c->source == JR_SOURCE_DIRECTORY ? "directory "
								    : "namespace ",
				 c->source_arg ? c->source_arg : "", "");
	cs = st_cursor_store(d->store);
	if (!cs) {
		jr_free(reader);
		return log_errno(LOG_ERR, -ENOMEM, "Out of memory");
	}
	r = fl_new(d->event, reader, cs, &fo, on_entry, d, &d->follower);
	if (r < 0)
		return log_errno(LOG_ERR, r, "Failed to follow the journal: %m");
	if (fl_cursor_was_stale(d->follower))
		log_msg(LOG_WARNING, "The saved journal position is not in this journal (another "
				     "machine's, or vacuumed away); reading from now - lookback");
	return 0;
}

static int make_state_dir(Daemon *d)
{
	const char *dir = dcfg(d)->state_dir;
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return log_errno(LOG_ERR, -errno, "Failed to create %s: %m", dir);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return log_errno(LOG_ERR, -ENOTDIR, "%s is not a folder", dir);
	d->state_dir = strdup(dir);
	return d->state_dir ? 0 : -ENOMEM;
}

static int write_pid_file(Daemon *d)
{
	char buf[32];
	_cleanup_free_ char *tmp = NULL;
	int fd, n;

	if (asprintf(&d->pid_file, "%s/healer.pid", d->state_dir) < 0 ||
	    asprintf(&tmp, "%s/.healer.pid.tmp", d->state_dir) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n || close(fd) < 0 || rename(tmp, d->pid_file) < 0) {
		(void)unlink(tmp);
		return -EIO;
	}
	return 0;
}

static int add_signals(Daemon *d)
{
	sigset_t ss;
	int r;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	/* A replay has no reload and no escalations to clear: a terminal's signals only. */
	if (!daemon_replaying(d)) {
		sigaddset(&ss, SIGHUP);
		sigaddset(&ss, SIGUSR1);
	}
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return -errno;
	r = sd_event_add_signal(d->event, NULL, SIGTERM, on_sigterm, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGINT, on_sigterm, d);
	if (r >= 0 && daemon_replaying(d))
		return r;
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGHUP, on_sighup, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, NULL, SIGUSR1, on_sigusr1, d);
	return r;
}

static int add_timers(Daemon *d)
{
	uint64_t wd = 0;
	int r;

	r = sd_event_add_defer(d->event, &d->kick, on_kick, d);
	if (r >= 0)
		r = sd_event_source_set_enabled(d->kick, SD_EVENT_OFF);
	if (r >= 0)
		(void)sd_event_source_set_description(d->kick, "analysis-queue");
	/* A replay's store is new, and its clock not the one retention counts in. */
	if (r >= 0 && daemon_replaying(d))
		return r;
	if (r >= 0 && sd_watchdog_enabled(0, &wd) > 0 && wd > 0) {
		r = sd_event_add_time_relative(d->event, &d->watchdog, CLOCK_MONOTONIC, wd / 2,
					       wd / 20, on_watchdog, d);
		if (r >= 0)
			(void)sd_event_source_set_description(d->watchdog, "watchdog");
	}
	/* Housekeeping: once at start, then every few hours, with a loose timer. */
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->cleanup, CLOCK_MONOTONIC, USEC_PER_SEC,
					       USEC_PER_MINUTE, on_cleanup, d);
	if (r >= 0)
		(void)sd_event_source_set_description(d->cleanup, "retention-cleanup");
	return r;
}

/*
 * The API key lives in this process: no core dumps, and no ptrace or
 * /proc/PID/mem reads by other processes of the same user.
 */
static void harden_process(void)
{
	struct rlimit rl = {0, 0};

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
}

/*
 * A replay's store: a new file, never one that exists (the live store
 * above all). Created here with O_EXCL, so that two replays or a typo
 * cannot write into a record they did not make.
 */
static int create_replay_store(Daemon *d, char **ret_errors)
{
	const char *path = d->replay_opts.out;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		int r = -errno;

		if (asprintf(ret_errors, "%s: %s%s\n", path, strerror(-r),
			     r == -EEXIST ? " (a replay writes a new file: remove it or name "
					    "another with --out)"
					  : "") < 0)
			*ret_errors = NULL;
		return r;
	}
	(void)close(fd);
	d->replay_created = true;
	return 0;
}

/* A replay that could not start leaves no file behind (only one it created). */
static void remove_replay_store(Daemon *d)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};

	d->store = st_close(d->store);
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s%s", d->replay_opts.out, suffixes[i]) >= 0)
			(void)unlink(p);
	}
	d->replay_created = false;
}

/* The manager's unit signals, or (said once) the journal alone. */
static void start_unit_watch(Daemon *d)
{
	int r;

	if (!dcfg(d)->watch_units) {
		log_msg(LOG_INFO, "watch_units = no: failed services are seen in the journal only");
		return;
	}
	/*
	 * The signals speak of this host's services: they belong with its
	 * system journal, not with a namespace or a folder of files that
	 * the administrator chose to read instead.
	 */
	if (dcfg(d)->source != JR_SOURCE_SYSTEM) {
		log_msg(LOG_INFO, "[journal] source is not the system journal: failed services "
				  "are seen in that journal only (watch_units applies to source = "
				  "system)");
		return;
	}
	if (!d->bus) {
		log_msg(LOG_INFO, "No system bus: failed services are seen in the journal only");
		return;
	}
	r = unit_watch_new(d->bus, d->metrics, on_unit_failed, d, &d->watch);
	if (r < 0)
		log_errno(LOG_WARNING, r,
			  "Failed to watch the service manager's unit changes (%m): failed "
			  "services are seen in the journal only");
	else
		log_msg(LOG_INFO, "Watching the service manager's unit changes on the bus");
}

static int open_parts(Daemon *d, char **ret_errors)
{
	_cleanup_free_ char *why = NULL, *dbpath = NULL;
	PolicyConfig pc;
	int64_t flag;
	int r;

	if (daemon_replaying(d)) {
		r = create_replay_store(d, ret_errors);
		if (r < 0)
			return r;
		dbpath = strdup(d->replay_opts.out);
		if (!dbpath)
			return -ENOMEM;
	} else {
		r = make_state_dir(d);
		if (r < 0)
			return r;
		if (asprintf(&dbpath, "%s/healer.db", d->state_dir) < 0)
			return -ENOMEM;
	}
	r = st_open(dbpath, &d->store, &why);
	if (r < 0) {
		*ret_errors = why ? TAKE_PTR(why) : strdup("cannot open the database");
		return r;
	}
	r = st_flag_get(d->store, "enabled", &flag);
	if (r >= 0)
		d->enabled_override = flag != 0;
	else if (r != -ENOENT)
		return log_errno(LOG_ERR, r, "Failed to read the enabled switch: %s",
				 st_errmsg(d->store));
	daemon_policy_config(dcfg(d), &pc);
	if (d->enabled_override >= 0)
		pc.enabled = d->enabled_override;
	d->policy = pol_new(&pc);
	if (!d->policy)
		return -ENOMEM;
	r = analyzer_new(d->event, d->settings, &d->analyzer);
	if (r < 0)
		return r;
	/* Nothing of the host: no bus, no cgroup, no webhook. */
	if (daemon_replaying(d))
		return 0;
	if (!d->opts.no_bus) {
		r = unit_bus_open(d->event, &d->bus);
		if (r < 0)
			log_errno(LOG_WARNING, r,
				  "No system bus (%m): unit actions are refused, "
				  "unit checks fail closed");
	}
	start_unit_watch(d);
	r = ex_cgroup_setup(d->opts.cgroup_parent, &d->cgroup_parent, &d->cgroup_why);
	if (r < 0)
		log_msg(LOG_WARNING, "Commands run in process groups, not cgroups: %s",
			d->cgroup_why ? d->cgroup_why : strerror(-r));
	if (dcfg(d)->notify_webhook) {
		r = notify_new(d->event, dcfg(d)->notify_webhook, &d->notifier);
		if (r < 0)
			return log_errno(LOG_ERR, r, "Failed to set up the webhook: %m");
	}
	return 0;
}

int daemon_new(const DaemonOptions *o, Daemon **ret, char **ret_errors)
{
	_cleanup_(daemon_freep) Daemon *d = calloc(1, sizeof *d);
	int r;

	*ret_errors = NULL;
	if (!d)
		return -ENOMEM;
	harden_process();
	d->opts = *o;
	if (o->replay) {
		d->replay_opts = *o->replay;
		d->opts.replay = &d->replay_opts;
		d->opts.settings.force_dry_run = true;
		d->opts.no_bus = true;
		d->clock = o->replay->since_usec;
	}
	d->enabled_override = -1;
	d->n_tracked_buckets = DAEMON_TRACK_BUCKETS;
	d->tracked = calloc(d->n_tracked_buckets, sizeof *d->tracked);
	d->self_exe = realpath("/proc/self/exe", NULL);
	d->metrics = metrics_new();
	if (!d->tracked || !d->self_exe || !d->metrics)
		return -ENOMEM;
	r = settings_load(&d->opts.settings, &d->settings, ret_errors);
	if (r < 0)
		return r;
	r = sd_event_new(&d->event);
	if (r >= 0)
		r = add_signals(d);
	if (r >= 0)
		r = add_timers(d);
	if (r >= 0)
		r = open_parts(d, ret_errors);
	if (r >= 0)
		r = recover(d);
	if (r >= 0)
		r = replay_policy(d);
	if (r >= 0)
		r = start_follower(d);
	if (r >= 0 && !daemon_replaying(d) && write_pid_file(d) < 0)
		log_msg(LOG_WARNING, "Failed to write the pid file; `healer clear` cannot wake "
				     "this daemon, ignoring");
	if (r < 0 && d->replay_created)
		remove_replay_store(d);
	if (r < 0)
		return r;
	d->started_mono = daemon_mono();
	*ret = TAKE_PTR(d);
	return 0;
}

int daemon_run(Daemon *d)
{
	int r;

	if (daemon_replaying(d)) {
		r = sd_event_loop(d->event);
		if (r < 0) {
			log_errno(LOG_ERR, r, "Event loop failed: %m");
			return 1;
		}
		return r;
	}
	(void)sd_notify(0, "READY=1");
	status(d, "following the journal%s; provider %s; commands in %s",
	       d->watch ? " and the manager's unit signals" : "",
	       cfg_provider_name(dcfg(d)->provider),
	       d->cgroup_parent ? "cgroups" : "process groups");
	log_msg(LOG_INFO, "Started: state in %s, whitelist %s, provider %s%s", d->state_dir,
		settings_whitelist_source(d->settings), cfg_provider_name(dcfg(d)->provider),
		dcfg(d)->dry_run ? ", dry run" : "");
	r = sd_event_loop(d->event);
	if (r < 0) {
		log_errno(LOG_ERR, r, "Event loop failed: %m");
		return 1;
	}
	return r;
}

Daemon *daemon_free(Daemon *d)
{
	if (!d)
		return NULL;
	d->stopping = true;
	while (d->attempts) {
		Attempt *a = d->attempts;

		d->attempts = a->next == NULL ? NULL : a->next;
		if (d->attempts)
			d->attempts->prev = a->prev;
		attempt_free(a);
	}
	daemon_waiters_free(d);
	free(d->fresh); /* its attempts were on the list */
	st_escalations_free(d->esc, d->n_esc);
	fl_free(d->follower);
	notify_free(d->notifier);
	sd_event_source_disable_unref(d->kick);
	sd_event_source_disable_unref(d->watchdog);
	sd_event_source_disable_unref(d->cleanup);
	analyzer_unref(d->analyzer);
	pol_free(d->policy);
	st_close(d->store);
	if (d->pid_file)
		(void)unlink(d->pid_file);
	free(d->pid_file);
	unit_watch_free(d->watch);
	sd_bus_flush_close_unref(d->bus);
	sd_event_unref(d->event);
	settings_unref(d->settings);
	free(d->cgroup_parent);
	free(d->cgroup_why);
	free(d->self_exe);
	free(d->state_dir);
	free(d->tracked);
	metrics_free(d->metrics);
	free(d);
	return NULL;
}
