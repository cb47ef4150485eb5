/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "metrics_text.h"
#include "common/text.h"
#include "common/util.h"
#include "healer/metrics.h"

static const char *const family_names[] = {
	"healer_journal_entries_read_total",
	"healer_journal_lag_seconds",
	"healer_incidents_total",
	"healer_incidents_dropped_total",
	"healer_attempts_total",
	"healer_commands_total",
	"healer_rejections_total",
	"healer_precondition_refusals_total",
	"healer_llm_requests_total",
	"healer_llm_request_duration_seconds",
	"healer_time_to_heal_seconds",
	"healer_api_requests_total",
	"healer_start_time_seconds",
	"healer_metrics_series_dropped_total",
};

static char *render(const Metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	int r = metrics_render(m, &text, &len);

	CHECK_INT(r, ==, 0);
	if (r < 0)
		return NULL;
	CHECK_INT(strlen(text), ==, len);
	return text;
}

/* How many lines of text begin with prefix. */
static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, pl) == 0)
			n++;
	return n;
}

TEST(test_null_registry)
{
	char *text = NULL;
	size_t len = 1;

	metrics_add(NULL, M_COMMANDS, 1, "restart", "ok");
	metrics_set(NULL, M_JOURNAL_LAG, 3, NULL, NULL);
	metrics_observe(NULL, M_LLM_LATENCY, 0.2, "openai");
	CHECK(metrics_free(NULL) == NULL);
	CHECK_INT(metrics_render(NULL, &text, &len), ==, 0);
	CHECK_STR(text, "");
	CHECK_INT(len, ==, 0);
	free(text);
}

TEST(test_fresh_registry)
{
	Metrics *m = metrics_new();
	char *text = render(m), line[128];
	double start = sample(text, "healer_start_time_seconds");

	for (size_t i = 0; i < ELEMENTSOF(family_names); i++) {
		snprintf(line, sizeof line, "# HELP %s ", family_names[i]);
		CHECK_INT(count_lines(text, line), ==, 1);
		snprintf(line, sizeof line, "# TYPE %s ", family_names[i]);
		CHECK_INT(count_lines(text, line), ==, 1);
	}
	CHECK_CONTAINS(text, "# TYPE healer_commands_total counter\n");
	CHECK_CONTAINS(text, "# TYPE healer_journal_lag_seconds gauge\n");
	CHECK_CONTAINS(text, "# TYPE healer_time_to_heal_seconds histogram\n");
	/* Without labels: 0 from the start. With labels: nothing until seen. */
	CHECK_CONTAINS(text, "\nhealer_journal_entries_read_total 0\n");
	CHECK_CONTAINS(text, "\nhealer_journal_lag_seconds 0\n");
	CHECK_CONTAINS(text, "\nhealer_metrics_series_dropped_total 0\n");
	CHECK_CONTAINS(text, "\nhealer_time_to_heal_seconds_bucket{le=\"1\"} 0\n");
	CHECK_CONTAINS(text, "\nhealer_time_to_heal_seconds_bucket{le=\"600\"} 0\n");
	CHECK_CONTAINS(text, "\nhealer_time_to_heal_seconds_bucket{le=\"+Inf\"} 0\n");
	CHECK_CONTAINS(text, "\nhealer_time_to_heal_seconds_sum 0\n");
	CHECK_CONTAINS(text, "\nhealer_time_to_heal_seconds_count 0\n");
	CHECK_INT(count_lines(text, "healer_commands_total"), ==, 0);
	CHECK_INT(count_lines(text, "healer_llm_request_duration_seconds"), ==, 0);
	CHECK_(fabs(start - (double)time(NULL)) < 5, "start time %.17g", start);
	CHECK(text_utf8_valid(text, strlen(text)));
	free(text);
	metrics_free(m);
}

TEST(test_counters_and_gauges)
{
	Metrics *m = metrics_new();
	char *text;

	metrics_add(m, M_COMMANDS, 1, "restart-service", "ok");
	metrics_add(m, M_COMMANDS, 2.5, "restart-service", "ok");
	metrics_add(m, M_COMMANDS, 1, "restart-service", "failed");
	metrics_add(m, M_COMMANDS, -1, "restart-service", "ok"); /* a counter only goes up */
	metrics_add(m, M_COMMANDS, NAN, "restart-service", "ok");
	metrics_add(m, M_COMMANDS, INFINITY, "restart-service", "ok");
	metrics_add(m, M_JOURNAL_ENTRIES, 1e15, NULL, NULL);
	metrics_add(m, M_JOURNAL_ENTRIES, 1, NULL, NULL);
	metrics_set(m, M_ATTEMPTS, 7, "healed", NULL);
	metrics_set(m, M_ATTEMPTS, -7, "healed", NULL); /* ignored */
	metrics_add(m, M_INCIDENTS, 1, "journal", "extra label, ignored");
	metrics_add(m, M_INCIDENTS, 1, NULL, NULL);
	metrics_add(m, M_INCIDENTS, 1, "", NULL);
	metrics_add(m, M_LLM_REQUESTS, 1, "openai", NULL);
	metrics_add(m, M_LLM_LATENCY, 1, "openai", NULL);	/* a histogram: ignored */
	metrics_observe(m, M_REJECTIONS, 1, "not-whitelisted"); /* a counter: ignored */
	metrics_add(m, _M_MAX, 1, NULL, NULL);
	metrics_add(m, (MetricId)-1, 1, NULL, NULL);
	metrics_set(m, M_JOURNAL_LAG, 12.5, NULL, NULL);
	metrics_add(m, M_JOURNAL_LAG, -2.25, NULL, NULL);
	metrics_set(m, M_UP_SINCE, 1700000000, NULL, NULL);
	text = render(m);

	CHECK_CONTAINS(text,
		       "\nhealer_commands_total{action=\"restart-service\",result=\"ok\"} 3.5\n");
	CHECK_CONTAINS(text,
		       "\nhealer_commands_total{action=\"restart-service\",result=\"failed\"} 1\n");
	CHECK_INT(count_lines(text, "healer_commands_total{"), ==, 2);
	CHECK_CONTAINS(text, "\nhealer_journal_entries_read_total 1000000000000001\n");
	CHECK_CONTAINS(text, "\nhealer_attempts_total{result=\"healed\"} 7\n");
	CHECK_CONTAINS(text, "\nhealer_incidents_total{source=\"journal\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_incidents_total{source=\"unknown\"} 2\n");
	CHECK_CONTAINS(text,
		       "\nhealer_llm_requests_total{provider=\"openai\",result=\"unknown\"} 1\n");
	CHECK_INT(count_lines(text, "healer_llm_request_duration_seconds"), ==, 0);
	CHECK_INT(count_lines(text, "healer_rejections_total"), ==, 0);
	CHECK_CONTAINS(text, "\nhealer_journal_lag_seconds 10.25\n");
	CHECK_CONTAINS(text, "\nhealer_start_time_seconds 1700000000\n");
	free(text);
	metrics_free(m);
}

TEST(test_number_format)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{0.1, "0.1"},
		{-0.0, "0"},
		{-3, "-3"},
		{1.0 / 3, "0.3333333333333333"},
		{123456.789, "123456.789"},
		{0x1p53 - 1, "9007199254740991"},
		{0x1p60, "1.152921504606847e+18"},
		{1e-300, "1e-300"},
		{NAN, "NaN"},
		{INFINITY, "+Inf"},
		{-INFINITY, "-Inf"},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		Metrics *m = metrics_new();
		char *text, want[128];

		metrics_set(m, M_JOURNAL_LAG, cases[i].v, NULL, NULL);
		text = render(m);
		snprintf(want, sizeof want, "\nhealer_journal_lag_seconds %s\n", cases[i].want);
		CHECK_CONTAINS(text, want);
		free(text);
		metrics_free(m);
	}
}

/* Every _bucket line of a series (labels then le) never decreases and ends at _count. */
static void check_cumulative(const char *text, const char *name, const char *labels)
{
	char prefix[256], countp[256];
	double last = -1, count;
	size_t n = 0;

	snprintf(prefix, sizeof prefix, "%s_bucket{%s", name, labels);
	snprintf(countp, sizeof countp, "%s_count%s%s%s", name, *labels ? "{" : "", labels,
		 *labels ? "}" : "");
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		double v;

		if (strncmp(p, prefix, strlen(prefix)) != 0)
			continue;
		v = strtod(strchr(p, ' ') + 1, NULL);
		CHECK_(v >= last, "%s: bucket %zu went down: %g after %g", name, n, v, last);
		last = v;
		n++;
	}
	count = sample(text, countp);
	CHECK_(n > 1 && last == count, "%s: %zu buckets, +Inf %g, count %g", name, n, last, count);
}

TEST(test_histograms)
{
	Metrics *m = metrics_new();
	const double obs[] = {0.01, 0.05, 0.3, 7, 100};
	double sum = 0;
	char *text;

	for (size_t i = 0; i < ELEMENTSOF(obs); i++) {
		metrics_observe(m, M_LLM_LATENCY, obs[i], "openai");
		sum += obs[i];
	}
	metrics_observe(m, M_LLM_LATENCY, NAN, "openai"); /* not finite: ignored */
	metrics_observe(m, M_LLM_LATENCY, INFINITY, "openai");
	metrics_observe(m, M_LLM_LATENCY, 2, "ollama");
	metrics_observe(m, M_TIME_TO_HEAL, 3, "label, ignored");
	metrics_observe(m, M_TIME_TO_HEAL, 45, NULL);
	metrics_observe(m, M_TIME_TO_HEAL, 4000, NULL);
	text = render(m);

#define LLM "healer_llm_request_duration_seconds_bucket{provider=\"openai\",le="
	CHECK_SAMPLE(text, LLM "\"0.05\"}", 2); /* a bound is inclusive */
	CHECK_SAMPLE(text, LLM "\"0.1\"}", 2);
	CHECK_SAMPLE(text, LLM "\"0.25\"}", 2);
	CHECK_SAMPLE(text, LLM "\"0.5\"}", 3);
	CHECK_SAMPLE(text, LLM "\"5\"}", 3);
	CHECK_SAMPLE(text, LLM "\"10\"}", 4);
	CHECK_SAMPLE(text, LLM "\"60\"}", 4);
	CHECK_SAMPLE(text, LLM "\"+Inf\"}", 5);
#undef LLM
	CHECK_INT(
		count_lines(text, "healer_llm_request_duration_seconds_bucket{provider=\"openai\""),
		==, 12);
	CHECK_SAMPLE(text, "healer_llm_request_duration_seconds_sum{provider=\"openai\"}", sum);
	CHECK_SAMPLE(text, "healer_llm_request_duration_seconds_count{provider=\"openai\"}", 5);
	CHECK_SAMPLE(text, "healer_llm_request_duration_seconds_count{provider=\"ollama\"}", 1);
	CHECK_SAMPLE(text,
		     "healer_llm_request_duration_seconds_bucket{provider=\"ollama\",le=\"1\"}", 0);
	CHECK_SAMPLE(text,
		     "healer_llm_request_duration_seconds_bucket{provider=\"ollama\",le=\"2.5\"}",
		     1);
	check_cumulative(text, "healer_llm_request_duration_seconds", "provider=\"openai\"");
	check_cumulative(text, "healer_llm_request_duration_seconds", "provider=\"ollama\"");

	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_bucket{le=\"2\"}", 0);
	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_bucket{le=\"5\"}", 1);
	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_bucket{le=\"60\"}", 2);
	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_bucket{le=\"600\"}", 2);
	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_bucket{le=\"+Inf\"}", 3);
	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_sum", 4048);
	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_count", 3);
	check_cumulative(text, "healer_time_to_heal_seconds", "");
	free(text);
	metrics_free(m);
}

/* The first byte below 0x20 other than a line feed, or NULL. */
static const char *control_byte(const char *text)
{
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			return p;
	return NULL;
}

TEST(test_hostile_labels)
{
	Metrics *m = metrics_new();
	char big[10 * 1024 + 1], want[256], cut[70];
	char *text;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	metrics_add(m, M_REJECTIONS, 1, "say \"hi\"", NULL);
	metrics_add(m, M_REJECTIONS, 1, "C:\\path\\", NULL);
	metrics_add(m, M_REJECTIONS, 1, "two\nlines", NULL);
	metrics_add(m, M_REJECTIONS, 1, "tab\there\rcr", NULL);
	metrics_add(m, M_REJECTIONS, 1, "\x1b[31mred\x1b[0m", NULL);
	metrics_add(m, M_REJECTIONS, 1, "bad \xff\xfe utf8 \xc3", NULL);
	metrics_add(m, M_REJECTIONS, 1, "caf\xc3\xa9 \xe2\x82\xac", NULL);
	metrics_add(m, M_REJECTIONS, 1, "} 1\nfake_total 99\n#", NULL);
	metrics_add(m, M_REJECTIONS, 1, big, NULL);
	big[200] = 'y'; /* the same first 64 bytes: the same series */
	metrics_add(m, M_REJECTIONS, 1, big, NULL);
	/* 63 bytes, then a 2-byte character that does not fit: cut before it. */
	memset(cut, 'a', 63);
	memcpy(cut + 63, "\xc3\xa9", 3);
	metrics_add(m, M_PRECONDITION_REFUSALS, 1, cut, NULL);
	/* 62 bytes and the same character: 64 bytes, kept whole. */
	metrics_add(m, M_PRECONDITION_REFUSALS, 1, cut + 1, NULL);
	text = render(m);

	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"say \\\"hi\\\"\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"C:\\\\path\\\\\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"two\\nlines\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"tab here cr\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"?[31mred?[0m\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"bad ?? utf8 ?\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"caf\xc3\xa9 \xe2\x82\xac\"} 1\n");
	CHECK_CONTAINS(text, "\nhealer_rejections_total{reason=\"} 1\\nfake_total 99\\n#\"} 1\n");
	CHECK_INT(count_lines(text, "fake_total"), ==, 0);
	snprintf(want, sizeof want, "\nhealer_rejections_total{reason=\"%.64s\"} 2\n", big);
	CHECK_CONTAINS(text, want);
	snprintf(want, sizeof want, "\nhealer_precondition_refusals_total{check=\"%.63s\"} 1\n",
		 cut);
	CHECK_CONTAINS(text, want);
	snprintf(want, sizeof want, "\nhealer_precondition_refusals_total{check=\"%s\"} 1\n",
		 cut + 1);
	CHECK_CONTAINS(text, want);
	CHECK(text_utf8_valid(text, strlen(text)));
	CHECK_(!control_byte(text), "control byte at %td", control_byte(text) - text);
	CHECK_SAMPLE(text, "healer_metrics_series_dropped_total", 0);
	free(text);
	metrics_free(m);
}

TEST(test_series_bound)
{
	Metrics *m = metrics_new();
	char label[32], *text;

	for (int i = 0; i < 100; i++) {
		snprintf(label, sizeof label, "reason-%d", i);
		metrics_add(m, M_REJECTIONS, 1, label, NULL);
	}
	metrics_add(m, M_REJECTIONS, 1, "reason-0", NULL); /* seen before the bound: its own */
	for (int i = 0; i < 10000; i++) {
		snprintf(label, sizeof label, "action-%d", i);
		metrics_add(m, M_COMMANDS, 1, label, i % 2 ? "ok" : "failed");
		metrics_observe(m, M_LLM_LATENCY, 0.5, label);
	}
	text = render(m);

	CHECK_INT(count_lines(text, "healer_rejections_total{"), ==, METRICS_SERIES_MAX + 1);
	CHECK_SAMPLE(text, "healer_rejections_total{reason=\"reason-0\"}", 2);
	CHECK_SAMPLE(text, "healer_rejections_total{reason=\"reason-63\"}", 1);
	CHECK_SAMPLE(text, "healer_rejections_total{reason=\"other\"}", 36);
	CHECK_INT(count_lines(text, "healer_rejections_total{reason=\"reason-64\"}"), ==, 0);
	CHECK_INT(count_lines(text, "healer_commands_total{"), ==, METRICS_SERIES_MAX + 1);
	CHECK_SAMPLE(text, "healer_commands_total{action=\"other\",result=\"other\"}",
		     10000 - METRICS_SERIES_MAX);
	CHECK_INT(count_lines(text, "healer_llm_request_duration_seconds_count{"), ==,
		  METRICS_SERIES_MAX + 1);
	CHECK_SAMPLE(text, "healer_llm_request_duration_seconds_count{provider=\"other\"}",
		     10000 - METRICS_SERIES_MAX);
	CHECK_SAMPLE(text, "healer_metrics_series_dropped_total",
		     36 + 2 * (10000 - METRICS_SERIES_MAX));
	free(text);
	metrics_free(m);
}

/*
 * A registry as full and as hostile as callers can make it: every family
 * at its bound and folded, label values at their cap with quotes,
 * backslashes, line feeds and broken UTF-8, gauges at NaN and +Inf.
 */
static Metrics *hostile_registry(void)
{
	Metrics *m = metrics_new();
	char v[10 * 1024];

	for (int i = 0; i < 80; i++) {
		memset(v, i % 2 ? '"' : '\\', sizeof v - 1);
		v[sizeof v - 1] = '\0';
		snprintf(v, 40, "%d\n\"\\\xff\xc3 \xe2\x80\xae le=\"}", i);
		v[strlen(v)] = 'q';
		for (MetricId id = 0; id < _M_MAX; id++) {
			metrics_add(m, id, i + 0.1, v, v + 1);
			metrics_observe(m, id, i * 0.75, v);
		}
	}
	metrics_set(m, M_JOURNAL_LAG, NAN, NULL, NULL);
	metrics_set(m, M_UP_SINCE, INFINITY, NULL, NULL);
	return m;
}

/* promtool: $HEALER_PROMTOOL, else build/tools/ (tools/deps.sh --test), else the PATH. */
static char *find_promtool(void)
{
	const char *env = getenv("HEALER_PROMTOOL"), *path = getenv("PATH");
	char buf[4096];

	if (env && *env)
		return strdup(env);
	if (access("build/tools/promtool", X_OK) == 0)
		return realpath("build/tools/promtool", NULL);
	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ":");

		if (n > 0 && util_snprintf(buf, sizeof buf, "%.*s/promtool", (int)n, p) >= 0 &&
		    access(buf, X_OK) == 0)
			return strdup(buf);
		p += n + (p[n] == ':');
	}
	return NULL;
}

/*
 * `promtool check metrics` with text on its stdin (a file: no pipe to
 * deadlock on); its output in *out. Returns its exit code, or -1.
 */
static int promtool_check(const char *promtool, const char *text, char *out, size_t out_len)
{
	char in_path[] = "/tmp/test_metrics.in.XXXXXX", out_path[] = "/tmp/test_metrics.out.XXXXXX";
	char *argv[] = {(char *)promtool, (char *)"check", (char *)"metrics", NULL};
	char *envp[] = {(char *)"PATH=/usr/bin:/bin", NULL};
	int in = mkostemp(in_path, O_CLOEXEC), outfd = mkostemp(out_path, O_CLOEXEC), status = -1;
	posix_spawn_file_actions_t fa;
	ssize_t n;
	pid_t pid;

	*out = '\0';
	if (in < 0 || outfd < 0)
		goto out;
	if (write(in, text, strlen(text)) != (ssize_t)strlen(text) || lseek(in, 0, SEEK_SET) != 0)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	posix_spawn_file_actions_adddup2(&fa, outfd, 2);
	if (posix_spawn(&pid, promtool, &fa, NULL, argv, envp) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto out;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	n = pread(outfd, out, out_len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
out:
	if (in >= 0) {
		unlink(in_path);
		close(in);
	}
	if (outfd >= 0) {
		unlink(out_path);
		close(outfd);
	}
	return status;
}

TEST(test_promtool)
{
	_cleanup_free_ char *promtool = find_promtool();
	Metrics *m;
	char out[4096], *text;
	int rc;

	/* No skipping: without promtool the exposition is unchecked, and that fails. */
	CHECK_(promtool, "promtool not found (run tools/deps.sh --test, or set HEALER_PROMTOOL)");
	if (!promtool)
		return;

	/* The check bites: a broken text and an unlinted one are refused. */
	rc = promtool_check(promtool, "healer_x_total{reason=\"a\"b\"} 1\n", out, sizeof out);
	CHECK_(rc > 0, "promtool passed a broken label value (exit %d): %s", rc, out);
	rc = promtool_check(promtool, "# TYPE healer_x counter\nhealer_x 1\n", out, sizeof out);
	CHECK_(rc > 0, "promtool passed a counter without HELP or _total (exit %d): %s", rc, out);

	m = metrics_new();
	text = render(m);
	rc = promtool_check(promtool, text, out, sizeof out);
	CHECK_(rc == 0, "fresh registry: promtool exit %d: %s", rc, out);
	free(text);
	metrics_free(m);

	m = hostile_registry();
	text = render(m);
	CHECK_(strlen(text) < 1024 * 1024, "hostile registry renders %zu bytes", strlen(text));
	CHECK_CONTAINS(text, "\nhealer_journal_lag_seconds NaN\n");
	CHECK_CONTAINS(text, "\nhealer_start_time_seconds +Inf\n");
	CHECK_CONTAINS(text, "le=\\\"}");
	rc = promtool_check(promtool, text, out, sizeof out);
	CHECK_(rc == 0, "hostile registry: promtool exit %d: %s", rc, out);
	free(text);
	metrics_free(m);
}

int main(void)
{
	RUN(test_null_registry);
	RUN(test_fresh_registry);
	RUN(test_counters_and_gauges);
	RUN(test_number_format);
	RUN(test_histograms);
	RUN(test_hostile_labels);
	RUN(test_series_bound);
	RUN(test_promtool);
	return harness_finish();
}
