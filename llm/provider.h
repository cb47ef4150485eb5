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

/*
 * How an OpenAI-style request asks for JSON. OpenRouter always gets a strict
 * json_schema (with require_parameters); for a local server (LLM_KIND_OPENAI)
 * it is a setting: json_object is what most servers know (Ollama maps it to
 * format "json"), json_schema is grammar-enforced by llama.cpp, vLLM and
 * Ollama 0.5+, and refused or ignored by older servers.
 */
typedef enum LlmFormat {
	LLM_FORMAT_AUTO = 0, /* the kind's default: json_object for openai */
	LLM_FORMAT_JSON_OBJECT,
	LLM_FORMAT_JSON_SCHEMA,
} LlmFormat;

typedef struct LlmEndpoint {
	LlmKind kind;
	const char *base_url;
	const char *model;
	const char *api_key; /* may be NULL for a local openai server */
	const char *referer; /* OpenRouter attribution, optional */
	const char *title;
	uint64_t max_output_tokens; /* for the answer; thinking room is added per model */
	LlmFormat format;	    /* LLM_KIND_OPENAI only */
} LlmEndpoint;

/*
 * Gemini's thinking per model family (thinking tokens count against
 * maxOutputTokens, and 2.5 models think by default):
 *   gemini-2.5-flash*, -flash-lite*: thinkingBudget 0 (off), the cap as set;
 *   gemini-2.5-pro*: cannot be off: thinkingBudget 128, cap + 1024;
 *   gemini-3*: thinkingLevel "low", cap + 8192;
 *   anything else: no thinkingConfig and the cap as set (older models refuse
 *   thinkingConfig and a cap above their limit). A thinking model unknown here
 *   needs a larger [llm] max_output_tokens; its failure says so.
 * The cap never passes LLM_GEMINI_MAX_OUTPUT_TOKENS.
 */
typedef struct LlmThinking {
	bool send;	       /* send generationConfig.thinkingConfig */
	int64_t budget;	       /* thinkingBudget, or -1 for none */
	const char *level;     /* thinkingLevel, or NULL */
	uint64_t extra_tokens; /* added to maxOutputTokens */
} LlmThinking;

#define LLM_GEMINI_MAX_OUTPUT_TOKENS 65536

LlmThinking llm_gemini_thinking(const char *model);

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
	/*
	 * The configuration is wrong and every call would fail alike until an
	 * administrator acts: fault says which. Only statuses that depend on
	 * the key, the account or the model name, never on the prompt (which
	 * anyone who writes a journal line shapes): a moderation 403 is FAIL.
	 */
	LLM_OUTCOME_CONFIG,
} LlmOutcome;

typedef enum LlmFault {
	LLM_FAULT_NONE = 0,
	LLM_FAULT_KEY,	   /* key invalid or missing: Gemini 400 API_KEY_INVALID, 401 */
	LLM_FAULT_BILLING, /* Gemini 400 FAILED_PRECONDITION, OpenRouter 402 without credits */
	LLM_FAULT_ACCESS,  /* 403 that is not moderation: the key may not use this */
	LLM_FAULT_MODEL,   /* Gemini 404: no such model */
} LlmFault;

typedef struct LlmResponse {
	LlmOutcome outcome;
	LlmFault fault;				     /* LLM_OUTCOME_CONFIG: which */
	char *text;				     /* OK: the model's reply text */
	char *error;				     /* otherwise: what went wrong, one line */
	uint64_t retry_after_usec;		     /* a server's hint, 0 when none */
	int64_t tokens_in, tokens_out, tokens_total; /* -1 when not reported */
	int64_t tokens_thinking; /* part of tokens_out (billed as output), -1 when not reported */
	char *model_version;
} LlmResponse;

/*
 * Reads an HTTP response. retry_after is the Retry-After header or NULL:
 * delay-seconds or an HTTP date (IMF-fixdate, or the obsolete RFC 850 and
 * asctime forms), counted from now_unix (seconds since the epoch; 0 reads
 * the clock). Returns 0 (the outcome says what happened) or -ENOMEM.
 */
int llm_response_parse(LlmKind kind, long http_status, const char *retry_after, int64_t now_unix,
		       const char *body, size_t len, LlmResponse *ret);
void llm_response_done(LlmResponse *r);

const char *llm_kind_name(LlmKind kind);
/* "key", "billing", "access", "model"; NULL for LLM_FAULT_NONE. */
const char *llm_fault_name(LlmFault fault);
