/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "healer/plan.h"

#include <cjson/cJSON.h>

static void json_freep(cJSON **j)
{
	cJSON_Delete(*j);
}

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

char *plan_to_json(const Plan *p)
{
	_cleanup_(json_freep) cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return NULL;
	for (size_t i = 0; p && p->accepted && i < p->n_commands; i++) {
		const WlCommand *c = p->commands[i];
		cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateObject();

		if (!o || !args || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(args);
			return NULL;
		}
		if (!cJSON_AddItemToObject(o, "args", args)) {
			cJSON_Delete(args);
			return NULL;
		}
		if (!cJSON_AddStringToObject(o, "action", c->action))
			return NULL;
		for (size_t k = 0; k < c->n_args; k++)
			if (!cJSON_AddStringToObject(args, c->arg_names[k], c->arg_values[k]))
				return NULL;
	}
	return cJSON_PrintUnformatted(arr);
}

/* One stored step, vetted again: the whitelist may have changed since. */
static int vet_stored_step(const Whitelist *wl, const cJSON *o, const WlVetOptions *opts,
			   WlCommand **ret, char *reason, size_t len)
{
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(o, "action");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "args"), *it;
	WlArg v[WL_MAX_PARAMS];
	size_t n = 0;

	if (!cJSON_IsString(action) || !cJSON_IsObject(args)) {
		(void)util_snprintf(reason, len, "stored plan: malformed step");
		return -EBADMSG;
	}
	cJSON_ArrayForEach(it, args)
	{
		if (n == WL_MAX_PARAMS || !cJSON_IsString(it) || !it->string) {
			(void)util_snprintf(reason, len, "stored plan: malformed arguments");
			return -EBADMSG;
		}
		v[n++] = (WlArg){it->string, it->valuestring};
	}
	return wl_vet(wl, action->valuestring, v, n, opts, ret, reason, len);
}

int plan_vet_json(const Whitelist *wl, const char *json, const WlVetOptions *opts, Plan **ret)
{
	_cleanup_(plan_freep) Plan *p = calloc(1, sizeof *p);
	_cleanup_(json_freep) cJSON *arr = NULL;
	const cJSON *o;
	char reason[512];
	size_t n;
	int r;

	if (!p)
		return -ENOMEM;
	arr = json ? cJSON_ParseWithLength(json, strnlen(json, PLAN_JSON_MAX + 1)) : NULL;
	if (!cJSON_IsArray(arr) || (n = (size_t)cJSON_GetArraySize(arr)) == 0 ||
	    n > wl_max_commands(wl) || strlen(json) > PLAN_JSON_MAX) {
		r = set_reason(p, "stored plan: not a list of at most max_commands steps");
		goto out;
	}
	p->commands = calloc(n + 1, sizeof *p->commands);
	if (!p->commands)
		return -ENOMEM;
	cJSON_ArrayForEach(o, arr)
	{
		WlCommand *c = NULL;

		reason[0] = '\0';
		r = vet_stored_step(wl, o, opts, &c, reason, sizeof reason);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			drop_commands(p);
			r = set_reason(p, reason);
			goto out;
		}
		p->commands[p->n_commands++] = c;
	}
	p->accepted = true;
	r = set_reason(p, "a stored plan that healed this error before");
out:
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}
