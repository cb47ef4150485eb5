/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The redaction table, shared by the engine (redact.c), the rows
 * (redact-rules.c) and the checks that need C rather than a pattern
 * (redact-check.c).
 */

#include <stdbool.h>
#include <stddef.h>

/*
 * What a rule's check sees: the whole text and the span its pattern
 * matched (start, end: the secret, what follows \K).
 */
typedef struct RedactMatch {
	const char *text;
	size_t len;
	size_t floor;	   /* text before this is already written out: never widen past it */
	size_t start, end; /* the span; a check may widen it within [floor, len) */
	/*
	 * Kept from one match to the next of one rule over one text, zeroed
	 * before the first: where a search for an end line found one (or
	 * none), so that many BEGIN lines do not each search the whole text.
	 */
	size_t memo_from;
	const char *memo_hit;
	bool memo_set;
} RedactMatch;

/*
 * A check returns false to leave the span alone (a low-entropy word, a
 * Basic value that is not user:password), or true, possibly after widening
 * it (a key block runs on past its BEGIN line).
 */
typedef bool (*RedactCheck)(RedactMatch *m);

typedef struct RedactRule {
	const char *name;
	/*
	 * Lower-case words separated by '|': the pattern only runs when one
	 * of them occurs in the text, case-insensitively. A cheap test that
	 * spares most lines most patterns. NULL: the pattern always runs.
	 */
	const char *keywords;
	/* pcre2, UTF; the secret is the match, or the part after \K. */
	const char *pattern;
	RedactCheck check; /* NULL: every match is a secret */
	/*
	 * Words separated by '|', one of which must stand as a whole word on
	 * the same line before the secret: the program whose flag the pattern
	 * reads ("mysql" for -pSECRET; "docker run -p 8080:80" is a port).
	 * NULL: any line.
	 */
	const char *context;
} RedactRule;

#define REDACT_KW_MAX	  1024 /* distinct keywords of the table at most */
#define REDACT_KW_BUCKETS 1024 /* a power of two */

/* The distinct keywords of the table, indexed by their first two bytes. */
typedef struct RedactKeywords {
	char **words;
	size_t *lens;
	size_t n;
	short single[256];			     /* one-byte words by their byte, or -1 */
	unsigned short start[REDACT_KW_BUCKETS + 1]; /* per bucket, its first in order[] */
	unsigned short *order;			     /* word indices, bucket by bucket */
} RedactKeywords;

/* Adds a word (or finds it): its index in *ret. 0, -ENOMEM or -E2BIG. */
int redact_kw_add(RedactKeywords *k, const char *w, size_t n, unsigned *ret);
/* Builds the index once every word is added. 0 or -ENOMEM. */
int redact_kw_build(RedactKeywords *k);
/* found[i] = whether word i occurs in lower[0..len) (lower-cased text). */
void redact_kw_scan(const RedactKeywords *k, const char *lower, size_t len, unsigned char *found);
void redact_kw_free(RedactKeywords *k);

extern const RedactRule redact_rules[];
extern const size_t redact_n_rules;

/* The checks of redact-check.c, named by the rows that use them. */
bool redact_check_entropy(RedactMatch *m);
bool redact_check_aws_secret(RedactMatch *m);
bool redact_check_basic(RedactMatch *m);
bool redact_check_base64(RedactMatch *m);
bool redact_check_mixed(RedactMatch *m);
bool redact_check_block_forward(RedactMatch *m);
bool redact_check_block_backward(RedactMatch *m);

/*
 * llm_redact() with the keyword prefilter on or off: off, every pattern
 * runs; the result must be the same (tests and the fuzzer compare).
 */
int redact_text(const char *text, bool prefilter, char **ret, unsigned *ret_count);

/* Shannon entropy of s[0..n) in bits per byte; for tests and tuning. */
double redact_entropy(const char *s, size_t n);
