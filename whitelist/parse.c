/* SPDX-License-Identifier: MIT */
/*
 * Parser of the whitelist file. Every error is collected as "file:line:
 * message" so that the administrator sees all of them at once; the file is
 * accepted only when there are none.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/ini.h"
#include "common/util.h"
#include "whitelist/internal.h"

#define DEFAULT_MAX_COMMANDS 5
#define DEFAULT_TIMEOUT	     (30 * USEC_PER_SEC)
#define MAX_TIMEOUT	     (24 * USEC_PER_HOUR)
#define MAX_COOLDOWN	     (30 * USEC_PER_DAY)
#define MIN_MEMORY	     (UINT64_C(1) << 20)
#define MAX_MEMORY	     (UINT64_C(64) << 30)
#define MAX_TASKS	     100000

/* systemd's unit search path, generators and transient units included. */
static const char *const default_unit_dirs[] = {
	"/etc/systemd/system.control",	"/run/systemd/system.control",	 "/run/systemd/transient",
	"/run/systemd/generator.early", "/etc/systemd/system",		 "/run/systemd/system",
	"/run/systemd/generator",	"/usr/local/lib/systemd/system", "/lib/systemd/system",
	"/usr/lib/systemd/system",	"/run/systemd/generator.late",
};

typedef struct Parser {
	const char *name;
	unsigned line;
	Whitelist *wl;
	WlAction *action; /* the section being read, or NULL for [healer] */
	bool in_section;
	/* Keys that may appear once per action. */
	bool seen_description, seen_exec, seen_builtin, seen_timeout, seen_cooldown;
	bool seen_memory_max, seen_tasks_max;
	bool seen_max_commands, seen_unit_dirs;
	bool skipping; /* inside a section whose header was refused */
	unsigned exec_line, builtin_line;
	unsigned verify_none_line; /* first "verify = none", else 0 */
	unsigned match_line[WL_MAX_MATCHES];
	unsigned param_line[WL_MAX_PARAMS];
	char *builtin_text;
	IniErrors errs;
	bool oom;
} Parser;

_printf_(2, 3) static void perr(Parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ini_verror(&p->errs, p->line, fmt, ap);
	va_end(ap);
}

static bool is_printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Printable ASCII plus blanks: what a pattern may hold. */
static bool is_ascii_text(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static bool is_param_name(const char *s, size_t n)
{
	if (n == 0 || n > 64 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static bool is_action_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static int find_param(const WlAction *a, const char *name, size_t n)
{
	for (size_t i = 0; i < a->n_params; i++)
		if (strlen(a->params[i].name) == n && memcmp(a->params[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

void wl_template_done(WlTemplate *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->tok[i].text);
	free(t->tok);
	t->tok = NULL;
	t->n = 0;
}

/* Splits on blanks; placeholders are checked later, once all params are known. */
static int split_template(Parser *p, const char *what, const char *value, WlTemplate *ret)
{
	WlTemplate t = {0};
	const char *s = value;

	while (*s) {
		size_t n;
		WlToken *nt;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		n = strcspn(s, " \t");
		if (t.n >= WL_MAX_ARGV) {
			perr(p, "%s has more than %d words", what, WL_MAX_ARGV);
			wl_template_done(&t);
			return -E2BIG;
		}
		nt = realloc(t.tok, (t.n + 1) * sizeof *t.tok);
		if (!nt) {
			wl_template_done(&t);
			return -ENOMEM;
		}
		t.tok = nt;
		t.tok[t.n] = (WlToken){.text = util_strndup(s, n), .param = -1};
		if (!t.tok[t.n].text) {
			wl_template_done(&t);
			return -ENOMEM;
		}
		t.n++;
		s += n;
	}
	if (t.n == 0) {
		perr(p, "%s is empty", what);
		return -EINVAL;
	}
	*ret = t;
	return 0;
}

int wl_template_resolve(IniErrors *e, unsigned line, const WlAction *a, const char *what,
			WlTemplate *t)
{
	int r = 0;

	for (size_t i = 0; i < t->n; i++) {
		WlToken *k = &t->tok[i];
		const char *open = strchr(k->text, '{'), *close;

		if (!is_printable_ascii(k->text)) {
			ini_error(e, line, "%s: word '%s' holds a byte that is not printable ASCII",
				  what, k->text);
			r = -EINVAL;
			continue;
		}
		if (!open) {
			if (strchr(k->text, '}')) {
				ini_error(e, line, "%s: stray '}' in '%s'", what, k->text);
				r = -EINVAL;
			}
			continue;
		}
		close = strchr(open, '}');
		if (!close || strchr(open + 1, '{') || strchr(close + 1, '{') ||
		    strchr(close + 1, '}')) {
			ini_error(e, line, "%s: '%s' must hold exactly one {param}", what, k->text);
			r = -EINVAL;
			continue;
		}
		k->param = find_param(a, open + 1, (size_t)(close - open - 1));
		if (k->param < 0) {
			ini_error(
				e, line,
				"%s: unknown parameter '%.*s' (declare it with 'param %.*s = TYPE "
				"PATTERN')",
				what, (int)(close - open - 1), open + 1, (int)(close - open - 1),
				open + 1);
			r = -EINVAL;
			continue;
		}
		k->prefix_len = (size_t)(open - k->text);
		k->suffix_len = strlen(close + 1);
	}
	return r;
}

static bool template_uses(const WlTemplate *t, int param)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tok[i].param == param)
			return true;
	return false;
}

static void action_free(WlAction *a)
{
	free(a->name);
	free(a->description);
	for (size_t i = 0; i < a->n_match; i++)
		wl_template_done(&a->match[i]);
	wl_template_done(&a->exec);
	for (size_t i = 0; i < a->n_params; i++) {
		free(a->params[i].name);
		free(a->params[i].pattern);
		pcre2_code_free(a->params[i].re);
	}
	for (size_t i = 0; i < a->n_requires; i++)
		wl_check_template_done(&a->requires[i]);
	for (size_t i = 0; i < a->n_verifies; i++)
		wl_check_template_done(&a->verifies[i]);
}

Whitelist *wl_free(Whitelist *wl)
{
	if (!wl)
		return NULL;
	for (size_t i = 0; i < wl->n_actions; i++)
		action_free(&wl->actions[i]);
	free(wl->actions);
	for (size_t i = 0; i < wl->n_protect; i++)
		free(wl->protect[i]);
	free(wl->protect);
	for (size_t i = 0; i < wl->n_unit_dirs; i++)
		free(wl->unit_dirs[i]);
	free(wl->unit_dirs);
	pcre2_match_context_free(wl->mctx);
	free(wl);
	return NULL;
}

static int strv_push(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*v, (*n + 1) * sizeof **v);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = util_strndup(s, len);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

int wl_set_unit_dirs(Whitelist *wl, const char *const *dirs, size_t n)
{
	char **v = NULL;
	size_t nv = 0;

	for (size_t i = 0; i < n; i++)
		if (strv_push(&v, &nv, dirs[i], strlen(dirs[i])) < 0) {
			while (nv > 0)
				free(v[--nv]);
			free(v);
			return -ENOMEM;
		}
	for (size_t i = 0; i < wl->n_unit_dirs; i++)
		free(wl->unit_dirs[i]);
	free(wl->unit_dirs);
	wl->unit_dirs = v;
	wl->n_unit_dirs = nv;
	return 0;
}

static int parse_param(Parser *p, WlAction *a, const char *name, const char *value)
{
	static const struct {
		const char *word;
		WlParamType type;
	} types[] = {{"text", WL_PARAM_TEXT}, {"unit", WL_PARAM_UNIT}, {"path", WL_PARAM_PATH}};
	WlParam *w;
	size_t tlen = strcspn(value, " \t");
	const char *pattern = value + tlen;
	int errcode;
	PCRE2_SIZE erroff;
	size_t ti;

	if (!is_param_name(name, strlen(name))) {
		perr(p, "parameter name '%s' must be lower case letters, digits and '_'", name);
		return -EINVAL;
	}
	if (find_param(a, name, strlen(name)) >= 0) {
		perr(p, "parameter '%s' declared twice", name);
		return -EINVAL;
	}
	if (a->n_params >= WL_MAX_PARAMS) {
		perr(p, "more than %d parameters", WL_MAX_PARAMS);
		return -E2BIG;
	}
	for (ti = 0; ti < ELEMENTSOF(types); ti++)
		if (strlen(types[ti].word) == tlen && strncmp(value, types[ti].word, tlen) == 0)
			break;
	if (ti == ELEMENTSOF(types)) {
		perr(p, "parameter '%s': type must be text, unit or path, not '%.*s'", name,
		     (int)tlen, value);
		return -EINVAL;
	}
	while (*pattern == ' ' || *pattern == '\t')
		pattern++;
	if (!*pattern) {
		perr(p, "parameter '%s' has no pattern", name);
		return -EINVAL;
	}
	if (!is_ascii_text(pattern)) {
		perr(p, "parameter '%s': pattern must be printable ASCII", name);
		return -EINVAL;
	}
	w = &a->params[a->n_params];
	*w = (WlParam){.type = types[ti].type};
	/*
	 * Anchored at both ends and '$' only at the very end: the value must
	 * be the pattern as a whole. NEVER_UTF keeps matching byte-wise and
	 * NEVER_BACKSLASH_C forbids the one escape that can split a byte.
	 */
	w->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			      PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY |
				      PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C,
			      &errcode, &erroff, NULL);
	if (!w->re) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(errcode, msg, sizeof msg);
		perr(p, "parameter '%s': bad pattern at offset %zu: %s", name, (size_t)erroff,
		     (const char *)msg);
		return -EINVAL;
	}
	w->name = strdup(name);
	w->pattern = strdup(pattern);
	if (!w->name || !w->pattern) {
		free(w->name);
		free(w->pattern);
		pcre2_code_free(w->re);
		return -ENOMEM;
	}
	a->n_params++;
	return 0;
}

static int parse_span(Parser *p, const char *key, const char *value, uint64_t max, uint64_t *ret)
{
	uint64_t v;
	int r = util_parse_timespan(value, &v);

	if (r < 0 || v > max) {
		char m[64];

		util_format_timespan(max, m, sizeof m);
		perr(p, "%s: '%s' is not a time span up to %s (e.g. 30s, 5min, 1h)", key, value, m);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int healer_key(Parser *p, const char *key, const char *value)
{
	Whitelist *wl = p->wl;

	if (strcmp(key, "protect") == 0) {
		for (const char *s = value; *s;) {
			size_t n;
			char *m;
			int r;

			s += strspn(s, " \t");
			if (!*s)
				break;
			n = strcspn(s, " \t");
			if (wl->n_protect >= WL_MAX_PROTECT) {
				perr(p, "more than %d protected units", WL_MAX_PROTECT);
				return -E2BIG;
			}
			m = util_strndup(s, n);
			if (!m)
				return -ENOMEM;
			if (!is_printable_ascii(m) || m[0] == '-') {
				perr(p, "protect: '%s' is not a unit name", m);
				free(m);
				s += n;
				continue;
			}
			{
				_cleanup_free_ char *mangled = wl_unit_mangle(m);

				free(m);
				if (!mangled)
					return -ENOMEM;
				r = strv_push(&wl->protect, &wl->n_protect, mangled,
					      strlen(mangled));
			}
			if (r < 0)
				return r;
			s += n;
		}
		return 0;
	}
	if (strcmp(key, "max_commands") == 0) {
		uint64_t v;

		if (p->seen_max_commands)
			perr(p, "max_commands set twice");
		p->seen_max_commands = true;
		if (util_parse_u64(value, 1, WL_MAX_COMMANDS_CAP, &v) < 0) {
			perr(p, "max_commands: '%s' is not a number from 1 to %d", value,
			     WL_MAX_COMMANDS_CAP);
			return -EINVAL;
		}
		wl->max_commands = (size_t)v;
		return 0;
	}
	if (strcmp(key, "unit_dirs") == 0) {
		if (p->seen_unit_dirs)
			perr(p, "unit_dirs set twice");
		p->seen_unit_dirs = true;
		for (size_t i = 0; i < wl->n_unit_dirs; i++)
			free(wl->unit_dirs[i]);
		wl->n_unit_dirs = 0;
		for (const char *s = value; *s;) {
			size_t n;
			int r;

			s += strspn(s, " \t");
			if (!*s)
				break;
			n = strcspn(s, " \t");
			if (s[0] != '/') {
				perr(p, "unit_dirs: '%.*s' is not an absolute path", (int)n, s);
			} else if (wl->n_unit_dirs < 16) {
				r = strv_push(&wl->unit_dirs, &wl->n_unit_dirs, s, n);
				if (r < 0)
					return r;
			}
			s += n;
		}
		return 0;
	}
	perr(p, "unknown key '%s' in [healer] (known: protect, max_commands, unit_dirs)", key);
	return -EINVAL;
}

/*
 * memory_max: bytes, or a number with a K, M or G suffix (powers of 1024),
 * from 1M to 64G: below a megabyte no program starts, and a repair command
 * that needs more than 64G is not one to bound this way.
 */
static int parse_size(const char *value, uint64_t *ret)
{
	size_t n = strspn(value, "0123456789");
	unsigned shift = 0;
	uint64_t v = 0;

	if (n == 0 || n > 12)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(value[i] - '0');
	if (value[n] && value[n + 1])
		return -EINVAL;
	switch (value[n]) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	default:
		return -EINVAL;
	}
	if (v > (MAX_MEMORY >> shift))
		return -ERANGE;
	v <<= shift;
	if (v < MIN_MEMORY || v > MAX_MEMORY)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* require = KIND ... and verify = KIND ... (or verify = none). */
static int check_key(Parser *p, WlAction *a, const char *key, const char *value)
{
	bool req = strcmp(key, "require") == 0;
	size_t *n = req ? &a->n_requires : &a->n_verifies;
	WlCheckTemplate *v = req ? a->requires : a->verifies;
	int r;

	if (!req && strcmp(value, "none") == 0) {
		if (!p->verify_none_line)
			p->verify_none_line = p->line;
		return 0;
	}
	if (*n >= WL_MAX_CHECKS) {
		perr(p, "more than %d %s lines", WL_MAX_CHECKS, key);
		return -E2BIG;
	}
	r = wl_check_parse(&p->errs, p->line, key, value, &v[*n]);
	if (r < 0)
		return r;
	(*n)++;
	return 0;
}

static int action_key(Parser *p, const char *key, const char *value)
{
	WlAction *a = p->action;

	if (strncmp(key, "param", 5) == 0 && (key[5] == ' ' || key[5] == '\t')) {
		const char *name = key + 5;

		name += strspn(name, " \t");
		if (a->n_params < WL_MAX_PARAMS)
			p->param_line[a->n_params] = p->line;
		return parse_param(p, a, name, value);
	}
	if (strcmp(key, "description") == 0) {
		if (p->seen_description)
			perr(p, "description set twice");
		p->seen_description = true;
		free(a->description);
		a->description = strdup(value);
		return a->description ? 0 : -ENOMEM;
	}
	if (strcmp(key, "match") == 0) {
		if (a->n_match >= WL_MAX_MATCHES) {
			perr(p, "more than %d match lines", WL_MAX_MATCHES);
			return -E2BIG;
		}
		p->match_line[a->n_match] = p->line;
		if (split_template(p, "match", value, &a->match[a->n_match]) < 0)
			return -EINVAL;
		a->n_match++;
		return 0;
	}
	if (strcmp(key, "exec") == 0) {
		if (p->seen_exec) {
			perr(p, "exec set twice");
			return -EINVAL;
		}
		p->seen_exec = true;
		p->exec_line = p->line;
		return split_template(p, "exec", value, &a->exec);
	}
	if (strcmp(key, "builtin") == 0) {
		if (p->seen_builtin) {
			perr(p, "builtin set twice");
			return -EINVAL;
		}
		p->seen_builtin = true;
		p->builtin_line = p->line;
		free(p->builtin_text);
		p->builtin_text = strdup(value);
		return p->builtin_text ? 0 : -ENOMEM;
	}
	if (strcmp(key, "timeout") == 0) {
		if (p->seen_timeout)
			perr(p, "timeout set twice");
		p->seen_timeout = true;
		if (parse_span(p, key, value, MAX_TIMEOUT, &a->timeout_usec) < 0)
			return -EINVAL;
		if (a->timeout_usec < USEC_PER_SEC) {
			perr(p, "timeout must be at least 1s");
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "cooldown") == 0) {
		if (p->seen_cooldown)
			perr(p, "cooldown set twice");
		p->seen_cooldown = true;
		return parse_span(p, key, value, MAX_COOLDOWN, &a->cooldown_usec);
	}
	if (strcmp(key, "require") == 0 || strcmp(key, "verify") == 0)
		return check_key(p, a, key, value);
	if (strcmp(key, "memory_max") == 0) {
		if (p->seen_memory_max)
			perr(p, "memory_max set twice");
		p->seen_memory_max = true;
		if (parse_size(value, &a->memory_max) < 0) {
			perr(p,
			     "memory_max: '%s' is not a size from 1M to 64G (bytes, or a number "
			     "with K, M or G)",
			     value);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "tasks_max") == 0) {
		if (p->seen_tasks_max)
			perr(p, "tasks_max set twice");
		p->seen_tasks_max = true;
		if (util_parse_u64(value, 1, MAX_TASKS, &a->tasks_max) < 0) {
			perr(p, "tasks_max: '%s' is not a number from 1 to %d", value, MAX_TASKS);
			return -EINVAL;
		}
		return 0;
	}
	perr(p,
	     "unknown key '%s' in [action %s] (known: description, match, exec, builtin, "
	     "param NAME, timeout, cooldown, require, verify, memory_max, tasks_max)",
	     key, a->name);
	return -EINVAL;
}

/* Resolves "{name}" of a builtin line: returns the param index. */
static int single_placeholder(Parser *p, WlAction *a, const char *what, const char *arg)
{
	size_t n = strlen(arg);
	int idx;

	if (n < 3 || arg[0] != '{' || arg[n - 1] != '}') {
		perr(p, "%s: expected {param}, got '%s'", what, arg);
		return -EINVAL;
	}
	idx = find_param(a, arg + 1, n - 2);
	if (idx < 0)
		perr(p, "%s: unknown parameter '%.*s'", what, (int)(n - 2), arg + 1);
	return idx;
}

static void finish_builtin(Parser *p, WlAction *a)
{
	const char *s = p->builtin_text;
	size_t n = strcspn(s, " \t");
	const char *arg = s + n + strspn(s + n, " \t");

	if (n == strlen("drop-caches") && strncmp(s, "drop-caches", n) == 0) {
		if (*arg)
			perr(p, "builtin drop-caches takes no argument");
		a->builtin = WL_BUILTIN_DROP_CACHES;
		return;
	}
	if (n == strlen("chmod-x") && strncmp(s, "chmod-x", n) == 0) {
		int idx = single_placeholder(p, a, "builtin chmod-x", arg);

		a->builtin = WL_BUILTIN_CHMOD_X;
		if (idx < 0)
			return;
		if (a->params[idx].type != WL_PARAM_PATH)
			perr(p, "builtin chmod-x: parameter '%s' must be of type path",
			     a->params[idx].name);
		a->builtin_param = idx;
		return;
	}
	perr(p, "unknown builtin '%.*s' (known: chmod-x {path}, drop-caches)", (int)n, s);
}

/* Resolves the require and verify lines once every parameter is known. */
static void finish_checks(Parser *p, WlAction *a)
{
	for (size_t i = 0; i < a->n_requires; i++)
		if (wl_check_resolve(&p->errs, "require", a, &a->requires[i]) == -ENOMEM)
			p->oom = true;
	for (size_t i = 0; i < a->n_verifies; i++)
		if (wl_check_resolve(&p->errs, "verify", a, &a->verifies[i]) == -ENOMEM)
			p->oom = true;
	if (p->verify_none_line && a->n_verifies > 0) {
		p->line = p->verify_none_line;
		perr(p, "verify = none cannot stand beside other verify lines");
	}
}

/* Cross-checks an action once its section has ended. */
static void finish_action(Parser *p)
{
	WlAction *a = p->action;
	unsigned saved = p->line;

	if (!a)
		return;
	p->line = a->line;
	if (p->seen_exec == p->seen_builtin)
		perr(p, "[action %s] needs exactly one of exec = or builtin =", a->name);
	if (a->n_match == 0)
		perr(p, "[action %s] has no match = line", a->name);
	if (p->seen_builtin && p->builtin_text) {
		p->line = p->builtin_line;
		finish_builtin(p, a);
	}
	if (p->seen_exec && a->exec.n > 0) {
		p->line = p->exec_line;

		if (a->exec.tok[0].text[0] != '/' || a->exec.tok[0].param >= 0)
			perr(p, "[action %s] exec must start with an absolute program path",
			     a->name);
		(void)wl_template_resolve(&p->errs, p->line, a, "exec", &a->exec);
		for (size_t i = 0; i < a->n_params; i++)
			/*
			 * A program given a path opens it again itself, following
			 * symlinks: the check would not hold at use. Only builtins,
			 * which work on the fd they checked, may take a path.
			 */
			if (a->params[i].type == WL_PARAM_PATH && template_uses(&a->exec, (int)i))
				perr(p,
				     "[action %s] path parameter '%s' may be used by a builtin "
				     "only, not by exec",
				     a->name, a->params[i].name);
		if (a->exec.tok[0].param >= 0)
			perr(p, "[action %s] the program of exec cannot be a parameter", a->name);
	}
	for (size_t i = 0; i < a->n_match; i++) {
		WlTemplate *t = &a->match[i];

		p->line = p->match_line[i];
		(void)wl_template_resolve(&p->errs, p->line, a, "match", t);
		if (t->tok[0].param >= 0 || t->tok[0].text[0] == '/')
			perr(p, "[action %s] match must start with a program name, not '%s'",
			     a->name, t->tok[0].text);
		for (size_t j = 0; j < t->n; j++)
			for (size_t k = j + 1; k < t->n; k++)
				if (t->tok[j].param >= 0 && t->tok[j].param == t->tok[k].param)
					perr(p, "[action %s] match uses {%s} twice", a->name,
					     a->params[t->tok[j].param].name);
	}
	for (size_t i = 0; i < a->n_params; i++) {
		bool used = template_uses(&a->exec, (int)i) || a->builtin_param == (int)i;

		p->line = p->param_line[i];

		if (!used)
			perr(p, "[action %s] parameter '%s' is not used by exec or builtin",
			     a->name, a->params[i].name);
		for (size_t m = 0; m < a->n_match; m++)
			if (!template_uses(&a->match[m], (int)i)) {
				p->line = p->match_line[m];
				perr(p, "[action %s] match '%s...' does not capture {%s}", a->name,
				     a->match[m].tok[0].text, a->params[i].name);
			}
	}
	finish_checks(p, a);
	if (!p->seen_timeout)
		a->timeout_usec = DEFAULT_TIMEOUT;
	p->line = saved;
}

static void reset_section(Parser *p)
{
	free(p->builtin_text);
	p->builtin_text = NULL;
	p->seen_description = p->seen_exec = p->seen_builtin = false;
	p->seen_timeout = p->seen_cooldown = false;
	p->seen_memory_max = p->seen_tasks_max = false;
	p->verify_none_line = 0;
}

static int begin_section(Parser *p, const char *hdr)
{
	Whitelist *wl = p->wl;
	const char *name;
	WlAction *na;

	finish_action(p);
	reset_section(p);
	p->action = NULL;
	p->in_section = true;
	p->skipping = true; /* until the header below proves valid */
	if (strcmp(hdr, "healer") == 0) {
		p->skipping = false;
		return 0;
	}
	name = ini_section_arg(hdr, "action");
	if (!name) {
		perr(p, "unknown section [%s] (known: [healer], [action NAME])", hdr);
		return -EINVAL;
	}
	hdr = name;
	if (!is_action_name(hdr)) {
		perr(p, "action name '%s' must be letters, digits, '_' or '-'", hdr);
		return -EINVAL;
	}
	for (size_t i = 0; i < wl->n_actions; i++)
		if (strcmp(wl->actions[i].name, hdr) == 0) {
			perr(p, "action '%s' defined twice (first on line %u)", hdr,
			     wl->actions[i].line);
			return -EINVAL;
		}
	if (wl->n_actions >= WL_MAX_ACTIONS) {
		perr(p, "more than %d actions", WL_MAX_ACTIONS);
		return -E2BIG;
	}
	na = realloc(wl->actions, (wl->n_actions + 1) * sizeof *na);
	if (!na)
		return -ENOMEM;
	wl->actions = na;
	p->action = &na[wl->n_actions];
	*p->action = (WlAction){.line = p->line, .builtin_param = -1};
	p->action->name = strdup(hdr);
	if (!p->action->name)
		return -ENOMEM;
	wl->n_actions++;
	p->skipping = false;
	return 0;
}

static int parse_line(char *s, void *userdata)
{
	Parser *p = userdata;
	char *key, *value;
	int r = ini_split(s, &p->errs, p->line, "'[section]'", &key, &value);

	if (r == -EBADMSG) {
		finish_action(p);
		reset_section(p);
		p->action = NULL;
		p->skipping = true;
	}
	if (r < 0)
		return r == -EBADMSG ? -EINVAL : r;
	if (r == INI_LINE_SECTION)
		return begin_section(p, key);
	if (p->skipping)
		return 0; /* the section header was already reported */
	if (!p->in_section) {
		perr(p, "'%s' outside of a section", key);
		return -EINVAL;
	}
	if (*value == '\0') {
		perr(p, "'%s' has an empty value", key);
		return -EINVAL;
	}
	return p->action ? action_key(p, key, value) : healer_key(p, key, value);
}

int wl_parse(const char *name, const char *buf, size_t len, Whitelist **ret, char **ret_errors)
{
	Parser p = {.name = name ? name : "whitelist"};
	_cleanup_(wl_freep) Whitelist *wl = NULL;
	int r;

	if (ret_errors)
		*ret_errors = NULL;
	wl = calloc(1, sizeof *wl);
	if (!wl)
		return -ENOMEM;
	wl->max_commands = DEFAULT_MAX_COMMANDS;
	wl->mctx = regex_match_context_new();
	if (!wl->mctx)
		return -ENOMEM;
	if (wl_set_unit_dirs(wl, default_unit_dirs, ELEMENTSOF(default_unit_dirs)) < 0)
		return -ENOMEM;
	p.wl = wl;
	r = ini_parse(buf, len, WL_MAX_FILE_BYTES, WL_MAX_LINE, &p.line, &p.errs, parse_line, &p);
	if (r != -ENOMEM && r != -E2BIG) {
		p.line++;
		finish_action(&p);
	}
	reset_section(&p);
	if (p.oom || p.errs.oom || r == -ENOMEM) {
		ini_errors_free(&p.errs);
		return -ENOMEM;
	}
	if (p.errs.n > 0) {
		if (ret_errors && !(*ret_errors = ini_errors_join(&p.errs, p.name)))
			r = -ENOMEM;
		ini_errors_free(&p.errs);
		return r == -ENOMEM ? r : r == -E2BIG ? -E2BIG : -EINVAL;
	}
	*ret = TAKE_PTR(wl);
	return 0;
}

int wl_load(const char *path, Whitelist **ret, char **ret_errors)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (ret_errors)
		*ret_errors = NULL;
	r = ini_read_file(path, WL_MAX_FILE_BYTES, &buf, &len, ret_errors);
	if (r < 0)
		return r;
	return wl_parse(path, buf, len, ret, ret_errors);
}

size_t wl_max_commands(const Whitelist *wl)
{
	return wl->max_commands;
}

size_t wl_n_actions(const Whitelist *wl)
{
	return wl->n_actions;
}

const char *wl_action_name(const Whitelist *wl, size_t i)
{
	return i < wl->n_actions ? wl->actions[i].name : NULL;
}

const char *wl_action_description(const Whitelist *wl, size_t i)
{
	return i < wl->n_actions ? wl->actions[i].description : NULL;
}

size_t wl_action_n_params(const Whitelist *wl, size_t i)
{
	return i < wl->n_actions ? wl->actions[i].n_params : 0;
}

const char *wl_action_param_name(const Whitelist *wl, size_t i, size_t p)
{
	return i < wl->n_actions && p < wl->actions[i].n_params ? wl->actions[i].params[p].name
								: NULL;
}

const char *wl_action_param_pattern(const Whitelist *wl, size_t i, size_t p)
{
	return i < wl->n_actions && p < wl->actions[i].n_params ? wl->actions[i].params[p].pattern
								: NULL;
}
