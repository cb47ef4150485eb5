/* SPDX-License-Identifier: MIT */
/*
 * The human-readable output of plans and analyses. Every string printed is
 * plain text already: refused text is escaped by the plan, the diagnosis
 * and the evidence are cleaned by the core.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/cli/cli.h"

/* What Healer checks on the host before and after, and the command's limits. */
static void print_command_extras(const WlCommand *c)
{
	for (size_t i = 0; i < c->n_requires; i++)
		printf("  requires: %s\n", c->requires[i].text);
	for (size_t i = 0; i < c->n_verifies; i++)
		printf("  verifies: %s\n", c->verifies[i].text);
	if (c->memory_max || c->tasks_max) {
		printf("  limits:");
		if (c->memory_max)
			printf(" memory_max=%" PRIu64, c->memory_max);
		if (c->tasks_max)
			printf(" tasks_max=%" PRIu64, c->tasks_max);
		putchar('\n');
	}
}

void cli_print_plan(const Plan *p)
{
	printf("verdict: %s\nreason: %s\n", p->accepted ? "accept" : "reject", p->reason);
	if (p->diagnosis)
		printf("diagnosis: %s\n", p->diagnosis);
	for (size_t i = 0; i < p->n_commands; i++) {
		const WlCommand *c = p->commands[i];

		printf("run: %s:", c->action);
		if (c->argv)
			for (char **a = c->argv; *a; a++)
				printf(" %s", *a);
		else
			printf(" builtin:%s%s%s", wl_builtin_name(c->builtin),
			       c->builtin_path ? " " : "", c->builtin_path ? c->builtin_path : "");
		putchar('\n');
		print_command_extras(c);
	}
	for (size_t i = 0; i < p->n_rejected; i++)
		printf("rejected: %s\n  because: %s\n", p->rejected[i].text, p->rejected[i].reason);
}

/* What to fix, for each configuration fault. */
static const char *fault_advice(LlmFault f)
{
	switch (f) {
	case LLM_FAULT_KEY:
		return "the provider refuses the API key: check [llm] api_key_file or "
		       "GEMINI_API_KEY / OPENROUTER_API_KEY";
	case LLM_FAULT_BILLING:
		return "the provider refuses to bill this account: check its billing or credits";
	case LLM_FAULT_ACCESS:
		return "the key may not use this API or model: check the key's permissions";
	case LLM_FAULT_MODEL:
		return "the provider does not know [llm] model: check its name";
	default:
		return "check the [llm] settings";
	}
}

void cli_print_fault(const Analysis *a)
{
	if (a->fault)
		fprintf(stderr, "healer: configuration fault (%s): %s\n", llm_fault_name(a->fault),
			fault_advice(a->fault));
}

void cli_print_analysis(const Analysis *a)
{
	printf("provider: %s%s%s%s\n", a->provider, a->model ? " (" : "", a->model ? a->model : "",
	       a->model ? ")" : "");
	if (a->rule)
		printf("rule: %s\n", a->rule);
	if (a->fallback || a->error)
		printf("%s: %s\n", a->fallback ? "fallback to the rules" : "error",
		       a->error ? a->error : "the provider gave no usable reply");
	for (size_t i = 0; i < a->n_calls; i++) {
		const LlmCallRecord *c = &a->calls[i];

		printf("call %zu: HTTP %ld, %s, %.1f ms", i + 1, c->http_status, c->outcome,
		       (double)c->latency_usec / 1000.0);
		if (c->tokens_total >= 0)
			printf(", %lld tokens", (long long)c->tokens_total);
		if (c->error)
			printf(": %s", c->error);
		putchar('\n');
	}
	if (a->redactions > 0)
		printf("redacted: %u secret%s before sending\n", a->redactions,
		       a->redactions == 1 ? "" : "s");
	if (a->context_dropped > 0)
		printf("context: %zu line%s left out to fit the prompt budget\n",
		       a->context_dropped, a->context_dropped == 1 ? "" : "s");
	cli_print_plan(a->plan);
}

void cli_print_clean(FILE *f, const char *s, bool lines)
{
	_cleanup_free_ char *c = s ? text_clean_str(s, lines ? TEXT_KEEP_NEWLINES : 0) : NULL;

	fputs(c ? c : s ? "?" : "-", f);
}

static void print_scalar(const cJSON *v)
{
	if (cJSON_IsBool(v))
		fputs(cJSON_IsTrue(v) ? "yes" : "no", stdout);
	else if (cJSON_IsNumber(v) && v->valuedouble > -1e15 && v->valuedouble < 1e15 &&
		 v->valuedouble == (double)(long long)v->valuedouble)
		printf("%lld", (long long)v->valuedouble);
	else if (cJSON_IsNumber(v))
		printf("%.4g", v->valuedouble);
	else if (cJSON_IsString(v))
		cli_print_clean(stdout, v->valuestring, false);
	else
		fputs("-", stdout);
}

void cli_print_fields(const cJSON *o, int indent)
{
	const cJSON *it, *e;

	cJSON_ArrayForEach(it, o)
	{
		printf("%*s", indent, "");
		cli_print_clean(stdout, it->string, false);
		if (cJSON_IsObject(it)) {
			printf(":%s\n", it->child ? "" : " -");
			cli_print_fields(it, indent + 2);
			continue;
		}
		fputs(": ", stdout);
		if (!cJSON_IsArray(it)) {
			print_scalar(it);
		} else if (!it->child) {
			fputs("-", stdout);
		} else {
			cJSON_ArrayForEach(e, it)
			{
				print_scalar(e);
				fputs(e->next ? ", " : "", stdout);
			}
		}
		putchar('\n');
	}
}

int cli_print_json(cJSON *o, bool pretty)
{
	char *s = o ? (pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o)) : NULL;

	cJSON_Delete(o);
	if (!s)
		return -ENOMEM;
	printf("%s\n", s);
	free(s);
	return 0;
}

void cli_print_errors(const char *what, int r, const char *errors)
{
	if (errors && *errors)
		fputs(errors, stderr);
	else
		fprintf(stderr, "%s: %s\n", what, strerror(r < 0 ? -r : r));
}
