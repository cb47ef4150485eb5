/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/util.h"
#include "llm/client.h"
#include "llm/http.h"
#include "llm/rules.h"

typedef struct LlmJob Job;

struct LlmClient {
	sd_event *event;
	LlmClientOptions o;
	const LlmRules *rules;
	LlmHttp *http;
	unsigned failures;   /* analyses in a row that got no reply from the provider */
	uint64_t open_until; /* monotonic µs; the breaker is open before it */
	char *fault;	     /* the last configuration fault, until a 2xx answer */
	LlmFault fault_kind;
	uint64_t fault_until; /* monotonic µs; no calls before it */
	Job *jobs;
};

struct LlmJob {
	LlmClient *client;
	Job *next, *prev;
	LlmHttpRequest req;
	LlmIncidentInput in;
	char *unit, *message;
	LlmAnalysis *a;
	unsigned attempt;
	uint64_t started; /* monotonic µs */
	LlmHttpCall *call;
	sd_event_source *wait; /* retry timer, or the defer that answers offline */
	llm_analysis_fn done;
	void *userdata;
};

LlmAnalysis *llm_analysis_free(LlmAnalysis *a)
{
	if (!a)
		return NULL;
	free(a->reply);
	free(a->error);
	for (size_t i = 0; i < a->n_calls; i++)
		free(a->calls[i].error);
	free(a->calls);
	free(a);
	return NULL;
}

static void job_free(Job *j)
{
	LlmClient *c = j->client;

	if (j->prev)
		j->prev->next = j->next;
	else if (c->jobs == j)
		c->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	llm_http_cancel(j->call);
	sd_event_source_disable_unref(j->wait);
	llm_request_done(&j->req);
	free(j->unit);
	free(j->message);
	llm_analysis_free(j->a);
	free(j);
}

LlmClient *llm_client_free(LlmClient *c)
{
	if (!c)
		return NULL;
	while (c->jobs)
		job_free(c->jobs);
	llm_http_free(c->http);
	sd_event_unref(c->event);
	free(c->fault);
	free(c);
	return NULL;
}

int llm_client_new(sd_event *e, const LlmClientOptions *opts, const LlmRules *rules,
		   LlmClient **ret)
{
	LlmClient *c = calloc(1, sizeof *c);
	int r;

	if (!c)
		return -ENOMEM;
	c->event = sd_event_ref(e);
	c->o = *opts;
	c->rules = rules;
	if (!c->o.timeout_usec)
		c->o.timeout_usec = 30 * USEC_PER_SEC;
	if (!c->o.breaker_failures)
		c->o.breaker_failures = 3;
	if (!c->o.breaker_cooloff_usec)
		c->o.breaker_cooloff_usec = 5 * USEC_PER_MINUTE;
	if (!c->o.base_backoff_usec)
		c->o.base_backoff_usec = USEC_PER_SEC;
	if (!c->o.max_wait_usec)
		c->o.max_wait_usec = 5 * USEC_PER_MINUTE;
	if (!c->o.total_usec)
		c->o.total_usec = c->o.timeout_usec * (c->o.max_retries + 1) + USEC_PER_MINUTE;
	if (!c->o.fault_cooloff_usec)
		c->o.fault_cooloff_usec = USEC_PER_HOUR;
	if (c->o.endpoint.kind) {
		r = llm_http_new(e, &c->http);
		if (r < 0) {
			llm_client_free(c);
			return r;
		}
	}
	*ret = c;
	return 0;
}

bool llm_client_breaker_open(const LlmClient *c)
{
	return c->open_until > util_now_usec();
}

const char *llm_client_fault(const LlmClient *c, LlmFault *ret_kind)
{
	if (ret_kind)
		*ret_kind = c->fault ? c->fault_kind : LLM_FAULT_NONE;
	return c->fault;
}

static bool fault_holds(const LlmClient *c)
{
	return c->fault && c->fault_until > util_now_usec();
}

/* Hands the analysis to its owner and forgets the job. */
static void finish(Job *j)
{
	LlmAnalysis *a = TAKE_PTR(j->a);
	llm_analysis_fn done = j->done;
	void *ud = j->userdata;

	job_free(j);
	done(a, ud);
}

/* The rules answer: as the provider, or because the provider could not. */
static void answer_offline(Job *j, const char *why)
{
	char *reply = NULL;
	const char *rule = NULL;
	int r = 0;

	if (why) {
		j->a->fallback = true;
		free(j->a->error);
		j->a->error = strdup(why);
	}
	if (j->client->rules)
		r = llm_rules_match(j->client->rules, j->in.unit, j->in.priority, j->in.message,
				    &reply, &rule);
	if (r > 0) {
		j->a->reply = reply;
		j->a->rule = rule;
	} else if (r < 0 && !j->a->error) {
		j->a->error = strdup("the offline rules failed");
	} else if (r == 0 && !why) {
		j->a->error = strdup("no offline rule matches this incident");
	}
	finish(j);
}

/*
 * Whether a failure says the provider is unwell (transport, 404, 408, 429,
 * 5xx) rather than that this one request or reply was bad (400, a blocked
 * prompt, a moderation 403, a truncated or malformed reply). Only the first
 * kind opens the breaker: anyone who can write a journal line can make the
 * second happen, and must not be able to switch the model off. (401, 402
 * and any other 403 are configuration faults, handled apart.)
 */
static bool counts_against_provider(long status)
{
	return status == 0 || status == 401 || status == 402 || status == 404 || status == 408 ||
	       status == 429 || status >= 500;
}

/* The answer while a configuration fault holds: the rules, and the fault as the error. */
static void answer_fault(Job *j)
{
	LlmClient *c = j->client;
	uint64_t now = util_now_usec(), left = c->fault_until > now ? c->fault_until - now : 0;
	char why[700];

	j->a->fault = c->fault_kind;
	(void)util_snprintf(why, sizeof why,
			    "configuration fault (%s): %s; %s is not called again for %llu min or "
			    "until the configuration is reloaded",
			    llm_fault_name(c->fault_kind), c->fault, j->a->provider,
			    (unsigned long long)((left + USEC_PER_MINUTE - 1) / USEC_PER_MINUTE));
	answer_offline(j, why);
}

/*
 * The provider refused our configuration: stop calling it (every call would
 * fail alike) and say so in every analysis and in llm_client_fault(). Only
 * statuses the prompt cannot cause get here (provider-response.c).
 */
static int config_fault(Job *j, LlmFault kind, const char *error)
{
	LlmClient *c = j->client;
	char *f = strdup(error ? error : "?");

	if (!f)
		return -ENOMEM;
	free(c->fault);
	c->fault = f;
	c->fault_kind = kind;
	c->fault_until = util_now_usec() + c->o.fault_cooloff_usec;
	answer_fault(j);
	return 0;
}

static void provider_failed_status(Job *j, long status, const char *why)
{
	LlmClient *c = j->client;

	if (counts_against_provider(status) && ++c->failures >= c->o.breaker_failures)
		c->open_until = util_now_usec() + c->o.breaker_cooloff_usec;
	answer_offline(j, why);
}

static void provider_failed(Job *j, const char *why)
{
	provider_failed_status(j, 0, why);
}

static int record(Job *j, const LlmHttpResult *hr, const LlmResponse *resp, const char *outcome,
		  const char *error)
{
	LlmAnalysis *a = j->a;
	LlmCallRecord *n = realloc(a->calls, (a->n_calls + 1) * sizeof *n);

	if (!n)
		return -ENOMEM;
	a->calls = n;
	n[a->n_calls] = (LlmCallRecord){
		.http_status = hr->status,
		.latency_usec = hr->elapsed_usec,
		.tokens_in = resp ? resp->tokens_in : -1,
		.tokens_out = resp ? resp->tokens_out : -1,
		.tokens_total = resp ? resp->tokens_total : -1,
		.tokens_thinking = resp ? resp->tokens_thinking : -1,
		.outcome = outcome,
		.error = error ? strdup(error) : NULL,
	};
	a->n_calls++;
	return 0;
}

/* Exponential from the base, jittered by +-25% so that retries spread out. */
static uint64_t backoff(const LlmClient *c, unsigned attempt)
{
	uint64_t d = c->o.base_backoff_usec << (attempt < 10 ? attempt - 1 : 9);
	uint16_t rnd = 0;

	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
		rnd = 32768;
	return d * 3 / 4 + d / 2 * rnd / 65535;
}

static void attempt(Job *j);

static int on_wait(sd_event_source *s, uint64_t usec, void *userdata)
{
	Job *j = userdata;

	(void)usec;
	j->wait = sd_event_source_disable_unref(s);
	attempt(j);
	return 0;
}

static void retry_or_fail(Job *j, uint64_t hint, const char *why, bool hinted)
{
	LlmClient *c = j->client;
	/* A server's hint counts, but never below the base: no back-to-back storms. */
	uint64_t wait = hint > c->o.base_backoff_usec ? hint
			: hint			      ? c->o.base_backoff_usec
						      : backoff(c, j->attempt);
	char msg[600];

	if (j->attempt > c->o.max_retries) {
		(void)util_snprintf(msg, sizeof msg, "%s (gave up after %u attempts)", why,
				    j->attempt);
		provider_failed(j, msg);
		return;
	}
	/* However the server paces us, one analysis has an end. */
	if (util_now_usec() + wait - j->started > c->o.total_usec) {
		(void)util_snprintf(
			msg, sizeof msg,
			"%s (another try would pass the analysis' time budget; giving up)", why);
		provider_failed(j, msg);
		return;
	}
	if (wait > c->o.max_wait_usec) {
		(void)util_snprintf(msg, sizeof msg, "%s (%s %llus; giving up)", why,
				    hinted ? "the server asks to wait"
					   : "the next retry would wait",
				    (unsigned long long)(wait / USEC_PER_SEC));
		provider_failed(j, msg);
		return;
	}
	/*
	 * The wait is on the path from an incident to an action: with sd-event's
	 * default slack (accuracy 0 = 250 ms) each retry would come late.
	 */
	if (sd_event_add_time_relative(c->event, &j->wait, CLOCK_MONOTONIC, wait,
				       LLM_TIMER_ACCURACY_USEC, on_wait, j) < 0) {
		provider_failed(j, why);
		return;
	}
	(void)sd_event_source_set_description(j->wait, "llm-retry-wait");
}

static void on_response(const LlmHttpResult *hr, void *userdata)
{
	Job *j = userdata;
	LlmResponse resp = {0};
	char why[600];

	j->call = NULL;
	if (hr->curl_code != 0) {
		const char *kind = hr->too_big	   ? "too_big"
				   : hr->timed_out ? "timeout"
						   : "transport";

		if (hr->too_big)
			(void)util_snprintf(why, sizeof why, "response over the %d-byte cap",
					    LLM_RESPONSE_MAX_BYTES);
		else
			(void)util_snprintf(why, sizeof why, "%s: %s",
					    hr->timed_out ? "timed out" : "transport error",
					    hr->error ? hr->error : "?");
		(void)record(j, hr, NULL, kind, why);
		if (hr->too_big)
			provider_failed_status(j, hr->status ? hr->status : 200, why);
		else
			retry_or_fail(j, 0, why, false);
		return;
	}
	if (llm_response_parse(j->client->o.endpoint.kind, hr->status, hr->retry_after, 0, hr->body,
			       hr->len, &resp) < 0) {
		provider_failed(j, "out of memory");
		return;
	}
	/* The server took our key and account: whatever fault there was is gone. */
	if (hr->status >= 200 && hr->status <= 299) {
		free(j->client->fault);
		j->client->fault = NULL;
		j->client->fault_kind = LLM_FAULT_NONE;
	}
	switch (resp.outcome) {
	case LLM_OUTCOME_OK:
		(void)record(j, hr, &resp, "ok", NULL);
		j->client->failures = 0;
		j->client->open_until = 0;
		j->a->reply = TAKE_PTR(resp.text);
		llm_response_done(&resp);
		finish(j);
		return;
	case LLM_OUTCOME_RETRY:
		(void)record(j, hr, &resp, "retry", resp.error);
		(void)util_snprintf(why, sizeof why, "%s", resp.error ? resp.error : "?");
		retry_or_fail(j, resp.retry_after_usec, why, resp.retry_after_usec > 0);
		break;
	case LLM_OUTCOME_FAIL:
		(void)record(j, hr, &resp, "fail", resp.error);
		(void)util_snprintf(why, sizeof why, "%s", resp.error ? resp.error : "?");
		provider_failed_status(j, hr->status, why);
		break;
	case LLM_OUTCOME_CONFIG:
		(void)record(j, hr, &resp, "config", resp.error);
		if (config_fault(j, resp.fault, resp.error) < 0)
			provider_failed(j, "out of memory");
		break;
	}
	llm_response_done(&resp);
}

static void attempt(Job *j)
{
	LlmClient *c = j->client;
	int r;

	/* A fault found by another analysis while this one waited to retry. */
	if (fault_holds(c)) {
		answer_fault(j);
		return;
	}
	j->attempt++;
	r = llm_http_post(c->http, &j->req, c->o.timeout_usec, LLM_RESPONSE_MAX_BYTES, on_response,
			  j, &j->call);
	if (r < 0)
		provider_failed(j, "could not start the HTTP request");
}

/* Every analysis starts from the loop, so that its callback never runs inline. */
static int on_start(sd_event_source *s, void *userdata)
{
	Job *j = userdata;
	char why[160];

	j->wait = sd_event_source_disable_unref(s);
	if (!j->client->o.endpoint.kind) {
		answer_offline(j, NULL);
	} else if (fault_holds(j->client)) {
		answer_fault(j);
	} else if (llm_client_breaker_open(j->client)) {
		(void)util_snprintf(why, sizeof why,
				    "circuit breaker open after %u failed analyses in a row; %s is "
				    "left alone for now",
				    j->client->failures, j->a->provider);
		answer_offline(j, why);
	} else {
		attempt(j);
	}
	return 0;
}

int llm_client_analyze(LlmClient *c, const char *system, const char *user,
		       const char *const *arg_names, const LlmIncidentInput *in,
		       llm_analysis_fn done, void *userdata, LlmJob **ret_job)
{
	Job *j = calloc(1, sizeof *j);
	int r;

	if (!j)
		return -ENOMEM;
	j->client = c;
	j->started = util_now_usec();
	j->done = done;
	j->userdata = userdata;
	j->unit = in->unit ? strdup(in->unit) : NULL;
	j->message = strdup(in->message ? in->message : "");
	j->a = calloc(1, sizeof *j->a);
	if ((in->unit && !j->unit) || !j->message || !j->a) {
		free(j->unit);
		free(j->message);
		free(j->a);
		free(j);
		return -ENOMEM;
	}
	j->in = (LlmIncidentInput){
		.unit = j->unit, .priority = in->priority, .message = j->message};
	j->a->provider = c->o.endpoint.kind ? llm_kind_name(c->o.endpoint.kind) : "rules";
	j->a->model = c->o.endpoint.kind ? c->o.endpoint.model : NULL;
	j->next = c->jobs;
	if (c->jobs)
		c->jobs->prev = j;
	c->jobs = j;
	if (c->o.endpoint.kind) {
		r = llm_request_build(&c->o.endpoint, system, user, arg_names, &j->req);
		if (r < 0) {
			job_free(j);
			return r;
		}
	}
	r = sd_event_add_defer(c->event, &j->wait, on_start, j);
	if (r < 0) {
		job_free(j);
		return r;
	}
	(void)sd_event_source_set_description(j->wait, "llm-analysis-start");
	if (ret_job)
		*ret_job = j;
	return 0;
}

void llm_client_cancel(LlmJob *j)
{
	if (j)
		job_free(j);
}
