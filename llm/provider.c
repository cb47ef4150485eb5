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

/*
 * The plan's schema. Gemini wants the OpenAPI subset with upper-case types
 * and no free-form maps, so args lists the parameter names the catalogue
 * uses, none required; the reply parser checks the real shape anyway.
 */
static cJSON *plan_schema(bool gemini, const char *const *arg_names)
{
	const char *obj = gemini ? "OBJECT" : "object", *arr = gemini ? "ARRAY" : "array",
		   *str = gemini ? "STRING" : "string";
	cJSON *s = cJSON_CreateObject(), *props, *cmd, *cprops, *req, *item, *args, *aprops;

	if (!s)
		return NULL;
	cJSON_AddStringToObject(s, "type", obj);
	props = cJSON_AddObjectToObject(s, "properties");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "diagnosis"), "type", str);
	cmd = cJSON_AddObjectToObject(props, "commands");
	cJSON_AddStringToObject(cmd, "type", arr);
	item = cJSON_AddObjectToObject(cmd, "items");
	cJSON_AddStringToObject(item, "type", obj);
	cprops = cJSON_AddObjectToObject(item, "properties");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cprops, "action"), "type", str);
	if (arg_names && arg_names[0]) {
		args = cJSON_AddObjectToObject(cprops, "args");
		cJSON_AddStringToObject(args, "type", obj);
		aprops = cJSON_AddObjectToObject(args, "properties");
		for (size_t i = 0; arg_names[i]; i++)
			cJSON_AddStringToObject(cJSON_AddObjectToObject(aprops, arg_names[i]),
						"type", str);
		if (!gemini) {
			cJSON_AddArrayToObject(args, "required");
			cJSON_AddFalseToObject(args, "additionalProperties");
		}
	}
	req = cJSON_AddArrayToObject(item, "required");
	cJSON_AddItemToArray(req, cJSON_CreateString("action"));
	if (!gemini)
		cJSON_AddFalseToObject(item, "additionalProperties");
	req = cJSON_AddArrayToObject(s, "required");
	cJSON_AddItemToArray(req, cJSON_CreateString("diagnosis"));
	cJSON_AddItemToArray(req, cJSON_CreateString("commands"));
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
	cJSON_AddNumberToObject(gen, "maxOutputTokens", (double)ep->max_output_tokens);
	cJSON_AddStringToObject(gen, "responseMimeType", "application/json");
	cJSON_AddItemToObject(gen, "responseSchema", plan_schema(true, arg_names));
	return b;
}

static cJSON *chat_body(const LlmEndpoint *ep, const char *system, const char *user,
			const char *const *arg_names)
{
	cJSON *b = cJSON_CreateObject(), *msgs, *m, *rf, *js;

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
		cJSON_AddStringToObject(rf, "type", "json_schema");
		js = cJSON_AddObjectToObject(rf, "json_schema");
		cJSON_AddStringToObject(js, "name", "healer_plan");
		cJSON_AddTrueToObject(js, "strict");
		cJSON_AddItemToObject(js, "schema", plan_schema(false, arg_names));
		/* Only providers that honour the schema may serve the request. */
		cJSON_AddTrueToObject(cJSON_AddObjectToObject(b, "provider"), "require_parameters");
	} else {
		/* Local servers often know json_object only; the parser needs neither. */
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

void llm_response_done(LlmResponse *r)
{
	free(r->text);
	free(r->error);
	free(r->model_version);
	*r = (LlmResponse){0};
}

_printf_(2, 3) static int set_error(LlmResponse *r, const char *fmt, ...)
{
	va_list ap;
	int k;

	free(r->error);
	r->error = NULL;
	va_start(ap, fmt);
	k = vasprintf(&r->error, fmt, ap);
	va_end(ap);
	if (k < 0) {
		r->error = NULL;
		return -ENOMEM;
	}
	/* Server text may hold anything: keep the one line printable ASCII. */
	for (char *c = r->error; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = (unsigned char)*c >= 0x7f ? '?' : ' ';
	return 0;
}

static bool retryable_status(long s)
{
	return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* "53s", "1.5s" -> µs, capped at an hour; 0 when unreadable. */
static uint64_t parse_seconds(const char *s, bool need_suffix)
{
	char *end = NULL;
	double v;

	if (!s || !((*s >= '0' && *s <= '9')))
		return 0;
	v = strtod(s, &end);
	if (!end || (need_suffix ? strcmp(end, "s") != 0 : *end != '\0') || v < 0)
		return 0;
	if (v > 3600)
		v = 3600;
	return (uint64_t)(v * 1e6);
}

static const char *str_at(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t int_at(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15
		       ? (int64_t)v->valuedouble
		       : -1;
}

/* Gemini's google.rpc.RetryInfo in error.details[]. */
static uint64_t gemini_retry_delay(const cJSON *error)
{
	const cJSON *d, *details = cJSON_GetObjectItemCaseSensitive(error, "details");

	cJSON_ArrayForEach(d, details)
	{
		const char *type = str_at(d, "@type");

		if (type && strstr(type, "google.rpc.RetryInfo"))
			return parse_seconds(str_at(d, "retryDelay"), true);
	}
	return 0;
}

static int parse_error_status(LlmKind kind, long status, const cJSON *root, LlmResponse *r)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
	const char *msg = str_at(error, "message"), *st = str_at(error, "status");

	r->outcome = retryable_status(status) ? LLM_OUTCOME_RETRY : LLM_OUTCOME_FAIL;
	if (kind == LLM_KIND_GEMINI && error) {
		uint64_t d = gemini_retry_delay(error);

		if (d)
			r->retry_after_usec = d;
	}
	return set_error(r, "HTTP %ld%s%s%s%.200s", status, st ? " " : "", st ? st : "",
			 msg ? ": " : "", msg ? msg : "");
}

static int parse_gemini(const cJSON *root, LlmResponse *r)
{
	const cJSON *cands = cJSON_GetObjectItemCaseSensitive(root, "candidates"), *c, *parts, *p,
		    *usage = cJSON_GetObjectItemCaseSensitive(root, "usageMetadata");
	const char *finish, *block;
	size_t n = 0;

	r->tokens_in = int_at(usage, "promptTokenCount");
	r->tokens_out = int_at(usage, "candidatesTokenCount");
	r->tokens_total = int_at(usage, "totalTokenCount");
	if (str_at(root, "modelVersion") &&
	    !(r->model_version = strdup(str_at(root, "modelVersion"))))
		return -ENOMEM;
	c = cJSON_GetArrayItem(cands, 0);
	if (!c) {
		block = str_at(cJSON_GetObjectItemCaseSensitive(root, "promptFeedback"),
			       "blockReason");
		r->outcome = LLM_OUTCOME_FAIL;
		return block ? set_error(r, "prompt blocked: %.64s", block)
			     : set_error(r, "reply has no candidates");
	}
	finish = str_at(c, "finishReason");
	if (!finish || strcmp(finish, "STOP") != 0) {
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "not a usable plan: finishReason %.64s",
				 finish ? finish : "missing");
	}
	parts = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "content"),
						 "parts");
	cJSON_ArrayForEach(p, parts)
	{
		const char *t = str_at(p, "text");
		size_t tl = t ? strlen(t) : 0;
		char *nt;

		if (!t)
			continue;
		nt = realloc(r->text, n + tl + 1);
		if (!nt)
			return -ENOMEM;
		r->text = nt;
		memcpy(r->text + n, t, tl + 1);
		n += tl;
	}
	if (n == 0) {
		free(r->text);
		r->text = NULL;
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "reply has no text");
	}
	r->outcome = LLM_OUTCOME_OK;
	return 0;
}

static int parse_chat(const cJSON *root, LlmResponse *r)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error"),
		    *usage = cJSON_GetObjectItemCaseSensitive(root, "usage"), *c;
	const char *finish, *content;

	r->tokens_in = int_at(usage, "prompt_tokens");
	r->tokens_out = int_at(usage, "completion_tokens");
	r->tokens_total = int_at(usage, "total_tokens");
	if (str_at(root, "model") && !(r->model_version = strdup(str_at(root, "model"))))
		return -ENOMEM;
	if (error) {
		/* OpenRouter: an error after generation began comes with HTTP 200. */
		int64_t code = int_at(error, "code");
		const char *msg = str_at(error, "message");

		r->outcome = retryable_status((long)code) ? LLM_OUTCOME_RETRY : LLM_OUTCOME_FAIL;
		return set_error(r, "error in the reply body: %lld %.200s", (long long)code,
				 msg ? msg : "");
	}
	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	if (!c) {
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "reply has no choices");
	}
	finish = str_at(c, "finish_reason");
	content = str_at(cJSON_GetObjectItemCaseSensitive(c, "message"), "content");
	/* Some local servers leave finish_reason out; anything but stop is not a plan. */
	if (finish && strcmp(finish, "stop") != 0) {
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "not a usable plan: finish_reason %.64s", finish);
	}
	if (!content || !content[0]) {
		r->outcome = LLM_OUTCOME_FAIL;
		return set_error(r, "reply has no content");
	}
	r->text = strdup(content);
	if (!r->text)
		return -ENOMEM;
	r->outcome = LLM_OUTCOME_OK;
	return 0;
}

int llm_response_parse(LlmKind kind, long status, const char *retry_after, const char *body,
		       size_t len, LlmResponse *ret)
{
	LlmResponse r = {.tokens_in = -1, .tokens_out = -1, .tokens_total = -1};
	cJSON *root = NULL;
	int k;

	r.retry_after_usec = parse_seconds(retry_after, false);
	if (len > LLM_RESPONSE_MAX_BYTES) {
		r.outcome = LLM_OUTCOME_FAIL;
		k = set_error(&r, "response is %zu bytes, over the %d-byte cap", len,
			      LLM_RESPONSE_MAX_BYTES);
		goto out;
	}
	/*
	 * A NUL, raw or escaped, would silently cut the reply text short in
	 * cJSON's C strings: a reply that is not all there is not a reply.
	 */
	if (body && (memchr(body, '\0', len) || util_json_has_nul_escape(body, len))) {
		r.outcome = LLM_OUTCOME_FAIL;
		k = set_error(&r, "HTTP %ld with a NUL byte in the body", status);
		goto out;
	}
	root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	if (status < 200 || status > 299) {
		k = parse_error_status(kind, status, root, &r);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		r.outcome = LLM_OUTCOME_FAIL;
		k = set_error(&r, "HTTP %ld but the body is not a JSON object", status);
		goto out;
	}
	k = kind == LLM_KIND_GEMINI ? parse_gemini(root, &r) : parse_chat(root, &r);
out:
	cJSON_Delete(root);
	if (k < 0) {
		llm_response_done(&r);
		return k;
	}
	*ret = r;
	return 0;
}
