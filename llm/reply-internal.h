/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the reply parser's files; not public. */

#include "llm/reply.h"

typedef struct ReplyBuilder {
	LlmReply *reply;
	size_t cap;
	size_t max_commands;
} ReplyBuilder;

/* Appends a proposal whose text is a copy of [s, s+n). Returns it, or NULL on OOM. */
LlmProposal *llm_reply_add(ReplyBuilder *b, const char *s, size_t n);

/* Parses the JSON plan object in [s, s+n) into b. */
int llm_reply_parse_json(ReplyBuilder *b, const char *s, size_t n, char *reason, size_t reason_len);

/*
 * Reads a free-text reply as CommonMark: the one ```json fence makes it a
 * JSON plan (parsed into b), else commands come from shell fences and list
 * items (reply-markdown.c says which). Returns 0, or a refusal of the whole
 * reply with reason written.
 */
int llm_reply_parse_markdown(ReplyBuilder *b, const LlmReplyOptions *o, const char *s, size_t n,
			     char *reason, size_t reason_len);

/* Tokenises one free-text command into p, or sets p->reject_reason. */
int llm_reply_tokenise(LlmProposal *p);

/* Writes a reason and returns err. */
int llm_reply_fail(int err, char *reason, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
