/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Turns a model's raw reply into *proposed* commands. Trusts nothing: the
 * result still has to pass the whitelist. Knows nothing of the whitelist
 * either; it only finds commands, tokenises them without any expansion and
 * refuses the shapes that can never be safe.
 */

#include <stddef.h>

#define LLM_REPLY_MAX_BYTES	(64 * 1024)
#define LLM_REPLY_MAX_TOKENS	32
#define LLM_REPLY_MAX_COMMAND	1024
#define LLM_REPLY_MAX_DIAGNOSIS 4096

typedef enum LlmReplyStyle {
	LLM_REPLY_JSON,
	LLM_REPLY_TEXT,
} LlmReplyStyle;

typedef struct LlmProposal {
	char *text;    /* the command as the reply wrote it, for reports */
	char *action;  /* JSON style: the action name; else NULL */
	size_t n_args; /* JSON style: arguments */
	char **arg_names;
	char **arg_values;
	size_t n_tokens; /* text style: tokens, no expansion; else 0 */
	char **tokens;
	char *reject_reason; /* set when the parser itself refuses this command */
} LlmProposal;

typedef struct LlmReply {
	LlmReplyStyle style;
	char *diagnosis; /* may be NULL */
	size_t n;
	LlmProposal *proposals;
} LlmReply;

typedef struct LlmReplyOptions {
	size_t max_commands; /* more commands than this refuse the reply */
	/*
	 * NULL-terminated program names that mark a list item as a command
	 * (the whitelist's match programs); well-known Unix programs and
	 * absolute paths always do.
	 */
	const char *const *command_words;
} LlmReplyOptions;

/*
 * Parses a reply of len bytes. Returns 0 and a new *ret (which may hold
 * proposals with reject_reason set: any such proposal means the whole reply
 * must be refused), or a negative errno with reason written when the reply as
 * a whole is refused: -E2BIG over a cap (bytes, more than max_commands
 * commands, Markdown nested or sized past its caps), -EBADMSG malformed or
 * ambiguous (bad JSON, NUL byte, an unclosed fence that holds a command, a
 * command shown in a code block that does not run...).
 */
int llm_reply_parse(const char *buf, size_t len, const LlmReplyOptions *opts, LlmReply **ret,
		    char *reason, size_t reason_len);

/*
 * One command line given on its own (no markdown): a text-style reply with
 * one proposal, tokenised by the same rules. Returns 0 or -ENOMEM.
 */
int llm_reply_parse_command(const char *command, LlmReply **ret);

LlmReply *llm_reply_free(LlmReply *r);
static inline void llm_reply_freep(LlmReply **r)
{
	*r = llm_reply_free(*r);
}
