/* SPDX-License-Identifier: MIT */
/*
 * The core's analysis path: settings loaded once and shared by reference,
 * an incident analysed on the loop into a vetted plan that owns its strings,
 * cancellation, and text hygiene of the evidence on its way to a real HTTP
 * peer (tests/llm/fake_llm.py on 127.0.0.1).
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "harness.h"
#include "fake_llm.h"
#include "common/text.h"
#include "healer/analyze.h"
#include "healer/settings.h"
#include "healer/view.h"

static char tmpdir[] = "/tmp/healer-analyze-XXXXXX";
static sd_event *ev;
static FakeLlm server;
static const char *bind_msg = "bind() to 0.0.0.0:80 failed (98: Address already in use)";

static void write_file(const char *name, const char *text, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK_(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", path);
	if (fd >= 0)
		close(fd);
}

/* A config naming examples/rules.conf and, optionally, a provider section. */
static Settings *load(const char *extra, char *const *envp, char **ret_errors)
{
	char conf[PATH_MAX + 512], path[PATH_MAX], rules[PATH_MAX], wl[PATH_MAX];
	SettingsOptions o = {.config_path = path, .whitelist_path = wl, .envp = envp};
	Settings *s = NULL;
	char *errors = NULL;

	if (!realpath("examples/rules.conf", rules) || !realpath("examples/whitelist.conf", wl))
		return NULL;
	snprintf(conf, sizeof conf, "[llm]\nrules = %s\n%s", rules, extra ? extra : "");
	write_file("healer.conf", conf, path, sizeof path);
	if (settings_load(&o, &s, &errors) < 0) {
		if (ret_errors)
			*ret_errors = errors;
		else
			free(errors);
		return NULL;
	}
	free(errors);
	return s;
}

typedef struct Result {
	Analysis *a;
	unsigned calls;
} Result;

static void on_done(Analysis *a, void *userdata)
{
	Result *r = userdata;

	r->a = a;
	r->calls++;
}

static Analysis *analyze(Settings *s, const AnalyzeInput *in)
{
	Analyzer *an = NULL;
	Result res = {0};
	uint64_t t0 = util_now_usec();

	CHECK_INT(analyzer_new(ev, s, &an), ==, 0);
	if (!an)
		return NULL;
	CHECK_INT(analyze_start(an, in, on_done, &res, NULL), ==, 0);
	/* Never inline: the callback comes from the loop. */
	CHECK_INT(res.calls, ==, 0);
	while (res.calls == 0 && util_now_usec() - t0 < 20 * USEC_PER_SEC)
		sd_event_run(ev, 100 * USEC_PER_MSEC);
	CHECK_INT(res.calls, ==, 1);
	analyzer_unref(an);
	return res.a;
}

static char *const no_env[] = {NULL};

TEST(test_settings)
{
	char *errors = NULL, bad[PATH_MAX];
	char *const key_env[] = {"GEMINI_API_KEY=k-1", NULL};
	Settings *s = load(NULL, no_env, NULL), *g, *ng;
	size_t n = 0;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(settings_whitelist(s) != NULL && settings_rules(s) != NULL);
	CHECK(settings_catalog(s, &n) != NULL && n > 0);
	CHECK_STR(settings_arg_names(s)[0], "unit");
	CHECK_INT(settings_client_options(s)->endpoint.kind, ==, 0);
	CHECK(settings_key_missing(s) == NULL);
	/* A second reference keeps everything alive after the first goes. */
	CHECK(settings_ref(s) == s);
	CHECK(settings_unref(s) == NULL);
	CHECK_STR(settings_config(s)->rules + strlen(settings_config(s)->rules) - 10, "rules.conf");
	settings_unref(s);

	/* A provider without its key: the rules answer, and the reason is kept. */
	ng = load("provider = gemini\n", no_env, NULL);
	CHECK(ng && settings_client_options(ng)->endpoint.kind == 0);
	CHECK_CONTAINS(ng ? settings_key_missing(ng) : NULL, "no API key for gemini");
	settings_unref(ng);
	g = load("provider = gemini\n", key_env, NULL);
	CHECK(g && settings_client_options(g)->endpoint.kind == LLM_KIND_GEMINI);
	CHECK(g && settings_key_missing(g) == NULL);
	settings_unref(g);

	/* Every error at once, file:line. */
	CHECK(load("timeout = 0s\nmax_retries = 99\n", no_env, &errors) == NULL);
	CHECK_CONTAINS(errors, "healer.conf:3: timeout");
	CHECK_CONTAINS(errors, "healer.conf:4: max_retries");
	free(errors);
	errors = NULL;
	write_file("bad-wl.conf", "[action x]\nexec = relative\n", bad, sizeof bad);
	{
		SettingsOptions o = {.whitelist_path = bad, .envp = no_env};
		char conf[PATH_MAX];

		write_file("plain.conf", "", conf, sizeof conf);
		o.config_path = conf;
		CHECK_INT(settings_load(&o, &s, &errors), <, 0);
		CHECK_CONTAINS(errors, "bad-wl.conf:");
		free(errors);
	}
}

TEST(test_rules_analysis)
{
	Settings *s = load(NULL, no_env, NULL);
	AnalyzeInput in = {.unit = "nginx.service", .priority = 3, .message = bind_msg};
	Analysis *a;

	if (!s)
		return;
	a = analyze(s, &in);
	/* The settings may go (a reload): the result owns its strings. */
	settings_unref(s);
	CHECK(a && a->plan);
	if (!a || !a->plan)
		return;
	CHECK_STR(a->provider, "rules");
	CHECK(a->model == NULL && !a->fallback && a->error == NULL);
	CHECK_STR(a->rule, "nginx-bind");
	CHECK(a->plan->accepted);
	CHECK_INT(a->plan->n_commands, ==, 1);
	CHECK_STR(a->plan->commands[0]->argv[5], "nginx.service");
	{
		cJSON *v = view_analysis(a);
		char *j = cJSON_PrintUnformatted(v);

		CHECK_CONTAINS(j, "\"provider\":\"rules\"");
		CHECK_CONTAINS(j, "\"verdict\":\"accept\"");
		free(j);
		cJSON_Delete(v);
	}
	analysis_free(a);
}

/*
 * The unit binds the plan: a model that answers a php-fpm line with a
 * restart of nginx (the fake's "good" plan) is refused for that reason.
 */
TEST(test_evidence_binding)
{
	char extra[256];
	char *const key_env[] = {"GEMINI_API_KEY=k-1", NULL};
	AnalyzeInput in = {.unit = "php-fpm.service", .priority = 3, .message = bind_msg};
	Settings *s;
	Analysis *a;

	snprintf(extra, sizeof extra, "provider = gemini\nmodel = good\nbase_url = %s\n",
		 server.base_url);
	s = load(extra, key_env, NULL);
	if (!s)
		return;
	a = analyze(s, &in);
	CHECK(a && a->plan && !a->plan->accepted);
	if (a && a->plan) {
		CHECK_STR(a->provider, "gemini");
		CHECK(!a->fallback);
		CHECK_CONTAINS(a->plan->reason, "not the unit the evidence came from");
	}
	analysis_free(a);
	in.unit = "nginx.service";
	a = analyze(s, &in);
	CHECK(a && a->plan && a->plan->accepted);
	analysis_free(a);
	settings_unref(s);
}

/*
 * A reload drops the daemon's analyzer and settings while analyses are in
 * flight: each finishes with what it started with, and nothing leaks.
 */
TEST(test_reload_in_flight)
{
	static const char *const models[] = {"good", "r503", "e401", NULL};
	char *const key_env[] = {"GEMINI_API_KEY=k-1", NULL};
	AnalyzeInput in = {.unit = "nginx.service", .priority = 3, .message = bind_msg};
	Result res[4] = {{0}};
	uint64_t t0;

	for (size_t i = 0; i < ELEMENTSOF(models); i++) {
		char extra[256];
		Analyzer *an = NULL;
		Settings *s;

		if (models[i])
			snprintf(extra, sizeof extra,
				 "provider = gemini\nmodel = %s\nbase_url = %s\nmax_retries = 1\n",
				 models[i], server.base_url);
		s = load(models[i] ? extra : NULL, key_env, NULL);
		if (!s)
			return;
		CHECK_INT(analyzer_new(ev, s, &an), ==, 0);
		settings_unref(s);
		if (!an)
			return;
		CHECK_INT(analyze_start(an, &in, on_done, &res[i], NULL), ==, 0);
		analyzer_unref(an); /* the reload: only the job holds it now */
	}
	t0 = util_now_usec();
	while (util_now_usec() - t0 < 20 * USEC_PER_SEC &&
	       (!res[0].calls || !res[1].calls || !res[2].calls || !res[3].calls))
		sd_event_run(ev, 100 * USEC_PER_MSEC);
	for (size_t i = 0; i < ELEMENTSOF(res); i++) {
		CHECK_INT(res[i].calls, ==, 1);
		CHECK(res[i].a && res[i].a->plan && res[i].a->plan->accepted);
		analysis_free(res[i].a);
	}
}

static bool log_has(const char *needle)
{
	char *buf = NULL;
	size_t len = 0;
	bool found;

	if (util_read_file(server.log_path, 8 << 20, &buf, &len) < 0)
		return false;
	found = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

/*
 * Invalid UTF-8, controls and bidi overrides in every evidence field: the
 * request is valid JSON, the server finds no problem, and the text arrives
 * as plain text.
 */
TEST(test_hygiene_on_the_wire)
{
	char extra[256];
	char *const key_env[] = {"GEMINI_API_KEY=k-1", NULL};
	const char *ctx[] = {"ctx \xff\xfe line", "second \xe2\x80\xae line"};
	AnalyzeInput in = {.unit = "nginx.service",
			   .identifier = "ngi\xe2\x80\x8bnx\xc0",
			   .priority = 3,
			   .message = "bind \xff\xfe failed \x1b[31m \xe2\x80\xaenigol",
			   .context = ctx,
			   .n_context = 2};
	Settings *s;
	Analysis *a;

	snprintf(extra, sizeof extra, "provider = gemini\nmodel = echo\nbase_url = %s\n",
		 server.base_url);
	s = load(extra, key_env, NULL);
	if (!s)
		return;
	a = analyze(s, &in);
	CHECK(a && a->plan);
	if (a) {
		CHECK_STR(a->provider, "gemini");
		CHECK(!a->fallback);
		/* The echo scenario returns the prompt as the diagnosis. */
		CHECK_CONTAINS(a->plan->diagnosis, "bind ?? failed ?[31m ?nigol");
		CHECK_CONTAINS(a->plan->diagnosis, "ctx ?? line");
		CHECK_CONTAINS(a->plan->diagnosis, "second ? line");
		CHECK(text_utf8_valid(a->plan->diagnosis, strlen(a->plan->diagnosis)));
	}
	CHECK(!log_has("\"body\": null"));
	CHECK(log_has("\"problems\": []"));
	CHECK(log_has("ngi?nx?"));
	analysis_free(a);
	settings_unref(s);
}

/* A cancelled job never calls back. */
TEST(test_cancel)
{
	char extra[256];
	char *const key_env[] = {"GEMINI_API_KEY=k-1", NULL};
	AnalyzeInput in = {.unit = "nginx.service", .priority = 3, .message = bind_msg};
	Analyzer *an = NULL;
	AnalysisJob *job = NULL;
	Result res = {0};
	Settings *s;
	uint64_t t0;

	snprintf(extra, sizeof extra, "provider = gemini\nmodel = stall\nbase_url = %s\n",
		 server.base_url);
	s = load(extra, key_env, NULL);
	if (!s)
		return;
	CHECK_INT(analyzer_new(ev, s, &an), ==, 0);
	settings_unref(s); /* the analyzer holds its own reference */
	if (!an)
		return;
	CHECK_INT(analyze_start(an, &in, on_done, &res, &job), ==, 0);
	t0 = util_now_usec();
	/* Let the request reach the stalling server. */
	while (!log_has("/stall:generateContent") && util_now_usec() - t0 < 5 * USEC_PER_SEC)
		sd_event_run(ev, 50 * USEC_PER_MSEC);
	CHECK(log_has("/stall:generateContent"));
	analyze_cancel(job);
	analyzer_unref(an);
	t0 = util_now_usec();
	while (util_now_usec() - t0 < 300 * USEC_PER_MSEC)
		sd_event_run(ev, 50 * USEC_PER_MSEC);
	CHECK_INT(res.calls, ==, 0);
}

int main(void)
{
	if (!mkdtemp(tmpdir) || sd_event_new(&ev) < 0)
		return 2;
	if (fake_llm_start(ev, tmpdir, "k-1", &server) < 0) {
		fprintf(stderr, "FAIL cannot start tests/llm/fake_llm.py\n");
		return 2;
	}
	RUN(test_settings);
	RUN(test_rules_analysis);
	RUN(test_evidence_binding);
	RUN(test_reload_in_flight);
	RUN(test_hygiene_on_the_wire);
	RUN(test_cancel);
	ex_child_free(server.child);
	sd_event_unref(ev);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof cmd, "%s/requests.log", tmpdir);
		unlink(cmd);
		snprintf(cmd, sizeof cmd, "%s/healer.conf", tmpdir);
		unlink(cmd);
		snprintf(cmd, sizeof cmd, "%s/bad-wl.conf", tmpdir);
		unlink(cmd);
		snprintf(cmd, sizeof cmd, "%s/plain.conf", tmpdir);
		unlink(cmd);
		snprintf(cmd, sizeof cmd, "%s/port", tmpdir);
		unlink(cmd);
		rmdir(tmpdir);
	}
	return harness_finish();
}
