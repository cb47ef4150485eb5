/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared between the whitelist's parser and its vetting code; not public. */

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
	int verify_param;     /* unit-active {param}: index, else -1 */
	char *verify_literal; /* unit-active NAME.service, else NULL */
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
