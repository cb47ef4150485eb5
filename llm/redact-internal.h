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
 * A rule's check sees the whole text and the span its pattern matched
 * (*start, *end: the secret, what follows \K). It returns false to leave the
 * span alone (a low-entropy word, a Basic value that is not user:password),
 * or true, possibly after widening the span (a key block runs on past its
 * BEGIN line). It may only widen within [0, len).
 */
typedef bool (*RedactCheck)(const char *text, size_t len, size_t *start, size_t *end);

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

extern const RedactRule redact_rules[];
extern const size_t redact_n_rules;

/* The checks of redact-check.c, named by the rows that use them. */
bool redact_check_entropy(const char *text, size_t len, size_t *start, size_t *end);
bool redact_check_aws_secret(const char *text, size_t len, size_t *start, size_t *end);
bool redact_check_basic(const char *text, size_t len, size_t *start, size_t *end);
bool redact_check_base64(const char *text, size_t len, size_t *start, size_t *end);
bool redact_check_mixed(const char *text, size_t len, size_t *start, size_t *end);
bool redact_check_block_forward(const char *text, size_t len, size_t *start, size_t *end);
bool redact_check_block_backward(const char *text, size_t len, size_t *start, size_t *end);

/*
 * llm_redact() with the keyword prefilter on or off: off, every pattern
 * runs; the result must be the same (tests and the fuzzer compare).
 */
int redact_text(const char *text, bool prefilter, char **ret, unsigned *ret_count);

/* Shannon entropy of s[0..n) in bits per byte; for tests and tuning. */
double redact_entropy(const char *s, size_t n);
