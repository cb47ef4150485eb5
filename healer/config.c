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
#include "healer/config.h"
#include "journal/journal.h"

typedef enum CfgType {
	CFG_STRING,
	CFG_PATH, /* absolute */
	CFG_U64,
	CFG_SPAN,
	CFG_BOOL,
	CFG_PRIORITY,
	CFG_PROVIDER,
} CfgType;

typedef struct CfgKey {
	const char *section;
	const char *name;
	CfgType type;
	size_t offset;
	uint64_t min, max;
	const char *def;
	const char *help;
} CfgKey;

#define O(f) offsetof(Config, f)
static const CfgKey keys[] = {
	{"healer", "whitelist", CFG_PATH, O(whitelist), 0, 0, CFG_DEFAULT_WHITELIST,
	 "the whitelist of commands Healer may run"},
	{"healer", "state_dir", CFG_PATH, O(state_dir), 0, 0, "/var/lib/healer",
	 "where the database and the journal cursor live"},
	{"journal", "min_priority", CFG_PRIORITY, O(min_priority), 0, 7, "err",
	 "entries at this priority or worse open incidents"},
	{"journal", "lookback", CFG_SPAN, O(lookback_usec), 0, 7 * USEC_PER_DAY, "5min",
	 "on first start, read this far back"},
	{"journal", "window", CFG_SPAN, O(window_usec), USEC_PER_SEC, USEC_PER_DAY, "10min",
	 "identical lines within this span are one incident"},
	{"journal", "context_lines", CFG_U64, O(context_lines), 0, 200, "20",
	 "lines of the same unit sent as context"},
	{"journal", "context_bytes", CFG_U64, O(context_bytes), 0, 64 * 1024, "8192",
	 "bytes of context at most"},
	{"llm", "provider", CFG_PROVIDER, O(provider), 0, 0, "rules",
	 "rules (offline), gemini, openrouter or openai (any OpenAI-compatible server)"},
	{"llm", "model", CFG_STRING, O(model), 1, 200, NULL, "model name (provider default)"},
	{"llm", "base_url", CFG_STRING, O(base_url), 1, 1024, NULL,
	 "API base URL (provider default; required for openai)"},
	{"llm", "api_key_file", CFG_PATH, O(api_key_file), 0, 0, NULL,
	 "file holding the API key, readable by its owner only"},
	{"llm", "rules", CFG_PATH, O(rules), 0, 0, CFG_DEFAULT_RULES,
	 "offline rules, also the fallback when a provider fails"},
	{"llm", "timeout", CFG_SPAN, O(timeout_usec), USEC_PER_SEC, 10 * USEC_PER_MINUTE, "30s",
	 "total time for one HTTP request"},
	{"llm", "max_retries", CFG_U64, O(max_retries), 0, 10, "2",
	 "retries of a 429/503/timeout per analysis"},
	{"llm", "max_output_tokens", CFG_U64, O(max_output_tokens), 64, 65536, "2048",
	 "tokens the model may answer with"},
	{"llm", "breaker_failures", CFG_U64, O(breaker_failures), 1, 100, "3",
	 "failed analyses in a row that open the circuit breaker"},
	{"llm", "breaker_cooloff", CFG_SPAN, O(breaker_cooloff_usec), USEC_PER_SEC, USEC_PER_DAY,
	 "5min", "how long the provider is left alone then"},
	{"llm", "redact", CFG_BOOL, O(redact), 0, 0, "yes",
	 "replace secrets in log text before it leaves the host"},
	{"llm", "referer", CFG_STRING, O(referer), 1, 256, NULL,
	 "OpenRouter HTTP-Referer (attribution only)"},
	{"llm", "title", CFG_STRING, O(title), 1, 256, NULL, "OpenRouter X-Title"},
	{"llm", "response_format", CFG_STRING, O(response_format), 1, 32, "json_object",
	 "openai only: json_object, or json_schema (grammar-enforced by llama.cpp, vLLM, "
	 "Ollama 0.5+)"},
	{"api", "listen", CFG_STRING, O(api_listen), 1, 256, "127.0.0.1:8099",
	 "where the REST API listens: ADDRESS:PORT, [IPv6]:PORT or unix:/PATH"},
};
#undef O

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

/* Sets one key from text; on failure writes why into why. */
static int set_key(Config *c, const CfgKey *k, const char *v, char *why, size_t why_len)
{
	char *base = (char *)c + k->offset;
	uint64_t u;
	bool b;
	int r;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH: {
		size_t n = strlen(v);
		char *d;

		if (k->type == CFG_PATH && v[0] != '/')
			return util_snprintf(why, why_len, "must be an absolute path"), -EINVAL;
		if (n > (k->max ? k->max : 4096) || n < k->min)
			return util_snprintf(why, why_len, "must be %ju to %ju bytes",
					     (uintmax_t)(k->min ? k->min : 1),
					     (uintmax_t)(k->max ? k->max : 4096)),
			       -EINVAL;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				return util_snprintf(why, why_len, "holds a control character"),
				       -EINVAL;
		d = strdup(v);
		if (!d)
			return -ENOMEM;
		free(*(char **)base);
		*(char **)base = d;
		return 0;
	}
	case CFG_U64:
		if (util_parse_u64(v, k->min, k->max, &u) < 0)
			return util_snprintf(why, why_len, "must be a number from %ju to %ju",
					     (uintmax_t)k->min, (uintmax_t)k->max),
			       -EINVAL;
		*(uint64_t *)base = u;
		return 0;
	case CFG_SPAN: {
		char lo[32], hi[32];

		r = util_parse_timespan(v, &u);
		if (r == 0 && u >= k->min && u <= k->max) {
			*(uint64_t *)base = u;
			return 0;
		}
		util_format_timespan(k->min, lo, sizeof lo);
		util_format_timespan(k->max, hi, sizeof hi);
		return util_snprintf(why, why_len,
				     "must be a time span from %s to %s (e.g. 30s, 5min)", lo, hi),
		       -EINVAL;
	}
	case CFG_BOOL:
		if (!parse_bool(v, &b))
			return util_snprintf(why, why_len, "must be yes or no"), -EINVAL;
		*(bool *)base = b;
		return 0;
	case CFG_PRIORITY:
		r = jr_priority_from_string(v);
		if (r < 0)
			return util_snprintf(why, why_len,
					     "must be a priority (emerg, alert, crit, "
					     "err, warning, notice, info, debug)"),
			       -EINVAL;
		*(int *)base = r;
		return 0;
	case CFG_PROVIDER:
		for (size_t i = 0; i < ELEMENTSOF(provider_names); i++)
			if (strcmp(v, provider_names[i]) == 0) {
				*(int *)base = (int)i;
				return 0;
			}
		return util_snprintf(why, why_len, "must be rules, gemini, openrouter or openai"),
		       -EINVAL;
	}
	return -EINVAL;
}

static const CfgKey *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

Config *cfg_free(Config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (keys[i].type == CFG_STRING || keys[i].type == CFG_PATH)
			free(*(char **)((char *)c + keys[i].offset));
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
		p->skipping = strcmp(key, "healer") && strcmp(key, "journal") &&
			      strcmp(key, "llm") && strcmp(key, "api");
		if (p->skipping)
			ini_error(&p->errs, p->line,
				  "unknown section [%.64s] (known: healer, journal, llm, api)",
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
	if (p->seen[k - keys])
		ini_error(&p->errs, p->line, "'%s' set twice", k->name);
	p->seen[k - keys] = true;
	why[0] = '\0';
	r = set_key(p->c, k, value, why, sizeof why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		ini_error(&p->errs, p->line, "%s: %s", k->name, why);
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

int cfg_apply_env(Config *c, char *const *envp, char **ret_errors)
{
	extern char **environ;
	Errs e = {0};

	if (ret_errors)
		*ret_errors = NULL;
	for (char *const *v = envp ? envp : environ; v && *v; v++) {
		char name[96], why[256];
		const char *eq = strchr(*v, '=');
		const CfgKey *k = NULL;
		int r;

		if (strncmp(*v, "HEALER_", 7) != 0 || !eq || (size_t)(eq - *v) >= sizeof name)
			continue;
		for (size_t i = 0; i < ELEMENTSOF(keys) && !k; i++) {
			size_t n = 0;

			n += (size_t)snprintf(name, sizeof name, "HEALER_%s_%s", keys[i].section,
					      keys[i].name);
			for (size_t j = 0; j < n; j++)
				name[j] = (char)toupper((unsigned char)name[j]);
			if (n == (size_t)(eq - *v) && strncmp(*v, name, n) == 0)
				k = &keys[i];
		}
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

/* http:// only to this host: an API key must never cross a network in clear. */
static bool loopback_http(const char *url)
{
	static const char *const ok[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		size_t n = strlen(ok[i]);

		if (strncmp(url, ok[i], n) == 0 && (url[n] == ':' || url[n] == '/' || !url[n]))
			return true;
	}
	return false;
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
		if (strncmp(c->base_url, "https://", 8) != 0 && !loopback_http(c->base_url))
			err(&e,
			    "[llm] base_url '%s' must be https:// (http:// only to 127.0.0.1, "
			    "localhost or [::1])",
			    c->base_url);
		if (strpbrk(c->base_url, "?#@ "))
			err(&e, "[llm] base_url must not hold a query, fragment, user or blank");
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

void cfg_dump(const Config *c, void *file)
{
	FILE *f = file;
	const char *section = "";

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		const CfgKey *k = &keys[i];
		const char *base = (const char *)c + k->offset;
		char v[1100];

		if (strcmp(section, k->section) != 0)
			fprintf(f, "%s[%s]\n", i ? "\n" : "", section = k->section);
		switch (k->type) {
		case CFG_STRING:
		case CFG_PATH:
			(void)util_snprintf(v, sizeof v, "%s",
					    *(char *const *)base ? *(char *const *)base : "");
			break;
		case CFG_U64:
			(void)util_snprintf(v, sizeof v, "%ju",
					    (uintmax_t) * (const uint64_t *)base);
			break;
		case CFG_SPAN:
			util_format_timespan(*(const uint64_t *)base, v, sizeof v);
			break;
		case CFG_BOOL:
			(void)util_snprintf(v, sizeof v, "%s", *(const bool *)base ? "yes" : "no");
			break;
		case CFG_PRIORITY:
			(void)util_snprintf(v, sizeof v, "%d", *(const int *)base);
			break;
		case CFG_PROVIDER:
			(void)util_snprintf(v, sizeof v, "%s",
					    cfg_provider_name(*(const int *)base));
			break;
		}
		fprintf(f, "%s = %s\t# %s\n", k->name, v, k->help);
	}
	fprintf(f, "# api key: %s\n", c->api_key ? "loaded (not shown)" : "none");
}
