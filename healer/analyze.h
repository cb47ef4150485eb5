/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one analysis path: from settings and an incident's evidence to a
 * vetted plan. The evidence is cleaned to plain text, redacted and framed
 * into a prompt; the configured provider (or the offline rules) answers
 * asynchronously on the sd-event loop; the whitelist judges the reply.
 * Nothing here runs a command. The CLI, the daemon and the API all call it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "healer/plan.h"
#include "healer/settings.h"
#include "llm/client.h"

/* The evidence of one incident. All of it is untrusted text except unit. */
typedef struct AnalyzeInput {
	const char *unit;	/* the trusted unit: unit actions must name it; may be NULL */
	const char *identifier; /* SYSLOG_IDENTIFIER, may be NULL */
	int priority;
	const char *message;
	uint64_t count;		    /* lines folded into the incident (0 counts as 1) */
	const char *const *context; /* oldest first, may be NULL */
	size_t n_context;
} AnalyzeInput;

/* What one analysis found; owns every string in it. */
typedef struct Analysis {
	char *provider; /* "gemini", "openrouter", "openai" or "rules" */
	char *model;	/* NULL for the rules */
	char *rule;	/* the rule that answered, or NULL */
	bool fallback;	/* the rules answered because the provider could not */
	char *error;	/* why the provider gave no usable reply, or NULL */
	LlmFault fault; /* a configuration fault (bad key, billing...) behind error */
	unsigned redactions;
	size_t context_dropped;
	size_t n_calls;
	LlmCallRecord *calls; /* every HTTP call, in order */
	char *reply;	      /* the raw reply that was vetted, or NULL */
	Plan *plan;	      /* always set: accepted, or refused with its reason */
} Analysis;

Analysis *analysis_free(Analysis *a);
static inline void analysis_freep(Analysis **a)
{
	*a = analysis_free(*a);
}

typedef struct Analyzer Analyzer;
typedef struct AnalysisJob AnalysisJob;

/* Called once, from the loop; takes ownership of a, which is NULL when memory ran out. */
typedef void (*analysis_done_fn)(Analysis *a, void *userdata);

/*
 * An analyzer on loop e with settings s (a reference is taken). Its client
 * keeps the provider's circuit breaker: one analyzer per settings
 * generation, so that a reload starts with a closed breaker.
 */
int analyzer_new(sd_event *e, Settings *s, Analyzer **ret);
Analyzer *analyzer_ref(Analyzer *a);
/* Drops one reference; jobs in flight hold their own. Takes NULL, returns NULL. */
Analyzer *analyzer_unref(Analyzer *a);
static inline void analyzer_unrefp(Analyzer **a)
{
	*a = analyzer_unref(*a);
}

bool analyzer_breaker_open(const Analyzer *a);

/*
 * The provider's standing configuration fault (a key it refuses, billing,
 * access, an unknown model): one line, and its kind in *ret_kind (optional);
 * NULL when there is none. The daemon's status shows it.
 */
const char *analyzer_fault(const Analyzer *a, LlmFault *ret_kind);

/*
 * Starts one analysis of in (copied: the caller may free it at once).
 * done is always called from the loop, never inline, unless the job is
 * cancelled first. *ret_job (optional) identifies the job until then.
 * Returns 0, -ENOMEM, or -E2BIG / -EINVAL when no prompt can be built
 * (evidence over the budget, redaction failed: nothing is sent).
 */
int analyze_start(Analyzer *a, const AnalyzeInput *in, analysis_done_fn done, void *userdata,
		  AnalysisJob **ret_job);

/* Stops a job: its HTTP call ends, done is not called. Takes NULL. */
void analyze_cancel(AnalysisJob *j);
