/* SPDX-License-Identifier: MIT */
/*
 * The JSON shapes of plans and analyses, built once for the CLI's --json
 * and the API. Values are already plain text (refused text escaped by the
 * plan, the diagnosis cleaned by the reply parser).
 */
#include <string.h>

#include "common/util.h"
#include "healer/view.h"

static bool add_checks(cJSON *o, const char *name, const WlCheck *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, name);

	if (!a)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i].text)))
			return false;
	return true;
}

/* The preconditions, the unit and the limits a vetted command carries. */
static bool add_command_extras(cJSON *o, const WlCommand *c)
{
	if (!add_checks(o, "requires", c->requires, c->n_requires) ||
	    !add_checks(o, "verifies", c->verifies, c->n_verifies))
		return false;
	if (c->unit && !cJSON_AddStringToObject(o, "unit", c->unit))
		return false;
	if (c->memory_max && !cJSON_AddNumberToObject(o, "memory_max", (double)c->memory_max))
		return false;
	if (c->tasks_max && !cJSON_AddNumberToObject(o, "tasks_max", (double)c->tasks_max))
		return false;
	return true;
}

static cJSON *view_command(const WlCommand *c)
{
	cJSON *o = cJSON_CreateObject(), *args, *argv;

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "action", c->action) ||
	    !(args = cJSON_AddObjectToObject(o, "args")) ||
	    !(argv = cJSON_AddArrayToObject(o, "argv")))
		goto oom;
	for (size_t i = 0; i < c->n_args; i++)
		if (!cJSON_AddStringToObject(args, c->arg_names[i], c->arg_values[i]))
			goto oom;
	if (c->argv) {
		for (char **a = c->argv; *a; a++)
			if (!cJSON_AddItemToArray(argv, cJSON_CreateString(*a)))
				goto oom;
	} else {
		char b[64];

		(void)util_snprintf(b, sizeof b, "builtin:%s", wl_builtin_name(c->builtin));
		if (!cJSON_AddItemToArray(argv, cJSON_CreateString(b)))
			goto oom;
		if (c->builtin_path &&
		    !cJSON_AddItemToArray(argv, cJSON_CreateString(c->builtin_path)))
			goto oom;
	}
	if (!add_command_extras(o, c))
		goto oom;
	return o;
oom:
	cJSON_Delete(o);
	return NULL;
}

cJSON *view_plan(const Plan *p)
{
	cJSON *o = cJSON_CreateObject(), *cmds, *rej;

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "verdict", p->accepted ? "accept" : "reject") ||
	    !cJSON_AddStringToObject(o, "reason", p->reason ? p->reason : "") ||
	    !(cmds = cJSON_AddArrayToObject(o, "commands")) ||
	    !(rej = cJSON_AddArrayToObject(o, "rejected")))
		goto out;
	if (p->diagnosis && !cJSON_AddStringToObject(o, "diagnosis", p->diagnosis))
		goto out;
	for (size_t i = 0; i < p->n_commands; i++)
		if (!cJSON_AddItemToArray(cmds, view_command(p->commands[i])))
			goto out;
	for (size_t i = 0; i < p->n_rejected; i++) {
		cJSON *r = cJSON_CreateObject();

		if (!cJSON_AddItemToArray(rej, r) ||
		    !cJSON_AddStringToObject(r, "text", p->rejected[i].text) ||
		    !cJSON_AddStringToObject(r, "reason", p->rejected[i].reason))
			goto out;
	}
	return o;
out:
	cJSON_Delete(o);
	return NULL;
}

static bool add_str_or_null(cJSON *o, const char *name, const char *v)
{
	return v ? !!cJSON_AddStringToObject(o, name, v) : !!cJSON_AddNullToObject(o, name);
}

static bool add_calls(cJSON *o, const Analysis *a)
{
	cJSON *calls = cJSON_AddArrayToObject(o, "calls");

	if (!calls)
		return false;
	for (size_t i = 0; i < a->n_calls; i++) {
		const LlmCallRecord *c = &a->calls[i];
		cJSON *x = cJSON_CreateObject();

		if (!cJSON_AddItemToArray(calls, x) ||
		    !cJSON_AddNumberToObject(x, "http_status", (double)c->http_status) ||
		    !cJSON_AddNumberToObject(x, "latency_ms", (double)c->latency_usec / 1000.0) ||
		    !cJSON_AddStringToObject(x, "outcome", c->outcome ? c->outcome : "") ||
		    !cJSON_AddNumberToObject(x, "tokens_in", (double)c->tokens_in) ||
		    !cJSON_AddNumberToObject(x, "tokens_out", (double)c->tokens_out) ||
		    !cJSON_AddNumberToObject(x, "tokens_total", (double)c->tokens_total) ||
		    !cJSON_AddNumberToObject(x, "tokens_thinking", (double)c->tokens_thinking) ||
		    (c->error && !cJSON_AddStringToObject(x, "error", c->error)))
			return false;
	}
	return true;
}

cJSON *view_analysis(const Analysis *a)
{
	cJSON *o = view_plan(a->plan);

	if (!o)
		return NULL;
	if (!cJSON_GetObjectItem(o, "diagnosis") && !cJSON_AddNullToObject(o, "diagnosis"))
		goto oom;
	if (!cJSON_AddStringToObject(o, "provider", a->provider ? a->provider : "") ||
	    !add_str_or_null(o, "model", a->model) ||
	    !cJSON_AddBoolToObject(o, "fallback", a->fallback) ||
	    !add_str_or_null(o, "error", a->error) ||
	    !add_str_or_null(o, "fault", a->fault ? llm_fault_name(a->fault) : NULL) ||
	    !add_str_or_null(o, "rule", a->rule) ||
	    !cJSON_AddNumberToObject(o, "redactions", a->redactions) ||
	    !cJSON_AddNumberToObject(o, "context_dropped", (double)a->context_dropped) ||
	    !add_calls(o, a))
		goto oom;
	return o;
oom:
	cJSON_Delete(o);
	return NULL;
}
