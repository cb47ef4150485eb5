/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "healer/plan.h"

#define PLAN_DISPLAY_MAX 1024

Plan *plan_free(Plan *p)
{
	if (!p)
		return NULL;
	free(p->reason);
	free(p->diagnosis);
	for (size_t i = 0; i < p->n_commands; i++)
		wl_command_free(p->commands[i]);
	free(p->commands);
	for (size_t i = 0; i < p->n_rejected; i++) {
		free(p->rejected[i].text);
		free(p->rejected[i].reason);
	}
	free(p->rejected);
	free(p);
	return NULL;
}

static char *display_copy(const char *s);

static int set_reason(Plan *p, const char *reason)
{
	free(p->reason);
	p->reason = display_copy(reason);
	return p->reason ? 0 : -ENOMEM;
}

/*
 * Refused text is attacker text on its way to terminals and logs: bytes
 * outside printable ASCII become \xNN, and a long text is cut with a marker
 * (it is shown, never run).
 */
static char *display_copy(const char *s)
{
	size_t n = strlen(s), shown = n > PLAN_DISPLAY_MAX ? PLAN_DISPLAY_MAX : n, o = 0;
	char *d = malloc(shown * 4 + 48);

	if (!d)
		return NULL;
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(d + o, 5, "\\x%02x", c);
		else
			d[o++] = (char)c;
	}
	if (shown < n)
		o += (size_t)snprintf(d + o, 48, "... (%zu bytes)", n);
	d[o] = '\0';
	return d;
}

static int add_rejected(Plan *p, const char *text, const char *reason)
{
	PlanRejected *n = realloc(p->rejected, (p->n_rejected + 1) * sizeof *n);

	if (!n)
		return -ENOMEM;
	p->rejected = n;
	n[p->n_rejected].text = display_copy(text);
	n[p->n_rejected].reason = display_copy(reason);
	if (!n[p->n_rejected].text || !n[p->n_rejected].reason) {
		free(n[p->n_rejected].text);
		free(n[p->n_rejected].reason);
		return -ENOMEM;
	}
	p->n_rejected++;
	return 0;
}

int plan_new_refused(const char *reason, Plan **ret)
{
	Plan *p = calloc(1, sizeof *p);

	if (!p || set_reason(p, reason) < 0) {
		plan_free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

/* Drops what was allowed: a refused reply runs nothing, not even its good part. */
static void drop_commands(Plan *p)
{
	for (size_t i = 0; i < p->n_commands; i++)
		wl_command_free(p->commands[i]);
	p->n_commands = 0;
}

static int vet_proposals(const Whitelist *wl, const LlmReply *reply, const WlVetOptions *opts,
			 Plan *p)
{
	char reason[512], first[700] = "";
	int r;

	p->commands = calloc(reply->n + 1, sizeof *p->commands);
	if (!p->commands)
		return -ENOMEM;
	for (size_t i = 0; i < reply->n; i++) {
		const LlmProposal *q = &reply->proposals[i];
		WlCommand *c = NULL;

		reason[0] = '\0';
		if (q->reject_reason) {
			(void)util_snprintf(reason, sizeof reason, "%s", q->reject_reason);
			r = -EPERM;
		} else if (q->action) {
			WlArg args[16];

			for (size_t k = 0; k < q->n_args && k < ELEMENTSOF(args); k++)
				args[k] = (WlArg){q->arg_names[k], q->arg_values[k]};
			r = wl_vet(wl, q->action, args, q->n_args < 16 ? q->n_args : 16, opts, &c,
				   reason, sizeof reason);
		} else {
			r = wl_vet_tokens(wl, q->tokens, q->n_tokens, opts, &c, reason,
					  sizeof reason);
		}
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			if (add_rejected(p, q->text, reason) < 0)
				return -ENOMEM;
			if (!first[0])
				(void)util_snprintf(first, sizeof first, "command %zu: %s", i + 1,
						    reason);
			continue;
		}
		p->commands[p->n_commands++] = c;
	}
	if (p->n_rejected > 0) {
		drop_commands(p);
		return set_reason(p, first);
	}
	p->accepted = true;
	if (p->n_commands == 0)
		return set_reason(p, "reply proposes no commands");
	(void)util_snprintf(reason, sizeof reason, "%zu command%s allowed", p->n_commands,
			    p->n_commands == 1 ? "" : "s");
	return set_reason(p, reason);
}

int plan_vet_reply(const Whitelist *wl, const char *text, size_t len, const WlVetOptions *opts,
		   Plan **ret)
{
	_cleanup_(plan_freep) Plan *p = calloc(1, sizeof *p);
	_cleanup_(llm_reply_freep) LlmReply *reply = NULL;
	char **words = NULL;
	size_t n_words = 0;
	char reason[512];
	int r;

	if (!p)
		return -ENOMEM;
	r = wl_command_words(wl, &words, &n_words);
	if (r < 0)
		return r;
	{
		LlmReplyOptions o = {
			.max_commands = wl_max_commands(wl),
			.command_words = (const char *const *)words,
		};

		r = llm_reply_parse(text, len, &o, &reply, reason, sizeof reason);
	}
	for (size_t i = 0; i < n_words; i++)
		free(words[i]);
	free(words);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (set_reason(p, reason) < 0)
			return -ENOMEM;
		*ret = TAKE_PTR(p);
		return 0;
	}
	if (reply->diagnosis) {
		p->diagnosis = strdup(reply->diagnosis);
		if (!p->diagnosis)
			return -ENOMEM;
	}
	r = vet_proposals(wl, reply, opts, p);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

int plan_vet_command(const Whitelist *wl, const char *command, const WlVetOptions *opts, Plan **ret)
{
	_cleanup_(plan_freep) Plan *p = calloc(1, sizeof *p);
	_cleanup_(llm_reply_freep) LlmReply *reply = NULL;
	int r;

	if (!p)
		return -ENOMEM;
	r = llm_reply_parse_command(command, &reply);
	if (r < 0)
		return r;
	r = vet_proposals(wl, reply, opts, p);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}
