/* SPDX-License-Identifier: MIT */
/*
 * healer/units.c against a real service manager: the test re-runs itself in
 * tests/sandbox/sandbox.sh (a private systemd --user posing as PID 1 on the
 * system bus) with units of its own, then reads their facts over sd-bus and
 * judges them with the unit safety rule.
 */
#include <signal.h>

#include "harness.h"
#include "sandbox.h"
#include "healer/units.h"

static sd_event *ev;
static sd_bus *bus;
static Whitelist *wl;

typedef struct Got {
	bool called;
	int r;
	char *error;
	UnitInfo info; /* a deep copy: the callback's is borrowed */
} Got;

static char **strv_copy(char *const *v)
{
	size_t n = strv_length(v);
	char **c = calloc(n + 1, sizeof(char *));

	for (size_t i = 0; c && i < n; i++)
		c[i] = strdup(v[i]);
	return c;
}

static char *dup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void on_done(int r, const UnitInfo *u, const char *error, void *userdata)
{
	Got *g = userdata;

	CHECK(!g->called);
	g->called = true;
	g->r = r;
	g->error = dup0(error);
	CHECK((r < 0) == (u == NULL) && (r < 0) == (error != NULL));
	if (!u)
		return;
	g->info = *u;
	g->info.id = dup0(u->id);
	g->info.names = strv_copy(u->names);
	g->info.load_state = dup0(u->load_state);
	g->info.active_state = dup0(u->active_state);
	g->info.sub_state = dup0(u->sub_state);
	g->info.failure_action = dup0(u->failure_action);
	g->info.success_action = dup0(u->success_action);
	g->info.start_limit_action = dup0(u->start_limit_action);
	g->info.job_timeout_action = dup0(u->job_timeout_action);
	g->info.exec_paths = strv_copy(u->exec_paths);
	g->info.working_directory = dup0(u->working_directory);
}

static void got_done(Got *g)
{
	free(g->error);
	unit_info_done(&g->info);
	*g = (Got){0};
}

static void run_until(const bool *flag, uint64_t usec)
{
	uint64_t t0 = util_now_usec();

	while (!*flag && util_now_usec() - t0 < usec)
		sd_event_run(ev, 50 * USEC_PER_MSEC);
}

/* One query to its end; the result (or the synchronous -errno) in g. */
static int query(const char *unit, Got *g)
{
	int r;

	*g = (Got){0};
	r = unit_query(bus, unit, on_done, g, NULL);
	if (r < 0)
		return r;
	CHECK(!g->called); /* never inline */
	run_until(&g->called, 10 * USEC_PER_SEC);
	CHECK_(g->called, "query %s never finished", unit);
	return g->r;
}

static bool strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void setup(const char *root)
{
	const char *sleeper = "[Service]\nExecStart=/bin/sleep infinity\n";

	sandbox_file("units/healthy.service", 0644, "%s", sleeper);
	sandbox_file("units/failed.service", 0644, "[Service]\nExecStart=/bin/false\n");
	sandbox_file("units/reboot.service", 0644, "[Unit]\nFailureAction=reboot\n%s", sleeper);
	sandbox_file("units/exiting.service", 0644, "[Unit]\nSuccessAction=exit\n%s", sleeper);
	sandbox_file("units/refuse.service", 0644, "[Unit]\nRefuseManualStart=yes\n%s", sleeper);
	/* web.service is also kmod.service (always protected), shop.service is guarded.service. */
	sandbox_file("units/web.service", 0644, "%s", sleeper);
	sandbox_symlink("web.service", "units/kmod.service");
	sandbox_file("units/shop.service", 0644, "%s", sleeper);
	sandbox_symlink("shop.service", "units/guarded.service");
	sandbox_file("units/pre.service", 0644,
		     "[Service]\nExecStartPre=%1$s/bin/prep.sh\n"
		     "ExecStart=/bin/sh %1$s/app/run.sh --config=/etc/x.conf relative/arg\n"
		     "ExecStartPost=-%1$s/bin/post.sh\nWorkingDirectory=%1$s/work\n",
		     root);
	sandbox_file("units/optwd.service", 0644,
		     "[Service]\nExecStart=/bin/true\nWorkingDirectory=-%s/maybe\n", root);
	sandbox_file("units/rootwd.service", 0644,
		     "[Service]\nExecStart=/bin/true\nWorkingDirectory=/\n");
	sandbox_symlink("/dev/null", "units/masked.service");
	/* More aliases than a unit may have: the list must not be cut. */
	sandbox_file("units/many.service", 0644, "%s", sleeper);
	for (int i = 0; i < 70; i++) {
		char name[64];

		(void)util_snprintf(name, sizeof name, "units/many-%d.service", i);
		sandbox_symlink("many.service", name);
	}
	sandbox_file("empty/.keep", 0644, "\n");
}

TEST(test_healthy)
{
	char home[PATH_MAX];
	Got g;

	CHECK_INT(query("healthy.service", &g), ==, 0);
	CHECK_STR(g.info.id, "healthy.service");
	CHECK(strv_has(g.info.names, "healthy.service"));
	CHECK_STR(g.info.load_state, "loaded");
	CHECK_STR(g.info.active_state, "active");
	CHECK_STR(g.info.sub_state, "running");
	CHECK_INT(g.info.n_restarts, ==, 0);
	CHECK_INT(g.info.restart_usec, ==, 100 * USEC_PER_MSEC); /* systemd's default */
	CHECK(!g.info.refuse_manual_start && !g.info.refuse_manual_stop);
	CHECK_STR(g.info.failure_action, "none");
	CHECK_STR(g.info.job_timeout_action, "none");
	CHECK(strv_has(g.info.exec_paths, "/bin/sleep"));
	/* A user manager's units default to its home ("-~"); PID 1's to none. */
	(void)util_snprintf(home, sizeof home, "%s/home", getenv("HEALER_SANDBOX_RUNTIME"));
	CHECK_STR(g.info.working_directory, home);
	CHECK(unit_refusal(&g.info, wl, NULL, 0) == NULL);
	got_done(&g);
}

TEST(test_failed)
{
	char buf[256];
	Got g;

	CHECK_INT(query("failed.service", &g), ==, 0);
	CHECK_STR(g.info.active_state, "failed");
	CHECK_STR(g.info.sub_state, "failed");
	/* A failed unit is what Healer restarts: no refusal. */
	CHECK(unit_refusal(&g.info, wl, buf, sizeof buf) == NULL);
	got_done(&g);
}

TEST(test_actions)
{
	char buf[256];
	const char *why;
	Got g;

	/*
	 * FailureAction=reboot: a user manager cannot reboot and turns it into
	 * exit-force (with a warning); PID 1 would report "reboot". Either way
	 * a failed restart would end the manager.
	 */
	CHECK_INT(query("reboot.service", &g), ==, 0);
	CHECK_STR(g.info.failure_action, "exit-force");
	why = unit_refusal(&g.info, wl, buf, sizeof buf);
	CHECK(why == buf);
	CHECK_STR(why, "reboot.service has FailureAction=exit-force");
	/* Without a buffer: the static reason. */
	CHECK_STR(unit_refusal(&g.info, wl, NULL, 0), "the unit has a failure or success action");
	got_done(&g);

	CHECK_INT(query("exiting.service", &g), ==, 0);
	CHECK_STR(g.info.success_action, "exit");
	CHECK_STR(unit_refusal(&g.info, NULL, buf, sizeof buf),
		  "exiting.service has SuccessAction=exit");
	got_done(&g);

	CHECK_INT(query("refuse.service", &g), ==, 0);
	CHECK(g.info.refuse_manual_start);
	CHECK_STR(g.info.active_state, "inactive");
	CHECK_STR(unit_refusal(&g.info, wl, buf, sizeof buf),
		  "refuse.service has RefuseManualStart=yes");
	got_done(&g);
}

TEST(test_aliases)
{
	char buf[256];
	Got g;

	/* Asked by its plain name, the manager still lists the alias. */
	CHECK_INT(query("web.service", &g), ==, 0);
	CHECK(strv_has(g.info.names, "kmod.service"));
	CHECK_STR(unit_refusal(&g.info, wl, buf, sizeof buf),
		  "web.service is protected (as kmod.service)");
	/* Without a whitelist the names are not judged. */
	CHECK(unit_refusal(&g.info, NULL, buf, sizeof buf) == NULL);
	got_done(&g);

	CHECK_INT(query("kmod.service", &g), ==, 0);
	CHECK_STR(g.info.id, "web.service");
	CHECK(unit_refusal(&g.info, wl, buf, sizeof buf) != NULL);
	got_done(&g);

	/* Protected by the whitelist's own list, through a link it cannot see. */
	CHECK(!wl_unit_is_protected(wl, "shop.service"));
	CHECK_INT(query("shop.service", &g), ==, 0);
	CHECK_STR(unit_refusal(&g.info, wl, buf, sizeof buf),
		  "shop.service is protected (as guarded.service)");
	got_done(&g);

	CHECK_INT(query("masked.service", &g), ==, 0);
	CHECK_STR(g.info.load_state, "masked");
	CHECK_STR(unit_refusal(&g.info, NULL, buf, sizeof buf),
		  "masked.service is not loaded (LoadState=masked)");
	got_done(&g);

	/* 71 names: over the cap, an error rather than a shortened list. */
	CHECK_INT(query("many.service", &g), ==, -E2BIG);
	CHECK_CONTAINS(g.error, "many.service");
	got_done(&g);
}

TEST(test_exec_paths)
{
	const char *root = sandbox_fixture();
	char p[PATH_MAX];
	Got g;

	CHECK_INT(query("pre.service", &g), ==, 0);
	(void)util_snprintf(p, sizeof p, "%s/bin/prep.sh", root);
	CHECK(strv_has(g.info.exec_paths, p));
	CHECK(unit_runs_path(&g.info, p));
	(void)util_snprintf(p, sizeof p, "%s/app/run.sh", root);
	CHECK(strv_has(g.info.exec_paths, p));
	CHECK(unit_runs_path(&g.info, p));
	(void)util_snprintf(p, sizeof p, "%s/bin/post.sh", root);
	CHECK(unit_runs_path(&g.info, p));
	CHECK(strv_has(g.info.exec_paths, "/bin/sh"));
	CHECK(!strv_has(g.info.exec_paths, "--config=/etc/x.conf"));
	CHECK(!strv_has(g.info.exec_paths, "relative/arg"));
	CHECK(!unit_runs_path(&g.info, "/etc/x.conf"));
	CHECK_INT(strv_length(g.info.exec_paths), ==, 4);

	(void)util_snprintf(p, sizeof p, "%s/work", root);
	CHECK_STR(g.info.working_directory, p);
	CHECK(!unit_runs_path(&g.info, p)); /* the folder itself is not beneath it */
	(void)util_snprintf(p, sizeof p, "%s/work/sub/tool.sh", root);
	CHECK(unit_runs_path(&g.info, p));
	(void)util_snprintf(p, sizeof p, "%s/workshop/tool.sh", root);
	CHECK(!unit_runs_path(&g.info, p));
	(void)util_snprintf(p, sizeof p, "%s/work/../bin/other.sh", root);
	CHECK(!unit_runs_path(&g.info, p));
	(void)util_snprintf(p, sizeof p, "%s/bin/prep.sh/", root);
	CHECK(!unit_runs_path(&g.info, p));
	CHECK(!unit_runs_path(&g.info, "bin/prep.sh"));
	got_done(&g);

	/* "-" before the folder (the manager says "!"): the folder still counts. */
	CHECK_INT(query("optwd.service", &g), ==, 0);
	(void)util_snprintf(p, sizeof p, "%s/maybe", root);
	CHECK_STR(g.info.working_directory, p);
	got_done(&g);

	/* WorkingDirectory=/ never makes every path the unit's. */
	CHECK_INT(query("rootwd.service", &g), ==, 0);
	CHECK_STR(g.info.working_directory, "/");
	CHECK(!unit_runs_path(&g.info, "/etc/passwd"));
	CHECK(unit_runs_path(&g.info, "/bin/true"));
	got_done(&g);
}

TEST(test_runs_path_edges)
{
	char *paths[] = {"/opt/app/run.sh", NULL};
	UnitInfo u = {.exec_paths = paths, .working_directory = "/srv/site/"};

	CHECK(unit_runs_path(&u, "/opt/app/run.sh"));
	CHECK(!unit_runs_path(&u, "/opt/app/run.sh.bak"));
	CHECK(!unit_runs_path(&u, "/opt/app"));
	CHECK(unit_runs_path(&u, "/srv/site/index.cgi"));
	CHECK(!unit_runs_path(&u, "/srv/site/"));
	CHECK(!unit_runs_path(&u, "/srv/sitex/a"));
	CHECK(!unit_runs_path(&u, "/srv/site/./a"));
	CHECK(!unit_runs_path(&u, NULL));
	u.working_directory = "//";
	CHECK(!unit_runs_path(&u, "/etc/shadow"));
	u.working_directory = NULL;
	CHECK(!unit_runs_path(&u, "/srv/site/index.cgi"));
}

TEST(test_errors)
{
	Got g;

	CHECK_INT(query("nosuch.service", &g), ==, -ENOENT);
	CHECK_STR(g.error, "unit nosuch.service not found");
	got_done(&g);
	CHECK_INT(query("bad name.service", &g), ==, -EINVAL);
	CHECK_CONTAINS(g.error, "bad name.service: LoadUnit: ");
	got_done(&g);
	CHECK_INT(query("bad/name.service", &g), ==, -EINVAL);
	CHECK(!g.called);
	CHECK_INT(query("", &g), ==, -EINVAL);
	CHECK_INT(unit_query(NULL, "x.service", on_done, &g, NULL), ==, -EINVAL);
}

TEST(test_parallel_and_cancel)
{
	static const char *const units[] = {"healthy.service", "failed.service", "web.service",
					    "pre.service", "refuse.service"};
	Got g[ELEMENTSOF(units)], cancelled = {0};
	UnitQuery *q = NULL;
	bool all = false;

	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		g[i] = (Got){0};
		CHECK_INT(unit_query(bus, units[i], on_done, &g[i], NULL), ==, 0);
	}
	CHECK_INT(unit_query(bus, "healthy.service", on_done, &cancelled, &q), ==, 0);
	CHECK(q != NULL);
	CHECK(unit_query_cancel(q) == NULL);
	CHECK(unit_query_cancel(NULL) == NULL);
	for (uint64_t t0 = util_now_usec(); !all && util_now_usec() - t0 < 10 * USEC_PER_SEC;) {
		sd_event_run(ev, 50 * USEC_PER_MSEC);
		all = true;
		for (size_t i = 0; i < ELEMENTSOF(units); i++)
			all = all && g[i].called;
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		CHECK_INT(g[i].r, ==, 0);
		CHECK_STR(g[i].info.id, units[i]);
		got_done(&g[i]);
	}
	/* Let a reply to the cancelled call arrive: it must go nowhere. */
	for (uint64_t t0 = util_now_usec(); util_now_usec() - t0 < 200 * USEC_PER_MSEC;)
		sd_event_run(ev, 20 * USEC_PER_MSEC);
	CHECK(!cancelled.called);
}

TEST(test_no_bus)
{
	sd_bus *b = NULL;

	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/healer-test-no-such-bus", 1);
	CHECK_INT(unit_bus_open(ev, &b), <, 0);
	CHECK(b == NULL);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	(*(int *)userdata)++;
	return 0;
}

/* A manager that hangs: the loop keeps running and the query ends on its deadline. */
TEST(test_hung_manager)
{
	const char *m = getenv("HEALER_SANDBOX_MANAGER_PID");
	pid_t pid = m ? (pid_t)strtol(m, NULL, 10) : 0;
	sd_event_source *tick = NULL;
	uint64_t t0, took;
	int ticks = 0;
	Got g = {0};

	CHECK_(pid > 1, "HEALER_SANDBOX_MANAGER_PID '%s'", m ? m : "(null)");
	if (pid <= 1)
		return;
	CHECK_INT(sd_event_add_time_relative(ev, &tick, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC,
					     USEC_PER_MSEC, on_tick, &ticks),
		  ==, 0);
	(void)sd_event_source_set_description(tick, "test-tick");
	CHECK_INT(kill(pid, SIGSTOP), ==, 0);
	t0 = util_now_usec();
	CHECK_INT(unit_query(bus, "healthy.service", on_done, &g, NULL), ==, 0);
	run_until(&g.called, 2 * UNIT_BUS_TIMEOUT_USEC);
	took = util_now_usec() - t0;
	(void)kill(pid, SIGCONT);
	CHECK_INT(g.r, ==, -ETIMEDOUT);
	CHECK_INT(ticks, ==, 1); /* the loop was never blocked */
	CHECK_INT(took, >=, UNIT_BUS_TIMEOUT_USEC - 100 * USEC_PER_MSEC);
	CHECK_INT(took, <, UNIT_BUS_TIMEOUT_USEC + USEC_PER_SEC);
	printf("info: a hung manager: query ended after %.2f s (%s)\n", (double)took / 1e6,
	       g.error ? g.error : "");
	got_done(&g);
	sd_event_source_unref(tick);
	/* Answers again once it runs. */
	CHECK_INT(query("healthy.service", &g), ==, 0);
	got_done(&g);
}

int main(void)
{
	static const char *const start[] = {"healthy.service", "failed.service", "web.service",
					    "shop.service",    "reboot.service", NULL};
	const char *wl_text = "[healer]\nprotect = guarded.service\n";
	char empty[PATH_MAX];
	const char *dirs[] = {empty};
	char *errors = NULL;
	int r;

	r = sandbox_main(setup, start);
	if (r >= 0)
		return r;
	/* The whitelist sees no unit files: aliases come from the bus alone. */
	(void)util_snprintf(empty, sizeof empty, "%s/empty", sandbox_fixture());
	if (wl_parse("test", wl_text, strlen(wl_text), &wl, &errors) < 0 ||
	    wl_set_unit_dirs(wl, dirs, 1) < 0) {
		fprintf(stderr, "whitelist: %s\n", errors ? errors : "?");
		return 2;
	}
	CHECK_INT(sd_event_default(&ev), >=, 0);
	CHECK_INT(unit_bus_open(ev, &bus), ==, 0);
	if (!bus) {
		printf("FAIL no bus inside the sandbox\n");
		return harness_finish();
	}
	RUN(test_healthy);
	RUN(test_failed);
	RUN(test_actions);
	RUN(test_aliases);
	RUN(test_exec_paths);
	RUN(test_runs_path_edges);
	RUN(test_errors);
	RUN(test_parallel_and_cancel);
	RUN(test_no_bus);
	RUN(test_hung_manager);
	sd_bus_flush_close_unref(bus);
	sd_event_unref(ev);
	wl_free(wl);
	free(errors);
	return harness_finish();
}
