/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the rules' parser and matcher; not public. */

#include "common/regex.h"

#include "llm/rules.h"

/* Items visited by one pattern over one message, all starting positions together. */
#define MATCH_BUDGET 200000UL

typedef struct RuleArg {
	char *name;
	char *value; /* as written: literal text and {placeholders} */
} RuleArg;

typedef struct RuleCommand {
	char *action;
	size_t n_args;
	RuleArg args[LLM_RULES_MAX_ARGS];
	unsigned line;
} RuleCommand;

typedef struct Rule {
	char *name;
	unsigned line;
	char *description;
	char *diagnosis;
	pcre2_code *unit_re; /* NULL: any unit, or none */
	pcre2_code *message_re;
	int max_priority; /* -1: any priority */
	size_t n_commands;
	RuleCommand commands[LLM_RULES_MAX_PROPOSE];
} Rule;

struct LlmRules {
	size_t n;
	Rule *rules;
	pcre2_match_context *mctx;
};
