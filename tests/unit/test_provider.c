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

	CHECK_INT(llm_response_parse(kind, status, retry_after, body, strlen(body), &r), ==, 0);
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
	r = parse(LLM_KIND_OPENROUTER, 503, "Wed, 21 Oct 2026 07:28:00 GMT", "");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_RETRY);
	CHECK_INT(r.retry_after_usec, ==, 0);
	llm_response_done(&r);
	r = parse(LLM_KIND_OPENROUTER, 402, NULL,
		  "{\"error\":{\"code\":402,\"message\":\"credits\"}}");
	CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
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
		CHECK_INT(llm_response_parse(LLM_KIND_OPENAI, 200, NULL, big, n, &r), ==, 0);
		CHECK_INT(r.outcome, ==, LLM_OUTCOME_FAIL);
		CHECK_CONTAINS(r.error, "cap");
		llm_response_done(&r);
		free(big);
	}
}

int main(void)
{
	RUN(test_gemini_request);
	RUN(test_chat_requests);
	RUN(test_responses);
	return harness_finish();
}
