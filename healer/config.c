/* SPDX-License-Identifier: MIT */
/*
 * healer.conf as a table: one row per key, with its type, bounds and default
 * (the Redis config table, in C). The parser is the whitelist's in spirit:
 * INI, every error collected as "file:line: message".
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/ini.h"
#include "common/util.h"
#include "healer/config-value.h"
#include "healer/config.h"
#include "healer/policy.h"
#include "healer/url.h"
#include "journal/journal.h"

typedef enum CfgType {
	CFG_STRING,
	CFG_PATH, /* absolute */
	CFG_U64,
	CFG_SPAN,
	CFG_BOOL,
	CFG_PRIORITY,
	CFG_PROVIDER,
	CFG_ACT_ON, /* unsigned: POL_ACT_ON_* bits */
	CFG_SOURCE, /* int JrSource, and source_arg beside it */
	CFG_LISTEN, /* string: ADDRESS:PORT, [IPv6]:PORT or unix:/PATH */
	CFG_URL,    /* string: https://, or http:// to this host */
} CfgType;

typedef struct CfgKey {
	const char *section;
	const char *name;
	CfgType type;
	size_t offset;
	uint64_t min, max;
	const char *def;
	/*
	 * Whether a reload (SIGHUP) may change it. The others are bound
	 * when the daemon starts: the database it opened, the journal it
	 * follows, the socket it listens on and the token it checks.
	 */
	bool reloadable;
	const char *help;
} CfgKey;

#define RELOAD	true
#define RESTART false

#define O(f) offsetof(Config, f)
static const CfgKey keys[] = {
	{"healer", "whitelist", CFG_PATH, O(whitelist), 0, 0, CFG_DEFAULT_WHITELIST, RELOAD,
	 "the whitelist of commands Healer may run"},
	{"healer", "state_dir", CFG_PATH, O(state_dir), 0, 0, "/var/lib/healer", RESTART,
	 "where the database and the journal cursor live"},
	{"healer", "enabled", CFG_BOOL, O(enabled), 0, 0, "yes", RELOAD,
	 "act on incidents at all; no: record them and skip every one"},
	{"healer", "act_on", CFG_ACT_ON, O(act_on), 0, 0, "services kernel", RELOAD,
	 "whose incidents are acted on: services kernel user-units sessions unitless, or all"},
	{"healer", "auto_execute", CFG_BOOL, O(auto_execute), 0, 0, "yes", RELOAD,
	 "run a vetted plan at once; no: it waits for an administrator's approval"},
	{"healer", "dry_run", CFG_BOOL, O(dry_run), 0, 0, "no", RELOAD,
	 "analyse, vet and record plans, but run nothing"},
	{"healer", "max_age", CFG_SPAN, O(max_age_usec), USEC_PER_SEC, 7 * USEC_PER_DAY, "5min",
	 RELOAD, "entries older than this open no attempt (a replayed or late line)"},
	{"healer", "max_attempts", CFG_U64, O(max_attempts), 1, 100, "3", RELOAD,
	 "attempts per fingerprint within attempt_window"},
	{"healer", "attempt_window", CFG_SPAN, O(attempt_window_usec), USEC_PER_SEC,
	 7 * USEC_PER_DAY, "1h", RELOAD, "the span max_attempts counts over"},
	{"healer", "cooldown", CFG_SPAN, O(cooldown_usec), 0, USEC_PER_DAY, "5min", RELOAD,
	 "after an attempt starts, its fingerprint and its unit wait this long"},
	{"healer", "max_heals_per_hour", CFG_U64, O(max_heals_per_hour), 1, 1000, "10", RELOAD,
	 "plans run in any sliding hour, all units together"},
	{"healer", "max_concurrent_analyses", CFG_U64, O(max_concurrent_analyses), 1, 16, "2",
	 RELOAD, "analyses (model requests) running at once"},
	{"healer", "max_queued", CFG_U64, O(max_queued), 1, 10000, "100", RELOAD,
	 "incidents waiting for an analysis; past it the oldest is dropped"},
	{"healer", "settle", CFG_SPAN, O(settle_usec), 0, 10 * USEC_PER_MINUTE, "5s", RELOAD,
	 "after a plan ran, wait this long before the verify checks"},
	{"healer", "verify_window", CFG_SPAN, O(verify_window_usec), USEC_PER_SEC, USEC_PER_HOUR,
	 "30s", RELOAD, "after a plan ran, how long the unit must stay well to count as healed"},
	{"healer", "escalate_after", CFG_U64, O(escalate_after), 1, 100, "3", RELOAD,
	 "failed attempts within escalate_window that escalate a fingerprint or unit"},
	{"healer", "escalate_window", CFG_SPAN, O(escalate_window_usec), USEC_PER_SEC,
	 7 * USEC_PER_DAY, "10min", RELOAD, "the span escalate_after counts over"},
	{"healer", "approval_timeout", CFG_SPAN, O(approval_timeout_usec), USEC_PER_SEC,
	 7 * USEC_PER_DAY, "1h", RELOAD, "a plan waiting for approval this long is rejected"},
	{"healer", "retention", CFG_SPAN, O(retention_usec), USEC_PER_HOUR, 3650 * USEC_PER_DAY,
	 "30d", RELOAD, "history older than this is deleted from the database"},
	{"healer", "watch_units", CFG_BOOL, O(watch_units), 0, 0, "yes", RESTART,
	 "learn that a service failed from the service manager's D-Bus signal, not only from "
	 "its journal line"},
	{"journal", "source", CFG_SOURCE, O(source), 0, 0, "system", RESTART,
	 "the journal followed: system, directory:/PATH or namespace:NAME"},
	{"journal", "min_priority", CFG_PRIORITY, O(min_priority), 0, 7, "err", RELOAD,
	 "entries at this priority or worse open incidents"},
	{"journal", "lookback", CFG_SPAN, O(lookback_usec), 0, 7 * USEC_PER_DAY, "5min", RELOAD,
	 "on first start, read this far back"},
	{"journal", "dedupe_window", CFG_SPAN, O(window_usec), USEC_PER_SEC, USEC_PER_DAY, "10min",
	 RELOAD, "identical lines within this span are one incident"},
	{"journal", "context_lines", CFG_U64, O(context_lines), 0, 200, "20", RELOAD,
	 "lines of the same unit sent as context"},
	{"journal", "context_bytes", CFG_U64, O(context_bytes), 0, 64 * 1024, "8192", RELOAD,
	 "bytes of context at most"},
	{"llm", "provider", CFG_PROVIDER, O(provider), 0, 0, "rules", RELOAD,
	 "rules (offline), gemini, openrouter or openai (any OpenAI-compatible server)"},
	{"llm", "model", CFG_STRING, O(model), 1, 200, NULL, RELOAD,
	 "model name (provider default)"},
	{"llm", "base_url", CFG_STRING, O(base_url), 1, 1024, NULL, RELOAD,
	 "API base URL (provider default; required for openai)"},
	{"llm", "api_key_file", CFG_PATH, O(api_key_file), 0, 0, NULL, RELOAD,
	 "file holding the API key, readable by its owner only"},
	{"llm", "rules", CFG_PATH, O(rules), 0, 0, CFG_DEFAULT_RULES, RELOAD,
	 "offline rules, also the fallback when a provider fails"},
	{"llm", "timeout", CFG_SPAN, O(timeout_usec), USEC_PER_SEC, 10 * USEC_PER_MINUTE, "30s",
	 RELOAD, "total time for one HTTP request"},
	{"llm", "max_retries", CFG_U64, O(max_retries), 0, 10, "2", RELOAD,
	 "retries of a 429/503/timeout per analysis"},
	{"llm", "max_output_tokens", CFG_U64, O(max_output_tokens), 64, 65536, "2048", RELOAD,
	 "tokens the model may answer with"},
	{"llm", "breaker_failures", CFG_U64, O(breaker_failures), 1, 100, "3", RELOAD,
	 "failed analyses in a row that open the circuit breaker"},
	{"llm", "breaker_cooloff", CFG_SPAN, O(breaker_cooloff_usec), USEC_PER_SEC, USEC_PER_DAY,
	 "5min", RELOAD, "how long the provider is left alone then"},
	{"llm", "redact", CFG_BOOL, O(redact), 0, 0, "yes", RELOAD,
	 "replace secrets in log text before it leaves the host"},
	{"llm", "referer", CFG_STRING, O(referer), 1, 256, NULL, RELOAD,
	 "OpenRouter HTTP-Referer (attribution only)"},
	{"llm", "title", CFG_STRING, O(title), 1, 256, NULL, RELOAD, "OpenRouter X-Title"},
	{"llm", "response_format", CFG_STRING, O(response_format), 1, 32, "json_object", RELOAD,
	 "openai only: json_object, or json_schema (grammar-enforced by llama.cpp, vLLM, "
	 "Ollama 0.5+)"},
	{"api", "listen", CFG_LISTEN, O(api_listen), 1, 256, "127.0.0.1:8099", RESTART,
	 "where the REST API listens: ADDRESS:PORT, [IPv6]:PORT or unix:/PATH"},
	{"api", "token_file", CFG_PATH, O(api_token_file), 0, 0, NULL, RESTART,
	 "the API's bearer token; default STATE_DIR/api.token"},
	{"api", "public_reads", CFG_BOOL, O(api_public_reads), 0, 0, "no", RELOAD,
	 "serve GET requests without the token"},
	{"notify", "webhook", CFG_URL, O(notify_webhook), 1, 2048, NULL, RELOAD,
	 "a URL Healer POSTs its events to: https://, or http:// to this host"},
};
#undef O

/* Writes why a value is refused; returns -EINVAL. */
_printf_(3, 4) static int invalid(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Older names, still read in the file and the environment. */
static const struct {
	const char *section, *alias, *name;
} aliases[] = {
	{"journal", "window", "dedupe_window"},
};

static const char *const provider_names[] = {"rules", "gemini", "openrouter", "openai"};

const char *cfg_provider_name(int p)
{
	return p >= 0 && (size_t)p < ELEMENTSOF(provider_names) ? provider_names[p] : "?";
}

/* Errors, collected. */
typedef struct Errs {
	char *text;
	size_t len;
	unsigned n;
} Errs;

_printf_(2, 3) static void err(Errs *e, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	char *n;
	size_t l;

	if (++e->n > 100)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	l = strlen(msg);
	n = realloc(e->text, e->len + l + 2);
	if (!n)
		return;
	e->text = n;
	memcpy(e->text + e->len, msg, l);
	e->text[e->len + l] = '\n';
	e->text[e->len + l + 1] = '\0';
	e->len += l + 1;
}

static int finish_errs(Errs *e, char **ret)
{
	if (e->n == 0) {
		free(e->text);
		return 0;
	}
	if (ret)
		*ret = e->text;
	else
		free(e->text);
	return -EINVAL;
}

static bool parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
										    "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *ret = true, true;
		if (strcasecmp(v, no[i]) == 0)
			return *ret = false, true;
	}
	return false;
}

static int set_source(Config *c, const char *v, char *why, size_t why_len)
{
	int src = JR_SOURCE_SYSTEM;
	const char *arg = NULL;
	char *d = NULL;

	if (strncmp(v, "directory:", 10) == 0) {
		src = JR_SOURCE_DIRECTORY;
		arg = v + 10;
		if (arg[0] != '/' || strlen(arg) > 4096 || strpbrk(arg, "\t\x7f"))
			return invalid(why, why_len,
				       "directory: needs an absolute path of at most 4096 "
				       "bytes");
	} else if (strncmp(v, "namespace:", 10) == 0) {
		src = JR_SOURCE_NAMESPACE;
		arg = v + 10;
		if (!cfg_valid_namespace(arg))
			return invalid(why, why_len,
				       "namespace: needs a name of 1 to 222 letters, digits "
				       "and _.:@- (not beginning with . or -)");
	} else if (strcmp(v, "system") != 0)
		return invalid(why, why_len, "must be system, directory:/PATH or namespace:NAME");
	if (arg && !(d = strdup(arg)))
		return -ENOMEM;
	free(c->source_arg);
	c->source_arg = d;
	c->source = src;
	return 0;
}

/* String-like keys: the row's length bounds, no control character, then the type's own rule. */
static int set_string(Config *c, const CfgKey *k, const char *v, char *why, size_t why_len)
{
	char **dst = (char **)((char *)c + k->offset), *d;
	size_t n = strlen(v);

	if (k->type == CFG_PATH && v[0] != '/')
		return invalid(why, why_len, "must be an absolute path");
	if (n > (k->max ? k->max : 4096) || n < k->min)
		return invalid(why, why_len, "must be %ju to %ju bytes",
			       (uintmax_t)(k->min ? k->min : 1),
			       (uintmax_t)(k->max ? k->max : 4096));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return invalid(why, why_len, "holds a control character");
	if (k->type == CFG_LISTEN && !cfg_valid_listen(v, why, why_len))
		return -EINVAL;
	if (k->type == CFG_URL && !url_outbound_ok(v, "the URL", why, why_len))
		return -EINVAL;
	d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

static int set_span(const CfgKey *k, const char *v, uint64_t *dst, char *why, size_t why_len)
{
	char lo[32], hi[32];
	uint64_t u;

	if (util_parse_timespan(v, &u) == 0 && u >= k->min && u <= k->max) {
		*dst = u;
		return 0;
	}
	util_format_timespan(k->min, lo, sizeof lo);
	util_format_timespan(k->max, hi, sizeof hi);
	return invalid(why, why_len, "must be a time span from %s to %s (e.g. 30s, 5min)", lo, hi);
}

static int set_act_on(const char *v, unsigned *dst, char *why, size_t why_len)
{
	const char *bad = v;

	if (pol_act_on_parse(v, dst, &bad) == 0)
		return 0;
	return invalid(why, why_len,
		       "unknown source '%.*s' (services, kernel, user-units, sessions, "
		       "unitless or all)",
		       (int)strcspn(bad, " \t,"), bad);
}

/* Sets one key from text; on failure writes why into why. */
static int set_key(Config *c, const CfgKey *k, const char *v, char *why, size_t why_len)
{
	char *base = (char *)c + k->offset;
	uint64_t u;
	bool b;
	int r;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_LISTEN:
	case CFG_URL:
		return set_string(c, k, v, why, why_len);
	case CFG_U64:
		if (util_parse_u64(v, k->min, k->max, &u) < 0)
			return invalid(why, why_len, "must be a number from %ju to %ju",
				       (uintmax_t)k->min, (uintmax_t)k->max);
		*(uint64_t *)base = u;
		return 0;
	case CFG_SPAN:
		return set_span(k, v, (uint64_t *)base, why, why_len);
	case CFG_BOOL:
		if (!parse_bool(v, &b))
			return invalid(why, why_len, "must be yes or no");
		*(bool *)base = b;
		return 0;
	case CFG_PRIORITY:
		r = jr_priority_from_string(v);
		if (r < 0)
			return invalid(why, why_len,
				       "must be a priority (emerg, alert, crit, "
				       "err, warning, notice, info, debug)");
		*(int *)base = r;
		return 0;
	case CFG_PROVIDER:
		for (size_t i = 0; i < ELEMENTSOF(provider_names); i++)
			if (strcmp(v, provider_names[i]) == 0) {
				*(int *)base = (int)i;
				return 0;
			}
		return invalid(why, why_len, "must be rules, gemini, openrouter or openai");
	case CFG_ACT_ON:
		return set_act_on(v, (unsigned *)base, why, why_len);
	case CFG_SOURCE:
		return set_source(c, v, why, why_len);
	}
	return -EINVAL;
}

static const char *alias_of(const CfgKey *k)
{
	for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
		if (strcmp(aliases[i].section, k->section) == 0 &&
		    strcmp(aliases[i].name, k->name) == 0)
			return aliases[i].alias;
	return NULL;
}

/* The row of section.name, by its name or its older alias. */
static const CfgKey *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    (strcmp(keys[i].name, name) == 0 ||
		     (alias_of(&keys[i]) && strcmp(alias_of(&keys[i]), name) == 0)))
			return &keys[i];
	return NULL;
}

static bool known_section(const char *section)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

static bool is_string(CfgType t)
{
	return t == CFG_STRING || t == CFG_PATH || t == CFG_LISTEN || t == CFG_URL;
}

Config *cfg_free(Config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (is_string(keys[i].type))
			free(*(char **)((char *)c + keys[i].offset));
	free(c->source_arg);
	if (c->api_key) {
		/* Not left behind in freed memory. */
		explicit_bzero(c->api_key, strlen(c->api_key));
		free(c->api_key);
	}
	free(c);
	return NULL;
}

Config *cfg_new(void)
{
	Config *c = calloc(1, sizeof *c);
	char why[128];

	if (!c)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (keys[i].def && set_key(c, &keys[i], keys[i].def, why, sizeof why) < 0)
			return cfg_free(c); /* only OOM can fail on a default */
	return c;
}

typedef struct CfgParser {
	Config *c;
	unsigned line;
	IniErrors errs;
	char section[16];
	bool skipping; /* inside a section whose header was refused */
	bool seen[ELEMENTSOF(keys)];
} CfgParser;

static int cfg_line(char *l, void *userdata)
{
	CfgParser *p = userdata;
	const CfgKey *k;
	char why[256], *key, *value;
	int r = ini_split(l, &p->errs, p->line, "'[section]'", &key, &value);

	if (r == -EBADMSG)
		p->skipping = true;
	if (r < 0)
		return 0; /* reported */
	if (r == INI_LINE_SECTION) {
		/* The keys of a refused section are not read: its header's error says it all. */
		p->skipping = !known_section(key);
		if (p->skipping)
			ini_error(&p->errs, p->line,
				  "unknown section [%.64s] (known: healer, journal, llm, api, "
				  "notify)",
				  key);
		else
			(void)util_snprintf(p->section, sizeof p->section, "%s", key);
		return 0;
	}
	if (p->skipping)
		return 0;
	if (!p->section[0]) {
		ini_error(&p->errs, p->line, "'%s' outside of a section", key);
		return 0;
	}
	k = find_key(p->section, key);
	if (!k) {
		if (strcmp(key, "api_key") == 0)
			ini_error(
				&p->errs, p->line,
				"API keys do not belong in the config file: use api_key_file (mode "
				"0600) or the environment");
		else
			ini_error(&p->errs, p->line, "unknown key '%s' in [%s]", key, p->section);
		return 0;
	}
	/* Errors name the key as written: "window" stays "window". */
	if (p->seen[k - keys])
		ini_error(&p->errs, p->line, "'%s' set twice", key);
	p->seen[k - keys] = true;
	why[0] = '\0';
	r = set_key(p->c, k, value, why, sizeof why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		ini_error(&p->errs, p->line, "%s: %s", key, why);
	return 0;
}

int cfg_parse(Config *c, const char *name, const char *buf, size_t len, char **ret_errors)
{
	CfgParser p = {.c = c};
	int r;

	if (ret_errors)
		*ret_errors = NULL;
	r = ini_parse(buf, len, CFG_MAX_FILE_BYTES, 1024, &p.line, &p.errs, cfg_line, &p);
	if (r == -ENOMEM || p.errs.oom) {
		ini_errors_free(&p.errs);
		return -ENOMEM;
	}
	if (p.errs.n > 0) {
		if (ret_errors && !(*ret_errors = ini_errors_join(&p.errs, name)))
			r = -ENOMEM;
		ini_errors_free(&p.errs);
		return r == -ENOMEM ? r : r == -E2BIG ? -E2BIG : -EINVAL;
	}
	return 0;
}

int cfg_load(Config *c, const char *path, bool required, char **ret_errors)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (ret_errors)
		*ret_errors = NULL;
	/* Whoever may write the config decides where the API key goes. */
	r = ini_read_file(path, CFG_MAX_FILE_BYTES, &buf, &len, ret_errors);
	if (r == -ENOENT && !required) {
		if (ret_errors) {
			free(*ret_errors);
			*ret_errors = NULL;
		}
		return 0;
	}
	if (r < 0)
		return r;
	return cfg_parse(c, path, buf, len, ret_errors);
}

/* Whether var (n bytes) is HEALER_SECTION_NAME of the row, by its name or alias. */
static bool env_names(const CfgKey *k, const char *var, size_t n)
{
	const char *const names[] = {k->name, alias_of(k)};

	for (size_t i = 0; i < ELEMENTSOF(names) && names[i]; i++) {
		char want[96];
		size_t m =
			(size_t)snprintf(want, sizeof want, "HEALER_%s_%s", k->section, names[i]);

		for (size_t j = 0; j < m && j < sizeof want; j++)
			want[j] = (char)toupper((unsigned char)want[j]);
		if (m == n && m < sizeof want && memcmp(var, want, n) == 0)
			return true;
	}
	return false;
}

int cfg_apply_env(Config *c, char *const *envp, char **ret_errors)
{
	extern char **environ;
	Errs e = {0};

	if (ret_errors)
		*ret_errors = NULL;
	for (char *const *v = envp ? envp : environ; v && *v; v++) {
		char why[256];
		const char *eq = strchr(*v, '=');
		const CfgKey *k = NULL;
		int r;

		if (strncmp(*v, "HEALER_", 7) != 0 || !eq)
			continue;
		for (size_t i = 0; i < ELEMENTSOF(keys) && !k; i++)
			if (env_names(&keys[i], *v, (size_t)(eq - *v)))
				k = &keys[i];
		if (!k)
			continue; /* HEALER_LLM_API_KEY and friends are read elsewhere */
		why[0] = '\0';
		r = set_key(c, k, eq + 1, why, sizeof why);
		if (r == -ENOMEM) {
			free(e.text);
			return r;
		}
		if (r < 0)
			err(&e, "environment %.*s: %s", (int)(eq - *v), *v, why);
	}
	return finish_errs(&e, ret_errors);
}

int cfg_finish(Config *c, char **ret_errors)
{
	static const char *const default_url[] = {NULL, "https://generativelanguage.googleapis.com",
						  "https://openrouter.ai/api/v1", NULL};
	static const char *const default_model[] = {NULL, "gemini-2.5-flash",
						    "google/gemini-2.5-flash", NULL};
	Errs e = {0};

	if (ret_errors)
		*ret_errors = NULL;
	if (!c->base_url && default_url[c->provider] &&
	    !(c->base_url = strdup(default_url[c->provider])))
		return -ENOMEM;
	if (!c->model && default_model[c->provider] &&
	    !(c->model = strdup(default_model[c->provider])))
		return -ENOMEM;
	if (c->provider == CFG_PROVIDER_OPENAI && !c->base_url)
		err(&e, "[llm] base_url is required for provider openai (e.g. "
			"http://127.0.0.1:11434/v1 for Ollama)");
	if (c->provider == CFG_PROVIDER_OPENAI && !c->model)
		err(&e, "[llm] model is required for provider openai");
	if (c->provider != CFG_PROVIDER_RULES && c->base_url) {
		char why[URL_OUTBOUND_MAX + 256];

		if (!url_outbound_ok(c->base_url, "[llm] base_url", why, sizeof why))
			err(&e, "%s", why);
		/* The provider appends its own path: a query or fragment would break it. */
		else if (strpbrk(c->base_url, "?#"))
			err(&e, "[llm] base_url must not hold a query or fragment");
	}
	if (c->response_format && strcmp(c->response_format, "json_object") != 0 &&
	    strcmp(c->response_format, "json_schema") != 0)
		err(&e, "[llm] response_format '%s' must be json_object or json_schema",
		    c->response_format);
	/* Gemini puts the model in the URL path: no '/' there. */
	if (c->provider == CFG_PROVIDER_GEMINI && c->model && strchr(c->model, '/'))
		err(&e, "[llm] model '%s': a Gemini model name holds no '/'", c->model);
	if (c->model)
		for (const char *m = c->model; *m; m++)
			if (!isalnum((unsigned char)*m) && !strchr("._:/-@", *m)) {
				err(&e,
				    "[llm] model '%s' holds '%c' (letters, digits and ._:/-@ "
				    "only)",
				    c->model, *m);
				break;
			}
	return finish_errs(&e, ret_errors);
}

static int read_key_file(const char *path, char **ret, char **ret_error)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	char buf[CFG_MAX_KEY_BYTES + 2], msg[512];
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		(void)util_snprintf(msg, sizeof msg, "%s: %s", path, strerror(errno));
		*ret_error = strdup(msg);
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		(void)util_snprintf(msg, sizeof msg,
				    "%s: an API key file must be a regular file owned by root "
				    "(or us) with mode 0600 or stricter; refusing it",
				    path);
		*ret_error = strdup(msg);
		return -EPERM;
	}
	n = read(fd, buf, sizeof buf - 1);
	if (n < 0 || (size_t)n > CFG_MAX_KEY_BYTES) {
		(void)util_snprintf(msg, sizeof msg, "%s: %s", path,
				    n < 0 ? strerror(errno) : "over the 4 KiB cap");
		*ret_error = strdup(msg);
		explicit_bzero(buf, sizeof buf);
		return n < 0 ? -errno : -E2BIG;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	*ret = n > 0 ? strdup(buf) : NULL;
	explicit_bzero(buf, sizeof buf);
	return 0;
}

static const char *env_get(char *const *envp, const char *name)
{
	extern char **environ;
	size_t n = strlen(name);

	for (char *const *v = envp ? envp : environ; v && *v; v++)
		if (strncmp(*v, name, n) == 0 && (*v)[n] == '=')
			return *v + n + 1;
	return NULL;
}

int cfg_load_api_key(Config *c, char *const *envp, char **ret_error)
{
	const char *v = NULL;
	char *key = NULL;
	int r;

	*ret_error = NULL;
	if (c->provider == CFG_PROVIDER_RULES)
		return 0;
	if (c->api_key_file) {
		r = read_key_file(c->api_key_file, &key, ret_error);
		if (r < 0)
			return r;
	} else {
		v = env_get(envp, "HEALER_LLM_API_KEY");
		if (!v && c->provider == CFG_PROVIDER_GEMINI)
			v = env_get(envp, "GEMINI_API_KEY");
		if (!v && c->provider == CFG_PROVIDER_OPENROUTER)
			v = env_get(envp, "OPENROUTER_API_KEY");
		if (v && strlen(v) > CFG_MAX_KEY_BYTES) {
			*ret_error = strdup("API key in the environment is over the 4 KiB cap");
			return -E2BIG;
		}
		if (v && *v && !(key = strdup(v)))
			return -ENOMEM;
	}
	if (key)
		for (const char *k = key; *k; k++)
			if ((unsigned char)*k < 0x21 || (unsigned char)*k > 0x7e) {
				explicit_bzero(key, strlen(key));
				free(key);
				*ret_error =
					strdup("API key holds a blank, control or non-ASCII byte");
				return -EINVAL;
			}
	if (c->api_key) {
		explicit_bzero(c->api_key, strlen(c->api_key));
		free(c->api_key);
	}
	c->api_key = key;
	return key ? 1 : 0;
}

static void show_act_on(unsigned mask, char *v, size_t len)
{
	size_t o = 0;

	v[0] = '\0';
	if (mask == POL_ACT_ON_ALL) {
		(void)util_snprintf(v, len, "all");
		return;
	}
	for (unsigned s = 0; s < _POL_SOURCE_MAX; s++)
		if (mask & (1u << s) && o < len)
			o += (size_t)snprintf(v + o, len - o, "%s%s", o ? " " : "",
					      pol_source_name((PolSource)s));
}

/* A key's value as the file would hold it. */
static void show_value(const Config *c, const CfgKey *k, char *v, size_t len)
{
	const char *base = (const char *)c + k->offset;
	const char *str = is_string(k->type) ? *(char *const *)base : NULL;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_LISTEN:
		(void)util_snprintf(v, len, "%s", str ? str : "");
		break;
	case CFG_URL:
		if (str)
			cfg_show_url(str, v, len);
		else
			v[0] = '\0';
		break;
	case CFG_U64:
		(void)util_snprintf(v, len, "%ju", (uintmax_t) * (const uint64_t *)base);
		break;
	case CFG_SPAN:
		util_format_timespan(*(const uint64_t *)base, v, len);
		break;
	case CFG_BOOL:
		(void)util_snprintf(v, len, "%s", *(const bool *)base ? "yes" : "no");
		break;
	case CFG_PRIORITY: {
		static const char *const names[] = {"emerg",   "alert",	 "crit", "err",
						    "warning", "notice", "info", "debug"};
		int prio = *(const int *)base;

		if (prio >= 0 && prio < (int)ELEMENTSOF(names))
			(void)util_snprintf(v, len, "%s", names[prio]);
		else
			(void)util_snprintf(v, len, "%d", prio);
		break;
	}
	case CFG_PROVIDER:
		(void)util_snprintf(v, len, "%s", cfg_provider_name(*(const int *)base));
		break;
	case CFG_ACT_ON:
		show_act_on(*(const unsigned *)base, v, len);
		break;
	case CFG_SOURCE:
		if (c->source == JR_SOURCE_SYSTEM || !c->source_arg)
			(void)util_snprintf(v, len, "system");
		else
			(void)util_snprintf(v, len, "%s:%s",
					    c->source == JR_SOURCE_DIRECTORY ? "directory"
									     : "namespace",
					    c->source_arg);
		break;
	}
}

void cfg_dump(const Config *c, void *file)
{
	FILE *f = file;
	const char *section = "";

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		const CfgKey *k = &keys[i];
		char v[1100];

		if (strcmp(section, k->section) != 0)
			fprintf(f, "%s[%s]\n", i ? "\n" : "", section = k->section);
		show_value(c, k, v, sizeof v);
		fprintf(f, "%s = %s\t# %s%s\n", k->name, v, k->help,
			k->reloadable ? "" : " (a restart applies it)");
	}
	fprintf(f, "# api key: %s\n", c->api_key ? "loaded (not shown)" : "none");
}

static bool same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool key_equal(const CfgKey *k, const Config *a, const Config *b)
{
	const char *x = (const char *)a + k->offset, *y = (const char *)b + k->offset;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_LISTEN:
	case CFG_URL:
		return same_string(*(char *const *)x, *(char *const *)y);
	case CFG_U64:
	case CFG_SPAN:
		return *(const uint64_t *)x == *(const uint64_t *)y;
	case CFG_BOOL:
		return *(const bool *)x == *(const bool *)y;
	case CFG_PRIORITY:
	case CFG_PROVIDER:
		return *(const int *)x == *(const int *)y;
	case CFG_ACT_ON:
		return *(const unsigned *)x == *(const unsigned *)y;
	case CFG_SOURCE:
		return a->source == b->source && same_string(a->source_arg, b->source_arg);
	}
	return false;
}

int cfg_key_reloadable(const char *section, const char *name)
{
	const CfgKey *k = section && name ? find_key(section, name) : NULL;

	return k ? k->reloadable : -ENOENT;
}

char *cfg_unreloadable_changes(const Config *a, const Config *b)
{
	char *out = NULL;
	size_t len = 0;
	bool any = false;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (!keys[i].reloadable && !key_equal(&keys[i], a, b)) {
			fprintf(f, "%s%s.%s", any ? " " : "", keys[i].section, keys[i].name);
			any = true;
		}
	if (fclose(f) != 0 || !any) {
		free(out);
		return NULL;
	}
	return out;
}
