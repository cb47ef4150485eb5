/* SPDX-License-Identifier: MIT */
/*
 * The reply parser's entry point. A reply is either a JSON plan (bare, or
 * the one ```json fence) or free text, where commands sit in fenced code
 * blocks and in list items (reply-markdown.c reads both of the latter as
 * CommonMark). Anything that cannot be read with certainty refuses the whole
 * reply: a healer that guesses runs the wrong thing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "common/util.h"
#include "llm/reply-internal.h"

int llm_reply_fail(int err, char *reason, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (reason && len > 0) {
		va_start(ap, fmt);
		vsnprintf(reason, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void proposal_done(LlmProposal *p)
{
	free(p->text);
	free(p->action);
	for (size_t i = 0; i < p->n_args; i++) {
		free(p->arg_names[i]);
		free(p->arg_values[i]);
	}
	free(p->arg_names);
	free(p->arg_values);
	for (size_t i = 0; i < p->n_tokens; i++)
		free(p->tokens[i]);
	free(p->tokens);
	free(p->reject_reason);
}

LlmReply *llm_reply_free(LlmReply *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		proposal_done(&r->proposals[i]);
	free(r->proposals);
	free(r->diagnosis);
	free(r);
	return NULL;
}

LlmProposal *llm_reply_add(ReplyBuilder *b, const char *s, size_t n)
{
	LlmReply *r = b->reply;
	LlmProposal *p;

	if (r->n == b->cap) {
		size_t ncap = b->cap ? 2 * b->cap : 8;
		LlmProposal *np = realloc(r->proposals, ncap * sizeof *np);

		if (!np)
			return NULL;
		r->proposals = np;
		b->cap = ncap;
	}
	p = &r->proposals[r->n];
	*p = (LlmProposal){0};
	p->text = util_strndup(s, n);
	if (!p->text)
		return NULL;
	r->n++;
	return p;
}

int llm_reply_parse(const char *buf, size_t len, const LlmReplyOptions *opts, LlmReply **ret,
		    char *reason, size_t reason_len)
{
	_cleanup_(llm_reply_freep) LlmReply *reply = NULL;
	ReplyBuilder b = {0};
	const char *s = buf, *md;
	size_t n = len, md_len;
	int r;

	if (len > LLM_REPLY_MAX_BYTES)
		return llm_reply_fail(-E2BIG, reason, reason_len,
				      "reply is %zu bytes, over the %d-byte cap", len,
				      LLM_REPLY_MAX_BYTES);
	if (memchr(buf, '\0', len))
		return llm_reply_fail(-EBADMSG, reason, reason_len, "reply holds a NUL byte");
	if (!text_utf8_valid(buf, len))
		return llm_reply_fail(-EBADMSG, reason, reason_len, "reply is not valid UTF-8");
	reply = calloc(1, sizeof *reply);
	if (!reply)
		return -ENOMEM;
	b.reply = reply;
	b.max_commands = opts && opts->max_commands ? opts->max_commands : 5;

	/* A byte order mark is not content (cmark skips it too). */
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3, n -= 3;
	md = s;
	md_len = n;
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	if (n > 0 && *s == '{') {
		reply->style = LLM_REPLY_JSON;
		r = llm_reply_parse_json(&b, s, n, reason, reason_len);
	} else {
		static const LlmReplyOptions none = {0};

		r = llm_reply_parse_markdown(&b, opts ? opts : &none, md, md_len, reason,
					     reason_len);
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(reply);
	return 0;
}

int llm_reply_parse_command(const char *command, LlmReply **ret)
{
	_cleanup_(llm_reply_freep) LlmReply *reply = calloc(1, sizeof *reply);
	ReplyBuilder b = {.reply = reply, .max_commands = 1};
	size_t n = strnlen(command, LLM_REPLY_MAX_COMMAND + 1);
	LlmProposal *p;
	int r;

	if (!reply)
		return -ENOMEM;
	reply->style = LLM_REPLY_TEXT;
	p = llm_reply_add(&b, command, n);
	if (!p)
		return -ENOMEM;
	r = llm_reply_tokenise(p);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(reply);
	return 0;
}
