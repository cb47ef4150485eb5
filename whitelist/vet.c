/* SPDX-License-Identifier: MIT */
/*
 * Vetting: turns an untrusted proposal (action + arguments, or the tokens of
 * a free-text command) into a command whose argv the whitelist built itself.
 * Every check fails closed and says why.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "whitelist/internal.h"

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

const char *wl_builtin_name(WlBuiltin b)
{
	switch (b) {
	case WL_BUILTIN_CHMOD_X:
		return "chmod-x";
	case WL_BUILTIN_DROP_CACHES:
		return "drop-caches";
	default:
		return NULL;
	}
}

WlCommand *wl_command_free(WlCommand *c)
{
	if (!c)
		return NULL;
	free(c->action);
	for (size_t i = 0; i < c->n_args; i++) {
		free(c->arg_names[i]);
		free(c->arg_values[i]);
	}
	free(c->arg_names);
	free(c->arg_values);
	if (c->argv)
		for (char **a = c->argv; *a; a++)
			free(*a);
	free(c->argv);
	free(c->builtin_path);
	free(c->verify_unit);
	free(c->unit);
	for (size_t i = 0; i < c->n_requires; i++)
		wl_check_done(&c->requires[i]);
	free(c->requires);
	for (size_t i = 0; i < c->n_verifies; i++)
		wl_check_done(&c->verifies[i]);
	free(c->verifies);
	free(c);
	return NULL;
}

static const WlAction *find_action(const Whitelist *wl, const char *name)
{
	for (size_t i = 0; i < wl->n_actions; i++)
		if (strcmp(wl->actions[i].name, name) == 0)
			return &wl->actions[i];
	return NULL;
}

/* The byte rules that hold for every value, whatever its type and pattern. */
static int check_bytes(const char *name, const char *v, char *reason, size_t len)
{
	size_t n = strlen(v);

	if (n == 0)
		return refuse(reason, len, "parameter '%s' is empty", name);
	if (n > WL_MAX_VALUE)
		return refuse(reason, len, "parameter '%s' is %zu bytes, over the %d-byte cap",
			      name, n, WL_MAX_VALUE);
	if (v[0] == '-')
		return refuse(reason, len, "parameter '%s' begins with '-' (option injection)",
			      name);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x21 || c > 0x7e)
			return refuse(reason, len,
				      "parameter '%s' holds byte 0x%02x at offset %zu (only "
				      "printable ASCII without blanks is allowed)",
				      name, c, i);
	}
	return 0;
}

static int check_pattern(const Whitelist *wl, const WlParam *p, const char *v, char *reason,
			 size_t len)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
	int rc;

	if (!md)
		return -ENOMEM;
	rc = pcre2_match(p->re, (PCRE2_SPTR)v, strlen(v), 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md,
			 wl->mctx);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 0;
	if (rc == PCRE2_ERROR_NOMATCH)
		return refuse(reason, len, "parameter '%s' value '%s' does not match %s", p->name,
			      v, p->pattern);
	return refuse(reason, len, "parameter '%s': pattern matching failed (error %d)", p->name,
		      rc);
}

const char *wl_file_refusal(int fd, const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_nlink != 1)
		return "file has more than one hard link";
	if (st->st_mode & (S_ISUID | S_ISGID))
		return "file is setuid or setgid";
	return util_foreign_writer(fd, path, st);
}

/*
 * Canonicalises a path value and checks what it names. Returns the canonical
 * path in *ret; the builtin opens exactly that path again without following
 * symlinks and re-checks on the fd, so a swap after this check fails there.
 */
static int vet_path(const WlParam *p, const char *v, char **ret, char *reason, size_t len)
{
	char canon[PATH_MAX];
	const char *why;
	struct stat st;

	if (v[0] != '/')
		return refuse(reason, len, "parameter '%s' must be an absolute path", p->name);
	if (!realpath(v, canon))
		return refuse(reason, len, "parameter '%s': cannot resolve '%s': %s", p->name, v,
			      strerror(errno));
	if (lstat(canon, &st) < 0)
		return refuse(reason, len, "parameter '%s': cannot stat '%s': %s", p->name, canon,
			      strerror(errno));
	why = wl_file_refusal(-1, canon, &st);
	if (why)
		return refuse(reason, len, "parameter '%s': '%s': %s", p->name, canon, why);
	*ret = strdup(canon);
	return *ret ? 0 : -ENOMEM;
}

/* Checks one raw value for parameter p; on success *ret is the normalised value. */
static int vet_value(const Whitelist *wl, const WlParam *p, const char *raw,
		     const WlVetOptions *opts, char **ret, char *reason, size_t len)
{
	_cleanup_free_ char *v = NULL;
	int r;

	r = check_bytes(p->name, raw, reason, len);
	if (r < 0)
		return r;
	switch (p->type) {
	case WL_PARAM_TEXT:
		v = strdup(raw);
		if (!v)
			return -ENOMEM;
		break;
	case WL_PARAM_UNIT:
		/*
		 * systemd's own unit-name characters, whatever the pattern says:
		 * systemctl expands *?[] as globs over loaded units, which would
		 * walk past the protect list.
		 */
		if (strspn(raw, WL_UNIT_CHARS) != strlen(raw))
			return refuse(reason, len,
				      "parameter '%s': '%s' is not a unit name (letters, digits "
				      "and :_.@- only)",
				      p->name, raw);
		v = wl_unit_mangle(raw);
		if (!v)
			return -ENOMEM;
		r = check_bytes(p->name, v, reason, len);
		if (r < 0)
			return r;
		break;
	case WL_PARAM_PATH:
		r = vet_path(p, raw, &v, reason, len);
		if (r < 0)
			return r;
		break;
	}
	r = check_pattern(wl, p, v, reason, len);
	if (r < 0)
		return r;
	if (p->type == WL_PARAM_UNIT) {
		if (wl_unit_is_protected(wl, v))
			return refuse(reason, len, "unit '%s' is protected", v);
		if (!opts || (!opts->evidence_unit && !opts->allow_any_unit))
			return refuse(
				reason, len,
				"unit '%s' refused: no evidence unit (Healer restarts only the "
				"unit whose error it saw)",
				v);
		if (opts->evidence_unit) {
			_cleanup_free_ char *ev = wl_unit_mangle(opts->evidence_unit);

			if (!ev)
				return -ENOMEM;
			if (strcmp(ev, v) != 0)
				return refuse(reason, len,
					      "unit '%s' is not the unit the evidence came from "
					      "('%s')",
					      v, ev);
		}
	}
	*ret = TAKE_PTR(v);
	return 0;
}

char *wl_token_expand(const WlToken *t, char *const *values)
{
	const char *v;
	size_t vn, n;
	char *s;

	if (t->param < 0)
		return strdup(t->text);
	v = values[t->param];
	vn = strlen(v);
	n = t->prefix_len + vn + t->suffix_len;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, t->text, t->prefix_len);
	memcpy(s + t->prefix_len, v, vn);
	memcpy(s + t->prefix_len + vn, t->text + strlen(t->text) - t->suffix_len, t->suffix_len);
	s[n] = '\0';
	return s;
}

/* Fills one list of checks with the command's values. */
static int fill_checks(const WlAction *a, const WlCheckTemplate *t, size_t n, WlCheck **ret,
		       size_t *ret_n, char *const *values, char *reason, size_t len)
{
	int r;

	if (n == 0)
		return 0;
	*ret = calloc(n, sizeof **ret);
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = wl_check_fill(a, &t[i], values, &(*ret)[i], reason, len);
		if (r < 0)
			return r;
		(*ret_n)++;
	}
	return 0;
}

/*
 * The checks, the unit and the limits of a command. verify_unit stays the
 * first unit-active verify line's unit, for those who read only that.
 */
static int fill_extras(const WlAction *a, WlCommand *c, char *reason, size_t len)
{
	int r;

	c->memory_max = a->memory_max;
	c->tasks_max = a->tasks_max;
	for (size_t i = 0; i < a->n_params && !c->unit; i++)
		if (a->params[i].type == WL_PARAM_UNIT && !(c->unit = strdup(c->arg_values[i])))
			return -ENOMEM;
	r = fill_checks(a, a->requires, a->n_requires, &c->requires, &c->n_requires, c->arg_values,
			reason, len);
	if (r < 0)
		return r;
	r = fill_checks(a, a->verifies, a->n_verifies, &c->verifies, &c->n_verifies, c->arg_values,
			reason, len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n_verifies && !c->verify_unit; i++)
		if (c->verifies[i].kind == WL_CHECK_UNIT_ACTIVE &&
		    !(c->verify_unit = strdup(c->verifies[i].argv[0])))
			return -ENOMEM;
	return 0;
}

/* Builds the command from normalised values; takes ownership of values. */
static int build_command(const WlAction *a, char **values, WlCommand **ret, char *reason,
			 size_t len)
{
	_cleanup_(wl_command_freep) WlCommand *c = calloc(1, sizeof *c);
	int r;

	if (!c)
		goto oom;
	c->action = strdup(a->name);
	c->arg_names = calloc(a->n_params + 1, sizeof(char *));
	c->arg_values = calloc(a->n_params + 1, sizeof(char *));
	if (!c->action || !c->arg_names || !c->arg_values)
		goto oom;
	for (size_t i = 0; i < a->n_params; i++) {
		c->arg_names[i] = strdup(a->params[i].name);
		c->arg_values[i] = TAKE_PTR(values[i]);
		c->n_args++;
		if (!c->arg_names[i])
			goto oom;
	}
	c->builtin = a->builtin;
	c->timeout_usec = a->timeout_usec;
	c->cooldown_usec = a->cooldown_usec;
	if (a->exec.n > 0) {
		c->argv = calloc(a->exec.n + 1, sizeof(char *));
		if (!c->argv)
			goto oom;
		for (size_t i = 0; i < a->exec.n; i++) {
			c->argv[i] = wl_token_expand(&a->exec.tok[i], c->arg_values);
			if (!c->argv[i])
				goto oom;
		}
	}
	if (a->builtin_param >= 0) {
		c->builtin_path = strdup(c->arg_values[a->builtin_param]);
		if (!c->builtin_path)
			goto oom;
	}
	r = fill_extras(a, c, reason, len);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
oom:
	for (size_t i = 0; i < a->n_params; i++)
		free(values[i]);
	return -ENOMEM;
}

/* raw[i] is the proposed value of a->params[i]. */
static int vet_action(const Whitelist *wl, const WlAction *a, const char *const *raw,
		      const WlVetOptions *opts, WlCommand **ret, char *reason, size_t len)
{
	char *values[WL_MAX_PARAMS] = {0};
	int r;

	for (size_t i = 0; i < a->n_params; i++) {
		r = vet_value(wl, &a->params[i], raw[i], opts, &values[i], reason, len);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				free(values[j]);
			return r;
		}
	}
	r = build_command(a, values, ret, reason, len);
	if (r == -ENOMEM && reason && len > 0)
		(void)util_snprintf(reason, len, "out of memory");
	return r;
}

int wl_vet(const Whitelist *wl, const char *action, const WlArg *args, size_t n_args,
	   const WlVetOptions *opts, WlCommand **ret, char *reason, size_t reason_len)
{
	const char *raw[WL_MAX_PARAMS] = {0};
	const WlAction *a;

	if (!action)
		return refuse(reason, reason_len, "command names no action");
	a = find_action(wl, action);
	if (!a) {
		(void)refuse(reason, reason_len, "unknown action '%.64s'", action);
		return -ENOENT;
	}
	for (size_t i = 0; i < n_args; i++) {
		size_t k;

		for (k = 0; k < a->n_params; k++)
			if (strcmp(a->params[k].name, args[i].name) == 0)
				break;
		if (k == a->n_params)
			return refuse(reason, reason_len, "action '%s' has no parameter '%.64s'",
				      a->name, args[i].name);
		if (raw[k])
			return refuse(reason, reason_len, "parameter '%s' given twice",
				      a->params[k].name);
		if (!args[i].value)
			return refuse(reason, reason_len, "parameter '%s' has no value",
				      a->params[k].name);
		raw[k] = args[i].value;
	}
	for (size_t k = 0; k < a->n_params; k++)
		if (!raw[k])
			return refuse(reason, reason_len, "action '%s' needs parameter '%s'",
				      a->name, a->params[k].name);
	return vet_action(wl, a, raw, opts, ret, reason, reason_len);
}

/*
 * An absolute program token is the program of the action only when both
 * resolve to the same file and carry the same name: /usr/bin/systemctl or
 * /bin/systemctl for systemctl, never /tmp/systemctl.
 */
static bool same_program(const WlAction *a, const char *literal, const char *token)
{
	static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
	char want[PATH_MAX], got[PATH_MAX], cand[PATH_MAX];
	const char *base = strrchr(token, '/');

	if (!base || strcmp(base + 1, literal) != 0)
		return false;
	if (!realpath(token, got))
		return false;
	if (a->exec.n > 0)
		return realpath(a->exec.tok[0].text, want) && strcmp(want, got) == 0;
	/* A builtin stands in for the standard program of that name. */
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (util_snprintf(cand, sizeof cand, "%s/%s", dirs[i], literal) >= 0 &&
		    realpath(cand, want) && strcmp(want, got) == 0)
			return true;
	return false;
}

/* Fits tokens to one template; raw[] then points into the tokens. */
static bool fit_template(const WlAction *a, const WlTemplate *t, char *const *tokens, size_t n,
			 const char **raw, size_t *raw_len)
{
	if (t->n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const WlToken *k = &t->tok[i];
		size_t tn = strlen(tokens[i]);

		if (k->param < 0) {
			if (strcmp(k->text, tokens[i]) == 0)
				continue;
			if (i == 0 && tokens[0][0] == '/' && same_program(a, k->text, tokens[0]))
				continue;
			return false;
		}
		if (tn <= k->prefix_len + k->suffix_len ||
		    strncmp(tokens[i], k->text, k->prefix_len) != 0 ||
		    strcmp(tokens[i] + tn - k->suffix_len,
			   k->text + strlen(k->text) - k->suffix_len) != 0)
			return false;
		raw[k->param] = tokens[i] + k->prefix_len;
		raw_len[k->param] = tn - k->prefix_len - k->suffix_len;
	}
	return true;
}

int wl_vet_tokens(const Whitelist *wl, char *const *tokens, size_t n_tokens,
		  const WlVetOptions *opts, WlCommand **ret, char *reason, size_t reason_len)
{
	if (n_tokens == 0)
		return refuse(reason, reason_len, "empty command");
	for (size_t i = 0; i < wl->n_actions; i++) {
		const WlAction *a = &wl->actions[i];

		for (size_t m = 0; m < a->n_match; m++) {
			const char *raw[WL_MAX_PARAMS] = {0};
			size_t raw_len[WL_MAX_PARAMS] = {0};
			char *values[WL_MAX_PARAMS] = {0};
			int r = 0;

			if (!fit_template(a, &a->match[m], tokens, n_tokens, raw, raw_len))
				continue;
			/* The first template that fits decides, whatever its verdict. */
			for (size_t k = 0; k < a->n_params && r == 0; k++) {
				values[k] = util_strndup(raw[k], raw_len[k]);
				if (!values[k])
					r = -ENOMEM;
			}
			if (r == 0)
				r = vet_action(wl, a, (const char *const *)values, opts, ret,
					       reason, reason_len);
			for (size_t k = 0; k < a->n_params; k++)
				free(values[k]);
			return r;
		}
	}
	(void)refuse(reason, reason_len, "no whitelist action matches this command");
	return -ENOENT;
}

int wl_command_words(const Whitelist *wl, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < wl->n_actions; i++)
		for (size_t m = 0; m < wl->actions[i].n_match; m++) {
			const char *w = wl->actions[i].match[m].tok[0].text;
			bool dup = false;
			char **nv;

			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(v[k], w) == 0;
			if (dup)
				continue;
			nv = realloc(v, (n + 2) * sizeof *v);
			if (!nv)
				goto oom;
			v = nv;
			v[n] = strdup(w);
			if (!v[n])
				goto oom;
			v[++n] = NULL;
		}
	if (!v) {
		v = calloc(1, sizeof *v);
		if (!v)
			return -ENOMEM;
	}
	*ret = v;
	*ret_n = n;
	return 0;
oom:
	for (size_t k = 0; k < n; k++)
		free(v[k]);
	free(v);
	return -ENOMEM;
}
