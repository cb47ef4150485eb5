/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "common/ini.h"
#include "common/text.h"

void ini_verror(IniErrors *e, unsigned line, const char *fmt, va_list ap)
{
	char msg[600];

	if (e->n > INI_MAX_ERRORS)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (e->n == INI_MAX_ERRORS)
		(void)util_snprintf(msg, sizeof msg, "too many errors, giving up");
	e->v[e->n].line = line;
	e->v[e->n].seq = e->n;
	e->v[e->n].msg = strdup(msg);
	if (!e->v[e->n].msg)
		e->oom = true;
	e->n++;
}

void ini_error(IniErrors *e, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ini_verror(e, line, fmt, ap);
	va_end(ap);
}

static int by_line(const void *a, const void *b)
{
	const IniErrors *z = NULL;
	const __typeof__(z->v[0]) *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

char *ini_errors_join(IniErrors *e, const char *name)
{
	size_t n = 1, used = 0;
	char *s;

	qsort(e->v, e->n, sizeof e->v[0], by_line);
	for (unsigned i = 0; i < e->n; i++)
		n += strlen(name) + (e->v[i].msg ? strlen(e->v[i].msg) : 14) + 16;
	s = malloc(n);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (unsigned i = 0; i < e->n; i++)
		used += (size_t)snprintf(s + used, n - used, "%s:%u: %s\n", name, e->v[i].line,
					 e->v[i].msg ? e->v[i].msg : "out of memory");
	return s;
}

void ini_errors_free(IniErrors *e)
{
	for (unsigned i = 0; i < e->n; i++)
		free(e->v[i].msg);
	e->n = 0;
}

char *ini_strip(char *s)
{
	char *e;

	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int ini_split(char *s, IniErrors *e, unsigned line, const char *hint, char **ret_key,
	      char **ret_value)
{
	char *eq;

	if (*s == '[') {
		size_t n = strlen(s);

		if (s[n - 1] != ']') {
			ini_error(e, line, "section header must end with ']'");
			return -EBADMSG;
		}
		s[n - 1] = '\0';
		*ret_key = ini_strip(s + 1);
		*ret_value = NULL;
		return INI_LINE_SECTION;
	}
	eq = strchr(s, '=');
	if (!eq) {
		ini_error(e, line, "expected 'key = value', %s or a comment", hint);
		return -EINVAL;
	}
	*eq = '\0';
	*ret_key = ini_strip(s);
	*ret_value = ini_strip(eq + 1);
	return INI_LINE_PAIR;
}

const char *ini_section_arg(const char *hdr, const char *kind)
{
	size_t n = strlen(kind);

	if (strncmp(hdr, kind, n) != 0 || (hdr[n] != ' ' && hdr[n] != '\t'))
		return NULL;
	return hdr + n + strspn(hdr + n, " \t");
}

/* A hidden character (text_is_hidden) other than a tab, in valid UTF-8. */
static bool has_hidden(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0, k; i < n; i += k) {
		uint32_t cp;

		k = text_utf8_len(u + i, n - i);
		cp = text_utf8_decode(u + i, k);
		if (cp != '\t' && text_is_hidden(cp))
			return true;
	}
	return false;
}

int ini_parse(const char *buf, size_t len, size_t max_bytes, size_t max_line, unsigned *line,
	      IniErrors *e, int (*on_line)(char *line, void *userdata), void *userdata)
{
	_cleanup_free_ char *copy = NULL;
	const char *s = buf, *end = buf + len;

	*line = 0;
	if (len > max_bytes) {
		ini_error(e, 1, "file is %zu bytes, over the %zu-byte cap", len, max_bytes);
		return -E2BIG;
	}
	if (memchr(buf, '\0', len)) {
		ini_error(e, 1, "file holds a NUL byte");
		return 0;
	}
	copy = malloc(max_line + 1);
	if (!copy)
		return -ENOMEM;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char *l;
		bool bad = false;

		(*line)++;
		s += n + (nl ? 1 : 0);
		if (n > max_line) {
			ini_error(e, *line, "line longer than %zu bytes", max_line);
			continue;
		}
		memcpy(copy, s - n - (nl ? 1 : 0), n);
		copy[n] = '\0';
		l = ini_strip(copy);
		for (char *c = l; *c && !bad; c++)
			bad = ((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f;
		if (bad) {
			ini_error(e, *line, "control character in line");
			continue;
		}
		if (!text_utf8_valid(l, strlen(l))) {
			ini_error(e, *line, "line is not valid UTF-8");
			continue;
		}
		if (has_hidden(l)) {
			/* What a reviewer reads must be what Healer reads. */
			ini_error(e, *line, "invisible or bidirectional character in line");
			continue;
		}
		if (*l == '\0' || *l == '#' || *l == ';')
			continue;
		if (on_line(l, userdata) == -ENOMEM || e->oom)
			return -ENOMEM;
	}
	return 0;
}

int ini_read_file(const char *path, size_t max, char **ret, size_t *ret_len, char **ret_error)
{
	char why[200];
	int r = util_read_trusted_file(path, max, ret, ret_len, why, sizeof why);

	if (r >= 0 || !ret_error)
		return r;
	if (r == -E2BIG)
		(void)util_snprintf(why, sizeof why, "file is over the %zu-byte cap", max);
	else if (r != -EPERM)
		(void)util_snprintf(why, sizeof why, "%s", strerror(-r));
	if (asprintf(ret_error, "%s: %s\n", path, why) < 0) {
		*ret_error = NULL;
		return -ENOMEM;
	}
	return r;
}
