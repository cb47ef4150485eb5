/* SPDX-License-Identifier: MIT */
/*
 * One attempt's walk through the state machine: detected -> analyzing ->
 * [awaiting_approval] -> executing -> verifying -> a final state. Every step
 * is an event on the loop (an analysis, a check run, a D-Bus query, a
 * child, a timer); each callback either starts the next step or ends the
 * attempt. Ending frees the attempt, so a call that may end it is always
 * the last statement of its caller.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "healer/builtins.h"
#include "healer/daemon-internal.h"
#include "healer/log.h"
#include "llm/redact.h"

#define REASON_MAX 1024

static void run_command(Attempt *a);
static void start_verifying(Attempt *a);
static bool plan_may_run(Attempt *a, char *why, size_t len);
static void charge_plan(Attempt *a);

static const Config *cfg(const Attempt *a)
{
	return settings_config(a->settings);
}

static const Whitelist *wl(const Attempt *a)
{
	return settings_whitelist(a->settings);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void count_rejection(Attempt *a, const char *kind)
{
	metrics_add(a->d->metrics, M_REJECTIONS, 1, kind, NULL);
}

/*
 * A plan the whitelist refused: for a unit parameter that is not the
 * evidence's unit (whitelist/vet.c's words), or for anything else. Only
 * the label is chosen here; the reason text stays in history.
 */
static const char *plan_refusal_kind(const Plan *p)
{
	const char *r = p->reason ? p->reason : "";

	return strstr(r, "the unit the evidence came from") || strstr(r, "no evidence unit")
		       ? REJECT_EVIDENCE
		       : REJECT_WHITELIST;
}

Attempt *attempt_new(Daemon *d, int64_t id, int64_t incident_id, const StIncident *in)
{
	Attempt *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	*a = (Attempt){
		.d = d,
		.id = id,
		.incident_id = incident_id,
		.state = AT_DETECTED,
		.settings = settings_ref(d->settings),
		.analyzer = analyzer_ref(d->analyzer),
		.fingerprint = in->fingerprint,
		.priority = in->priority,
		.count = in->count,
		.entry_usec = in->first_seen_usec,
		.dry_run = settings_config(d->settings)->dry_run,
	};
	a->unit = dup_or_null(in->unit);
	a->identifier = dup_or_null(in->identifier);
	a->message = dup_or_null(in->message);
	a->cursor = dup_or_null(in->first_cursor);
	if ((in->unit && !a->unit) || (in->identifier && !a->identifier) ||
	    (in->message && !a->message) || (in->first_cursor && !a->cursor))
		return attempt_free(a);
	/* Appended: the list is in creation order, which the queue relies on. */
	if (!d->attempts) {
		d->attempts = a;
		a->prev = a;
	} else {
		a->prev = d->attempts->prev;
		d->attempts->prev->next = a;
		d->attempts->prev = a;
	}
	return a;
}

Attempt *attempt_free(Attempt *a)
{
	if (!a)
		return NULL;
	analyze_cancel(a->job);
	chk_run_cancel(a->chk);
	unit_query_cancel(a->uq);
	ex_child_free(a->child);
	sd_event_source_disable_unref(a->timer);
	plan_free(a->plan);
	free(a->plan_json);
	free(a->provider);
	free(a->unit);
	free(a->identifier);
	free(a->message);
	free(a->cursor);
	analyzer_unref(a->analyzer);
	settings_unref(a->settings);
	free(a);
	return NULL;
}

int attempt_transition(Attempt *a, AttemptState to, const char *reason)
{
	int r = st_attempt_transition(a->d->store, a->id, to, reason, daemon_now(a->d));

	if (r < 0)
		log_errno(LOG_ERR, r, "attempt %lld: failed to store %s -> %s: %m",
			  (long long)a->id, at_state_name(a->state), at_state_name(to));
	log_msg(LOG_INFO, "attempt %lld (%s): %s -> %s: %s", (long long)a->id,
		a->unit ? a->unit : "no unit", at_state_name(a->state), at_state_name(to), reason);
	a->state = to;
	return r;
}

static void notify(Attempt *a, const char *event, const char *reason)
{
	char text[REASON_MAX + 128];
	cJSON *f;

	if (!a->d->notifier)
		return;
	f = cJSON_CreateObject();
	if (!f)
		return;
	(void)cJSON_AddNumberToObject(f, "attempt", (double)a->id);
	if (a->unit)
		(void)cJSON_AddStringToObject(f, "unit", a->unit);
	(void)cJSON_AddStringToObject(f, "reason", reason);
	(void)util_snprintf(text, sizeof text, "Healer: attempt %lld on %s %s: %s",
			    (long long)a->id, a->unit ? a->unit : "(no unit)", event, reason);
	(void)notify_send(a->d->notifier, event, text, f);
}

void attempt_finish(Attempt *a, AttemptState to, const char *fmt, ...)
{
	Daemon *d = a->d;
	char reason[REASON_MAX];
	uint64_t now = daemon_now(a->d);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (to == AT_HEALED || to == AT_FAILED) {
		bool escalate =
			pol_attempt_ended(d->policy, a->fingerprint, a->unit, to == AT_HEALED, now);

		if (a->plan_json)
			(void)st_knowledge_record(d->store, a->fingerprint, a->plan_json,
						  to == AT_HEALED, now);
		if (escalate) {
			size_t l = strlen(reason);

			(void)util_snprintf(reason + l, sizeof reason - l,
					    "; escalated: no more automatic attempts until an "
					    "administrator clears it");
			daemon_escalated(d, a->fingerprint, a->unit, reason);
			to = AT_ESCALATED;
		}
	}
	(void)attempt_transition(a, to, reason);
	metrics_add(d->metrics, M_ATTEMPTS, 1, at_state_name(to), NULL);
	replay_attempt_ended(d, a->outcome ? a->outcome : at_state_name(to), a->refusal);
	/* From the incident's first line to the verified fix. */
	if (to == AT_HEALED && a->entry_usec && now > a->entry_usec)
		metrics_observe(d->metrics, M_TIME_TO_HEAL,
				(double)(now - a->entry_usec) / USEC_PER_SEC, NULL);
	if (to == AT_HEALED)
		notify(a, "healed", reason);
	else if (to == AT_FAILED)
		notify(a, "failed", reason);
	else if (to == AT_ESCALATED)
		notify(a, "escalated", reason);
	daemon_attempt_gone(d, a);
}

/* ---- analysis ---- */

static void analysis_over(Attempt *a)
{
	if (a->d->n_analyzing > 0)
		a->d->n_analyzing--;
	daemon_kick(a->d);
}

static void proceed_with_plan(Attempt *a);

/*
 * What was decided since the attempt was admitted: healing switched off
 * (a reload, or the API's switch), or its fingerprint or unit escalated by
 * another attempt's failure. True, with the reason, when it must not go on.
 */
static bool stopped_since_admitted(Attempt *a, char *why, size_t len)
{
	Daemon *d = a->d;

	if (!daemon_enabled(d)) {
		(void)util_snprintf(why, len, "healing was disabled before it ran (enabled = no)");
		return true;
	}
	if (pol_is_escalated(d->policy, a->fingerprint, NULL)) {
		(void)util_snprintf(why, len,
				    "fingerprint %016llx was escalated before it ran: it waits for "
				    "an administrator to clear it",
				    (unsigned long long)a->fingerprint);
		return true;
	}
	if (a->unit && pol_is_escalated(d->policy, 0, a->unit)) {
		(void)util_snprintf(why, len,
				    "%s was escalated before it ran: it waits for an administrator "
				    "to clear it",
				    a->unit);
		return true;
	}
	return false;
}

static bool reuse_knowledge(Attempt *a)
{
	_cleanup_free_ char *json = NULL;
	WlVetOptions vo = {.evidence_unit = a->unit, .allow_any_unit = a->vouched};
	Plan *p = NULL;

	if (st_knowledge_get(a->d->store, a->fingerprint, &json) < 0 || !json)
		return false;
	if (plan_vet_json(wl(a), json, &vo, &p) < 0 || !p->accepted || p->n_commands == 0) {
		/* The whitelist changed since it healed: history says why it was passed over. */
		if (p) {
			char why[REASON_MAX];

			(void)util_snprintf(why, sizeof why,
					    "the stored plan that healed this error before is "
					    "refused now: %s; asking %s",
					    p->accepted ? "it has no commands" : p->reason,
					    cfg_provider_name(cfg(a)->provider));
			(void)attempt_transition(a, AT_ANALYZING, why);
		}
		plan_free(p);
		return false;
	}
	a->plan = p;
	a->plan_json = TAKE_PTR(json);
	a->provider = strdup("knowledge");
	(void)st_attempt_set_analysis(a->d->store, a->id, "knowledge", NULL,
				      "the plan that healed this error before", a->plan_json, NULL);
	return true;
}

static void on_analysis(Analysis *an, void *userdata)
{
	Attempt *a = userdata;
	_cleanup_(analysis_freep) Analysis *x = an;

	a->job = NULL;
	analysis_over(a);
	if (!x) {
		attempt_finish(a, AT_FAILED, "out of memory while analysing");
		return;
	}
	/* Every call went to the configured provider, also when the rules answered in the end. */
	for (size_t i = 0; i < x->n_calls; i++) {
		const char *provider = cfg_provider_name(cfg(a)->provider);

		metrics_add(a->d->metrics, M_LLM_REQUESTS, 1, provider, x->calls[i].outcome);
		metrics_observe(a->d->metrics, M_LLM_LATENCY,
				(double)x->calls[i].latency_usec / USEC_PER_SEC, provider);
	}
	a->plan = TAKE_PTR(x->plan);
	/* When the rules answered for a provider that could not, the plan is theirs: the
	 * record names them, and a transition says why the provider gave none. */
	a->provider = strdup(x->fallback || !x->provider ? "rules" : x->provider);
	if (a->plan->accepted && a->plan->n_commands > 0)
		a->plan_json = plan_to_json(a->plan);
	(void)st_attempt_set_analysis(a->d->store, a->id, x->fallback ? "rules" : x->provider,
				      x->fallback ? NULL : x->model, a->plan->diagnosis,
				      a->plan_json, x->reply);
	if (x->error)
		log_msg(LOG_WARNING, "attempt %lld: %s%s", (long long)a->id, x->error,
			x->fallback ? "; the offline rules answered" : "");
	if (x->fallback) {
		char why[REASON_MAX];

		(void)util_snprintf(why, sizeof why,
				    "fallback: %s gave no plan (%s); the offline rules answered",
				    x->provider ? x->provider : "the provider",
				    x->error ? x->error : "no reason given");
		(void)attempt_transition(a, AT_ANALYZING, why);
	}
	/*
	 * A reply the whitelist refused makes the attempt rejected; no reply at
	 * all (no rule matched, the provider failed) is simply no plan.
	 */
	if (!a->plan->accepted && x->reply) {
		count_rejection(a, plan_refusal_kind(a->plan));
		a->outcome = REPLAY_WHITELIST;
		a->refusal = plan_refusal_kind(a->plan);
		attempt_finish(a, AT_REJECTED, "the whitelist refused the plan: %s",
			       a->plan->reason);
		return;
	}
	if (!a->plan->accepted) {
		a->outcome = REPLAY_NO_PLAN;
		attempt_finish(a, AT_SKIPPED, "no plan: %s", a->plan->reason);
		return;
	}
	if (a->plan->n_commands == 0) {
		a->outcome = REPLAY_NO_COMMANDS;
		attempt_finish(a, AT_SKIPPED, "%s proposes no commands",
			       a->provider ? a->provider : "the analysis");
		return;
	}
	proceed_with_plan(a);
}

void attempt_analyze(Attempt *a)
{
	_cleanup_(strv_freep) char **ctx = NULL;
	const Config *c = cfg(a);
	char why[REASON_MAX];
	AnalyzeInput in;
	int r;

	/* Waiting in the queue, it may have lost its reason to run: no analysis then. */
	if (stopped_since_admitted(a, why, sizeof why)) {
		analysis_over(a);
		attempt_finish(a, AT_SKIPPED, "%s", why);
		return;
	}
	(void)attempt_transition(a, AT_ANALYZING, "looking for a plan");
	a->d->tally.analyses++;
	if (reuse_knowledge(a)) {
		analysis_over(a);
		proceed_with_plan(a);
		return;
	}
	/*
	 * Context lines are for a model; the offline rules read the message
	 * alone, and reading context opens the journal again: skip it then.
	 */
	if ((a->cursor || a->entry_usec) && a->d->follower && c->context_lines > 0 &&
	    settings_client_options(a->settings)->endpoint.kind != 0) {
		JrEntry e = {.cursor = a->cursor,
			     .realtime_usec = a->entry_usec,
			     .unit = a->unit,
			     .identifier = a->identifier};

		if (jr_context(fl_reader(a->d->follower), &e, c->context_lines, c->context_bytes,
			       &ctx) < 0)
			ctx = NULL;
	}
	in = (AnalyzeInput){
		.unit = a->unit,
		.identifier = a->identifier,
		.priority = a->priority,
		.message = a->message ? a->message : "",
		.count = a->count,
		.context = (const char *const *)ctx,
		.n_context = strv_length(ctx),
	};
	r = analyze_start(a->analyzer, &in, on_analysis, a, &a->job);
	if (r < 0) {
		analysis_over(a);
		attempt_finish(a, AT_FAILED, "the analysis could not start: %s", strerror(-r));
	}
}

/* ---- gates: preconditions and unit safety, before a command runs ---- */

typedef void (*gate_fn)(Attempt *a, bool ok, const char *why);
static gate_fn gate_cb_for(Attempt *a);

static void gate_unit(Attempt *a);

static ChkOptions chk_options(const Attempt *a)
{
	return (ChkOptions){
		.bus = a->d->bus,
		.wl = wl(a),
		.evidence_unit = a->unit,
	};
}

/*
 * The gate of command a->next_cmd: every `require =` holds (judged on the
 * host), then the unit's own properties allow touching it. A check that
 * cannot be judged counts as not holding: fail closed.
 */
static void on_requires(const ChkResult *res, size_t n, bool all_hold, void *userdata)
{
	Attempt *a = userdata;
	const WlCommand *c = a->plan->commands[a->next_cmd];
	char why[REASON_MAX];

	a->chk = NULL;
	if (!all_hold) {
		count_rejection(a, REJECT_PRECONDITION);
		for (size_t i = 0; i < n; i++)
			if (res[i].verdict != CHK_HOLDS) {
				metrics_add(a->d->metrics, M_PRECONDITION_REFUSALS, 1,
					    wl_check_kind_name(c->requires[i].kind), NULL);
				(void)util_snprintf(why, sizeof why, "%s: precondition '%s' %s: %s",
						    c->action, c->requires[i].text,
						    res[i].verdict == CHK_FAILS
							    ? "does not hold"
							    : "could not be judged",
						    res[i].detail);
				break;
			}
		gate_cb_for(a)(a, false, why);
		return;
	}
	gate_unit(a);
}

static void on_unit(int r, const UnitInfo *u, const char *error, void *userdata)
{
	Attempt *a = userdata;
	const WlCommand *c = a->plan->commands[a->next_cmd];
	char buf[REASON_MAX], why[REASON_MAX];
	const char *refusal;

	a->uq = NULL;
	if (r < 0) {
		count_rejection(a, REJECT_UNIT_SAFETY);
		(void)util_snprintf(why, sizeof why, "%s: cannot read unit %s: %s", c->action,
				    c->unit, error ? error : strerror(-r));
		gate_cb_for(a)(a, false, why);
		return;
	}
	refusal = unit_refusal(u, wl(a), buf, sizeof buf);
	if (refusal) {
		count_rejection(a, REJECT_UNIT_SAFETY);
		(void)util_snprintf(why, sizeof why, "%s: unit %s refused: %s", c->action, c->unit,
				    refusal);
		gate_cb_for(a)(a, false, why);
		return;
	}
	gate_cb_for(a)(a, true, NULL);
}

static void gate_unit(Attempt *a)
{
	const WlCommand *c = a->plan->commands[a->next_cmd];
	char why[REASON_MAX];
	int r;

	if (!c->unit) {
		gate_cb_for(a)(a, true, NULL);
		return;
	}
	if (!a->d->bus) {
		count_rejection(a, REJECT_UNIT_SAFETY);
		(void)util_snprintf(why, sizeof why,
				    "%s: unit %s: no system bus, its safety cannot be judged",
				    c->action, c->unit);
		gate_cb_for(a)(a, false, why);
		return;
	}
	r = unit_query(a->d->bus, c->unit, on_unit, a, &a->uq);
	if (r < 0) {
		count_rejection(a, REJECT_UNIT_SAFETY);
		(void)util_snprintf(why, sizeof why, "%s: cannot ask about unit %s: %s", c->action,
				    c->unit, strerror(-r));
		gate_cb_for(a)(a, false, why);
	}
}

static void gate_start(Attempt *a)
{
	const WlCommand *c = a->plan->commands[a->next_cmd];
	ChkOptions o = chk_options(a);
	char why[REASON_MAX];
	int r;

	/*
	 * A replay asks nothing of this host (it is not the host the journal
	 * came from, and a check may run a command): every require and the
	 * unit's properties pass as not judged offline, and record_dry_run()
	 * says so. The whitelist's own rules (patterns, roots, protected
	 * names) were applied when the plan was vetted.
	 */
	if (daemon_replaying(a->d)) {
		gate_cb_for(a)(a, true, NULL);
		return;
	}
	if (c->n_requires == 0) {
		gate_unit(a);
		return;
	}
	r = chk_run(a->d->event, c->requires, c->n_requires, &o, on_requires, a, &a->chk);
	if (r < 0) {
		count_rejection(a, REJECT_PRECONDITION);
		(void)util_snprintf(why, sizeof why, "%s: preconditions could not run: %s",
				    c->action, strerror(-r));
		gate_cb_for(a)(a, false, why);
	}
}

/* ---- approval and dry run: every gate first ---- */

/*
 * What a replay could not judge of command c: its requires and, for a
 * unit, the unit's own properties (RefuseManualStart, failure actions),
 * each counted once. NULL when nothing (or out of memory: the count stays).
 */
static char *not_judged(Attempt *a, const WlCommand *c)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	for (size_t k = 0; k < c->n_requires; k++) {
		replay_count(&a->d->tally.not_judged, wl_check_kind_name(c->requires[k].kind));
		fprintf(f, "%s'%s'", k ? ", " : "", c->requires[k].text);
	}
	if (c->unit) {
		replay_count(&a->d->tally.not_judged, "unit-properties");
		fprintf(f, "%sthe properties of %s", c->n_requires ? ", " : "", c->unit);
	}
	if (fclose(f) != 0 || len == 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void record_dry_run(Attempt *a)
{
	char summary[REASON_MAX] = "", why[REASON_MAX];
	size_t l = 0;

	/*
	 * Policy as when the first command starts: each action's cooldown and
	 * the hourly budget. A plan that would have run is charged as one that
	 * ran, so that a dry run (and a replay) meets the refusals a live run
	 * would have met after it.
	 */
	if (!plan_may_run(a, why, sizeof why)) {
		a->outcome = REPLAY_POLICY;
		a->refusal = pol_refusal_kind(a->d->policy);
		attempt_finish(a, AT_SKIPPED, "dry run: nothing would have run: %s", why);
		return;
	}
	charge_plan(a);
	for (size_t i = 0; i < a->plan->n_commands; i++) {
		const WlCommand *c = a->plan->commands[i];
		_cleanup_free_ char *nj = daemon_replaying(a->d) ? not_judged(a, c) : NULL;
		_cleanup_free_ char *reason = NULL;
		StCommand sc = {
			.attempt_id = a->id,
			.index = (unsigned)i,
			.action = c->action,
			.argv = (const char *const *)c->argv,
			.accepted = true,
			.reason = "dry run: not run",
			.exit_status = -1,
			.output = "",
			.dry_run = true,
		};

		if (nj && asprintf(&reason, "dry run: not run; not judged offline: %s", nj) >= 0)
			sc.reason = reason;
		else
			reason = NULL;
		(void)st_command_add(a->d->store, &sc);
		if (l < sizeof summary)
			l += (size_t)snprintf(summary + l, sizeof summary - l, "%s%s%s%s%s",
					      i ? "; " : "", c->action,
					      nj ? " (not judged offline: " : "", nj ? nj : "",
					      nj ? ")" : "");
	}
	a->outcome = REPLAY_WOULD_RUN;
	attempt_finish(a, AT_SKIPPED, "dry run: would have run %s", summary);
}

static int on_approval_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	Attempt *a = userdata;
	char span[64];

	(void)s;
	(void)usec;
	util_format_timespan(cfg(a)->approval_timeout_usec, span, sizeof span);
	count_rejection(a, REJECT_APPROVAL_EXPIRED);
	attempt_finish(a, AT_REJECTED, "no decision within approval_timeout (%s)", span);
	return 0;
}

static void park_for_approval(Attempt *a, uint64_t left_usec)
{
	char span[64], why[REASON_MAX];
	int r;

	util_format_timespan(left_usec, span, sizeof span);
	(void)util_snprintf(why, sizeof why, "auto_execute = no: approve or reject within %s",
			    span);
	(void)attempt_transition(a, AT_AWAITING_APPROVAL, why);
	r = sd_event_add_time_relative(a->d->event, &a->timer, CLOCK_MONOTONIC, left_usec,
				       USEC_PER_SEC, on_approval_timeout, a);
	if (r >= 0)
		(void)sd_event_source_set_description(a->timer, "approval-timeout");
	else
		log_errno(LOG_WARNING, r, "attempt %lld: no approval timer: %m, ignoring",
			  (long long)a->id);
	notify(a, "awaiting_approval", why);
}

static void on_gate_all(Attempt *a, bool ok, const char *why)
{
	if (!ok) {
		attempt_finish(a, AT_REJECTED, "nothing ran: %s", why);
		return;
	}
	if (++a->next_cmd < a->plan->n_commands) {
		gate_start(a);
		return;
	}
	a->gate_all = false;
	a->next_cmd = 0;
	if (a->dry_run) {
		record_dry_run(a);
		return;
	}
	park_for_approval(a, cfg(a)->approval_timeout_usec);
}

static void start_executing(Attempt *a);

/*
 * The last look before acting, and again at an approval: from here on the
 * live settings rule, not the ones the attempt started with. Healing
 * switched off, an escalation since, or a whitelist that no longer allows
 * the plan stops an attempt that has run nothing yet, wherever it waited
 * (the queue, its unit, an approval). Going on, the attempt takes the live
 * settings and the plan as the live whitelist builds it, so that a command
 * the administrator has since changed runs as it now reads. False when the
 * attempt ended.
 */
static bool adopt_live_settings(Attempt *a)
{
	Daemon *d = a->d;
	WlVetOptions vo = {.evidence_unit = a->unit, .allow_any_unit = a->vouched};
	_cleanup_(plan_freep) Plan *p = NULL;
	char why[REASON_MAX];
	int r;

	if (stopped_since_admitted(a, why, sizeof why)) {
		attempt_finish(a, AT_SKIPPED, "%s", why);
		return false;
	}
	if (a->settings == d->settings)
		return true;
	r = a->plan_json ? plan_vet_json(settings_whitelist(d->settings), a->plan_json, &vo, &p)
			 : -ENOMEM;
	if (r < 0) {
		attempt_finish(a, AT_FAILED, "the plan could not be vetted again: %s",
			       strerror(-r));
		return false;
	}
	if (!p->accepted || p->n_commands == 0) {
		count_rejection(a, plan_refusal_kind(p));
		attempt_finish(a, AT_REJECTED, "the whitelist no longer allows the plan: %s",
			       p->reason ? p->reason : "no commands");
		return false;
	}
	plan_free(a->plan);
	a->plan = TAKE_PTR(p);
	settings_unref(a->settings);
	a->settings = settings_ref(d->settings);
	return true;
}

static void proceed_with_plan(Attempt *a)
{
	if (!adopt_live_settings(a))
		return;
	if (cfg(a)->dry_run)
		a->dry_run = true;
	if (a->dry_run || !cfg(a)->auto_execute) {
		a->gate_all = true;
		a->next_cmd = 0;
		gate_start(a);
		return;
	}
	start_executing(a);
}

/* ---- executing ---- */

static void on_gate_run(Attempt *a, bool ok, const char *why);

static gate_fn gate_cb_for(Attempt *a)
{
	return a->gate_all ? on_gate_all : on_gate_run;
}

/*
 * Whether every command of the plan may run now: each action's own
 * cooldown, kept for the command's unit (NULL for an action without a unit
 * parameter, whatever unit the incident came from), and the hourly budget.
 * Asked with exactly the keys charge_plan() charges.
 */
static bool plan_may_run(Attempt *a, char *why, size_t len)
{
	for (size_t i = 0; i < a->plan->n_commands; i++) {
		const WlCommand *c = a->plan->commands[i];

		if (!pol_may_run(a->d->policy, c->action, c->cooldown_usec, c->unit,
				 daemon_now(a->d), why, len))
			return false;
	}
	return true;
}

/* The first command started: one heal off the budget, and every action's cooldown. */
static void charge_plan(Attempt *a)
{
	PolAction actions[WL_MAX_COMMANDS_CAP];
	size_t n = 0;

	for (size_t i = 0; i < a->plan->n_commands && n < ELEMENTSOF(actions); i++)
		actions[n++] =
			(PolAction){a->plan->commands[i]->action, a->plan->commands[i]->unit};
	pol_heal_charged(a->d->policy, actions, n, daemon_now(a->d));
}

static void start_executing(Attempt *a)
{
	const Attempt *holder;
	char why[REASON_MAX];

	if (!adopt_live_settings(a))
		return;
	/* Dry run turned on since (or at the restart that resumed an approval): nothing runs. */
	if (a->dry_run || cfg(a)->dry_run) {
		record_dry_run(a);
		return;
	}
	/* One attempt per unit at a time: its state stays, the wait is on record. */
	holder = a->unit ? daemon_unit_holder(a->d, a, a->unit) : NULL;
	if (holder) {
		a->waiting_unit = true;
		(void)util_snprintf(why, sizeof why,
				    "waiting: attempt %lld acts on %s (one attempt per unit at a "
				    "time)",
				    (long long)holder->id, a->unit);
		(void)attempt_transition(a, a->state, why);
		return;
	}
	if (!plan_may_run(a, why, sizeof why)) {
		attempt_finish(a, AT_SKIPPED, "%s", why);
		return;
	}
	a->acting = true;
	(void)attempt_transition(a, AT_EXECUTING, "running the plan");
	a->next_cmd = 0;
	run_command(a);
}

void attempt_unit_free(Attempt *a)
{
	if (!a->waiting_unit)
		return;
	a->waiting_unit = false;
	start_executing(a);
}

/* healer_commands_total's result: ok, failed, timeout, refused. */
static const char *command_result(const ExResult *res, bool refused)
{
	if (!res)
		return refused ? "refused" : "failed";
	if (res->timed_out)
		return "timeout";
	return res->exit_status == 0 && !res->term_signal ? "ok" : "failed";
}

/*
 * A command's row. res is its result when it ran; without one it was
 * refused (by its gate, or by policy at the last moment) or could not start.
 */
static void record_command(Attempt *a, const WlCommand *c, const ExResult *res, bool refused,
			   const char *reason)
{
	_cleanup_free_ char *clean = NULL, *redacted = NULL, *noted = NULL;
	StCommand sc = {
		.attempt_id = a->id,
		.index = (unsigned)a->next_cmd,
		.action = c->action,
		.argv = (const char *const *)c->argv,
		.accepted = res != NULL,
		.reason = reason,
		.exit_status = res ? res->exit_status : -1,
		.term_signal = res ? res->term_signal : 0,
		.timed_out = res && res->timed_out,
		.duration_usec = res ? res->duration_usec : 0,
		.output = "",
	};

	/* Command output can quote secrets (a config dump): it is stored redacted. */
	if (res && res->output_len > 0) {
		clean = text_clean(res->output, res->output_len, ST_OUTPUT_MAX, TEXT_KEEP_NEWLINES,
				   NULL, NULL);
		if (clean && llm_redact(clean, &redacted, NULL) >= 0)
			sc.output = redacted;
		else
			sc.output = "(output withheld: it could not be redacted)";
	}
	/*
	 * What the whitelist asked for and did not get is on record, not only
	 * in the log: limits with no cgroup controllers to enforce them, and
	 * processes a command left behind (killed with its cgroup).
	 */
	if (res &&
	    ((!res->limits_applied && (c->memory_max || c->tasks_max)) || res->leftovers_killed)) {
		const char *limits = !res->limits_applied && (c->memory_max || c->tasks_max)
					     ? "ran without its memory_max/tasks_max (no cgroup "
					       "controllers for commands here)"
					     : NULL;
		const char *left = res->leftovers_killed
					   ? "left processes behind, killed with its cgroup"
					   : NULL;

		if (asprintf(&noted, "%s%s%s%s%s", reason ? reason : "", reason ? "; " : "",
			     limits ? limits : "", limits && left ? "; " : "",
			     left ? left : "") >= 0)
			sc.reason = noted;
		else
			noted = NULL;
		log_msg(LOG_WARNING, "attempt %lld: %s %s", (long long)a->id, c->action,
			noted ? noted : "ran with notes");
	}
	metrics_add(a->d->metrics, M_COMMANDS, 1, c->action, command_result(res, refused));
	if (st_command_add(a->d->store, &sc) < 0)
		log_msg(LOG_ERR, "attempt %lld: failed to store command %zu: %s", (long long)a->id,
			a->next_cmd + 1, st_errmsg(a->d->store));
}

static void on_command_done(ExChild *child, const ExResult *res, void *userdata)
{
	Attempt *a = userdata;
	const WlCommand *c = a->plan->commands[a->next_cmd];
	char why[REASON_MAX] = "";
	bool ok = res->exit_status == 0 && !res->timed_out;

	if (!ok) {
		if (res->timed_out)
			(void)util_snprintf(why, sizeof why, "%s timed out and was killed",
					    c->action);
		else if (res->term_signal)
			(void)util_snprintf(why, sizeof why, "%s was killed by signal %d",
					    c->action, res->term_signal);
		else
			(void)util_snprintf(why, sizeof why, "%s exited with status %d", c->action,
					    res->exit_status);
	}
	record_command(a, c, res, false, ok ? NULL : why);
	a->child = ex_child_free(child);
	if (a->d->stopping) {
		attempt_finish(a, AT_INTERRUPTED, "Healer stopped after command %zu (%s)",
			       a->next_cmd + 1, ok ? "succeeded" : why);
		return;
	}
	if (!ok) {
		attempt_finish(a, AT_FAILED, "command %zu: %s", a->next_cmd + 1, why);
		return;
	}
	a->next_cmd++;
	run_command(a);
}

static void spawn_command(Attempt *a)
{
	const WlCommand *c = a->plan->commands[a->next_cmd];
	_cleanup_(strv_freep) char **builtin = NULL;
	ExOptions o = {
		.timeout_usec = c->timeout_usec,
		.cgroup_parent = a->d->cgroup_parent,
		.memory_max = c->memory_max,
		.tasks_max = c->tasks_max,
	};
	char *const *argv = c->argv;
	char why[REASON_MAX];
	int r = 0;

	/* Dry run is forced in a replay and records instead: reaching here is a bug, refused. */
	if (daemon_replaying(a->d)) {
		record_command(a, c, NULL, true, "a replay runs nothing");
		attempt_finish(a, AT_FAILED, "a replay runs nothing (refused at command %zu)",
			       a->next_cmd + 1);
		return;
	}

	/*
	 * The budget and the cooldowns are charged when the first command
	 * starts, not before its gate: a plan the host refuses costs nothing.
	 * Asked again here, since another attempt may have spent them while
	 * this one's gate ran.
	 */
	if (a->next_cmd == 0 && !plan_may_run(a, why, sizeof why)) {
		record_command(a, c, NULL, true, why);
		attempt_finish(a, AT_SKIPPED, "nothing ran: %s", why);
		return;
	}
	if (!argv) {
		r = ex_builtin_argv(a->d->self_exe, wl_builtin_name(c->builtin), c->builtin_path,
				    &builtin);
		argv = builtin;
	}
	if (r >= 0)
		r = ex_spawn(a->d->event, argv, &o, on_command_done, a, &a->child);
	if (r >= 0 && a->next_cmd == 0)
		charge_plan(a);
	if (r < 0) {
		(void)util_snprintf(why, sizeof why, "%s could not start: %s", c->action,
				    strerror(-r));
		record_command(a, c, NULL, false, why);
		attempt_finish(a, AT_FAILED, "command %zu: %s", a->next_cmd + 1, why);
	}
}

static void on_gate_run(Attempt *a, bool ok, const char *why)
{
	const WlCommand *c = a->plan->commands[a->next_cmd];

	if (!ok) {
		record_command(a, c, NULL, true, why);
		if (a->next_cmd == 0)
			attempt_finish(a, AT_REJECTED, "nothing ran: %s", why);
		else
			attempt_finish(a, AT_FAILED, "stopped before command %zu: %s",
				       a->next_cmd + 1, why);
		return;
	}
	spawn_command(a);
}

static void run_command(Attempt *a)
{
	if (a->next_cmd >= a->plan->n_commands) {
		start_verifying(a);
		return;
	}
	gate_start(a);
}

/* ---- verifying ---- */

static int on_window_end(sd_event_source *s, uint64_t usec, void *userdata);

/* Every check of kind `verify` of every command, or the symptom preconditions. */
static size_t collect_checks(const Attempt *a, bool symptoms, WlCheck *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->plan->n_commands; i++) {
		const WlCommand *c = a->plan->commands[i];
		size_t m = symptoms ? c->n_requires : c->n_verifies;

		for (size_t k = 0; k < m; k++) {
			const WlCheck *x = symptoms ? &c->requires[k] : &c->verifies[k];

			if (symptoms && !wl_check_is_symptom(x->kind))
				continue;
			if (n < max)
				out[n++] = *x;
		}
	}
	return n;
}

static void on_symptoms(const ChkResult *res, size_t n, bool all_hold, void *userdata)
{
	Attempt *a = userdata;
	WlCheck checks[WL_MAX_COMMANDS_CAP * WL_MAX_CHECKS];

	(void)all_hold;
	a->chk = NULL;
	/* The journal may have shown the error again while the checks ran. */
	if (a->recurred) {
		attempt_finish(a, AT_FAILED, "the error recurred within verify_window");
		return;
	}
	(void)collect_checks(a, true, checks, ELEMENTSOF(checks));
	for (size_t i = 0; i < n; i++)
		if (res[i].verdict != CHK_FAILS) {
			attempt_finish(a, AT_FAILED, "the symptom '%s' %s: %s", checks[i].text,
				       res[i].verdict == CHK_HOLDS ? "is still there"
								   : "could not be judged",
				       res[i].detail);
			return;
		}
	attempt_finish(a, AT_HEALED, "verified: %s%s",
		       n ? "the symptoms are gone" : "the checks hold",
		       ", and the error did not recur");
}

static void check_symptoms(Attempt *a)
{
	WlCheck checks[WL_MAX_COMMANDS_CAP * WL_MAX_CHECKS];
	size_t n = collect_checks(a, true, checks, ELEMENTSOF(checks));
	ChkOptions o = chk_options(a);
	int r;

	if (n == 0) {
		attempt_finish(a, AT_HEALED,
			       "verified: the checks hold and the error did not recur");
		return;
	}
	r = chk_run(a->d->event, checks, n, &o, on_symptoms, a, &a->chk);
	if (r < 0)
		attempt_finish(a, AT_FAILED, "the symptoms could not be checked: %s", strerror(-r));
}

static void wait_window(Attempt *a)
{
	uint64_t end = a->done_mono + cfg(a)->verify_window_usec;
	int r;

	a->timer = sd_event_source_disable_unref(a->timer);
	r = sd_event_add_time(a->d->event, &a->timer, CLOCK_MONOTONIC, end, ATTEMPT_TIMER_ACCURACY,
			      on_window_end, a);
	if (r < 0) {
		attempt_finish(a, AT_FAILED, "no verify timer: %s", strerror(-r));
		return;
	}
	(void)sd_event_source_set_description(a->timer, "verify-window");
}

static void on_verifies(const ChkResult *res, size_t n, bool all_hold, void *userdata)
{
	Attempt *a = userdata;
	WlCheck checks[WL_MAX_COMMANDS_CAP * WL_MAX_CHECKS];

	a->chk = NULL;
	if (!all_hold) {
		(void)collect_checks(a, false, checks, ELEMENTSOF(checks));
		for (size_t i = 0; i < n; i++)
			if (res[i].verdict != CHK_HOLDS) {
				attempt_finish(a, AT_FAILED, "verify '%s' %s: %s", checks[i].text,
					       res[i].verdict == CHK_FAILS ? "does not hold"
									   : "could not be judged",
					       res[i].detail);
				return;
			}
	}
	if (a->recurred) {
		attempt_finish(a, AT_FAILED, "the error recurred after the fix");
		return;
	}
	wait_window(a);
}

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
	Attempt *a = userdata;
	WlCheck checks[WL_MAX_COMMANDS_CAP * WL_MAX_CHECKS];
	size_t n = collect_checks(a, false, checks, ELEMENTSOF(checks));
	ChkOptions o = chk_options(a);
	int r;

	(void)s;
	(void)usec;
	a->timer = sd_event_source_disable_unref(a->timer);
	if (a->recurred) {
		attempt_finish(a, AT_FAILED, "the error recurred after the fix");
		return 0;
	}
	if (n == 0) {
		wait_window(a);
		return 0;
	}
	r = chk_run(a->d->event, checks, n, &o, on_verifies, a, &a->chk);
	if (r < 0)
		attempt_finish(a, AT_FAILED, "the verify checks could not run: %s", strerror(-r));
	return 0;
}

static int on_window_end(sd_event_source *s, uint64_t usec, void *userdata)
{
	Attempt *a = userdata;

	(void)s;
	(void)usec;
	a->timer = sd_event_source_disable_unref(a->timer);
	/* What journald has made visible by now counts: one last look. */
	if (a->d->follower)
		fl_catch_up(a->d->follower);
	if (a->recurred) {
		attempt_finish(a, AT_FAILED, "the error recurred within verify_window");
		return 0;
	}
	check_symptoms(a);
	return 0;
}

static void start_verifying(Attempt *a)
{
	char span[64], why[128];
	int r;

	a->done_realtime = daemon_now(a->d);
	a->done_mono = daemon_mono();
	util_format_timespan(cfg(a)->settle_usec, span, sizeof span);
	(void)util_snprintf(why, sizeof why, "the plan ran; settling for %s", span);
	(void)attempt_transition(a, AT_VERIFYING, why);
	r = sd_event_add_time(a->d->event, &a->timer, CLOCK_MONOTONIC,
			      a->done_mono + cfg(a)->settle_usec, ATTEMPT_TIMER_ACCURACY,
			      on_settled, a);
	if (r < 0) {
		attempt_finish(a, AT_FAILED, "no settle timer: %s", strerror(-r));
		return;
	}
	(void)sd_event_source_set_description(a->timer, "verify-settle");
}

/* ---- decisions, resumption, shutdown ---- */

void attempt_decide(Attempt *a, bool approve, const char *actor)
{
	char detail[128];

	(void)util_snprintf(detail, sizeof detail, "attempt %lld", (long long)a->id);
	(void)st_audit(a->d->store, actor, approve ? "approve" : "reject", detail,
		       daemon_now(a->d));
	if (a->state != AT_AWAITING_APPROVAL) {
		log_msg(LOG_WARNING, "attempt %lld: %s by %s ignored: it is %s", (long long)a->id,
			approve ? "approval" : "rejection", actor, at_state_name(a->state));
		return;
	}
	a->timer = sd_event_source_disable_unref(a->timer);
	if (!approve) {
		count_rejection(a, REJECT_APPROVAL);
		attempt_finish(a, AT_REJECTED, "rejected by %s", actor);
		return;
	}
	log_msg(LOG_INFO, "attempt %lld: approved by %s", (long long)a->id, actor);
	/* start_executing() takes the live settings first: a plan may wait for hours. */
	start_executing(a);
}

int attempt_resume_approval(Daemon *d, const StAttempt *sa)
{
	StIncident in = {.fingerprint = sa->fingerprint, .unit = sa->unit};
	WlVetOptions vo = {.evidence_unit = sa->unit};
	uint64_t now = daemon_now(d), end;
	Attempt *a = attempt_new(d, sa->id, sa->incident_id, &in);

	if (!a)
		return -ENOMEM;
	a->state = AT_AWAITING_APPROVAL;
	a->provider = dup_or_null(sa->provider);
	a->plan_json = dup_or_null(sa->plan_json);
	if (plan_vet_json(wl(a), a->plan_json, &vo, &a->plan) < 0) {
		daemon_attempt_gone(d, a);
		return -ENOMEM;
	}
	if (!a->plan->accepted) {
		count_rejection(a, plan_refusal_kind(a->plan));
		attempt_finish(a, AT_REJECTED, "after a restart the plan is no longer allowed: %s",
			       a->plan->reason);
		return 0;
	}
	end = sa->created_usec + cfg(a)->approval_timeout_usec;
	if (end <= now) {
		count_rejection(a, REJECT_APPROVAL_EXPIRED);
		attempt_finish(a, AT_REJECTED, "no decision within approval_timeout");
		return 0;
	}
	park_for_approval(a, end - now);
	return 0;
}

bool attempt_stop(Attempt *a)
{
	if (a->child)
		return true; /* it finishes up to its timeout, then ends interrupted */
	if (a->state == AT_AWAITING_APPROVAL) {
		/* Stays awaiting in the store; the next start resumes it. */
		daemon_attempt_gone(a->d, a);
		return false;
	}
	if (a->job)
		analysis_over(a);
	attempt_finish(a, AT_INTERRUPTED, "Healer stopped while %s", at_state_name(a->state));
	return false;
}

void daemon_note_recurrence(Daemon *d, uint64_t fp, uint64_t realtime_usec)
{
	for (Attempt *a = d->attempts; a; a = a->next)
		if (a->state == AT_VERIFYING && a->fingerprint == fp &&
		    realtime_usec >= a->done_realtime && !a->recurred) {
			a->recurred = true;
			/* Waiting out the window is pointless now: end it at once. */
			if (a->timer && !a->chk)
				(void)sd_event_source_set_time(a->timer, 0);
		}
}
