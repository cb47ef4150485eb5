/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared between the whitelist's parser and its vetting code; not public. */

#include "common/ini.h"
#include "common/regex.h"

#include "whitelist/whitelist.h"

/*
 * One argv or match token. A token is either a literal, or a placeholder
 * "{name}" with an optional literal prefix and suffix ("--size={size}").
 */
typedef struct WlToken {
	char *text; /* the whole token as written */
	int param;  /* index into Action.params, or -1 for a literal */
	size_t prefix_len;
	size_t suffix_len;
} WlToken;

typedef struct WlTemplate {
	size_t n;
	WlToken *tok;
} WlTemplate;

/*
 * A require = or verify = line as written: its kind and operand words, the
 * literals already normalised (unit names completed, numbers canonical).
 */
typedef struct WlCheckTemplate {
	WlCheckKind kind;
	WlTemplate args;
	unsigned line;
} WlCheckTemplate;

/* systemd's own unit-name characters: no glob that systemctl would expand. */
#define WL_UNIT_CHARS                                          \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789:_.@-"

typedef struct WlParam {
	char *name;
	WlParamType type;
	char *pattern;
	pcre2_code *re;
} WlParam;

typedef struct WlAction {
	char *name;
	char *description;
	unsigned line;
	size_t n_match;
	WlTemplate match[WL_MAX_MATCHES];
	WlTemplate exec; /* n == 0 for builtins */
	WlBuiltin builtin;
	int builtin_param; /* chmod-x: index of its path param, else -1 */
	size_t n_params;
	WlParam params[WL_MAX_PARAMS];
	uint64_t timeout_usec;
	uint64_t cooldown_usec;
	size_t n_requires;
	WlCheckTemplate requires[WL_MAX_CHECKS];
	size_t n_verifies;
	WlCheckTemplate verifies[WL_MAX_CHECKS];
	uint64_t memory_max; /* bytes, 0: none */
	uint64_t tasks_max;  /* 0: none */
} WlAction;

struct Whitelist {
	size_t n_actions;
	WlAction *actions;
	size_t n_protect;
	char **protect;
	size_t max_commands;
	size_t n_unit_dirs;
	char **unit_dirs;
	pcre2_match_context *mctx;
};

void wl_template_done(WlTemplate *t);

/*
 * Resolves "{name}" in each word of t against the action's parameters,
 * reporting problems at line as "what: ...". Returns 0 or -EINVAL.
 */
int wl_template_resolve(IniErrors *e, unsigned line, const WlAction *a, const char *what,
			WlTemplate *t);

/* A word of a template with its placeholder replaced by values[param]; NULL on OOM. */
char *wl_token_expand(const WlToken *t, char *const *values);

/*
 * Reads "KIND OPERANDS..." of a require or verify line (what) into *ret:
 * the kind and the number of operands are checked here, placeholders once
 * the action is complete (wl_check_resolve). Errors go to e at line.
 * Returns 0, -EINVAL or -ENOMEM.
 */
int wl_check_parse(IniErrors *e, unsigned line, const char *what, const char *value,
		   WlCheckTemplate *ret);

/*
 * Resolves the placeholders of a check and checks each operand: its shape,
 * and the type of the parameter it names. Literals are normalised in place.
 * Returns 0, -EINVAL (reported in e) or -ENOMEM.
 */
int wl_check_resolve(IniErrors *e, const char *what, const WlAction *a, WlCheckTemplate *t);

/*
 * Fills *ret from a check template and the action's normalised parameter
 * values, checking what only a value can tell (a number, a URL). Returns 0,
 * -EPERM with a reason, or -ENOMEM.
 */
int wl_check_fill(const WlAction *a, const WlCheckTemplate *t, char *const *values, WlCheck *ret,
		  char *reason, size_t reason_len);

void wl_check_template_done(WlCheckTemplate *t);
void wl_check_done(WlCheck *c);
