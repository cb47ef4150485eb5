/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One analysis: the configured provider over HTTP with retries (honouring
 * the server's hints, jittered exponential backoff otherwise), a circuit
 * breaker that leaves a failing provider alone for a while, and the offline
 * rules as the answer whenever the provider cannot give one. Never blocks:
 * everything runs on the sd-event loop. Every HTTP call is recorded.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "llm/provider.h"

typedef struct LlmRules LlmRules;
typedef struct LlmClient LlmClient;
typedef struct LlmJob LlmJob;

typedef struct LlmClientOptions {
	LlmEndpoint endpoint; /* kind 0: offline rules only */
	uint64_t timeout_usec;
	unsigned max_retries;
	unsigned breaker_failures;     /* failed analyses in a row that open the breaker */
	uint64_t breaker_cooloff_usec; /* how long it stays open */
	uint64_t base_backoff_usec;    /* first retry wait without a hint (1 s) */
	uint64_t max_wait_usec;	       /* a hint longer than this gives up (5 min) */
	uint64_t total_usec; /* one analysis, retries included (timeout x tries + 1 min) */
	/*
	 * How long a configuration fault (a bad key, billing off, no credits, no
	 * such model) stops all calls (1 h): every call would fail alike until
	 * an administrator acts, and a reload builds a new client that tries at
	 * once. After it, the next analysis makes one call to see.
	 */
	uint64_t fault_cooloff_usec;
} LlmClientOptions;

typedef struct LlmCallRecord {
	long http_status; /* 0 when no response arrived */
	uint64_t latency_usec;
	int64_t tokens_in, tokens_out, tokens_total; /* -1 when not reported */
	int64_t tokens_thinking; /* part of tokens_out (billed as output), -1 when not reported */
	/* "ok", "retry", "fail", "config", "timeout", "transport", "too_big" */
	const char *outcome;
	char *error;
} LlmCallRecord;

typedef struct LlmAnalysis {
	const char *provider; /* "gemini", "openrouter", "openai" or "rules" */
	const char *model;    /* NULL for rules */
	char *reply;	      /* the reply text to vet, or NULL when there is none */
	bool fallback;	      /* the rules answered because the provider could not */
	char *error;	      /* why the provider gave no reply, or NULL */
	/*
	 * Not LLM_FAULT_NONE: the provider was not asked, or refused, because
	 * of a configuration fault; error then begins "configuration fault".
	 */
	LlmFault fault;
	const char *rule; /* the rule that answered, or NULL */
	size_t n_calls;
	LlmCallRecord *calls;
} LlmAnalysis;

/* What the rules need to know of the incident. */
typedef struct LlmIncidentInput {
	const char *unit;
	int priority;
	const char *message;
} LlmIncidentInput;

/* Called once, from the loop; takes ownership of a (free with llm_analysis_free()). */
typedef void (*llm_analysis_fn)(LlmAnalysis *a, void *userdata);

/* rules (may be NULL) is borrowed and must outlive the client. */
int llm_client_new(sd_event *e, const LlmClientOptions *opts, const LlmRules *rules,
		   LlmClient **ret);
/* Cancels analyses still running; their callbacks are not called. */
LlmClient *llm_client_free(LlmClient *c);

/*
 * Starts one analysis. system/user are the prompt (ignored by the rules),
 * arg_names the catalogue's parameter names for the response schema.
 * *ret_job (optional) identifies it until done is called or it is cancelled.
 */
int llm_client_analyze(LlmClient *c, const char *system, const char *user,
		       const char *const *arg_names, const LlmIncidentInput *in,
		       llm_analysis_fn done, void *userdata, LlmJob **ret_job);

/* Stops an analysis still running (its HTTP call, its timers); done is not called. */
void llm_client_cancel(LlmJob *j);

bool llm_client_breaker_open(const LlmClient *c);

/*
 * The last configuration fault, one line ("HTTP 400 INVALID_ARGUMENT
 * API_KEY_INVALID: API key not valid..."), or NULL when there is none: for
 * the daemon's status. It stays until a call gets a 2xx answer, also after
 * fault_cooloff_usec has let one call through. *ret_kind (optional) is set
 * either way. The string is the client's: copy it before the loop runs on.
 */
const char *llm_client_fault(const LlmClient *c, LlmFault *ret_kind);

LlmAnalysis *llm_analysis_free(LlmAnalysis *a);
