/* SPDX-License-Identifier: MIT */
/*
 * The patterns run in order, each over the whole text with
 * pcre2_substitute(); later ones never touch an earlier marker. Patterns are
 * ours, compiled once; the text is the attacker's, so every match runs
 * under match and depth limits.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <string.h>

#include "common/util.h"
#include "llm/redact.h"

/* Not preceded by a word character: the start of a name or token. */
#define B "(?<![A-Za-z0-9_])"
/*
 * A key name ending in a secret's name: DB_PASSWORD, X-Auth-Token,
 * aws_secret_access_key. The prefix is bounded so that a long run of name
 * characters costs linear time.
 */
#define KEY                                                                                      \
	B "[A-Za-z0-9_.-]{0,64}?(?:password|passwd|pwd|pass|pw|passphrase|token|secret|api[_-]?" \
	  "key|"                                                                                 \
	  "secret[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\"']?\\s*[:=]\\s*"

/*
 * The rules of tests/data/redaction/cases.txt, in its order. A value that
 * already reads [REDACTED] is replaced again (to the same text): skipping it
 * would let "[REDACTED]@user:pass@host" through.
 */
static const struct {
	const char *pattern;
	const char *replacement;
} rules[] = {
	/* A PEM private key block, across lines, or what is left of one a cut made. */
	{"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*$)",
	 LLM_REDACTED},
	/* scheme://user:password@host: all before the authority's last '@'. */
	{B "([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\\s\"'<>]*@", "${1}" LLM_REDACTED "@"},
	/* Authorization: [scheme] credential; the scheme word is kept (atomic group). */
	{"(?i)(" B "[A-Za-z0-9_.-]{0,64}?authorization[\"']?\\s*[:=]\\s*[\"']?"
	 "(?>(?:(?:bearer|basic|token|digest|negotiate)\\s+)?))[^\\s,;&)\"']+",
	 "${1}" LLM_REDACTED},
	/* A bare bearer token of 16 characters or more. */
	{"(?i)(" B "bearer[\\s:]+)[A-Za-z0-9._~+/=-]{16,}", "${1}" LLM_REDACTED},
	/* Cookies carry sessions: the whole value. */
	{"(?i)(" B "(?:set-)?cookie\\s*:\\s*)[^\\r\\n]+", "${1}" LLM_REDACTED},
	/* --password VALUE (a separate argument). */
	{"(?i)(" B "--?(?:password|passwd|pass|token|secret|api-key)\\s+)[^\\s-][^\\s]*",
	 "${1}" LLM_REDACTED},
	/* key="value" (backslash escapes honoured), key='value', key=value. */
	{"(?i)(" KEY "\")(?:[^\"\\\\]++|\\\\.)++", "${1}" LLM_REDACTED},
	{"(?i)(" KEY "')(?:[^'\\\\]++|\\\\.)++", "${1}" LLM_REDACTED},
	{"(?i)(" KEY ")(?=[^\\s\"'])[^\\s,;&)\"']++", "${1}" LLM_REDACTED},
	/* AWS access key ids. */
	{B "(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}(?![A-Za-z0-9_])", LLM_REDACTED},
	/* JSON Web Tokens. */
	{B "eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]+", LLM_REDACTED},
	/* GitHub tokens. */
	{B "(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])",
	 LLM_REDACTED},
	/* Slack tokens. */
	{B "xox[abprs]-[A-Za-z0-9-]{10,}", LLM_REDACTED},
	/* Google API keys. */
	{B "AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", LLM_REDACTED},
	/* OpenAI, OpenRouter and Anthropic keys; GitLab and npm tokens. */
	{B "sk-(?:or-v1-|ant-|proj-)?[A-Za-z0-9_-]{20,}", LLM_REDACTED},
	{B "glpat-[A-Za-z0-9_-]{20,}", LLM_REDACTED},
	{B "npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", LLM_REDACTED},
};

static pcre2_code *compiled[ELEMENTSOF(rules)];
static pcre2_match_context *mctx;
static bool ready;

static int compile_all(void)
{
	int errcode;
	PCRE2_SIZE off;

	if (ready)
		return 0;
	mctx = pcre2_match_context_create(NULL);
	if (!mctx)
		return -ENOMEM;
	pcre2_set_match_limit(mctx, 1000000);
	pcre2_set_depth_limit(mctx, 2000);
	for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
		/* MATCH_INVALID_UTF: log text need not be valid UTF-8. */
		compiled[i] =
			pcre2_compile((PCRE2_SPTR)rules[i].pattern, PCRE2_ZERO_TERMINATED,
				      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &off, NULL);
		if (!compiled[i])
			return -EINVAL;
	}
	ready = true;
	return 0;
}

/* One pattern over *text; replaces *text with the result. */
static int apply(size_t i, char **text, unsigned *count)
{
	size_t in_len = strlen(*text), out_len = in_len * 2 + 256;
	char *out = NULL;
	int rc;

	for (int tries = 0; tries < 3; tries++) {
		out = malloc(out_len);
		if (!out)
			return -ENOMEM;
		rc = pcre2_substitute(compiled[i], (PCRE2_SPTR)*text, in_len, 0,
				      PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_EXTENDED |
					      PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
				      NULL, mctx, (PCRE2_SPTR)rules[i].replacement,
				      PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)out, &out_len);
		if (rc != PCRE2_ERROR_NOMEMORY)
			break;
		free(out);
		out = NULL; /* out_len now holds the size needed */
	}
	if (rc < 0) {
		free(out);
		return -EINVAL; /* a limit hit: refuse rather than send unredacted */
	}
	*count += (unsigned)rc;
	free(*text);
	*text = out;
	return 0;
}

int llm_redact(const char *text, char **ret, unsigned *ret_count)
{
	unsigned count = 0;
	char *s;
	int r = compile_all();

	if (r < 0)
		return r;
	s = strdup(text);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
		r = apply(i, &s, &count);
		if (r < 0) {
			free(s);
			return r;
		}
	}
	if (ret_count)
		*ret_count = count;
	*ret = s;
	return 0;
}
