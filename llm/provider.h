/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The wire formats (shared/WIRE.md): building a request for Gemini's
 * generateContent or an OpenAI-style chat completion (OpenRouter, Ollama,
 * llama.cpp, vLLM), and reading the response into reply text or a failure
 * with its class. Pure functions: no I/O, so they can be fuzzed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LLM_RESPONSE_MAX_BYTES (1024 * 1024)

typedef enum LlmKind {
	LLM_KIND_GEMINI = 1,
	LLM_KIND_OPENROUTER,
	LLM_KIND_OPENAI,
} LlmKind;

typedef struct LlmEndpoint {
	LlmKind kind;
	const char *base_url;
	const char *model;
	const char *api_key; /* may be NULL for a local openai server */
	const char *referer; /* OpenRouter attribution, optional */
	const char *title;
	uint64_t max_output_tokens;
} LlmEndpoint;

typedef struct LlmHttpRequest {
	char *url;
	char **headers; /* NULL-terminated "Name: value" */
	char *body;
} LlmHttpRequest;

/*
 * arg_names: NULL-terminated parameter names of the catalogue, for the
 * response schema (may be NULL). Returns 0 and a new request (the key only
 * ever in a header), -EINVAL, -ENOMEM.
 */
int llm_request_build(const LlmEndpoint *ep, const char *system, const char *user,
		      const char *const *arg_names, LlmHttpRequest *ret);
void llm_request_done(LlmHttpRequest *r);

typedef enum LlmOutcome {
	LLM_OUTCOME_OK,	   /* text holds the reply */
	LLM_OUTCOME_RETRY, /* transient: 429, 5xx, timeout; retry_after_usec may say when */
	LLM_OUTCOME_FAIL,  /* do not retry: 4xx, blocked, truncated, malformed */
} LlmOutcome;

typedef struct LlmResponse {
	LlmOutcome outcome;
	char *text;				     /* OK: the model's reply text */
	char *error;				     /* otherwise: what went wrong, one line */
	uint64_t retry_after_usec;		     /* a server's hint, 0 when none */
	int64_t tokens_in, tokens_out, tokens_total; /* -1 when not reported */
	char *model_version;
} LlmResponse;

/*
 * Reads an HTTP response. retry_after is the Retry-After header or NULL.
 * Returns 0 (the outcome says what happened) or -ENOMEM.
 */
int llm_response_parse(LlmKind kind, long http_status, const char *retry_after, const char *body,
		       size_t len, LlmResponse *ret);
void llm_response_done(LlmResponse *r);

const char *llm_kind_name(LlmKind kind);
