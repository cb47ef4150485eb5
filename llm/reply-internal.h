/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the reply parser's files; not public. */

#include <stdbool.h>
#include <string.h>

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

/*
 * Lines are slices of the reply, not strings: nothing here reads past n (the
 * reply need not end in a NUL).
 */
static inline size_t blanks(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static inline size_t non_blanks(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	return i;
}

static inline void trim(const char **s, size_t *n)
{
	size_t k = blanks(*s, *n);

	*s += k;
	*n -= k;
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

static inline size_t run_of(const char *s, size_t n, char c)
{
	size_t k = 0;

	while (k < n && s[k] == c)
		k++;
	return k;
}

/*
 * A program word: a well-known program, one of the whitelist's command
 * words, or an absolute path; never a word holding a colon.
 */
bool llm_reply_is_program_word(const LlmReplyOptions *o, const char *w, size_t wn);

/* Whether a line shown as code (not run) looks like a command. */
bool llm_reply_looks_like_command(const LlmReplyOptions *o, const char *s, size_t n);

/* The length of the HTML tags and comment openers that start a line. */
size_t llm_reply_html_prefix(const char *s, size_t n);

/*
 * Whether a list item's first line is a command (exactly one code span, or
 * a program word first), and the command as written.
 */
bool llm_reply_item_command(const LlmReplyOptions *o, const char *s, size_t n, const char **ret,
			    size_t *ret_len);
