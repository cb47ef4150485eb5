/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Every pattern Healer runs meets attacker text (log lines, replies), so
 * every match runs under one set of limits: a backtracking bomb in an
 * administrator's pattern costs a bounded time and fails closed.
 */

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define REGEX_MATCH_LIMIT    100000 /* backtracking points per pcre2_match() */
#define REGEX_DEPTH_LIMIT    5000
#define REGEX_HEAP_LIMIT_KIB 8192

/* A match context with those limits; NULL on OOM. Free with pcre2_match_context_free(). */
pcre2_match_context *regex_match_context_new(void);
