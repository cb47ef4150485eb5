/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The offline provider: the administrator's rules file (/etc/healer/rules.conf)
 * maps a journal message, and the trusted unit it came from, to a plan in the
 * very JSON shape a model sends. The plan then walks the same road as a
 * model's reply (llm/reply.h, then the whitelist): a rule only proposes.
 *
 * The file is unit-file style, one [rule NAME] section per rule:
 *
 *   description = text for people (optional)
 *   unit        = pcre2 pattern, must match the trusted unit as a whole
 *   message     = pcre2 pattern, searched for anywhere in the message (required)
 *   priority    = 0-7 or emerg..debug: applies to incidents at this level or worse
 *   diagnosis   = the plan's diagnosis (optional; the description otherwise)
 *   propose     = ACTION [NAME=VALUE ...], 1 to 5 lines; a VALUE may hold {unit}
 *                 (the trusted unit) and {NAME} (a named group of message)
 *
 * Rules are tried in file order; the first whose unit, priority and message
 * match, and whose placeholders all have a non-empty value, wins.
 *
 * This module never logs; parse errors come back as "file:line: message".
 */

#include <stddef.h>

typedef struct LlmRules LlmRules;

#define LLM_RULES_MAX_FILE_BYTES (1024 * 1024)
#define LLM_RULES_MAX_LINE	 4096
#define LLM_RULES_MAX_RULES	 256
#define LLM_RULES_MAX_NAME	 64
#define LLM_RULES_MAX_PROPOSE	 5
#define LLM_RULES_MAX_ARGS	 16
#define LLM_RULES_MAX_TEXT	 1024 /* description, diagnosis */
#define LLM_RULES_MAX_MESSAGE	 (64 * 1024)
#define LLM_RULES_MAX_UNIT	 256
#define LLM_RULES_MAX_VALUE	 4096 /* one argument, placeholders filled in */

/*
 * Parses a rules file of len bytes held in buf (no NUL needed); name is the
 * file name used in messages. Returns 0 and a new *ret that the caller frees
 * with llm_rules_free(); or -EINVAL (any error in the file), -E2BIG (file
 * over LLM_RULES_MAX_FILE_BYTES) or -ENOMEM. On -EINVAL and -E2BIG, when
 * ret_errors is not NULL, *ret_errors is a new string the caller frees: every
 * error, in line order, one "name:line: message\n" each. *ret is written only
 * on success.
 */
int llm_rules_parse(const char *name, const char *buf, size_t len, LlmRules **ret,
		    char **ret_errors);

/*
 * Reads and parses the file at path. Returns as llm_rules_parse(), plus the
 * negative errno of a failed read, which *ret_errors then describes as
 * "path: reason\n".
 */
int llm_rules_load(const char *path, LlmRules **ret, char **ret_errors);

/* Frees r and every rule in it; takes NULL. Returns NULL. */
LlmRules *llm_rules_free(LlmRules *r);
static inline void llm_rules_freep(LlmRules **r)
{
	*r = llm_rules_free(*r);
}

/*
 * Finds the first rule that applies to an incident. unit is the incident's
 * trusted unit (NULL or "" for none), priority its syslog level (0-7; any
 * other value is unknown and fails every rule that sets priority), message
 * its text (NUL-terminated; over LLM_RULES_MAX_MESSAGE bytes matches nothing,
 * as does a unit over LLM_RULES_MAX_UNIT bytes).
 *
 * Returns 1 with *ret_reply, a new JSON text the caller frees:
 *   {"diagnosis":"...","commands":[{"action":"...","args":{"NAME":"VALUE"}}]}
 * (no "diagnosis" when the rule has neither diagnosis nor description) and,
 * when ret_rule is not NULL, *ret_rule, the rule's name, borrowed from r.
 * Returns 0 when no rule applies; -E2BIG when an argument of the winning
 * rule would exceed LLM_RULES_MAX_VALUE bytes, or its plan the reply cap of
 * llm/reply.h (never cut short); -EINVAL on a NULL r, message or ret_reply;
 * -ENOMEM. Nothing is written unless 1 is returned.
 *
 * Pattern matching is bounded (match, depth and heap limits and a work budget
 * per pattern), so a hostile message cannot burn CPU; a pattern that runs out
 * simply does not match.
 */
int llm_rules_match(const LlmRules *r, const char *unit, int priority, const char *message,
		    char **ret_reply, const char **ret_rule);

/* The number of rules, in file order; 0 for a NULL r. */
size_t llm_rules_count(const LlmRules *r);

/* The name of rule i (file order), borrowed from r; NULL when i is out of range. */
const char *llm_rules_name(const LlmRules *r, size_t i);
