/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "healer/embedded.h"
#include "healer/settings.h"

struct Settings {
	unsigned n_ref;
	Config *config;
	Whitelist *whitelist;
	char *whitelist_source;
	LlmRules *rules;
	char *rules_source;
	char *key_missing;
	LlmClientOptions client;
	LlmCatalogEntry *catalog;
	size_t n_catalog;
	LlmCatalogParam *params;
	const char **arg_names;
};

#define BUILTIN_WHITELIST "(built-in examples/whitelist.conf)"
#define BUILTIN_RULES	  "(built-in examples/rules.conf)"

/*
 * The built-in examples stand in for a default file only on a fresh host,
 * one without /etc/healer at all, and only when nobody named a file: an
 * administrator who removes the whitelist of an installed Healer gets an
 * error, not the example's actions back. lstat(): a dangling symlink is a
 * file someone put there.
 */
static bool use_builtin(const char *path, bool named, const char *def)
{
	struct stat st;

	return !named && strcmp(path, def) == 0 && lstat(CFG_DEFAULT_DIR, &st) < 0 &&
	       errno == ENOENT;
}

static int set_source(const char *source, char **ret_source)
{
	if (!ret_source)
		return 0;
	*ret_source = strdup(source);
	return *ret_source ? 0 : -ENOMEM;
}

int settings_load_whitelist(const char *path, bool named, Whitelist **ret, char **ret_source,
			    char **ret_errors)
{
	_cleanup_(wl_freep) Whitelist *wl = NULL;
	bool builtin = use_builtin(path, named, CFG_DEFAULT_WHITELIST);
	int r;

	if (builtin)
		r = wl_parse(BUILTIN_WHITELIST, embedded_whitelist_conf,
			     embedded_whitelist_conf_len, &wl, ret_errors);
	else
		r = wl_load(path, &wl, ret_errors);
	if (r < 0)
		return r;
	r = set_source(builtin ? BUILTIN_WHITELIST : path, ret_source);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(wl);
	return 0;
}

int settings_load_rules(const char *path, bool named, LlmRules **ret, char **ret_source,
			char **ret_errors)
{
	_cleanup_(llm_rules_freep) LlmRules *rules = NULL;
	bool builtin = use_builtin(path, named, CFG_DEFAULT_RULES);
	int r;

	if (builtin)
		r = llm_rules_parse(BUILTIN_RULES, embedded_rules_conf, embedded_rules_conf_len,
				    &rules, ret_errors);
	else
		r = llm_rules_load(path, &rules, ret_errors);
	if (r < 0)
		return r;
	r = set_source(builtin ? BUILTIN_RULES : path, ret_source);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(rules);
	return 0;
}

/* The whitelist as the model sees it, and the union of parameter names. */
static int build_catalog(Settings *s)
{
	const Whitelist *wl = s->whitelist;
	size_t n = wl_n_actions(wl), np = 0, nn = 0;

	for (size_t i = 0; i < n; i++)
		np += wl_action_n_params(wl, i);
	s->catalog = calloc(n + 1, sizeof *s->catalog);
	s->params = calloc(np + 1, sizeof *s->params);
	s->arg_names = calloc(np + 1, sizeof *s->arg_names);
	if (!s->catalog || !s->params || !s->arg_names)
		return -ENOMEM;
	np = 0;
	for (size_t i = 0; i < n; i++) {
		s->catalog[i] = (LlmCatalogEntry){.name = wl_action_name(wl, i),
						  .description = wl_action_description(wl, i),
						  .n_params = wl_action_n_params(wl, i),
						  .params = s->params + np};
		for (size_t k = 0; k < s->catalog[i].n_params; k++, np++) {
			const char *pn = wl_action_param_name(wl, i, k);
			bool dup = false;

			s->params[np] = (LlmCatalogParam){pn, wl_action_param_pattern(wl, i, k)};
			for (size_t m = 0; m < nn && !dup; m++)
				dup = strcmp(s->arg_names[m], pn) == 0;
			if (!dup)
				s->arg_names[nn++] = pn;
		}
	}
	s->n_catalog = n;
	return 0;
}

/* The config's provider mapped to the client; the rules when it has no key. */
static int build_client(Settings *s, int have_key)
{
	static const LlmKind kinds[] = {
		[CFG_PROVIDER_RULES] = 0,
		[CFG_PROVIDER_GEMINI] = LLM_KIND_GEMINI,
		[CFG_PROVIDER_OPENROUTER] = LLM_KIND_OPENROUTER,
		[CFG_PROVIDER_OPENAI] = LLM_KIND_OPENAI,
	};
	const Config *c = s->config;
	bool needs_key =
		c->provider == CFG_PROVIDER_GEMINI || c->provider == CFG_PROVIDER_OPENROUTER;

	if (needs_key && !have_key &&
	    asprintf(&s->key_missing, "no API key for %s (set %s or [llm] api_key_file)",
		     cfg_provider_name(c->provider),
		     c->provider == CFG_PROVIDER_GEMINI ? "GEMINI_API_KEY" : "OPENROUTER_API_KEY") <
		    0) {
		s->key_missing = NULL;
		return -ENOMEM;
	}
	s->client = (LlmClientOptions){
		.endpoint = {.kind = s->key_missing ? 0 : kinds[c->provider],
			     .base_url = c->base_url,
			     .model = c->model,
			     .api_key = c->api_key,
			     .referer = c->referer,
			     .title = c->title,
			     .max_output_tokens = c->max_output_tokens,
			     .format = c->response_format && strcmp(c->response_format,
								    "json_schema") == 0
					       ? LLM_FORMAT_JSON_SCHEMA
					       : LLM_FORMAT_AUTO},
		.timeout_usec = c->timeout_usec,
		.max_retries = (unsigned)c->max_retries,
		.breaker_failures = (unsigned)c->breaker_failures,
		.breaker_cooloff_usec = c->breaker_cooloff_usec,
	};
	return 0;
}

/* healer.conf, its overrides and the key. */
static int load_config(Settings *s, const SettingsOptions *o, char **ret_errors)
{
	char *key_error = NULL;
	int r;

	s->config = cfg_new();
	if (!s->config)
		return -ENOMEM;
	r = cfg_load(s->config, o->config_path ? o->config_path : CFG_DEFAULT_PATH,
		     !!o->config_path, ret_errors);
	if (r >= 0)
		r = cfg_apply_env(s->config, o->envp, ret_errors);
	if (r >= 0)
		r = cfg_finish(s->config, ret_errors);
	if (r < 0)
		return r;
	if (o->force_dry_run)
		s->config->dry_run = true;
	if (o->rules_only)
		s->config->provider = CFG_PROVIDER_RULES;
	if (o->config_only)
		return 0;
	r = cfg_load_api_key(s->config, o->envp, &key_error);
	if (r < 0) {
		if (key_error && asprintf(ret_errors, "%s\n", key_error) < 0)
			*ret_errors = NULL;
		free(key_error);
	}
	return r;
}

int settings_load(const SettingsOptions *opts, Settings **ret, char **ret_errors)
{
	static const SettingsOptions none = {0};
	const SettingsOptions *o = opts ? opts : &none;
	_cleanup_(settings_unrefp) Settings *s = calloc(1, sizeof *s);
	int r, have_key;

	assert(ret_errors);
	*ret_errors = NULL;
	if (!s)
		return -ENOMEM;
	s->n_ref = 1;
	have_key = r = load_config(s, o, ret_errors);
	if (r < 0)
		return r;
	if (o->config_only) {
		*ret = TAKE_PTR(s);
		return 0;
	}
	/* A config named on the command line names its files too. */
	r = settings_load_whitelist(o->whitelist_path ? o->whitelist_path : s->config->whitelist,
				    o->whitelist_path || o->config_path, &s->whitelist,
				    &s->whitelist_source, ret_errors);
	if (r < 0)
		return r;
	r = settings_load_rules(s->config->rules, !!o->config_path, &s->rules, &s->rules_source,
				ret_errors);
	if (r < 0)
		return r;
	r = build_catalog(s);
	if (r >= 0)
		r = build_client(s, have_key);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

Settings *settings_ref(Settings *s)
{
	if (s)
		s->n_ref++;
	return s;
}

Settings *settings_unref(Settings *s)
{
	if (!s || --s->n_ref > 0)
		return NULL;
	free(s->catalog);
	free(s->params);
	free(s->arg_names);
	llm_rules_free(s->rules);
	free(s->rules_source);
	wl_free(s->whitelist);
	free(s->whitelist_source);
	free(s->key_missing);
	cfg_free(s->config);
	free(s);
	return NULL;
}

const Config *settings_config(const Settings *s)
{
	return s->config;
}

const Whitelist *settings_whitelist(const Settings *s)
{
	return s->whitelist;
}

const char *settings_whitelist_source(const Settings *s)
{
	return s->whitelist_source;
}

const LlmRules *settings_rules(const Settings *s)
{
	return s->rules;
}

const char *settings_key_missing(const Settings *s)
{
	return s->key_missing;
}

const LlmClientOptions *settings_client_options(const Settings *s)
{
	return &s->client;
}

const LlmCatalogEntry *settings_catalog(const Settings *s, size_t *ret_n)
{
	if (ret_n)
		*ret_n = s->n_catalog;
	return s->catalog;
}

const char *const *settings_arg_names(const Settings *s)
{
	return s->arg_names;
}
