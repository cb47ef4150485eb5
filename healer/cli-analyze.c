/* SPDX-License-Identifier: MIT */
/*
 * healer analyze [-c CONFIG] [-w WHITELIST] --unit UNIT --message TEXT
 *                [--priority PRIO] [--context-file FILE] [--json]
 *
 * One analysis with the configured provider, its reply vetted by the
 * whitelist exactly as the daemon would; runs nothing.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "healer/cli.h"
#include "healer/config.h"
#include "healer/embedded.h"
#include "healer/plan.h"
#include "journal/journal.h"
#include "llm/client.h"
#include "llm/prompt.h"
#include "llm/rules.h"

#define CONTEXT_FILE_MAX (64 * 1024)

typedef struct Analyze {
	LlmAnalysis *a;
	bool done;
} Analyze;

static void on_done(LlmAnalysis *a, void *userdata)
{
	Analyze *an = userdata;

	an->a = a;
	an->done = true;
}

static bool is_missing_default(const char *path, const char *def)
{
	struct stat st;

	return strcmp(path, def) == 0 && stat(path, &st) < 0 && errno == ENOENT;
}

/* The configured whitelist, or the built-in example when the default file is absent. */
int cli_load_whitelist(const char *path, Whitelist **ret)
{
	_cleanup_free_ char *errors = NULL;
	int r;

	if (is_missing_default(path, HEALER_DEFAULT_WHITELIST))
		r = wl_parse("(built-in examples/whitelist.conf)", embedded_whitelist_conf,
			     embedded_whitelist_conf_len, ret, &errors);
	else
		r = wl_load(path, ret, &errors);
	if (r < 0)
		fprintf(stderr, "%s", errors ? errors : "whitelist: out of memory\n");
	return r;
}

int cli_load_rules(const char *path, LlmRules **ret)
{
	_cleanup_free_ char *errors = NULL;
	int r;

	if (is_missing_default(path, "/etc/healer/rules.conf"))
		r = llm_rules_parse("(built-in examples/rules.conf)", embedded_rules_conf,
				    embedded_rules_conf_len, ret, &errors);
	else
		r = llm_rules_load(path, ret, &errors);
	if (r < 0)
		fprintf(stderr, "%s", errors ? errors : "rules: out of memory\n");
	return r;
}

/* Lines of a file, capped; empty lines dropped. */
static int read_context(const char *path, char ***ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	char **v;
	size_t len, n = 0;
	int r = util_read_file(path, CONTEXT_FILE_MAX, &buf, &len);

	if (r < 0)
		return r;
	v = calloc(JR_CONTEXT_MAX + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (char *l = buf, *nl; l && *l && n < JR_CONTEXT_MAX; l = nl) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = '\0';
		if (*l && !(v[n++] = strdup(l))) {
			jr_strv_free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The whitelist as the model sees it, and the union of parameter names. */
static int catalog(const Whitelist *wl, LlmCatalogEntry **ret, LlmCatalogParam **ret_params,
		   const char ***ret_names)
{
	size_t n = wl_n_actions(wl), np = 0, nn = 0;
	LlmCatalogEntry *cat = calloc(n + 1, sizeof *cat);
	LlmCatalogParam *params;
	const char **names;

	for (size_t i = 0; i < n; i++)
		np += wl_action_n_params(wl, i);
	params = calloc(np + 1, sizeof *params);
	names = calloc(np + 1, sizeof *names);
	if (!cat || !params || !names) {
		free(cat);
		free(params);
		free(names);
		return -ENOMEM;
	}
	np = 0;
	for (size_t i = 0; i < n; i++) {
		cat[i] = (LlmCatalogEntry){.name = wl_action_name(wl, i),
					   .description = wl_action_description(wl, i),
					   .n_params = wl_action_n_params(wl, i),
					   .params = params + np};
		for (size_t k = 0; k < cat[i].n_params; k++, np++) {
			const char *pn = wl_action_param_name(wl, i, k);
			bool dup = false;

			params[np] = (LlmCatalogParam){pn, wl_action_param_pattern(wl, i, k)};
			for (size_t m = 0; m < nn && !dup; m++)
				dup = strcmp(names[m], pn) == 0;
			if (!dup)
				names[nn++] = pn;
		}
	}
	*ret = cat;
	*ret_params = params;
	*ret_names = names;
	return 0;
}

static void add_calls(cJSON *o, const LlmAnalysis *a)
{
	cJSON *calls = cJSON_AddArrayToObject(o, "calls");

	for (size_t i = 0; a && i < a->n_calls; i++) {
		const LlmCallRecord *c = &a->calls[i];
		cJSON *x = cJSON_CreateObject();

		cJSON_AddItemToArray(calls, x);
		cJSON_AddNumberToObject(x, "http_status", (double)c->http_status);
		cJSON_AddNumberToObject(x, "latency_ms", (double)c->latency_usec / 1000.0);
		cJSON_AddStringToObject(x, "outcome", c->outcome);
		cJSON_AddNumberToObject(x, "tokens_in", (double)c->tokens_in);
		cJSON_AddNumberToObject(x, "tokens_out", (double)c->tokens_out);
		cJSON_AddNumberToObject(x, "tokens_total", (double)c->tokens_total);
		if (c->error)
			cJSON_AddStringToObject(x, "error", c->error);
	}
}

/* Prints the analysis in the shape of `whitelist test --json`, plus what was asked. */
static int print_result(const LlmAnalysis *a, const Plan *plan, const LlmPrompt *prompt, bool json)
{
	_cleanup_free_ char *pj = plan_to_json(plan);
	cJSON *o = pj ? cJSON_Parse(pj) : NULL;
	char *s;

	if (!o)
		return -ENOMEM;
	cJSON_AddStringToObject(o, "provider", a->provider);
	if (a->model)
		cJSON_AddStringToObject(o, "model", a->model);
	else
		cJSON_AddNullToObject(o, "model");
	if (!cJSON_GetObjectItem(o, "diagnosis"))
		cJSON_AddNullToObject(o, "diagnosis");
	cJSON_AddBoolToObject(o, "fallback", a->fallback);
	if (a->error)
		cJSON_AddStringToObject(o, "error", a->error);
	else
		cJSON_AddNullToObject(o, "error");
	if (a->rule)
		cJSON_AddStringToObject(o, "rule", a->rule);
	cJSON_AddNumberToObject(o, "redactions", prompt->redactions);
	add_calls(o, a);
	s = json ? cJSON_PrintUnformatted(o) : cJSON_Print(o);
	cJSON_Delete(o);
	if (!s)
		return -ENOMEM;
	printf("%s\n", s);
	free(s);
	return 0;
}

typedef struct AnalyzeArgs {
	const char *config, *whitelist, *unit, *message, *context_file;
	int priority;
	bool json;
} AnalyzeArgs;

static int endpoint_from(const Config *c, LlmEndpoint *ep)
{
	static const LlmKind kinds[] = {0, LLM_KIND_GEMINI, LLM_KIND_OPENROUTER, LLM_KIND_OPENAI};

	*ep = (LlmEndpoint){.kind = kinds[c->provider],
			    .base_url = c->base_url,
			    .model = c->model,
			    .api_key = c->api_key,
			    .referer = c->referer,
			    .title = c->title,
			    .max_output_tokens = c->max_output_tokens};
	return 0;
}

static int run(const AnalyzeArgs *args)
{
	_cleanup_(cfg_freep) Config *cfg = cfg_new();
	_cleanup_(wl_freep) Whitelist *wl = NULL;
	_cleanup_(llm_rules_freep) LlmRules *rules = NULL;
	_cleanup_(plan_freep) Plan *plan = NULL;
	_cleanup_free_ char *errors = NULL, *key_error = NULL, *no_key = NULL;
	_cleanup_free_ LlmCatalogEntry *cat = NULL;
	_cleanup_free_ LlmCatalogParam *params = NULL;
	_cleanup_free_ const char **names = NULL;
	char **ctx = NULL;
	size_t n_ctx = 0;
	LlmPrompt prompt = {0};
	LlmClientOptions co = {0};
	LlmClient *client = NULL;
	sd_event *ev = NULL;
	Analyze an = {0};
	int r;

	if (!cfg)
		return -ENOMEM;
	r = cfg_load(cfg, args->config ? args->config : CFG_DEFAULT_PATH, !!args->config, &errors);
	if (r >= 0)
		r = cfg_apply_env(cfg, NULL, &errors);
	if (r >= 0)
		r = cfg_finish(cfg, &errors);
	if (r < 0) {
		fprintf(stderr, "%s", errors ? errors : "config: out of memory\n");
		return 2;
	}
	r = cfg_load_api_key(cfg, NULL, &key_error);
	if (r < 0) {
		fprintf(stderr, "healer: %s\n", key_error ? key_error : strerror(-r));
		return 2;
	}
	if (r == 0 &&
	    (cfg->provider == CFG_PROVIDER_GEMINI || cfg->provider == CFG_PROVIDER_OPENROUTER)) {
		/* No key: the offline rules answer, and the result says why. */
		if (asprintf(&no_key, "no API key for %s (set %s or [llm] api_key_file)",
			     cfg_provider_name(cfg->provider),
			     cfg->provider == CFG_PROVIDER_GEMINI ? "GEMINI_API_KEY"
								  : "OPENROUTER_API_KEY") < 0)
			return -ENOMEM;
		cfg->provider = CFG_PROVIDER_RULES;
	}
	if (cli_load_whitelist(args->whitelist ? args->whitelist : cfg->whitelist, &wl) < 0 ||
	    cli_load_rules(cfg->rules, &rules) < 0)
		return 2;
	if (args->context_file) {
		r = read_context(args->context_file, &ctx, &n_ctx);
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", args->context_file,
				r == -E2BIG ? "over the 64 KiB cap" : strerror(-r));
			return 2;
		}
	}
	r = catalog(wl, &cat, &params, &names);
	if (r >= 0) {
		LlmEvidence e = {.unit = args->unit,
				 .priority = args->priority,
				 .message = args->message,
				 .count = 1,
				 .context = (const char *const *)ctx,
				 .n_context = n_ctx};

		r = llm_prompt_build(cat, wl_n_actions(wl), wl_max_commands(wl), &e, cfg->redact,
				     &prompt);
	}
	jr_strv_free(ctx);
	if (r < 0) {
		fprintf(stderr, "healer: cannot build the prompt: %s\n", strerror(-r));
		return 2;
	}
	endpoint_from(cfg, &co.endpoint);
	co.timeout_usec = cfg->timeout_usec;
	co.max_retries = (unsigned)cfg->max_retries;
	co.breaker_failures = (unsigned)cfg->breaker_failures;
	co.breaker_cooloff_usec = cfg->breaker_cooloff_usec;
	r = sd_event_new(&ev);
	if (r >= 0)
		r = llm_client_new(ev, &co, rules, &client);
	if (r >= 0) {
		LlmIncidentInput in = {args->unit, args->priority, args->message};

		r = llm_client_analyze(client, prompt.system, prompt.user, names, &in, on_done,
				       &an);
	}
	while (r >= 0 && !an.done)
		r = sd_event_run(ev, UINT64_MAX);
	llm_client_free(client);
	sd_event_unref(ev);
	if (r < 0 || !an.a) {
		fprintf(stderr, "healer: analysis failed: %s\n", strerror(r < 0 ? -r : EIO));
		llm_prompt_done(&prompt);
		return 2;
	}
	if (no_key) {
		/* The missing key is the first reason; a failed rule match the second. */
		char *both = NULL;

		if (an.a->error && asprintf(&both, "%s; %s", no_key, an.a->error) < 0)
			both = NULL;
		free(an.a->error);
		an.a->error = both ? both : TAKE_PTR(no_key);
		an.a->fallback = true;
	}
	if (an.a->reply) {
		WlVetOptions vo = {.evidence_unit = args->unit};

		r = plan_vet_reply(wl, an.a->reply, strlen(an.a->reply), &vo, &plan);
	} else {
		r = plan_new_refused(an.a->error ? an.a->error : "no reply", &plan);
	}
	if (r >= 0)
		r = print_result(an.a, plan, &prompt, args->json);
	llm_prompt_done(&prompt);
	llm_analysis_free(an.a);
	if (r < 0)
		return 2;
	return plan->accepted ? 0 : 1;
}

int cli_analyze(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"whitelist", required_argument, NULL, 'w'},
		{"unit", required_argument, NULL, 'u'},
		{"message", required_argument, NULL, 'm'},
		{"priority", required_argument, NULL, 'p'},
		{"context-file", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	AnalyzeArgs a = {.priority = 3};
	_cleanup_free_ char *unit = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:w:u:m:p:C:j", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			a.config = optarg;
			break;
		case 'w':
			a.whitelist = optarg;
			break;
		case 'u':
			a.unit = optarg;
			break;
		case 'm':
			a.message = optarg;
			break;
		case 'p':
			a.priority = jr_priority_from_string(optarg);
			if (a.priority < 0)
				goto usage;
			break;
		case 'C':
			a.context_file = optarg;
			break;
		case 'j':
			a.json = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || !a.unit || !a.message || strlen(a.message) > 65536 ||
	    strlen(a.unit) > 256)
		goto usage;
	/* "nginx" is nginx.service, as systemctl reads it and the journal names it. */
	unit = wl_unit_mangle(a.unit);
	if (!unit)
		return 2;
	a.unit = unit;
	r = run(&a);
	if (r < 0) {
		fprintf(stderr, "healer: %s\n", strerror(-r));
		return 2;
	}
	return r;
usage:
	fprintf(stderr, "usage: healer analyze [-c CONFIG] [-w WHITELIST] --unit UNIT --message "
			"TEXT [--priority PRIO] [--context-file FILE] [--json]\n");
	return 2;
}
