/* SPDX-License-Identifier: MIT */
/*
 * The daemon's metrics, moved by a real daemon in this process: its store
 * in a temporary folder, a journal folder written by systemd-journal-remote,
 * a model behind tests/llm/fake_llm.py on 127.0.0.1, real commands. What
 * healer_* counts after a heal, a refusal by a precondition, a rejected
 * approval and a journal line that policy skips is read back from the text
 * GET /metrics serves (metrics_render of daemon_metrics()).
 */
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "metrics_text.h"
#include "fake_llm.h"
#include "healer/daemon-internal.h"

static char tmpdir[] = "/tmp/healer-daemon-metrics-XXXXXX";
static sd_event *side; /* the model server's and journal-remote's loop */
static FakeLlm server;

static void write_text(const char *name, const char *text)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK_(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", path);
	if (fd >= 0)
		close(fd);
}

static void write_config(bool auto_execute)
{
	char conf[4096];

	snprintf(conf, sizeof conf,
		 "[healer]\nstate_dir = %s/state\nwhitelist = %s/whitelist.conf\n"
		 "settle = 100ms\nverify_window = 1s\ncooldown = 0\nauto_execute = %s\n"
		 "[journal]\nsource = directory:%s/journal\nlookback = 1min\n"
		 "[llm]\nprovider = gemini\nmodel = fixthing\nbase_url = %s\nrules = "
		 "%s/rules.conf\n",
		 tmpdir, tmpdir, auto_execute ? "yes" : "no", tmpdir, server.base_url, tmpdir);
	write_text("healer.conf", conf);
}

static void on_remote_done(ExChild *c, const ExResult *r, void *userdata)
{
	int *status = userdata;

	(void)c;
	*status = r->exit_status;
}

static uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* One error line without a unit, a second ago, in a journal file of the folder the daemon reads. */
static void write_journal(void)
{
	char export[512], in[PATH_MAX], out[PATH_MAX], dir[PATH_MAX];
	char *argv[] = {"/lib/systemd/systemd-journal-remote", "-o", out, in, NULL};
	ExOptions o = {.timeout_usec = 30 * USEC_PER_SEC};
	ExChild *child = NULL;
	int status = -100;

	snprintf(export, sizeof export,
		 "__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=5000000\n"
		 "_BOOT_ID=0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d\n_HOSTNAME=testhost\n"
		 "_TRANSPORT=journal\n_PID=4242\n_UID=1000\n_COMM=app\nSYSLOG_IDENTIFIER=app\n"
		 "PRIORITY=3\nMESSAGE=gadget broke without a unit\n\n",
		 (unsigned long long)(realtime_usec() - USEC_PER_SEC));
	write_text("entry.export", export);
	snprintf(in, sizeof in, "%s/entry.export", tmpdir);
	snprintf(dir, sizeof dir, "%s/journal", tmpdir);
	snprintf(out, sizeof out, "%s/journal/x.journal", tmpdir);
	CHECK(mkdir(dir, 0755) == 0);
	CHECK_INT(ex_spawn(side, argv, &o, on_remote_done, &status, &child), ==, 0);
	for (int i = 0; i < 3000 && status == -100; i++)
		sd_event_run(side, 10 * USEC_PER_MSEC);
	CHECK_INT(status, ==, 0);
	ex_child_free(child);
}

static void on_finished(int r, int64_t id, void *userdata)
{
	int *done = userdata;

	(void)id;
	*done = r < 0 ? r : 1;
}

/* Runs the daemon's loop until attempt id ends (or 20 s pass). */
static void wait_attempt(Daemon *d, int64_t id)
{
	DaemonWaiter *w = NULL;
	uint64_t t0 = util_now_usec();
	int done = 0;

	CHECK(id > 0);
	if (id <= 0 || daemon_wait_attempt(d, id, on_finished, &done, &w) < 0)
		return;
	while (!done && util_now_usec() - t0 < 20 * USEC_PER_SEC)
		sd_event_run(daemon_event(d), 100 * USEC_PER_MSEC);
	CHECK_INT(done, ==, 1);
	if (!done)
		daemon_waiter_cancel(w);
}

/* Runs the daemon's loop until attempt id awaits approval (or 20 s pass). */
static void wait_awaiting(Daemon *d, int64_t id)
{
	uint64_t t0 = util_now_usec();
	StAttempt a = {0};

	while (util_now_usec() - t0 < 20 * USEC_PER_SEC) {
		sd_event_run(daemon_event(d), 50 * USEC_PER_MSEC);
		if (st_attempt_get(daemon_store(d), id, &a) >= 0 && a.state == AT_AWAITING_APPROVAL)
			break;
		st_attempt_done(&a);
	}
	CHECK_INT(a.state, ==, AT_AWAITING_APPROVAL);
	st_attempt_done(&a);
}

static int64_t submit(Daemon *d, const char *message, bool injected)
{
	DaemonReport rep = {.message = message, .priority = 3, .injected = injected};
	int64_t incident = 0, attempt = 0;
	char why[256] = "";

	CHECK_INT(daemon_submit(d, &rep, &incident, &attempt, why, sizeof why), ==, 0);
	return attempt;
}

static char *render(Daemon *d)
{
	char *text = NULL;
	size_t len = 0;

	CHECK(daemon_metrics(d) != NULL);
	CHECK_INT(metrics_render(daemon_metrics(d), &text, &len), ==, 0);
	return text ? text : strdup("");
}

TEST(test_daemon_metrics)
{
	char wl[1024], path[PATH_MAX], *errors = NULL, *text;
	char *const envp[] = {"GEMINI_API_KEY=k-1", NULL};
	DaemonOptions o = {.settings = {.config_path = path, .envp = envp}, .no_bus = true};
	Daemon *d = NULL;
	double lag;
	int64_t id;

	snprintf(wl, sizeof wl,
		 "[action fix_thing]\ndescription = create the thing marker\nmatch = fixthing\n"
		 "exec = /usr/bin/touch %s/thing\nrequire = command /usr/bin/test ! -e %s/thing\n"
		 "timeout = 5s\n",
		 tmpdir, tmpdir);
	write_text("whitelist.conf", wl);
	write_text("rules.conf", "");
	write_config(true);
	write_journal();
	snprintf(path, sizeof path, "%s/healer.conf", tmpdir);
	CHECK_INT(daemon_new(&o, &d, &errors), ==, 0);
	if (!d) {
		fprintf(stderr, "daemon_new: %s\n", errors ? errors : "?");
		free(errors);
		return;
	}

	/* A manual heal: the model's plan runs and the symptom is gone. */
	wait_attempt(d, submit(d, "thing broke", false));
	text = render(d);
	CHECK_SAMPLE(text, "healer_incidents_total{source=\"manual\"}", 1);
	CHECK_SAMPLE(text, "healer_attempts_total{result=\"healed\"}", 1);
	CHECK_SAMPLE(text, "healer_commands_total{action=\"fix_thing\",result=\"ok\"}", 1);
	CHECK_SAMPLE(text, "healer_llm_requests_total{provider=\"gemini\",result=\"ok\"}", 1);
	CHECK_SAMPLE(text, "healer_llm_request_duration_seconds_count{provider=\"gemini\"}", 1);
	CHECK_SAMPLE(text, "healer_time_to_heal_seconds_count", 1);
	CHECK(sample(text, "healer_time_to_heal_seconds_sum") > 0);
	/* The journal's line, read at start: an incident policy skipped (act_on). */
	CHECK_SAMPLE(text, "healer_journal_entries_read_total", 1);
	CHECK_SAMPLE(text, "healer_incidents_total{source=\"journal\"}", 1);
	CHECK_SAMPLE(text, "healer_attempts_total{result=\"skipped\"}", 1);
	lag = sample(text, "healer_journal_lag_seconds");
	CHECK_(lag >= 1 && lag < 60, "journal lag %g", lag);
	free(text);

	/* An injected error whose symptom is not real: the precondition refuses. */
	wait_attempt(d, submit(d, "thing broke again", true));
	text = render(d);
	CHECK_SAMPLE(text, "healer_incidents_total{source=\"injected\"}", 1);
	CHECK_SAMPLE(text, "healer_attempts_total{result=\"rejected\"}", 1);
	CHECK_SAMPLE(text, "healer_rejections_total{reason=\"precondition\"}", 1);
	CHECK_SAMPLE(text, "healer_precondition_refusals_total{check=\"command\"}", 1);
	CHECK_SAMPLE(text, "healer_commands_total{action=\"fix_thing\",result=\"refused\"}", 1);
	CHECK_SAMPLE(text, "healer_commands_total{action=\"fix_thing\",result=\"ok\"}", 1);
	CHECK_SAMPLE(text, "healer_llm_requests_total{provider=\"gemini\",result=\"ok\"}", 2);
	free(text);

	/* auto_execute = no after a reload; the administrator rejects the plan. */
	snprintf(path, sizeof path, "%s/thing", tmpdir);
	CHECK(unlink(path) == 0);
	snprintf(path, sizeof path, "%s/healer.conf", tmpdir);
	write_config(false);
	CHECK_INT(daemon_reload(d, NULL), ==, 0);
	id = submit(d, "thing broke a third time", false);
	wait_awaiting(d, id);
	CHECK_INT(daemon_decide(d, id, false, "test"), ==, 0);
	text = render(d);
	CHECK_SAMPLE(text, "healer_rejections_total{reason=\"approval-rejected\"}", 1);
	CHECK_SAMPLE(text, "healer_attempts_total{result=\"rejected\"}", 2);
	CHECK_SAMPLE(text, "healer_attempts_total{result=\"healed\"}", 1);
	free(text);
	free(errors);
	daemon_free(d);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(void)
{
	if (!mkdtemp(tmpdir) || sd_event_new(&side) < 0)
		return 2;
	if (fake_llm_start(side, tmpdir, "k-1", &server) < 0) {
		fprintf(stderr, "FAIL cannot start tests/llm/fake_llm.py\n");
		return 1;
	}
	RUN(test_daemon_metrics);
	ex_child_free(server.child);
	sd_event_unref(side);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return harness_finish();
}
