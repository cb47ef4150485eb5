/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's counters, gauges and histograms, and their Prometheus text
 * exposition (format 0.0.4) for GET /metrics. The daemon records; the API
 * only renders. One registry per daemon, used from its one event loop (no
 * locking). A NULL registry makes every call a no-op, so that the CLI and
 * tests can pass none.
 *
 * Label values come from outside (an action name, a provider, a reason), so
 * each one is cleaned the way text_clean() cleans shown text (invalid UTF-8
 * and hidden characters become '?', tabs and carriage returns a space; '\n'
 * stays and is escaped when rendered), cut to METRICS_LABEL_MAX bytes at a
 * character boundary (two values that share their first 64 bytes count as
 * one), and a family holds at most METRICS_SERIES_MAX label sets: past that,
 * the sample goes to the series whose labels all read "other", and
 * healer_metrics_series_dropped_total counts it. Memory is thus bounded
 * whatever the labels, and allocated as series appear.
 *
 * A label the family needs but the caller passes as NULL or "" is recorded
 * as "unknown" (Prometheus reads an empty value as a missing label); a label
 * the family does not have is ignored.
 */

#include <stddef.h>

#define METRICS_LABEL_MAX  64 /* bytes of one label value, after cleaning */
#define METRICS_SERIES_MAX 64 /* label sets per family, the "other" series aside */

typedef struct Metrics Metrics;

typedef enum MetricId {
	M_JOURNAL_ENTRIES, /* counter healer_journal_entries_read_total */
	M_JOURNAL_LAG,	   /* gauge healer_journal_lag_seconds */
	M_INCIDENTS,	   /* counter healer_incidents_total{source} (journal, manual, injected) */
	M_INCIDENTS_DROPPED,	 /* counter healer_incidents_dropped_total{reason} */
	M_ATTEMPTS,		 /* counter healer_attempts_total{result} (final states) */
	M_COMMANDS,		 /* counter healer_commands_total{action,result} */
	M_REJECTIONS,		 /* counter healer_rejections_total{reason} */
	M_PRECONDITION_REFUSALS, /* counter healer_precondition_refusals_total{check} */
	M_LLM_REQUESTS,		 /* counter healer_llm_requests_total{provider,result} */
	M_LLM_LATENCY,		 /* histogram healer_llm_request_duration_seconds{provider} */
	M_TIME_TO_HEAL,		 /* histogram healer_time_to_heal_seconds */
	M_API_REQUESTS,		 /* counter healer_api_requests_total{code} */
	M_UP_SINCE,		 /* gauge healer_start_time_seconds (set by metrics_new()) */
	M_UNIT_SIGNALS, /* counter healer_unit_signals_total{result} (reported, refused, over_cap)
			 */
	_M_MAX,
} MetricId;

/* A new registry, its start time set to now; NULL on OOM. */
Metrics *metrics_new(void);

/* Frees m; takes NULL, returns NULL. */
Metrics *metrics_free(Metrics *m);

/*
 * Adds v to a counter (v finite and >= 0) or a gauge (v finite); anything
 * else, or a histogram id, is ignored. label1 and label2 are the family's
 * labels in the order of the comment above; the caller keeps them.
 */
void metrics_add(Metrics *m, MetricId id, double v, const char *label1, const char *label2);

/*
 * Sets a gauge to v (NaN and infinities allowed; they render as the format
 * spells them), or a counter to v (finite, >= 0: for a count the caller
 * keeps itself). Anything else is ignored.
 */
void metrics_set(Metrics *m, MetricId id, double v, const char *label1, const char *label2);

/* Adds one finite observation v to a histogram; anything else is ignored. */
void metrics_observe(Metrics *m, MetricId id, double v, const char *label1);

/*
 * The exposition text (0.0.4), NUL-terminated, in *ret (the caller frees)
 * and its length in *ret_len. Every family has its HELP and TYPE lines;
 * families without labels show 0 from the start, labelled ones the series
 * seen. With m NULL, the empty text (no families, still valid). 0, or
 * -ENOMEM.
 */
int metrics_render(const Metrics *m, char **ret, size_t *ret_len);
