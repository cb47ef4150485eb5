/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the unit-file style files (whitelist, rules, healer.conf) share: the
 * line loop with its caps, and the error list that reports every error at
 * once as "file:line: message", in line order.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

#define INI_MAX_ERRORS 100

typedef struct IniErrors {
	struct {
		unsigned line, seq;
		char *msg;
	} v[INI_MAX_ERRORS + 1];
	unsigned n;
	bool oom;
} IniErrors;

/* Adds an error at line; past INI_MAX_ERRORS a last "too many errors" stands for the rest. */
void ini_error(IniErrors *e, unsigned line, const char *fmt, ...) _printf_(3, 4);
void ini_verror(IniErrors *e, unsigned line, const char *fmt, va_list ap) _printf_(3, 0);

/* Every error as "name:line: message\n", sorted by line (stable); NULL on OOM. */
char *ini_errors_join(IniErrors *e, const char *name);
void ini_errors_free(IniErrors *e);

/* Trims blanks (and a CR) at both ends, in place. */
char *ini_strip(char *s);

/*
 * Splits buf into lines and calls on_line with each one that is neither
 * blank nor a comment ('#' or ';'), stripped, its number in *line. Refuses,
 * as errors, a file over max_bytes (-E2BIG), a NUL byte, lines over
 * max_line bytes and control characters. Stops early when on_line returns
 * -ENOMEM, which it returns. Returns 0 otherwise: look at e for errors.
 */
int ini_parse(const char *buf, size_t len, size_t max_bytes, size_t max_line, unsigned *line,
	      IniErrors *e, int (*on_line)(char *line, void *userdata), void *userdata);

typedef enum IniLine {
	INI_LINE_SECTION, /* "[inside]": *ret_key is the inside, stripped */
	INI_LINE_PAIR,	  /* "key = value": both stripped; the value may be empty */
} IniLine;

/*
 * Splits a line as ini_parse() hands it over, in place. A header without
 * its closing ']' is reported ("section header must end with ']'") and
 * gives -EBADMSG, so that the caller leaves the section it was in; a line
 * with no '=' is reported ("expected 'key = value', HINT or a comment") and
 * gives -EINVAL. Returns an IniLine otherwise.
 */
int ini_split(char *s, IniErrors *e, unsigned line, const char *hint, char **ret_key,
	      char **ret_value);

/*
 * The NAME of a "KIND NAME" section header (KIND, blanks, NAME), or NULL
 * when hdr is a header of another kind.
 */
const char *ini_section_arg(const char *hdr, const char *kind);

/*
 * Reads a configuration file with util_read_trusted_file(). On failure
 * returns the negative errno and, when ret_error is given, a one-line
 * "path: reason\n" in it (the caller frees).
 */
int ini_read_file(const char *path, size_t max, char **ret, size_t *ret_len, char **ret_error);
