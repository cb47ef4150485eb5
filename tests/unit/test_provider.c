/* SPDX-License-Identifier: MIT */
/*
 * The wire formats of shared/WIRE.md: requests as built, responses as read.
 * (The live exchange with a real HTTP server is test_llm.)
 */
#include <cjson/cJSON.h>

#include "harness.h"
#include "common/util.h"
#include "llm/provider.h"

static const char *const names[] = {"unit", "path", NULL};
/* 2026-10-21 07:28:00 UTC: Retry-After dates are read against it. */
#define NOW 1792567680LL

static cJSON *build(const LlmEndpoint *ep, LlmHttpRequest *req)
{
	CHECK_INT(llm_request_build(ep, "SYS", "USER", names, req), ==, 0);
	return req->body ? cJSON_Parse(req->body) : NULL;
}

static const char *header(const LlmHttpRequest *req, const char *prefix)
{
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		if (strncmp(req->headers[i], prefix, strlen(prefix)) == 0)
			return req->headers[i];
	return NULL;
}

TEST(test_gemini_request)
{
	LlmEndpoint ep = {.kind = LLM_KIND_GEMINI,
			  .base_url = "https://g.example/",
			  .model = "m-1",
			  .api_key = "k3y",
			  .max_output_tokens = 512};
	LlmHttpRequest req = {0};
	cJSON *b = build(&ep, &req), *gen, *schema;

	CHECK_STR(req.url, "https://g.example/v1beta/models/m-1:generateContent");
	CHECK_STR(header(&req, "x-goog-api-key"), "x-goog-api-key: k3y");
	CHECK(!strstr(req.url, "k3y") && !strstr(req.body, "k3y"));
	CHECK(header(&req, "Authorization") == NULL);
	CHECK_STR(header(&req, "Content-Type"), "Content-Type: application/json");
	gen = cJSON_GetObjectItem(b, "generationConfig");
	schema = cJSON_GetObjectItem(gen, "responseSchema");
	CHECK_STR(cJSON_GetObjectItem(gen, "responseMimeType")->valuestring, "application/json");
	CHECK_INT(cJSON_GetObjectItem(gen, "maxOutputTokens")->valueint, ==, 512);
	CHECK_STR(cJSON_GetObjectItem(schema, "type")->valuestring, "OBJECT");
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(schema, "properties"), "commands") != NULL);
	CHECK_STR(
		cJSON_GetArrayItem(
			cJSON_GetObjectItem(
				cJSON_GetArrayItem(cJSON_GetObjectItem(b, "contents"), 0), "parts"),
			0)
			->child->valuestring,
		"USER");
	CHECK(cJSON_GetObjectItem(b, "systemInstruction") != NULL);
	cJSON_Delete(b);
	llm_request_done(&req);
	/* A model name cannot reach into the URL path. */
	ep.model = "../../v1/x";
	CHECK_INT(llm_request_build(&ep, "S", "U", NULL, &req), ==, -EINVAL);
	/* A key with a newline cannot add a header. */
	ep.model = "m";
	ep.api_key = "k\r\nX-Evil: 1";
	CHECK_INT(llm_request_build(&ep, "S", "U", NULL, &req), ==, -EINVAL);
}

TEST(test_chat_requests)
{
	LlmEndpoint ep = {.kind = LLM_KIND_OPENROUTER,
			  .base_url = "https://openrouter.ai/api/v1",
			  .model = "google/gemini-2.5-flash",
			  .api_key = "sk-or",
			  .referer = "https://h",
			  .title = "Healer",
			  .max_output_tokens = 256};
	LlmHttpRequest req = {0};
	cJSON *b = build(&ep, &req), *rf;

	CHECK_STR(req.url, "https://openrouter.ai/api/v1/chat/completions");
	CHECK_STR(header(&req, "Authorization"), "Authorization: Bearer sk-or");
	CHECK_STR(header(&req, "HTTP-Referer"), "HTTP-Referer: https://h");
	CHECK_STR(header(&req, "X-Title"), "X-Title: Healer");
	CHECK_STR(cJSON_GetObjectItem(b, "model")->valuestring, "google/gemini-2.5-flash");
	rf = cJSON_GetObjectItem(b, "response_format");
	CHECK_STR(cJSON_GetObjectItem(rf, "type")->valuestring, "json_schema");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(rf, "json_schema"), "strict")));
	CHECK(cJSON_IsTrue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(b, "provider"), "require_parameters")));
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "messages"), 0),
				      "role")
			  ->valuestring,
		  "system");
	cJSON_Delete(b);
	llm_request_done(&req);

	ep = (LlmEndpoint){.kind = LLM_KIND_OPENAI,
			   .base_url = "http://127.0.0.1:11434/v1",
			   .model = "llama3",
			   .max_output_tokens = 256};
	b = build(&ep, &req);
	CHECK(header(&req, "Authorization") == NULL);
	CHECK_STR(
		cJSON_GetObjectItem(cJSON_GetObjectItem(b, "response_format"), "type")->valuestring,
		"json_object");
	CHECK(cJSON_GetObjectItem(b, "provider") == NULL);
	cJSON_Delete(b);
	llm_request_done(&req);
}

static LlmResponse parse(LlmKind kind, long status, const char *retry_after, const char *body)
{
	LlmResponse r = {0};

	CHECK_INT(llm_response_parse(kind, status, retry_after, NOW, body, strlen(body), &r), ==,
		  0);
	return r;
}

TEST(test_responses)
{
	LlmResponse r;

	r = parse(LLM_KIND_GEMINI, 200, NULL,
		  "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"ab\"},"
		  "{\"text\":\"cd\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
		  "\"promptTokenCount\":7,\"candidatesTokenCount\":3,\"totalTokenCount\":10},"
		  "\"modelVersion\":\"gemini-2.5-flash-001\"}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_OK);
	CHECK_STR(r.text, "abcd");
	CHECK_INT(r.tokens_in, ==, 7);
	CHECK_INT(r.tokens_total, ==, 10);
	CHECK_STR(r.model_version, "gemini-2.5-flash-001");
	llm_response_done(&r);

	r = parse(LLM_KIND_GEMINI, 200, NULL,
		  "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"diag\"}]},"
		  "\"finishReason\":\"MAX_TOKENS\"}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	CHECK_CONTAINS(r.error, "MAX_TOKENS");
	CHECK(r.text == NULL);
	llm_response_done(&r);

	r = parse(LLM_KIND_GEMINI, 200, NULL, "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	CHECK_CONTAINS(r.error, "prompt blocked: SAFETY");
	llm_response_done(&r);

	r = parse(
		LLM_KIND_GEMINI, 429, NULL,
		"{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\","
		"\"details\":[{\"@type\":\"type.googleapis.com/"
		"google.rpc.QuotaFailure\"},{\"@type\":"
		"\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"53s\"}]}}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_RETRY);
	CHECK_INT(r.retry_after_usec, ==, 53 * USEC_PER_SEC);
	CHECK_CONTAINS(r.error, "HTTP 429 RESOURCE_EXHAUSTED: quota");
	llm_response_done(&r);

	r = parse(LLM_KIND_OPENROUTER, 429, "12", "{\"error\":{\"code\":429,\"message\":\"x\"}}");
	CHECK_INT(r.retry_after_usec, ==, 12 * USEC_PER_SEC);
	llm_response_done(&r);
	/* A date that is now is no hint: the client's own backoff then. */
	r = parse(LLM_KIND_OPENROUTER, 503, "Wed, 21 Oct 2026 07:28:00 GMT", "");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_RETRY);
	CHECK_INT(r.retry_after_usec, ==, 0);
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENROUTER, 200, NULL,
		  "{\"error\":{\"code\":502,\"message\":\"upstream\\nsecond line\"}}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_RETRY);
	CHECK(!strchr(r.error, '\n'));
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENAI, 200, NULL,
		  "{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":\"content_"
		  "filter\"}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	CHECK_CONTAINS(r.error, "content_filter");
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENAI, 200, NULL,
		  "{\"choices\":[{\"message\":{\"content\":\"plan\"}}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_OK);
	CHECK_INT(r.tokens_in, ==, -1);
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENAI, 200, NULL,
		  "{\"choices\":[{\"message\":{\"content\":\"plan\\u0000; rm -rf /\"}}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	CHECK(r.text == NULL);
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENAI, 200, NULL, "<html>gateway</html>");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	llm_response_done(&r);
	{
		size_t n = LLM_RESPONSE_MAX_BYTES + 1;
		char *big = malloc(n);

		memset(big, ' ', n);
		CHECK_INT(llm_response_parse(LLM_KIND_OPENAI, 200, NULL, NOW, big, n, &r), ==, 0);
		CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
		CHECK_CONTAINS(r.error, "cap");
		llm_response_done(&r);
		free(big);
	}
}

/* The value of a dotted path in o ("a.b.c"), or NULL. */
static cJSON *at(cJSON *o, const char *path)
{
	char buf[256];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = buf, *dot; k && o; k = dot) {
		dot = strchr(k, '.');
		if (dot)
			*dot++ = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, k);
	}
	return o;
}

static cJSON *gemini_gen(const char *model, uint64_t cap, LlmHttpRequest *req)
{
	LlmEndpoint ep = {.kind = LLM_KIND_GEMINI,
			  .base_url = "https://g.example",
			  .model = model,
			  .api_key = "k",
			  .max_output_tokens = cap};

	return build(&ep, req);
}

/* Thinking per model family: off where it can be, room in the cap where it cannot. */
TEST(test_thinking_requests)
{
	static const struct {
		const char *model;
		int budget; /* -2: no thinkingConfig; -1: a level instead */
		const char *level;
		int cap;
	} cases[] = {
		{"gemini-2.5-flash", 0, NULL, 512},
		{"gemini-2.5-flash-lite", 0, NULL, 512},
		{"gemini-2.5-flash-preview-09-2025", 0, NULL, 512},
		{"gemini-2.5-pro", 128, NULL, 512 + 1024},
		{"gemini-3-pro-preview", -1, "low", 512 + 8192},
		{"gemini-3-flash-preview", -1, "low", 512 + 8192},
		{"gemini-2.0-flash", -2, NULL, 512},
		{"gemini-flash-latest", -2, NULL, 512},
		{"gemini-30", -2, NULL, 512},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		LlmHttpRequest req = {0};
		cJSON *b = gemini_gen(cases[i].model, 512, &req), *tc, *v;

		tc = at(b, "generationConfig.thinkingConfig");
		CHECK_(cJSON_GetNumberValue(at(b, "generationConfig.maxOutputTokens")) ==
			       cases[i].cap,
		       "%s: cap %g", cases[i].model,
		       cJSON_GetNumberValue(at(b, "generationConfig.maxOutputTokens")));
		if (cases[i].budget == -2) {
			CHECK_(tc == NULL, "%s: thinkingConfig sent", cases[i].model);
		} else if (cases[i].budget == -1) {
			v = cJSON_GetObjectItem(tc, "thinkingLevel");
			CHECK_(cJSON_IsString(v) && strcmp(v->valuestring, cases[i].level) == 0,
			       "%s: thinkingLevel", cases[i].model);
			CHECK_(!cJSON_GetObjectItem(tc, "thinkingBudget"), "%s: both",
			       cases[i].model);
		} else {
			v = cJSON_GetObjectItem(tc, "thinkingBudget");
			CHECK_(cJSON_IsNumber(v) && v->valueint == cases[i].budget,
			       "%s: thinkingBudget", cases[i].model);
			CHECK_(!cJSON_GetObjectItem(tc, "thinkingLevel"), "%s: both",
			       cases[i].model);
		}
		cJSON_Delete(b);
		llm_request_done(&req);
	}
	/* The room for thinking never takes the cap past what Gemini accepts. */
	{
		LlmHttpRequest req = {0};
		cJSON *b = gemini_gen("gemini-2.5-pro", 65536, &req);

		CHECK_INT(cJSON_GetNumberValue(at(b, "generationConfig.maxOutputTokens")), ==,
			  LLM_GEMINI_MAX_OUTPUT_TOKENS);
		cJSON_Delete(b);
		llm_request_done(&req);
	}
}

/*
 * OpenAI's strict mode at every level: an object lists all its properties in
 * required and says additionalProperties false. Returns the objects seen, or
 * -1 at the first that breaks the rule.
 */
static int strict_objects(const cJSON *s, const char *where)
{
	const cJSON *type = cJSON_GetObjectItem(s, "type"), *props, *p, *req;
	int n = 0, k;

	if (cJSON_IsString(type) && strcmp(type->valuestring, "object") == 0) {
		props = cJSON_GetObjectItem(s, "properties");
		req = cJSON_GetObjectItem(s, "required");
		CHECK_(cJSON_IsFalse(cJSON_GetObjectItem(s, "additionalProperties")),
		       "%s: additionalProperties is not false", where);
		CHECK_(cJSON_GetArraySize(req) == cJSON_GetArraySize(props),
		       "%s: required does not list every property", where);
		n++;
		cJSON_ArrayForEach(p, props)
		{
			bool listed = false;
			const cJSON *r;

			cJSON_ArrayForEach(r, req) listed |= strcmp(r->valuestring, p->string) == 0;
			CHECK_(listed, "%s: %s not required", where, p->string);
			k = strict_objects(p, p->string);
			if (k < 0)
				return -1;
			n += k;
		}
	}
	if (cJSON_GetObjectItem(s, "items")) {
		k = strict_objects(cJSON_GetObjectItem(s, "items"), "items");
		if (k < 0)
			return -1;
		n += k;
	}
	return n;
}

TEST(test_strict_schema)
{
	LlmEndpoint ep = {.kind = LLM_KIND_OPENROUTER,
			  .base_url = "https://openrouter.ai/api/v1",
			  .model = "openai/gpt-4o-mini",
			  .api_key = "k",
			  .max_output_tokens = 256};
	LlmHttpRequest req = {0};
	cJSON *b = build(&ep, &req), *s, *unit;

	s = at(b, "response_format.json_schema.schema");
	/* The plan, a command, its args: three objects, all strict. */
	CHECK_INT(strict_objects(s, "schema"), ==, 3);
	unit = at(s, "properties.commands.items.properties.args.properties.unit.type");
	CHECK(cJSON_IsArray(unit) && cJSON_GetArraySize(unit) == 2 &&
	      strcmp(cJSON_GetArrayItem(unit, 1)->valuestring, "null") == 0);
	cJSON_Delete(b);
	llm_request_done(&req);

	/* No parameters in the catalogue: no args at all, still strict. */
	CHECK_INT(llm_request_build(&ep, "S", "U", NULL, &req), ==, 0);
	b = cJSON_Parse(req.body);
	s = at(b, "response_format.json_schema.schema");
	CHECK_INT(strict_objects(s, "schema"), ==, 2);
	CHECK(at(s, "properties.commands.items.properties.args") == NULL);
	cJSON_Delete(b);
	llm_request_done(&req);

	/* A local server with json_schema: the same strict schema, no OpenRouter routing. */
	ep = (LlmEndpoint){.kind = LLM_KIND_OPENAI,
			   .base_url = "http://127.0.0.1:8080/v1",
			   .model = "qwen",
			   .max_output_tokens = 256,
			   .format = LLM_FORMAT_JSON_SCHEMA};
	b = build(&ep, &req);
	CHECK_STR(cJSON_GetStringValue(at(b, "response_format.type")), "json_schema");
	CHECK_INT(strict_objects(at(b, "response_format.json_schema.schema"), "schema"), ==, 3);
	CHECK(cJSON_GetObjectItem(b, "provider") == NULL);
	cJSON_Delete(b);
	llm_request_done(&req);
	ep.format = LLM_FORMAT_JSON_OBJECT;
	b = build(&ep, &req);
	CHECK_STR(cJSON_GetStringValue(at(b, "response_format.type")), "json_object");
	CHECK(at(b, "response_format.json_schema") == NULL);
	cJSON_Delete(b);
	llm_request_done(&req);

	/* Gemini's dialect: nothing nullable, args optional, no additionalProperties. */
	b = gemini_gen("gemini-2.5-flash", 512, &req);
	s = at(b, "generationConfig.responseSchema");
	CHECK_STR(cJSON_GetStringValue(
			  at(s, "properties.commands.items.properties.args.properties.unit.type")),
		  "STRING");
	CHECK(at(s, "properties.commands.items.properties.args.required") == NULL);
	CHECK(at(s, "additionalProperties") == NULL);
	cJSON_Delete(b);
	llm_request_done(&req);
}

TEST(test_thinking_responses)
{
	LlmResponse r;

	/* A thought that reads like a plan is not the answer. */
	r = parse(LLM_KIND_GEMINI, 200, NULL,
		  "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":"
		  "\"{\\\"commands\\\":[{\\\"action\\\":\\\"reboot\\\"}]}\",\"thought\":true},"
		  "{\"text\":\"plan\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
		  "\"promptTokenCount\":7,\"candidatesTokenCount\":3,\"thoughtsTokenCount\":40,"
		  "\"totalTokenCount\":50}}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_OK);
	CHECK_STR(r.text, "plan");
	/* Thinking is billed as output. */
	CHECK_INT(r.tokens_out, ==, 43);
	CHECK_INT(r.tokens_thinking, ==, 40);
	llm_response_done(&r);
	/* "thought": false is an answer part. */
	r = parse(LLM_KIND_GEMINI, 200, NULL,
		  "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\",\"thought\":false},"
		  "{\"text\":\"b\"}]},\"finishReason\":\"STOP\"}]}");
	CHECK_STR(r.text, "ab");
	CHECK_INT(r.tokens_out, ==, -1);
	llm_response_done(&r);
	/* The whole cap spent on thinking: no text, a message that says what to change. */
	r = parse(LLM_KIND_GEMINI, 200, NULL,
		  "{\"candidates\":[{\"content\":{\"role\":\"model\"},\"finishReason\":"
		  "\"MAX_TOKENS\"}],\"usageMetadata\":{\"promptTokenCount\":700,"
		  "\"thoughtsTokenCount\":512,\"totalTokenCount\":1212}}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	CHECK_CONTAINS(r.error, "model spent its output budget thinking (512 thinking tokens); "
				"raise [llm] max_output_tokens");
	CHECK_INT(r.tokens_out, ==, 512);
	CHECK(r.text == NULL);
	llm_response_done(&r);
	/* Only thought parts, then MAX_TOKENS: the same. */
	r = parse(
		LLM_KIND_GEMINI, 200, NULL,
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hmm\",\"thought\":true}]},"
		"\"finishReason\":\"MAX_TOKENS\"}],\"usageMetadata\":{\"thoughtsTokenCount\":9}}");
	CHECK_CONTAINS(r.error, "spent its output budget thinking");
	CHECK(r.text == NULL);
	llm_response_done(&r);
	/* A cut answer after some thinking is a cut answer. */
	r = parse(
		LLM_KIND_GEMINI, 200, NULL,
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"diag\"}]},"
		"\"finishReason\":\"MAX_TOKENS\"}],\"usageMetadata\":{\"thoughtsTokenCount\":9}}");
	CHECK_CONTAINS(r.error, "finishReason MAX_TOKENS");
	CHECK(r.text == NULL);
	llm_response_done(&r);
	/* OpenRouter: reasoning tokens ate max_tokens. */
	r = parse(LLM_KIND_OPENROUTER, 200, NULL,
		  "{\"choices\":[{\"message\":{\"content\":\"\",\"reasoning\":\"...\"},"
		  "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,"
		  "\"completion_tokens\":256,\"total_tokens\":261,\"completion_tokens_details\":{"
		  "\"reasoning_tokens\":256}}}");
	CHECK_CONTAINS(r.error, "spent its output budget thinking (256 thinking tokens)");
	CHECK_INT(r.tokens_out, ==, 256);
	llm_response_done(&r);
}

static LlmResponse parse_error(LlmKind kind, long status, const char *body)
{
	return parse(kind, status, NULL, body);
}

TEST(test_config_faults)
{
	static const struct {
		LlmKind kind;
		long status;
		const char *body;
		LlmOutcome outcome;
		LlmFault fault;
	} cases[] = {
		{LLM_KIND_GEMINI, 400,
		 "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid "
		 "API "
		 "key.\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis."
		 "com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\",\"domain\":"
		 "\"googleapis.com\"}]}}",
		 LLM_OUTCOME_CONFIG, LLM_FAULT_KEY},
		/* Any other 400 may come from the prompt: a plain failure. */
		{LLM_KIND_GEMINI, 400,
		 "{\"error\":{\"code\":400,\"message\":\"The input token count exceeds the "
		 "maximum\","
		 "\"status\":\"INVALID_ARGUMENT\"}}",
		 LLM_OUTCOME_FAIL, LLM_FAULT_NONE},
		{LLM_KIND_GEMINI, 400,
		 "{\"error\":{\"code\":400,\"message\":\"x\",\"status\":\"INVALID_ARGUMENT\","
		 "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\","
		 "\"reason\":\"API_KEY_INVALID\"}]}}",
		 LLM_OUTCOME_FAIL, LLM_FAULT_NONE},
		{LLM_KIND_GEMINI, 400,
		 "{\"error\":{\"code\":400,\"message\":\"Gemini API free tier is not available in "
		 "your country.\",\"status\":\"FAILED_PRECONDITION\"}}",
		 LLM_OUTCOME_CONFIG, LLM_FAULT_BILLING},
		{LLM_KIND_GEMINI, 401, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}",
		 LLM_OUTCOME_CONFIG, LLM_FAULT_KEY},
		{LLM_KIND_GEMINI, 403,
		 "{\"error\":{\"code\":403,\"status\":\"PERMISSION_DENIED\"}}", LLM_OUTCOME_CONFIG,
		 LLM_FAULT_ACCESS},
		{LLM_KIND_GEMINI, 404, "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\"}}",
		 LLM_OUTCOME_CONFIG, LLM_FAULT_MODEL},
		{LLM_KIND_OPENROUTER, 401,
		 "{\"error\":{\"code\":401,\"message\":\"User not found.\"}}", LLM_OUTCOME_CONFIG,
		 LLM_FAULT_KEY},
		{LLM_KIND_OPENROUTER, 402,
		 "{\"error\":{\"code\":402,\"message\":\"Insufficient credits\"}}",
		 LLM_OUTCOME_CONFIG, LLM_FAULT_BILLING},
		/* The in-flight budget: transient. */
		{LLM_KIND_OPENROUTER, 402,
		 "{\"error\":{\"code\":402,\"message\":\"in-flight\",\"metadata\":{\"limit_"
		 "source\":"
		 "\"openrouter_in_flight_budget\"}}}",
		 LLM_OUTCOME_RETRY, LLM_FAULT_NONE},
		/* Moderation of the prompt: the prompt's fault, never the configuration's. */
		{LLM_KIND_OPENROUTER, 403,
		 "{\"error\":{\"code\":403,\"message\":\"Input was flagged\",\"metadata\":{"
		 "\"reasons\":[\"violence\"],\"flagged_input\":\"nginx...\"}}}",
		 LLM_OUTCOME_FAIL, LLM_FAULT_NONE},
		{LLM_KIND_OPENROUTER, 403,
		 "{\"error\":{\"code\":403,\"message\":\"Your input was flagged for moderation\"}}",
		 LLM_OUTCOME_FAIL, LLM_FAULT_NONE},
		{LLM_KIND_OPENROUTER, 403,
		 "{\"error\":{\"code\":403,\"message\":\"Key disabled\"}}", LLM_OUTCOME_CONFIG,
		 LLM_FAULT_ACCESS},
		{LLM_KIND_OPENROUTER, 404,
		 "{\"error\":{\"code\":404,\"message\":\"No endpoints\"}}", LLM_OUTCOME_FAIL,
		 LLM_FAULT_NONE},
		{LLM_KIND_OPENAI, 401, "", LLM_OUTCOME_CONFIG, LLM_FAULT_KEY},
		/* Inside a 200 a code is never a configuration fault. */
		{LLM_KIND_OPENROUTER, 200, "{\"error\":{\"code\":401,\"message\":\"x\"}}",
		 LLM_OUTCOME_FAIL, LLM_FAULT_NONE},
		{LLM_KIND_OPENROUTER, 520, "<html>", LLM_OUTCOME_RETRY, LLM_FAULT_NONE},
		{LLM_KIND_OPENROUTER, 501, "", LLM_OUTCOME_FAIL, LLM_FAULT_NONE},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		LlmResponse r = parse_error(cases[i].kind, cases[i].status, cases[i].body);

		CHECK_(r.outcome == cases[i].outcome && r.fault == cases[i].fault,
		       "case %zu (%s %ld): outcome %d fault %d, error %s", i,
		       llm_kind_name(cases[i].kind), cases[i].status, r.outcome, r.fault, r.error);
		llm_response_done(&r);
	}
	CHECK_STR(llm_fault_name(LLM_FAULT_BILLING), "billing");
	CHECK(llm_fault_name(LLM_FAULT_NONE) == NULL);
}

TEST(test_retry_hints)
{
	static const struct {
		const char *header;
		uint64_t sec;
	} cases[] = {
		{"30", 30},
		{"Wed, 21 Oct 2026 07:29:30 GMT", 90},	  /* IMF-fixdate */
		{"Wednesday, 21-Oct-26 07:28:05 GMT", 5}, /* RFC 850 */
		{"Wed Oct 21 07:28:10 2026", 10},	  /* asctime */
		{"Wed, 21 Oct 2026 07:27:00 GMT", 0},	  /* past */
		{"Thu, 22 Oct 2026 07:28:00 GMT", 3600},  /* a day: capped */
		{"soon", 0},
		{"-5", 0},
		{"", 0},
		{"Wed, 99 Foo 2026 07:29:30 GMT", 0},
	};
	LlmResponse r;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		r = parse(LLM_KIND_OPENROUTER, 429, cases[i].header, "");
		CHECK_(r.retry_after_usec == cases[i].sec * USEC_PER_SEC, "'%s': %llu us",
		       cases[i].header, (unsigned long long)r.retry_after_usec);
		CHECK_INT(r.outcome, ==, LLM_OUTCOME_RETRY);
		llm_response_done(&r);
	}
	/* OpenRouter: an error inside the choice of a 200, retried as its code says. */
	r = parse(LLM_KIND_OPENROUTER, 200, NULL,
		  "{\"choices\":[{\"finish_reason\":\"error\",\"message\":{\"content\":\"\"},"
		  "\"error\":{\"code\":502,\"message\":\"Upstream provider error\"}}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_RETRY);
	CHECK_CONTAINS(r.error, "error in the choice: 502 Upstream provider error");
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENROUTER, 200, NULL,
		  "{\"choices\":[{\"finish_reason\":\"error\",\"message\":{\"content\":\"plan\"},"
		  "\"error\":{\"code\":400,\"message\":\"bad\"}}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	CHECK(r.text == NULL);
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENROUTER, 200, NULL,
		  "{\"choices\":[{\"error\":{\"code\":\"503\",\"message\":\"x\"}}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_RETRY);
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENROUTER, 200, NULL,
		  "{\"choices\":[{\"error\":{\"code\":\"overloaded\",\"message\":\"x\"}}]}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
	llm_response_done(&r);
}

int main(void)
{
	RUN(test_gemini_request);
	RUN(test_chat_requests);
	RUN(test_responses);
	RUN(test_thinking_requests);
	RUN(test_strict_schema);
	RUN(test_thinking_responses);
	RUN(test_config_faults);
	RUN(test_retry_hints);
	return harness_finish();
}
