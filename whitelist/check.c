/* SPDX-License-Identifier: MIT */
/*
 * require = and verify = lines: what Healer checks on the host before an
 * action runs and after it ran. The whitelist reads them and fills their
 * placeholders with vetted values; healer/check.c evaluates them.
 *
 * Whoever writes a journal line, and the model that reads it, must not be
 * able to make a symptom look real: an operand is a literal of the
 * administrator's or a parameter of the action itself, of the right type,
 * so a check looks at exactly what the action would act on (the unit it
 * restarts, the file it changes), never at something a reply picked.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "whitelist/internal.h"

/* What one operand must be. */
typedef enum Operand {
	OP_UNIT,    /* unit parameter, or a literal unit name */
	OP_PATH,    /* path parameter, or a literal absolute path */
	OP_PERCENT, /* text parameter, or a literal 1..100 */
	OP_PROGRAM, /* a literal absolute path */
	OP_ARG,	    /* any literal, or a text or unit placeholder with prefix and suffix */
	OP_URL,	    /* text parameter, or a literal loopback http:// URL */
} Operand;

static const struct {
	const char *name;
	const char *usage;
	Operand op[2];
	size_t n_op; /* 0: a program and up to WL_MAX_ARGV - 1 arguments */
	bool symptom;
} kinds[_WL_CHECK_KIND_MAX] = {
	[WL_CHECK_UNIT_FAILED] = {"unit-failed", "UNIT", {OP_UNIT}, 1, true},
	[WL_CHECK_UNIT_NOT_ACTIVE] = {"unit-not-active", "UNIT", {OP_UNIT}, 1, true},
	[WL_CHECK_UNIT_ACTIVE] = {"unit-active", "UNIT", {OP_UNIT}, 1, false},
	[WL_CHECK_DISK_ABOVE] = {"disk-above", "PATH PERCENT", {OP_PATH, OP_PERCENT}, 2, true},
	[WL_CHECK_MEMORY_BELOW] = {"memory-below", "PERCENT", {OP_PERCENT}, 1, true},
	[WL_CHECK_FILE_LACKS_X] = {"file-lacks-x", "PATH", {OP_PATH}, 1, true},
	[WL_CHECK_FILE_EXECUTABLE] = {"file-executable", "PATH", {OP_PATH}, 1, false},
	[WL_CHECK_UNIT_RUNS] = {"unit-runs", "PATH", {OP_PATH}, 1, false},
	[WL_CHECK_COMMAND] = {"command", "/PROGRAM [ARG...]", {OP_PROGRAM, OP_ARG}, 0, true},
	[WL_CHECK_HTTP] = {"http", "URL", {OP_URL}, 1, false},
};

#define KNOWN_KINDS                                                                           \
	"unit-failed, unit-not-active, unit-active, disk-above, memory-below, file-lacks-x, " \
	"file-executable, unit-runs, command, http"

/* systemd's UNIT_NAME_MAX, the terminating NUL included. */
#define UNIT_NAME_MAX 256
#define URL_MAX	      WL_MAX_VALUE

const char *wl_check_kind_name(WlCheckKind k)
{
	return (unsigned)k < _WL_CHECK_KIND_MAX ? kinds[k].name : NULL;
}

bool wl_check_is_symptom(WlCheckKind k)
{
	return (unsigned)k < _WL_CHECK_KIND_MAX && kinds[k].symptom;
}

static Operand operand(WlCheckKind k, size_t i)
{
	if (kinds[k].n_op == 0)
		return i == 0 ? OP_PROGRAM : OP_ARG;
	return kinds[k].op[i];
}

static const char *type_name(WlParamType t)
{
	return t == WL_PARAM_UNIT ? "unit" : t == WL_PARAM_PATH ? "path" : "text";
}

void wl_check_template_done(WlCheckTemplate *t)
{
	wl_template_done(&t->args);
}

void wl_check_done(WlCheck *c)
{
	for (size_t i = 0; c->argv && c->argv[i]; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->text);
	*c = (WlCheck){0};
}

static size_t count_words(const char *s)
{
	size_t n = 0;

	for (s += strspn(s, " \t"); *s; s += strspn(s, " \t")) {
		s += strcspn(s, " \t");
		n++;
	}
	return n;
}

int wl_check_parse(IniErrors *e, unsigned line, const char *what, const char *value,
		   WlCheckTemplate *ret)
{
	size_t n = strcspn(value, " \t"), words;
	const char *s = value + n;
	WlCheckTemplate t = {.line = line};
	size_t k;

	for (k = 0; k < _WL_CHECK_KIND_MAX; k++)
		if (strlen(kinds[k].name) == n && strncmp(value, kinds[k].name, n) == 0)
			break;
	if (k == _WL_CHECK_KIND_MAX) {
		ini_error(e, line, "%s: unknown check '%.*s' (known: %s%s)", what, (int)n, value,
			  KNOWN_KINDS, strcmp(what, "verify") == 0 ? ", none" : "");
		return -EINVAL;
	}
	t.kind = (WlCheckKind)k;
	words = count_words(s);
	if (kinds[k].n_op == 0 ? words == 0 || words > WL_MAX_ARGV : words != kinds[k].n_op) {
		if (words > WL_MAX_ARGV)
			ini_error(e, line, "%s %s: more than %d words", what, kinds[k].name,
				  WL_MAX_ARGV);
		else
			ini_error(e, line, "%s %s takes %s, not %zu operand%s", what, kinds[k].name,
				  kinds[k].usage, words, words == 1 ? "" : "s");
		return -EINVAL;
	}
	t.args.tok = calloc(words, sizeof *t.args.tok);
	if (!t.args.tok)
		return -ENOMEM;
	for (s += strspn(s, " \t"); *s; s += strspn(s, " \t")) {
		size_t wn = strcspn(s, " \t");

		t.args.tok[t.args.n] = (WlToken){.text = util_strndup(s, wn), .param = -1};
		if (!t.args.tok[t.args.n].text) {
			wl_template_done(&t.args);
			return -ENOMEM;
		}
		t.args.n++;
		s += wn;
	}
	*ret = t;
	return 0;
}

/*
 * Why a URL may not be fetched by an http check, or NULL: only plain HTTP
 * to this host's loopback, so a check can neither reach the network nor be
 * pointed elsewhere by a name that resolves to something else.
 */
static const char *url_refusal(const char *u)
{
	static const char *const hosts[] = {"127.0.0.1", "[::1]", "localhost"};
	static const char path_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789-._~!$&'()*+,;=:@/%";
	const char *h, *s;
	size_t hn, i;

	if (strlen(u) > URL_MAX)
		return "the URL is longer than 512 bytes";
	if (strncmp(u, "http://", 7) != 0)
		return "only http:// URLs are allowed";
	h = u + 7;
	hn = h[0] == '[' ? strcspn(h, "]") + (strchr(h, ']') ? 1 : 0) : strcspn(h, ":/");
	for (i = 0; i < ELEMENTSOF(hosts); i++)
		if (strlen(hosts[i]) == hn && strncmp(h, hosts[i], hn) == 0)
			break;
	if (i == ELEMENTSOF(hosts))
		return "the host must be 127.0.0.1, [::1] or localhost";
	s = h + hn;
	if (*s == ':') {
		size_t dn = strspn(s + 1, "0123456789");
		unsigned port = 0;

		for (size_t d = 1; d <= dn && dn <= 5; d++)
			port = port * 10 + (unsigned)(s[d] - '0');
		if (dn == 0 || dn > 5 || port == 0 || port > 65535)
			return "the port must be a number from 1 to 65535";
		s += 1 + dn;
	}
	if (*s && *s != '/')
		return "only a port and a path may follow the host";
	for (; *s; s++) {
		if (!strchr(path_chars, *s))
			return "the path may hold only letters, digits, -._~!$&'()*+,;=:@/ and %XX "
			       "(no query, no fragment)";
		if (*s == '%' && !(isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])))
			return "'%' in the path must be followed by two hex digits";
	}
	return NULL;
}

/* Whether an absolute path holds a "." or ".." component. */
static bool has_dot_component(const char *p)
{
	for (const char *c = p; c; c = strchr(c + 1, '/')) {
		size_t n = strcspn(c + 1, "/");

		if ((n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
			return true;
	}
	return false;
}

/* Checks a literal operand and rewrites it in its normal form. */
static int check_literal(IniErrors *e, unsigned line, const char *label, Operand op, WlToken *k)
{
	char *norm = NULL;
	const char *why;
	uint64_t v;

	switch (op) {
	case OP_UNIT:
		if (k->text[0] == '-' || strspn(k->text, WL_UNIT_CHARS) != strlen(k->text) ||
		    strlen(k->text) >= UNIT_NAME_MAX - strlen(".service"))
			break;
		norm = wl_unit_mangle(k->text);
		if (!norm)
			return -ENOMEM;
		free(k->text);
		k->text = norm;
		return 0;
	case OP_PATH:
		if (k->text[0] != '/')
			break;
		if (has_dot_component(k->text)) {
			ini_error(e, line, "%s: '%s' holds a '.' or '..' component", label,
				  k->text);
			return -EINVAL;
		}
		return 0;
	case OP_PERCENT:
		if (util_parse_u64(k->text, 1, 100, &v) < 0)
			break;
		if (asprintf(&norm, "%u", (unsigned)v) < 0)
			return -ENOMEM;
		free(k->text);
		k->text = norm;
		return 0;
	case OP_PROGRAM:
		if (k->text[0] != '/')
			break;
		return 0;
	case OP_ARG:
		return 0;
	case OP_URL:
		why = url_refusal(k->text);
		if (!why)
			return 0;
		ini_error(e, line, "%s: '%s': %s", label, k->text, why);
		return -EINVAL;
	}
	switch (op) {
	case OP_UNIT:
		ini_error(e, line,
			  "%s: '%s' is not a unit name (letters, digits and :_.@- only) or a "
			  "{param} of type unit",
			  label, k->text);
		break;
	case OP_PATH:
		ini_error(e, line, "%s: '%s' is not an absolute path or a {param} of type path",
			  label, k->text);
		break;
	case OP_PERCENT:
		ini_error(e, line,
			  "%s: '%s' is not a percentage from 1 to 100 or a {param} of type text",
			  label, k->text);
		break;
	default:
		ini_error(e, line, "%s: the program must be an absolute path, not '%s'", label,
			  k->text);
		break;
	}
	return -EINVAL;
}

/* Checks a placeholder operand: its shape and the type of its parameter. */
static int check_placeholder(IniErrors *e, unsigned line, const char *label, const WlAction *a,
			     Operand op, const WlToken *k)
{
	const WlParam *p = &a->params[k->param];
	WlParamType want = WL_PARAM_TEXT;

	if (op == OP_PROGRAM) {
		ini_error(e, line, "%s: the program must be an absolute path, not a parameter",
			  label);
		return -EINVAL;
	}
	if (op == OP_ARG) {
		/* As in exec: a program would open the path again, after the check. */
		if (p->type != WL_PARAM_PATH)
			return 0;
		ini_error(e, line,
			  "%s: path parameter '%s' may be used by file checks only, not by a "
			  "command",
			  label, p->name);
		return -EINVAL;
	}
	if (k->prefix_len > 0 || k->suffix_len > 0) {
		ini_error(e, line, "%s: '%s' must be a literal or exactly one {param}", label,
			  k->text);
		return -EINVAL;
	}
	if (op == OP_UNIT)
		want = WL_PARAM_UNIT;
	else if (op == OP_PATH)
		want = WL_PARAM_PATH;
	if (p->type != want) {
		ini_error(e, line, "%s: parameter '%s' must be of type %s", label, p->name,
			  type_name(want));
		return -EINVAL;
	}
	return 0;
}

int wl_check_resolve(IniErrors *e, const char *what, const WlAction *a, WlCheckTemplate *t)
{
	char label[64];
	int r = 0;

	(void)util_snprintf(label, sizeof label, "%s %s", what, kinds[t->kind].name);
	/* A word already reported (unknown parameter, bad byte) is not judged again. */
	if (wl_template_resolve(e, t->line, a, label, &t->args) < 0)
		return -EINVAL;
	for (size_t i = 0; i < t->args.n; i++) {
		WlToken *k = &t->args.tok[i];
		Operand op = operand(t->kind, i);
		int q = k->param >= 0 ? check_placeholder(e, t->line, label, a, op, k)
				      : check_literal(e, t->line, label, op, k);

		if (q == -ENOMEM)
			return q;
		if (q < 0)
			r = q;
	}
	return r;
}

_printf_(3, 4) static int refuse(char *reason, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (reason && len > 0) {
		va_start(ap, fmt);
		vsnprintf(reason, len, fmt, ap);
		va_end(ap);
	}
	return -EPERM;
}

/* "kind operand ...", for reports and history. */
static char *check_text(WlCheckKind kind, char *const *argv)
{
	size_t n = strlen(kinds[kind].name) + 1, used;
	char *s;

	for (size_t i = 0; argv[i]; i++)
		n += 1 + strlen(argv[i]);
	s = malloc(n);
	if (!s)
		return NULL;
	used = (size_t)snprintf(s, n, "%s", kinds[kind].name);
	for (size_t i = 0; argv[i]; i++)
		used += (size_t)snprintf(s + used, n - used, " %s", argv[i]);
	return s;
}

/* What only the filled value can tell: a number, a URL. Normalises a number in place. */
static int check_filled(const WlCheckTemplate *t, const WlParam *p, Operand op, char **v,
			char *reason, size_t len)
{
	const char *why;
	uint64_t n;

	if (op == OP_PERCENT) {
		if (util_parse_u64(*v, 1, 100, &n) < 0)
			return refuse(reason, len,
				      "check '%s': parameter '%s' value '%s' is not a percentage "
				      "from 1 to 100",
				      kinds[t->kind].name, p->name, *v);
		free(*v);
		return asprintf(v, "%u", (unsigned)n) < 0 ? (*v = NULL, -ENOMEM) : 0;
	}
	if (op == OP_URL && (why = url_refusal(*v)))
		return refuse(reason, len, "check '%s': parameter '%s' value '%s': %s",
			      kinds[t->kind].name, p->name, *v, why);
	return 0;
}

int wl_check_fill(const WlAction *a, const WlCheckTemplate *t, char *const *values, WlCheck *ret,
		  char *reason, size_t reason_len)
{
	WlCheck c = {.kind = t->kind};
	int r = -ENOMEM;

	c.argv = calloc(t->args.n + 1, sizeof *c.argv);
	if (!c.argv)
		goto out;
	for (size_t i = 0; i < t->args.n; i++) {
		const WlToken *k = &t->args.tok[i];

		c.argv[i] = wl_token_expand(k, values);
		if (!c.argv[i])
			goto out;
		c.argc++;
		if (k->param < 0)
			continue;
		r = check_filled(t, &a->params[k->param], operand(t->kind, i), &c.argv[i], reason,
				 reason_len);
		if (r < 0)
			goto out;
		r = -ENOMEM;
	}
	c.text = check_text(c.kind, c.argv);
	if (!c.text)
		goto out;
	*ret = c;
	return 0;
out:
	if (r == -ENOMEM)
		(void)refuse(reason, reason_len, "out of memory");
	wl_check_done(&c);
	return r;
}
