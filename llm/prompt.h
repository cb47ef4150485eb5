/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The prompt: a fixed system instruction, the catalogue of allowed actions,
 * and the evidence as JSON inside markers that carry a random nonce, so log
 * text cannot fake the end of the evidence. The evidence (context lines and
 * message as one text, unit, identifier) is redacted first.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps of what is shown; each line is cut to its cap after redaction, never before. */
#define LLM_PROMPT_BUDGET      (32 * 1024) /* bytes of system + user prompt at most */
#define LLM_PROMPT_LINE_MAX    512	   /* bytes of one context line kept */
#define LLM_PROMPT_MESSAGE_MAX 2048	   /* bytes of the message kept */

typedef struct LlmCatalogParam {
	const char *name;
	const char *pattern;
} LlmCatalogParam;

typedef struct LlmCatalogEntry {
	const char *name;
	const char *description;
	size_t n_params;
	const LlmCatalogParam *params;
} LlmCatalogEntry;

typedef struct LlmEvidence {
	const char *unit;	/* trusted unit, may be NULL */
	const char *identifier; /* may be NULL */
	int priority;
	const char *message;
	uint64_t count;		    /* lines folded into the incident */
	const char *const *context; /* oldest first, may be NULL */
	size_t n_context;
} LlmEvidence;

typedef struct LlmPrompt {
	char *system;
	char *user;
	unsigned redactions;	/* secrets replaced */
	size_t context_dropped; /* context lines left out to fit the budget */
} LlmPrompt;

/*
 * Builds the prompt. max_commands is told to the model. The newest context
 * lines up to 256 KiB are redacted with the message; older ones, and then
 * the oldest of those until the prompt fits, are left out (context_dropped).
 * Returns 0, -E2BIG when even without context the prompt exceeds the budget
 * or the message is over LLM_REDACT_MAX, -ENOMEM, or -EINVAL when redaction
 * failed (nothing may then be sent).
 */
int llm_prompt_build(const LlmCatalogEntry *catalog, size_t n_catalog, size_t max_commands,
		     const LlmEvidence *ev, bool redact, LlmPrompt *ret);
void llm_prompt_done(LlmPrompt *p);
