/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/analyze.h"
#include "journal/journal.h"
#include "llm/prompt.h"

/*
 * Evidence fields are cut here, before anything else sees them: the prompt
 * cuts again to its own budget, after redaction.
 */
#define INPUT_FIELD_MAX	  256
#define INPUT_MESSAGE_MAX (64 * 1024)
#define INPUT_LINE_MAX	  (8 * 1024)

struct Analyzer {
	unsigned n_ref;
	sd_event *event;
	Settings *settings;
	LlmClient *client;
};

struct AnalysisJob {
	Analyzer *analyzer; /* a reference: a reload may drop the daemon's */
	LlmJob *llm;
	char *unit;
	unsigned redactions;
	size_t context_dropped;
	analysis_done_fn done;
	void *userdata;
};

Analysis *analysis_free(Analysis *a)
{
	if (!a)
		return NULL;
	free(a->provider);
	free(a->model);
	free(a->rule);
	free(a->error);
	for (size_t i = 0; i < a->n_calls; i++)
		free(a->calls[i].error);
	free(a->calls);
	free(a->reply);
	plan_free(a->plan);
	free(a);
	return NULL;
}

int analyzer_new(sd_event *e, Settings *s, Analyzer **ret)
{
	Analyzer *a = calloc(1, sizeof *a);
	int r;

	if (!a)
		return -ENOMEM;
	a->n_ref = 1;
	a->event = sd_event_ref(e);
	a->settings = settings_ref(s);
	r = llm_client_new(e, settings_client_options(s), settings_rules(s), &a->client);
	if (r < 0) {
		analyzer_unref(a);
		return r;
	}
	*ret = a;
	return 0;
}

Analyzer *analyzer_ref(Analyzer *a)
{
	if (a)
		a->n_ref++;
	return a;
}

Analyzer *analyzer_unref(Analyzer *a)
{
	if (!a || --a->n_ref > 0)
		return NULL;
	/* Every job holds a reference: none is running now. */
	llm_client_free(a->client);
	settings_unref(a->settings);
	sd_event_unref(a->event);
	free(a);
	return NULL;
}

bool analyzer_breaker_open(const Analyzer *a)
{
	return llm_client_breaker_open(a->client);
}

const char *analyzer_fault(const Analyzer *a, LlmFault *ret_kind)
{
	return llm_client_fault(a->client, ret_kind);
}

static void job_free(AnalysisJob *j)
{
	Analyzer *a = j->analyzer;

	llm_client_cancel(j->llm);
	free(j->unit);
	free(j);
	analyzer_unref(a);
}

void analyze_cancel(AnalysisJob *j)
{
	if (j)
		job_free(j);
}

static int dup_or_null(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/*
 * Replaces *s by its plain-text form: error texts quote what a server said,
 * and servers echo prompts, so they are shown and stored like log text.
 */
static int clean_in_place(char **s)
{
	char *c;

	if (!*s)
		return 0;
	c = text_clean_str(*s, 0);
	if (!c)
		return -ENOMEM;
	free(*s);
	*s = c;
	return 0;
}

/* The provider's answer, owned, with the reasons the rules answered instead. */
static int take_analysis(AnalysisJob *j, LlmAnalysis *la, Analysis *a)
{
	const char *key_missing = settings_key_missing(j->analyzer->settings);

	if (dup_or_null(la->provider, &a->provider) < 0 || dup_or_null(la->model, &a->model) < 0 ||
	    dup_or_null(la->rule, &a->rule) < 0)
		return -ENOMEM;
	a->reply = TAKE_PTR(la->reply);
	a->fallback = la->fallback;
	a->fault = la->fault;
	a->error = TAKE_PTR(la->error);
	a->calls = TAKE_PTR(la->calls);
	a->n_calls = la->n_calls;
	la->n_calls = 0;
	a->redactions = j->redactions;
	a->context_dropped = j->context_dropped;
	if (clean_in_place(&a->error) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_calls; i++)
		if (clean_in_place(&a->calls[i].error) < 0)
			return -ENOMEM;
	if (key_missing) {
		/* The missing key is the first reason; a failed rule match the second. */
		char *both = NULL;

		if (a->error ? asprintf(&both, "%s; %s", key_missing, a->error) < 0
			     : !(both = strdup(key_missing)))
			return -ENOMEM;
		free(a->error);
		a->error = both;
		a->fallback = true;
	}
	return 0;
}

static void vet(AnalysisJob *j, Analysis *a)
{
	WlVetOptions vo = {.evidence_unit = j->unit};
	const Whitelist *wl = settings_whitelist(j->analyzer->settings);
	int r;

	if (a->reply)
		r = plan_vet_reply(wl, a->reply, strlen(a->reply), &vo, &a->plan);
	else
		r = plan_new_refused(a->error ? a->error : "no reply", &a->plan);
	if (r < 0)
		a->plan = NULL; /* out of memory: the caller sees no plan and refuses */
}

static void on_llm_done(LlmAnalysis *la, void *userdata)
{
	AnalysisJob *j = userdata;
	analysis_done_fn done = j->done;
	void *ud = j->userdata;
	Analysis *a = calloc(1, sizeof *a);

	j->llm = NULL; /* the client has already forgotten it */
	if (a && take_analysis(j, la, a) >= 0)
		vet(j, a);
	if (a && !a->plan) {
		/* Out of memory somewhere: fail closed with what can still be said. */
		a = analysis_free(a);
	}
	llm_analysis_free(la);
	job_free(j);
	/* Last statement: the callback may free what userdata points to. */
	done(a, ud);
}

/* Plain-text copies of every evidence field, each under its cap. */
typedef struct CleanInput {
	char *unit, *identifier, *message;
	char **context;
	size_t n_context;
} CleanInput;

static void clean_input_done(CleanInput *c)
{
	free(c->unit);
	free(c->identifier);
	free(c->message);
	for (size_t i = 0; i < c->n_context; i++)
		free(c->context[i]);
	free(c->context);
}

static int clean_input(const AnalyzeInput *in, CleanInput *c)
{
	const char *msg = in->message ? in->message : "";

	*c = (CleanInput){0};
	if ((in->unit &&
	     !(c->unit = text_clean(in->unit, strlen(in->unit), INPUT_FIELD_MAX, 0, NULL, NULL))) ||
	    (in->identifier && !(c->identifier = text_clean(in->identifier, strlen(in->identifier),
							    INPUT_FIELD_MAX, 0, NULL, NULL))) ||
	    !(c->message = text_clean(msg, strlen(msg), INPUT_MESSAGE_MAX, 0, NULL, NULL)))
		return -ENOMEM;
	if (in->n_context == 0)
		return 0;
	c->context = calloc(in->n_context, sizeof *c->context);
	if (!c->context)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_context; i++, c->n_context++) {
		const char *l = in->context[i] ? in->context[i] : "";

		c->context[i] = text_clean(l, strlen(l), INPUT_LINE_MAX, 0, NULL, NULL);
		if (!c->context[i])
			return -ENOMEM;
	}
	return 0;
}

static int start(AnalysisJob *j, const AnalyzeInput *in)
{
	Settings *s = j->analyzer->settings;
	const Whitelist *wl = settings_whitelist(s);
	_cleanup_(clean_input_done) CleanInput c;
	LlmPrompt prompt = {0};
	size_t n_catalog;
	const LlmCatalogEntry *catalog = settings_catalog(s, &n_catalog);
	int r = clean_input(in, &c);

	if (r < 0)
		return r;
	{
		LlmEvidence ev = {.unit = c.unit,
				  .identifier = c.identifier,
				  .priority = in->priority,
				  .message = c.message,
				  .count = in->count ? in->count : 1,
				  .context = (const char *const *)c.context,
				  .n_context = c.n_context};
		LlmIncidentInput li = {c.unit, in->priority, c.message};

		r = llm_prompt_build(catalog, n_catalog, wl_max_commands(wl), &ev,
				     settings_config(s)->redact, &prompt);
		if (r < 0)
			return r;
		j->redactions = prompt.redactions;
		j->context_dropped = prompt.context_dropped;
		r = llm_client_analyze(j->analyzer->client, prompt.system, prompt.user,
				       settings_arg_names(s), &li, on_llm_done, j, &j->llm);
	}
	llm_prompt_done(&prompt);
	if (r < 0)
		return r;
	j->unit = TAKE_PTR(c.unit);
	return 0;
}

int analyze_start(Analyzer *a, const AnalyzeInput *in, analysis_done_fn done, void *userdata,
		  AnalysisJob **ret_job)
{
	AnalysisJob *j = calloc(1, sizeof *j);
	int r;

	if (!j)
		return -ENOMEM;
	j->analyzer = analyzer_ref(a);
	j->done = done;
	j->userdata = userdata;
	r = start(j, in);
	if (r < 0) {
		job_free(j);
		return r;
	}
	if (ret_job)
		*ret_job = j;
	return 0;
}
