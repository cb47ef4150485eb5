/* SPDX-License-Identifier: MIT */
/*
 * The redaction engine. The rules (redact-rules.c) run in table order, each
 * over the whole text; every span a rule finds becomes LLM_REDACTED. The
 * patterns are ours and compiled once; the text is the attacker's (anyone
 * who writes a journal line), so:
 *
 *  - every match runs under match and depth limits, and a limit hit fails
 *    the whole call (-EINVAL): the caller must then send nothing, because a
 *    text we could not read to the end may still hold a secret;
 *  - a span is replaced keeping its newlines ("[REDACTED]\n[REDACTED]" for
 *    a two-line span), so the caller can redact many lines as one text, and
 *    a secret split over two lines is seen whole, yet split back line by line;
 *  - the table runs again while a pass still changes something (a few passes
 *    at most): a replacement may join text into a shape an earlier rule
 *    knows, and redacting the result again must change nothing.
 *
 * The keyword prefilter is only a shortcut: a rule whose words do not occur
 * in the text could not fire anyway (each row's words are part of every
 * match of its pattern or of its context).
 */
#include <stdbool.h>
#include <string.h>

#include "common/regex.h"
#include "common/util.h"
#include "llm/redact-internal.h"
#include "llm/redact.h"

#define MAX_PASSES	  4
#define MAX_RULE_KEYWORDS 24
#define JIT_STACK_MAX	  (512 * 1024)
#define MARKER_LEN	  (sizeof LLM_REDACTED - 1)

typedef struct Compiled {
	pcre2_code *code;
	unsigned n_kw;
	unsigned kw[MAX_RULE_KEYWORDS]; /* indices into keywords[] */
} Compiled;

static Compiled *compiled;
static RedactKeywords keywords;
static pcre2_match_context *mctx;
static pcre2_jit_stack *jit_stack;
static bool ready;

static int split_keywords(const char *list, Compiled *c)
{
	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, "|");
		int r;

		if (n == 0 || c->n_kw == MAX_RULE_KEYWORDS)
			return -EINVAL; /* a table error: caught by the first test */
		r = redact_kw_add(&keywords, p, n, &c->kw[c->n_kw++]);
		if (r < 0)
			return r;
		p += n + (p[n] == '|');
	}
	return 0;
}

/* Drops what a failed compile_all() built, so that the next call starts clean. */
static void compiled_free(void)
{
	for (size_t i = 0; compiled && i < redact_n_rules; i++)
		pcre2_code_free(compiled[i].code);
	free(compiled);
	compiled = NULL;
	redact_kw_free(&keywords);
	pcre2_match_context_free(mctx);
	mctx = NULL;
	pcre2_jit_stack_free(jit_stack);
	jit_stack = NULL;
}

static int compile_rule(size_t i)
{
	int errcode;
	PCRE2_SIZE off;

	/*
	 * Bytes, not UTF: (?i) then folds ASCII letters only, exactly as the
	 * prefilter does (in UTF mode "paſsword" would match "password", and
	 * the prefilter, looking for "pass", would skip the row). Log text need
	 * not be valid UTF-8 either; spans are widened to whole characters.
	 */
	compiled[i].code = pcre2_compile((PCRE2_SPTR)redact_rules[i].pattern, PCRE2_ZERO_TERMINATED,
					 0, &errcode, &off, NULL);
	if (!compiled[i].code)
		return errcode == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -EINVAL;
	/* JIT where the host allows it (not under MemoryDenyWriteExecute=): 5 to 10 times faster.
	 */
	if (jit_stack)
		(void)pcre2_jit_compile(compiled[i].code, PCRE2_JIT_COMPLETE);
	return split_keywords(redact_rules[i].keywords, &compiled[i]);
}

static int compile_all(void)
{
	int r = -ENOMEM;

	if (ready)
		return 0;
	compiled = calloc(redact_n_rules, sizeof *compiled);
	mctx = regex_match_context_new();
	if (!compiled || !mctx)
		goto fail;
	jit_stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
	if (jit_stack)
		pcre2_jit_stack_assign(mctx, NULL, jit_stack);
	for (size_t i = 0; i < redact_n_rules; i++) {
		r = compile_rule(i);
		if (r < 0)
			goto fail;
	}
	r = redact_kw_build(&keywords);
	if (r < 0)
		goto fail;
	ready = true;
	return 0;
fail:
	compiled_free();
	return r;
}

typedef struct Buf {
	char *p;
	size_t n, cap;
} Buf;

static int buf_add(Buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

/*
 * The marker for span s[0..n), one per line piece, newlines kept. Sets
 * *changed unless the span already read exactly that way.
 */
static int add_marker(Buf *b, const char *s, size_t n, bool *changed)
{
	size_t from = b->n;

	for (size_t i = 0;;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t piece = (nl ? (size_t)(nl - s) : n) - i;

		if (piece > 0 && buf_add(b, LLM_REDACTED, MARKER_LEN) < 0)
			return -ENOMEM;
		if (!nl)
			break;
		if (buf_add(b, "\n", 1) < 0)
			return -ENOMEM;
		i += piece + 1;
	}
	if (b->n - from != n || memcmp(b->p + from, s, n) != 0)
		*changed = true;
	return 0;
}

static bool continuation(const char *text, size_t len, size_t pos)
{
	return pos < len && ((unsigned char)text[pos] & 0xc0) == 0x80;
}

/* The next character boundary after pos: a search never starts mid-character. */
static size_t advance(const char *text, size_t len, size_t pos)
{
	pos++;
	while (continuation(text, len, pos))
		pos++;
	return pos;
}

/* A span of whole UTF-8 characters: a marker never leaves half of one. */
static void whole_characters(const char *text, size_t len, size_t *s, size_t *e)
{
	while (*s > 0 && continuation(text, len, *s))
		(*s)--;
	while (continuation(text, len, *e))
		(*e)++;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Whether s[0..n) is w (lower case), ASCII case aside. */
static bool same_lower(const char *s, const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != w[i])
			return false;
	return true;
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/*
 * Where the context search of one rule over one text stands: the matches
 * come left to right, so each position of a line is looked at a bounded
 * number of times, however many flags the line holds.
 */
typedef struct Context {
	size_t line;  /* start of the line searched */
	size_t next;  /* first start position not decided yet */
	bool found;   /* a word was found on this line */
	size_t width; /* the longest word of the list */
} Context;

/* Whether a word of list stands whole at text[i] and ends by pos. */
static bool word_at(const char *text, size_t i, size_t pos, size_t line, const char *list)
{
	for (const char *w = list; *w;) {
		size_t n = strcspn(w, "|");

		if (i + n <= pos && lower(text[i]) == w[0] &&
		    (i == line || !word_char(text[i - 1])) &&
		    (i + n == pos || !word_char(text[i + n])) && same_lower(text + i, w, n))
			return true;
		w += n + (w[n] == '|');
	}
	return false;
}

/*
 * Whether a word or phrase of list ('|'-separated) stands whole, case
 * aside, on the line before pos. A path before it counts
 * ("/usr/bin/mysql"), a longer word does not ("mysqld", "login-service").
 */
static bool in_context(const char *text, size_t pos, const char *list, Context *c)
{
	const char *nl;

	if (pos < c->next)
		*c = (Context){.width = c->width}; /* never, as matches go right: start over */
	nl = memrchr(text + c->next, '\n', pos - c->next);
	if (nl) {
		c->line = c->next = (size_t)(nl - text) + 1;
		c->found = false;
	}
	for (size_t i = c->next; !c->found && i < pos; i++)
		c->found = word_at(text, i, pos, c->line, list);
	if (c->found)
		c->next = pos; /* the rest of the line is decided */
	else if (pos > c->next + c->width)
		c->next = pos - c->width; /* a word starting later may still end past pos */
	return c->found;
}

/* The longest word of a context list. */
static size_t context_width(const char *list)
{
	size_t width = 0;

	for (const char *w = list; w && *w;) {
		size_t n = strcspn(w, "|");

		if (n > width)
			width = n;
		w += n + (w[n] == '|');
	}
	return width;
}

/*
 * Widens [*s, *e) so that it cuts no marker: a pattern may find the letters
 * inside "[REDACTED]" ("REDACTED" is base64), and replacing those would nest
 * markers and never settle. A span within a marker becomes the marker itself,
 * which is then replaced by itself: no change.
 */
static void cover_markers(const char *text, size_t len, size_t *s, size_t *e)
{
	for (size_t p = *s > MARKER_LEN ? *s - MARKER_LEN : 0; p < *s; p++)
		if (p + MARKER_LEN <= len && memcmp(text + p, LLM_REDACTED, MARKER_LEN) == 0 &&
		    p + MARKER_LEN > *s) {
			*s = p;
			break;
		}
	for (size_t p = *e > MARKER_LEN ? *e - MARKER_LEN + 1 : 0; p < *e; p++)
		if (p + MARKER_LEN <= len && memcmp(text + p, LLM_REDACTED, MARKER_LEN) == 0 &&
		    p + MARKER_LEN > *e) {
			*e = p + MARKER_LEN;
			break;
		}
}

/*
 * One rule over text[0..len). Writes the result to *out and sets *changed
 * when a span was replaced by something else than itself.
 */
static int apply(size_t i, const char *text, size_t len, pcre2_match_data *md, Buf *out,
		 unsigned *count, bool *changed)
{
	const RedactRule *rule = &redact_rules[i];
	Context ctx = {.width = context_width(rule->context)};
	RedactMatch m = {.text = text, .len = len};
	size_t pos = 0, last = 0;

	out->n = 0;
	while (pos <= len) {
		PCRE2_SIZE *ov;
		size_t s, e, next;
		int rc = pcre2_match(compiled[i].code, (PCRE2_SPTR)text, len, pos, 0, md, mctx);

		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return -EINVAL; /* a limit hit: refuse rather than send unredacted */
		ov = pcre2_get_ovector_pointer(md);
		s = ov[0];
		e = ov[1];
		next = e > pos ? e : advance(text, len, pos);
		m.floor = last;
		m.start = s;
		m.end = e;
		if (s < e && (!rule->context || in_context(text, s, rule->context, &ctx)) &&
		    (!rule->check || rule->check(&m))) {
			bool did = false;

			s = m.start;
			e = m.end;

			whole_characters(text, len, &s, &e);
			cover_markers(text, len, &s, &e);
			if (s < last)
				s = last; /* already copied out: never reach back past it */
			if (e > s) {
				if (buf_add(out, text + last, s - last) < 0 ||
				    add_marker(out, text + s, e - s, &did) < 0)
					return -ENOMEM;
				last = e;
				*count += did;
				*changed |= did;
			}
			if (e > next)
				next = e;
		}
		pos = next;
	}
	return buf_add(out, text + last, len - last);
}

/* Whether one of rule i's keywords is found (found NULL: no prefilter). */
static bool wanted(size_t i, const unsigned char *found)
{
	const Compiled *c = &compiled[i];

	if (c->n_kw == 0 || !found)
		return true;
	for (unsigned k = 0; k < c->n_kw; k++)
		if (found[c->kw[k]])
			return true;
	return false;
}

/* The prefilter's view of the current text: which words it holds. */
typedef struct Filter {
	char *lower; /* the text, ASCII lower-cased */
	size_t cap;
	unsigned char *found; /* per keyword; NULL: the prefilter is off */
} Filter;

static int filter_update(Filter *f, const Buf *text)
{
	if (!f->found)
		return 0;
	if (text->n + 1 > f->cap) {
		char *l = realloc(f->lower, text->n + 1);

		if (!l)
			return -ENOMEM;
		f->lower = l;
		f->cap = text->n + 1;
	}
	for (size_t k = 0; k < text->n; k++)
		f->lower[k] = lower(text->p[k]);
	redact_kw_scan(&keywords, f->lower, text->n, f->found);
	return 0;
}

/* One pass of the table over *text, replaced in place. */
static int run_pass(Buf *text, Buf *spare, Filter *f, pcre2_match_data *md, unsigned *count,
		    bool *changed)
{
	int r = filter_update(f, text);

	for (size_t i = 0; r >= 0 && i < redact_n_rules; i++) {
		bool did = false;
		Buf t;

		if (!wanted(i, f->found))
			continue;
		r = apply(i, text->p, text->n, md, spare, count, &did);
		if (r < 0 || !did)
			continue;
		t = *text;
		*text = *spare;
		*spare = t;
		*changed = true;
		r = filter_update(f, text);
	}
	return r;
}

int redact_text(const char *text, bool prefilter, char **ret, unsigned *ret_count)
{
	size_t len = strlen(text);
	Buf cur = {0}, spare = {0};
	Filter f = {0};
	pcre2_match_data *md = NULL;
	unsigned count = 0;
	int r = compile_all();

	if (r < 0)
		return r;
	if (len > LLM_REDACT_MAX)
		return -E2BIG;
	r = -ENOMEM;
	md = pcre2_match_data_create(1, NULL);
	if (!md || buf_add(&cur, text, len) < 0)
		goto out;
	if (prefilter && !(f.found = malloc(keywords.n ? keywords.n : 1)))
		goto out;
	for (int pass = 0; pass < MAX_PASSES; pass++) {
		bool changed = false;

		r = run_pass(&cur, &spare, &f, md, &count, &changed);
		if (r < 0 || !changed)
			break;
	}
	if (r >= 0) {
		if (ret_count)
			*ret_count = count;
		*ret = TAKE_PTR(cur.p);
		r = 0;
	}
out:
	pcre2_match_data_free(md);
	free(cur.p);
	free(spare.p);
	free(f.lower);
	free(f.found);
	return r;
}

int llm_redact(const char *text, char **ret, unsigned *ret_count)
{
	return redact_text(text, true, ret, ret_count);
}
