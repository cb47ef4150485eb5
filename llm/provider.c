/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "llm/provider.h"

const char *llm_kind_name(LlmKind kind)
{
	switch (kind) {
	case LLM_KIND_GEMINI:
		return "gemini";
	case LLM_KIND_OPENROUTER:
		return "openrouter";
	case LLM_KIND_OPENAI:
		return "openai";
	}
	return "?";
}

const char *llm_fault_name(LlmFault fault)
{
	switch (fault) {
	case LLM_FAULT_NONE:
		return NULL;
	case LLM_FAULT_KEY:
		return "key";
	case LLM_FAULT_BILLING:
		return "billing";
	case LLM_FAULT_ACCESS:
		return "access";
	case LLM_FAULT_MODEL:
		return "model";
	}
	return NULL;
}

static bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

LlmThinking llm_gemini_thinking(const char *model)
{
	LlmThinking none = {.budget = -1};

	if (!model)
		return none;
	/* Flash and Flash-Lite may think not at all: the whole cap is the answer's. */
	if (startswith(model, "gemini-2.5-flash"))
		return (LlmThinking){.send = true, .budget = 0};
	/*
	 * Pro refuses 0 (its minimum is 128). A budget is a guide the model
	 * may overrun a little, so the room added is more than the budget.
	 */
	if (startswith(model, "gemini-2.5-pro"))
		return (LlmThinking){.send = true, .budget = 128, .extra_tokens = 1024};
	/* Gemini 3 takes a level, not a budget (never both), and always thinks. */
	if (startswith(model, "gemini-3-") || startswith(model, "gemini-3."))
		return (LlmThinking){
			.send = true, .budget = -1, .level = "low", .extra_tokens = 8192};
	return none;
}

/* One property of the schema: a string, nullable in the strict dialect. */
static void add_string_prop(cJSON *props, const char *name, const char *type, bool nullable)
{
	cJSON *p = cJSON_AddObjectToObject(props, name), *t;

	if (!nullable) {
		cJSON_AddStringToObject(p, "type", type);
		return;
	}
	t = cJSON_AddArrayToObject(p, "type");
	cJSON_AddItemToArray(t, cJSON_CreateString(type));
	cJSON_AddItemToArray(t, cJSON_CreateString("null"));
}

static void add_required(cJSON *o, const char *a, const char *b)
{
	cJSON *req = cJSON_AddArrayToObject(o, "required");

	cJSON_AddItemToArray(req, cJSON_CreateString(a));
	if (b)
		cJSON_AddItemToArray(req, cJSON_CreateString(b));
}

/*
 * The plan's schema, in two dialects.
 *
 * Gemini's responseSchema is an OpenAPI subset with upper-case types and no
 * free-form maps: args lists the catalogue's parameter names, none required.
 *
 * Strict (OpenAI's strict mode behind OpenRouter, and the grammars of local
 * servers): every object lists all of its properties in "required" and says
 * additionalProperties false, at every level, or OpenAI-served models answer
 * 400. So args holds every parameter name of the catalogue, each a string
 * or null, and the reply parser reads a null argument as one not given.
 *
 * Either way the reply parser checks the real shape: a schema is a request
 * to the model, not a guarantee.
 */
static cJSON *plan_schema(bool gemini, const char *const *arg_names)
{
	const char *obj = gemini ? "OBJECT" : "object", *arr = gemini ? "ARRAY" : "array",
		   *str = gemini ? "STRING" : "string";
	bool has_args = arg_names && arg_names[0];
	cJSON *s = cJSON_CreateObject(), *props, *cmd, *cprops, *item, *args, *aprops, *req;

	if (!s)
		return NULL;
	cJSON_AddStringToObject(s, "type", obj);
	props = cJSON_AddObjectToObject(s, "properties");
	add_string_prop(props, "diagnosis", str, false);
	cmd = cJSON_AddObjectToObject(props, "commands");
	cJSON_AddStringToObject(cmd, "type", arr);
	item = cJSON_AddObjectToObject(cmd, "items");
	cJSON_AddStringToObject(item, "type", obj);
	cprops = cJSON_AddObjectToObject(item, "properties");
	add_string_prop(cprops, "action", str, false);
	if (has_args) {
		args = cJSON_AddObjectToObject(cprops, "args");
		cJSON_AddStringToObject(args, "type", obj);
		aprops = cJSON_AddObjectToObject(args, "properties");
		for (size_t i = 0; arg_names[i]; i++)
			add_string_prop(aprops, arg_names[i], str, !gemini);
		if (!gemini) {
			req = cJSON_AddArrayToObject(args, "required");
			for (size_t i = 0; arg_names[i]; i++)
				cJSON_AddItemToArray(req, cJSON_CreateString(arg_names[i]));
			cJSON_AddFalseToObject(args, "additionalProperties");
		}
	}
	add_required(item, "action", has_args && !gemini ? "args" : NULL);
	if (!gemini)
		cJSON_AddFalseToObject(item, "additionalProperties");
	add_required(s, "diagnosis", "commands");
	if (gemini) {
		cJSON *order = cJSON_AddArrayToObject(s, "propertyOrdering");

		cJSON_AddItemToArray(order, cJSON_CreateString("diagnosis"));
		cJSON_AddItemToArray(order, cJSON_CreateString("commands"));
	} else {
		cJSON_AddFalseToObject(s, "additionalProperties");
	}
	return s;
}

static cJSON *gemini_body(const LlmEndpoint *ep, const char *system, const char *user,
			  const char *const *arg_names)
{
	cJSON *b = cJSON_CreateObject(), *contents, *msg, *parts, *part, *sys, *gen;
	LlmThinking th = llm_gemini_thinking(ep->model);
	uint64_t cap = ep->max_output_tokens + th.extra_tokens;

	if (!b)
		return NULL;
	contents = cJSON_AddArrayToObject(b, "contents");
	msg = cJSON_CreateObject();
	cJSON_AddItemToArray(contents, msg);
	cJSON_AddStringToObject(msg, "role", "user");
	parts = cJSON_AddArrayToObject(msg, "parts");
	part = cJSON_CreateObject();
	cJSON_AddItemToArray(parts, part);
	cJSON_AddStringToObject(part, "text", user);
	sys = cJSON_AddObjectToObject(b, "systemInstruction");
	parts = cJSON_AddArrayToObject(sys, "parts");
	part = cJSON_CreateObject();
	cJSON_AddItemToArray(parts, part);
	cJSON_AddStringToObject(part, "text", system);
	gen = cJSON_AddObjectToObject(b, "generationConfig");
	cJSON_AddNumberToObject(gen, "temperature", 0);
	cJSON_AddNumberToObject(
		gen, "maxOutputTokens",
		(double)(cap < LLM_GEMINI_MAX_OUTPUT_TOKENS ? cap : LLM_GEMINI_MAX_OUTPUT_TOKENS));
	cJSON_AddStringToObject(gen, "responseMimeType", "application/json");
	cJSON_AddItemToObject(gen, "responseSchema", plan_schema(true, arg_names));
	if (th.send) {
		cJSON *tc = cJSON_AddObjectToObject(gen, "thinkingConfig");

		if (th.level)
			cJSON_AddStringToObject(tc, "thinkingLevel", th.level);
		else
			cJSON_AddNumberToObject(tc, "thinkingBudget", (double)th.budget);
	}
	return b;
}

static void add_json_schema(cJSON *rf, const char *const *arg_names)
{
	cJSON *js;

	cJSON_AddStringToObject(rf, "type", "json_schema");
	js = cJSON_AddObjectToObject(rf, "json_schema");
	cJSON_AddStringToObject(js, "name", "healer_plan");
	cJSON_AddTrueToObject(js, "strict");
	cJSON_AddItemToObject(js, "schema", plan_schema(false, arg_names));
}

static cJSON *chat_body(const LlmEndpoint *ep, const char *system, const char *user,
			const char *const *arg_names)
{
	cJSON *b = cJSON_CreateObject(), *msgs, *m, *rf;

	if (!b)
		return NULL;
	cJSON_AddStringToObject(b, "model", ep->model);
	msgs = cJSON_AddArrayToObject(b, "messages");
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(msgs, m);
	cJSON_AddStringToObject(m, "role", "system");
	cJSON_AddStringToObject(m, "content", system);
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(msgs, m);
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", user);
	cJSON_AddNumberToObject(b, "max_tokens", (double)ep->max_output_tokens);
	cJSON_AddNumberToObject(b, "temperature", 0);
	rf = cJSON_AddObjectToObject(b, "response_format");
	if (ep->kind == LLM_KIND_OPENROUTER) {
		add_json_schema(rf, arg_names);
		/* Only providers that honour the schema may serve the request. */
		cJSON_AddTrueToObject(cJSON_AddObjectToObject(b, "provider"), "require_parameters");
	} else if (ep->format == LLM_FORMAT_JSON_SCHEMA) {
		/* llama.cpp, vLLM and Ollama 0.5+ turn the schema into a grammar. */
		add_json_schema(rf, arg_names);
	} else {
		/* What most local servers know; the parser needs neither. */
		cJSON_AddStringToObject(rf, "type", "json_object");
	}
	return b;
}

static int add_header(char ***v, size_t *n, const char *fmt, ...) _printf_(3, 4);
static int add_header(char ***v, size_t *n, const char *fmt, ...)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	va_list ap;
	int k;

	if (!nv)
		return -ENOMEM;
	*v = nv;
	va_start(ap, fmt);
	k = vasprintf(&nv[*n], fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

void llm_request_done(LlmHttpRequest *r)
{
	free(r->url);
	for (size_t i = 0; r->headers && r->headers[i]; i++) {
		/* Headers hold the key: wipe before freeing. */
		explicit_bzero(r->headers[i], strlen(r->headers[i]));
		free(r->headers[i]);
	}
	free(r->headers);
	free(r->body);
	*r = (LlmHttpRequest){0};
}

static bool header_safe(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int llm_request_build(const LlmEndpoint *ep, const char *system, const char *user,
		      const char *const *arg_names, LlmHttpRequest *ret)
{
	LlmHttpRequest r = {0};
	cJSON *body;
	size_t n = 0, blen;
	int k = 0;

	if (!ep->base_url || !ep->model || !header_safe(ep->api_key) || !header_safe(ep->referer) ||
	    !header_safe(ep->title))
		return -EINVAL;
	blen = strlen(ep->base_url);
	while (blen > 0 && ep->base_url[blen - 1] == '/')
		blen--;
	if (ep->kind == LLM_KIND_GEMINI) {
		if (strchr(ep->model, '/') ||
		    asprintf(&r.url, "%.*s/v1beta/models/%s:generateContent", (int)blen,
			     ep->base_url, ep->model) < 0)
			return -EINVAL;
		body = gemini_body(ep, system, user, arg_names);
		if (ep->api_key)
			k = add_header(&r.headers, &n, "x-goog-api-key: %s", ep->api_key);
	} else {
		if (asprintf(&r.url, "%.*s/chat/completions", (int)blen, ep->base_url) < 0)
			return -ENOMEM;
		body = chat_body(ep, system, user, arg_names);
		if (ep->api_key)
			k = add_header(&r.headers, &n, "Authorization: Bearer %s", ep->api_key);
		if (k == 0 && ep->kind == LLM_KIND_OPENROUTER && ep->referer)
			k = add_header(&r.headers, &n, "HTTP-Referer: %s", ep->referer);
		if (k == 0 && ep->kind == LLM_KIND_OPENROUTER && ep->title)
			k = add_header(&r.headers, &n, "X-Title: %s", ep->title);
	}
	if (k == 0)
		k = add_header(&r.headers, &n, "Content-Type: application/json");
	if (k == 0)
		k = add_header(&r.headers, &n, "Accept: application/json");
	r.body = body ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	if (k < 0 || !r.body) {
		llm_request_done(&r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}
