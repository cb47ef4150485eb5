/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/metrics.h"

/*
 * The bounds on memory, whoever picks the label values: a series is a fixed
 * struct (its label values inline), a family holds METRICS_SERIES_MAX of
 * them plus the "other" series, so the whole registry stays under
 * _M_MAX * 65 * sizeof(Series), about 200 KiB, and the rendered text under
 * a few hundred KiB.
 */
#define LABELS_MAX  2
#define BUCKETS_MAX 12
#define SERIES_CAP  (METRICS_SERIES_MAX + 1)

typedef enum Kind {
	KIND_COUNTER,
	KIND_GAUGE,
	KIND_HISTOGRAM,
} Kind;

typedef struct FamilyInfo {
	const char *name;
	Kind kind;
	const char *label1, *label2; /* label names, NULL for none */
	const double *buckets;	     /* histograms: upper bounds, ascending, +Inf implied */
	size_t n_buckets;
	const char *help;
} FamilyInfo;

/* Seconds; a model call that takes past a minute has timed out anyway. */
static const double llm_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60};
/* Seconds from an incident to its verified heal: a restart, up to a slow rebuild. */
static const double heal_buckets[] = {1, 2, 5, 10, 20, 30, 60, 120, 300, 600};

_Static_assert(ELEMENTSOF(llm_buckets) <= BUCKETS_MAX, "llm_buckets");
_Static_assert(ELEMENTSOF(heal_buckets) <= BUCKETS_MAX, "heal_buckets");

/* One row per family: name, type, labels, buckets, HELP. */
static const FamilyInfo families[_M_MAX] = {
	[M_JOURNAL_ENTRIES] = {"healer_journal_entries_read_total", KIND_COUNTER, NULL, NULL, NULL,
			       0, "Journal entries read by the follower."},
	[M_JOURNAL_LAG] = {"healer_journal_lag_seconds", KIND_GAUGE, NULL, NULL, NULL, 0,
			   "Seconds between the newest journal entry and the last one read."},
	[M_INCIDENTS] =
		{"healer_incidents_total", KIND_COUNTER, "source", NULL, NULL, 0,
		 "Incidents opened, by where they came from (journal, manager-signal, manual, "
		 "injected)."},
	[M_INCIDENTS_DROPPED] = {"healer_incidents_dropped_total", KIND_COUNTER, "reason", NULL,
				 NULL, 0, "Incidents dropped before analysis, by reason."},
	[M_ATTEMPTS] = {"healer_attempts_total", KIND_COUNTER, "result", NULL, NULL, 0,
			"Healing attempts that reached a final state, by that state."},
	[M_COMMANDS] = {"healer_commands_total", KIND_COUNTER, "action", "result", NULL, 0,
			"Whitelisted commands run, by action and result."},
	[M_REJECTIONS] = {"healer_rejections_total", KIND_COUNTER, "reason", NULL, NULL, 0,
			  "Proposed commands refused by the whitelist or the policy, by reason."},
	[M_PRECONDITION_REFUSALS] =
		{"healer_precondition_refusals_total", KIND_COUNTER, "check", NULL, NULL, 0,
		 "Commands not run because a precondition did not hold, by check."},
	[M_LLM_REQUESTS] = {"healer_llm_requests_total", KIND_COUNTER, "provider", "result", NULL,
			    0, "Requests to a model provider, by provider and result."},
	[M_LLM_LATENCY] = {"healer_llm_request_duration_seconds", KIND_HISTOGRAM, "provider", NULL,
			   llm_buckets, ELEMENTSOF(llm_buckets),
			   "Duration of requests to a model provider."},
	[M_TIME_TO_HEAL] = {"healer_time_to_heal_seconds", KIND_HISTOGRAM, NULL, NULL, heal_buckets,
			    ELEMENTSOF(heal_buckets),
			    "Seconds from an incident to its verified heal."},
	[M_API_REQUESTS] = {"healer_api_requests_total", KIND_COUNTER, "code", NULL, NULL, 0,
			    "API requests answered, by HTTP status code."},
	[M_UP_SINCE] = {"healer_start_time_seconds", KIND_GAUGE, NULL, NULL, NULL, 0,
			"Start time of the daemon in seconds since the Unix epoch."},
	[M_UNIT_SIGNALS] = {"healer_unit_signals_total", KIND_COUNTER, "result", NULL, NULL, 0,
			    "The service manager's failure signals (watch_units): reported, "
			    "refused (not the manager's) and over the rate cap."},
};

typedef struct Series {
	char values[LABELS_MAX][METRICS_LABEL_MAX + 1];
	double value;		       /* counter or gauge; a histogram's sum */
	uint64_t count;		       /* histogram: observations */
	uint64_t buckets[BUCKETS_MAX]; /* histogram: per bucket, summed up when rendered */
} Series;

typedef struct Family {
	Series *series;
	size_t n, allocated;
} Family;

struct Metrics {
	Family families[_M_MAX];
	uint64_t series_dropped; /* folded into "other", or lost for want of memory */
};

static size_t arity(const FamilyInfo *info)
{
	return info->label2 ? 2 : info->label1 ? 1 : 0;
}

Metrics *metrics_new(void)
{
	Metrics *m = calloc(1, sizeof *m);
	struct timespec ts;

	if (!m)
		return NULL;
	/* A family without labels has its one series from the start: it shows 0. */
	for (size_t i = 0; i < _M_MAX; i++) {
		if (arity(&families[i]) > 0)
			continue;
		m->families[i].series = calloc(1, sizeof(Series));
		if (!m->families[i].series)
			return metrics_free(m);
		m->families[i].n = m->families[i].allocated = 1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	m->families[M_UP_SINCE].series[0].value = (double)ts.tv_sec;
	return m;
}

Metrics *metrics_free(Metrics *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < _M_MAX; i++)
		free(m->families[i].series);
	free(m);
	return NULL;
}

/*
 * One label value as stored: "unknown" for none, else the cleaned text cut
 * at METRICS_LABEL_MAX bytes. At most 4 input bytes make one output byte
 * (a hidden 4-byte character becomes '?'), so reading further than that is
 * never needed, whatever the length of s. -ENOMEM.
 */
static int label_clean(const char *s, char out[static METRICS_LABEL_MAX + 1])
{
	_cleanup_free_ char *c = NULL;
	size_t n;

	if (!s || !*s) {
		memcpy(out, "unknown", sizeof "unknown");
		return 0;
	}
	c = text_clean(s, strnlen(s, 4 * METRICS_LABEL_MAX), METRICS_LABEL_MAX, TEXT_KEEP_NEWLINES,
		       &n, NULL);
	if (!c)
		return -ENOMEM;
	memcpy(out, c, n + 1);
	return 0;
}

static Series *family_find(Family *f, size_t nl, char values[LABELS_MAX][METRICS_LABEL_MAX + 1])
{
	for (size_t i = 0; i < f->n; i++) {
		size_t l = 0;

		while (l < nl && strcmp(f->series[i].values[l], values[l]) == 0)
			l++;
		if (l == nl)
			return &f->series[i];
	}
	return NULL;
}

/*
 * The series of id for these labels, made if new. A new label set past
 * METRICS_SERIES_MAX goes to the "other" series instead (made once, the
 * one slot past the bound), and is counted; so is a sample lost to OOM
 * (NULL then).
 */
static Series *series_get(Metrics *m, MetricId id, const char *label1, const char *label2)
{
	const FamilyInfo *info = &families[id];
	Family *f = &m->families[id];
	char values[LABELS_MAX][METRICS_LABEL_MAX + 1] = {{0}};
	size_t nl = arity(info);
	bool folded = false;
	Series *s;

	if (nl == 0)
		return &f->series[0];
	if (label_clean(label1, values[0]) < 0 || (nl > 1 && label_clean(label2, values[1]) < 0))
		goto lost;
	s = family_find(f, nl, values);
	if (s)
		return s;
	if (f->n >= METRICS_SERIES_MAX) {
		for (size_t l = 0; l < nl; l++)
			memcpy(values[l], "other", sizeof "other");
		m->series_dropped++;
		folded = true;
		s = family_find(f, nl, values);
		if (s)
			return s;
		assert(f->n < SERIES_CAP);
	}
	if (f->n == f->allocated) {
		size_t want = f->allocated ? f->allocated * 2 : 4;
		Series *grown;

		if (want > SERIES_CAP)
			want = SERIES_CAP;
		grown = reallocarray(f->series, want, sizeof *grown);
		if (!grown)
			goto lost;
		f->series = grown;
		f->allocated = want;
	}
	s = &f->series[f->n++];
	memset(s, 0, sizeof *s);
	memcpy(s->values, values, sizeof values);
	return s;
lost:
	if (!folded)
		m->series_dropped++; /* one sample, counted once */
	return NULL;
}

static bool valid_id(const Metrics *m, MetricId id)
{
	return m && (unsigned)id < _M_MAX;
}

void metrics_add(Metrics *m, MetricId id, double v, const char *label1, const char *label2)
{
	Series *s;

	if (!valid_id(m, id) || !isfinite(v))
		return;
	if (families[id].kind == KIND_HISTOGRAM || (families[id].kind == KIND_COUNTER && v < 0))
		return; /* a counter only goes up */
	s = series_get(m, id, label1, label2);
	if (s)
		s->value += v;
}

void metrics_set(Metrics *m, MetricId id, double v, const char *label1, const char *label2)
{
	Series *s;

	if (!valid_id(m, id) || families[id].kind == KIND_HISTOGRAM)
		return;
	if (families[id].kind == KIND_COUNTER && !(isfinite(v) && v >= 0))
		return;
	s = series_get(m, id, label1, label2);
	if (s)
		s->value = v;
}

void metrics_observe(Metrics *m, MetricId id, double v, const char *label1)
{
	const FamilyInfo *info;
	Series *s;
	size_t b = 0;

	if (!valid_id(m, id) || families[id].kind != KIND_HISTOGRAM || !isfinite(v))
		return;
	info = &families[id];
	s = series_get(m, id, label1, NULL);
	if (!s)
		return;
	while (b < info->n_buckets && v > info->buckets[b])
		b++;
	if (b < info->n_buckets)
		s->buckets[b]++; /* past the last bound, only the +Inf bucket (the count) has it */
	s->count++;
	s->value += v;
}

/*
 * A sample value as the format spells it: NaN, +Inf, -Inf; an integer
 * without a fraction or exponent while a double holds it exactly; else the
 * shortest %g that reads back as the same double (at most 17 digits). The
 * daemon never calls setlocale(), so the decimal point is '.'.
 */
static void format_value(double v, char buf[static 32])
{
	if (isnan(v))
		memcpy(buf, "NaN", 4);
	else if (isinf(v))
		memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
	else if (v == 0)
		memcpy(buf, "0", 2); /* and -0 */
	else if (fabs(v) < 0x1p53 && v == trunc(v))
		snprintf(buf, 32, "%.0f", v);
	else
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(buf, 32, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
}

/*
 * Escapes for a label value (backslash, double quote, line feed) or, with
 * quote false, for HELP text (backslash and line feed only).
 */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++)
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quote)
			fputs("\\\"", f);
		else
			fputc(*s, f);
}

/* name{label="value",...,le="bound"} value, le only when given. */
static void put_sample(FILE *f, const char *name, const char *suffix, const FamilyInfo *info,
		       const Series *s, const char *le, double v)
{
	size_t nl = arity(info);
	char num[32];

	fputs(name, f);
	fputs(suffix, f);
	if (nl > 0 || le) {
		fputc('{', f);
		for (size_t l = 0; l < nl; l++) {
			fprintf(f, "%s%s=\"", l ? "," : "", l ? info->label2 : info->label1);
			put_escaped(f, s->values[l], true);
			fputc('"', f);
		}
		if (le)
			fprintf(f, "%sle=\"%s\"", nl ? "," : "", le);
		fputc('}', f);
	}
	format_value(v, num);
	fprintf(f, " %s\n", num);
}

static void put_header(FILE *f, const char *name, const char *help, Kind kind)
{
	static const char *const kinds[] = {
		[KIND_COUNTER] = "counter",
		[KIND_GAUGE] = "gauge",
		[KIND_HISTOGRAM] = "histogram",
	};

	fprintf(f, "# HELP %s ", name);
	put_escaped(f, help, false);
	fprintf(f, "\n# TYPE %s %s\n", name, kinds[kind]);
}

static void put_histogram(FILE *f, const FamilyInfo *info, const Series *s)
{
	uint64_t cumulative = 0;
	char le[32];

	for (size_t b = 0; b < info->n_buckets; b++) {
		cumulative += s->buckets[b];
		format_value(info->buckets[b], le);
		put_sample(f, info->name, "_bucket", info, s, le, (double)cumulative);
	}
	put_sample(f, info->name, "_bucket", info, s, "+Inf", (double)s->count);
	put_sample(f, info->name, "_sum", info, s, NULL, s->value);
	put_sample(f, info->name, "_count", info, s, NULL, (double)s->count);
}

int metrics_render(const Metrics *m, char **ret, size_t *ret_len)
{
	static const FamilyInfo dropped = {
		.name = "healer_metrics_series_dropped_total",
		.help = "Samples recorded under the label value \"other\" because their family "
			"had no room for another label set, or lost for want of memory.",
		.kind = KIND_COUNTER,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool failed;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; m && i < _M_MAX; i++) {
		const FamilyInfo *info = &families[i];
		const Family *fam = &m->families[i];

		put_header(f, info->name, info->help, info->kind);
		for (size_t k = 0; k < fam->n; k++)
			if (info->kind == KIND_HISTOGRAM)
				put_histogram(f, info, &fam->series[k]);
			else
				put_sample(f, info->name, "", info, &fam->series[k], NULL,
					   fam->series[k].value);
	}
	if (m) {
		Series total = {.value = (double)m->series_dropped};

		put_header(f, dropped.name, dropped.help, dropped.kind);
		put_sample(f, dropped.name, "", &dropped, &total, NULL, total.value);
	}
	failed = ferror(f);
	if (fclose(f) != 0 || failed || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
