/* SPDX-License-Identifier: MIT */
/*
 * Executor tests with real processes: the helper programs in tests/progs/ex_*
 * (found next to this binary, build/san/progs, or in $HEALER_PROGS_DIR) and a
 * few from /bin. Everything written lives in one mkdtemp folder under /tmp,
 * removed at the end.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/util.h"
#include "healer/builtins.h"
#include "healer/executor.h"
#include "tests/unit/acl.h"
#include "tests/unit/harness.h"

#define MSEC USEC_PER_MSEC

static char tmpdir[PATH_MAX];
static char p_sleep[PATH_MAX], p_stubborn[PATH_MAX], p_bg[PATH_MAX], p_flood[PATH_MAX],
	p_env[PATH_MAX], p_escape[PATH_MAX], p_forkbomb[PATH_MAX];

static void info(const char *what, uint64_t usec)
{
	printf("INFO %-28s %6.1f ms\n", what, (double)usec / 1000.0);
}

/* The test process must have no children left after every run. */
static void check_no_children(void)
{
	errno = 0;
	CHECK_(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "a child is left (errno %d)",
	       errno);
}

/* Reads state and process group from /proc/pid/stat; false when the pid is gone. */
static bool proc_stat(pid_t pid, char *state, pid_t *pgrp)
{
	char path[64], buf[1024], *p;
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int pg = 0;

	util_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %d", state, &pg) != 2)
		return false;
	*pgrp = pg;
	return true;
}

/* Alive = exists and is not a zombie (PID 1 here may not reap orphans at once). */
static bool pid_alive(pid_t pid)
{
	char state;
	pid_t pg;

	return proc_stat(pid, &state, &pg) && state != 'Z' && state != 'X';
}

static bool group_alive(pid_t pgid)
{
	DIR *d = opendir("/proc");
	bool alive = false;

	if (!d)
		return true;
	for (struct dirent *de; !alive && (de = readdir(d));) {
		char *end, state;
		long pid = strtol(de->d_name, &end, 10);
		pid_t pg;

		if (*end != '\0' || pid <= 0)
			continue;
		if (proc_stat((pid_t)pid, &state, &pg) && pg == pgid && state != 'Z' &&
		    state != 'X')
			alive = true;
	}
	closedir(d);
	return alive;
}

/* SIGKILL is asynchronous: give a dying process up to ms to finish dying. */
static bool wait_gone(pid_t pid, bool group, unsigned ms)
{
	for (unsigned i = 0; i <= ms / 10; i++) {
		if (!(group ? group_alive(pid) : pid_alive(pid)))
			return true;
		usleep(10000);
	}
	return false;
}

static pid_t pid_after(const char *s, const char *label)
{
	const char *p = s ? strstr(s, label) : NULL;

	return p ? (pid_t)strtol(p + strlen(label), NULL, 10) : 0;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void done_flag(ExChild *c, const ExResult *r, void *userdata)
{
	(void)c;
	(void)r;
	*(bool *)userdata = true;
}

TEST(test_true_false)
{
	ExResult r = {0};

	CHECK_INT(ex_run((char *[]){"/bin/true", NULL}, NULL, &r), ==, 0);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK_INT(r.term_signal, ==, 0);
	CHECK(!r.timed_out);
	CHECK(!r.output_truncated);
	CHECK_INT(r.output_len, ==, 0);
	CHECK_STR(r.output, "");
	ex_result_done(&r);
	CHECK(r.output == NULL);
	check_no_children();

	CHECK_INT(ex_run((char *[]){"/bin/false", NULL}, NULL, &r), ==, 0);
	CHECK_INT(r.exit_status, ==, 1);
	CHECK_INT(r.term_signal, ==, 0);
	CHECK(!r.timed_out);
	ex_result_done(&r);
	check_no_children();
}

TEST(test_echo_output)
{
	ExResult r = {0};

	CHECK_INT(ex_run((char *[]){"/bin/echo", "hello", "world", NULL}, NULL, &r), ==, 0);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK_STR(r.output, "hello world\n");
	CHECK_INT(r.output_len, ==, 12);
	ex_result_done(&r);
	check_no_children();

	/* No shell anywhere: metacharacters arrive as plain bytes. */
	CHECK_INT(ex_run((char *[]){"/bin/echo", "a b", "$HOME", "`id`;|&>x", NULL}, NULL, &r), ==,
		  0);
	CHECK_STR(r.output, "a b $HOME `id`;|&>x\n");
	ex_result_done(&r);
	check_no_children();
}

TEST(test_exec_failure)
{
	char noexec[PATH_MAX];
	ExResult r = {.exit_status = 77};
	sd_event *e = NULL;
	ExChild *c = NULL;
	bool called = false;
	int fd;

	util_snprintf(noexec, sizeof(noexec), "%s/not-executable", tmpdir);
	fd = open(noexec, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "#!/bin/sh\n", 10), ==, 10);
	close(fd);

	CHECK_INT(ex_run((char *[]){"/nonexistent/healer-test", NULL}, NULL, &r), ==, -ENOENT);
	check_no_children();
	CHECK_INT(ex_run((char *[]){noexec, NULL}, NULL, &r), ==, -EACCES);
	check_no_children();
	CHECK_INT(ex_run((char *[]){tmpdir, NULL}, NULL, &r), ==, -EACCES);
	check_no_children();
	CHECK_INT(ex_run((char *[]){"bin/true", NULL}, NULL, &r), ==, -EINVAL);
	CHECK_INT(ex_run((char *[]){"true", NULL}, NULL, &r), ==, -EINVAL);
	CHECK_INT(ex_run((char *[]){"", NULL}, NULL, &r), ==, -EINVAL);
	CHECK_INT(ex_run((char *[]){NULL}, NULL, &r), ==, -EINVAL);
	CHECK_INT(ex_run(NULL, NULL, &r), ==, -EINVAL);
	check_no_children();
	/* Out-parameters stay untouched on failure. */
	CHECK_INT(r.exit_status, ==, 77);

	static const char *const bad_env[][2] = {
		{"NOEQUALS", NULL}, {"=value", NULL}, {"PATH=/tmp", NULL}, {"HOME=/root", NULL}};
	for (size_t i = 0; i < ELEMENTSOF(bad_env); i++) {
		ExOptions o = {.extra_env = bad_env[i]};

		CHECK_INT(ex_run((char *[]){"/bin/true", NULL}, &o, &r), ==, -EINVAL);
	}
	const char *many[EX_EXTRA_ENV_MAX + 2];
	for (size_t i = 0; i < EX_EXTRA_ENV_MAX + 1; i++)
		many[i] = "X=1";
	many[EX_EXTRA_ENV_MAX + 1] = NULL;
	CHECK_INT(ex_run((char *[]){"/bin/true", NULL}, &(ExOptions){.extra_env = many}, &r), ==,
		  -E2BIG);
	check_no_children();

	CHECK_INT(sd_event_new(&e), >=, 0);
	CHECK_INT(ex_spawn(e, (char *[]){"/nonexistent", NULL}, NULL, NULL, NULL, &c), ==, -EINVAL);
	CHECK_INT(ex_spawn(e, (char *[]){"/nonexistent/x", NULL}, NULL, done_flag, &called, &c), ==,
		  -ENOENT);
	CHECK(c == NULL);
	CHECK(!called);
	sd_event_unref(e);
	check_no_children();
}

TEST(test_timeout_stubborn)
{
	ExOptions o = {.timeout_usec = 300 * MSEC, .grace_usec = 200 * MSEC};
	ExResult r = {0};
	pid_t leader, grandchild;

	CHECK_INT(ex_run((char *[]){p_stubborn, NULL}, &o, &r), ==, 0);
	info("stubborn (300+200 ms)", r.duration_usec);
	CHECK(r.timed_out);
	CHECK_INT(r.exit_status, ==, -1);
	CHECK_INT(r.term_signal, ==, SIGKILL);
	CHECK_INT(r.duration_usec, >=, 500 * MSEC);
	CHECK_INT(r.duration_usec, <,
		  10000 * MSEC); /* killed, not hung: a bound, not a benchmark */
	leader = pid_after(r.output, "leader ");
	grandchild = pid_after(r.output, "grandchild ");
	CHECK_INT(leader, >, 0);
	CHECK_INT(grandchild, >, 0);
	CHECK(leader > 0 && !pid_alive(leader));
	CHECK(grandchild > 0 && wait_gone(grandchild, false, 2000));
	CHECK(leader > 0 && wait_gone(leader, true, 2000));
	ex_result_done(&r);
	check_no_children();
}

TEST(test_timeout_sleeper)
{
	ExOptions o = {.timeout_usec = 300 * MSEC, .grace_usec = 2000 * MSEC};
	ExResult r = {0};

	CHECK_INT(ex_run((char *[]){p_sleep, NULL}, &o, &r), ==, 0);
	info("sleeper (300 ms, SIGTERM)", r.duration_usec);
	CHECK(r.timed_out);
	CHECK_INT(r.exit_status, ==, -1);
	CHECK_INT(r.term_signal, ==, SIGTERM);
	CHECK_INT(r.duration_usec, >=, 300 * MSEC);
	CHECK_INT(r.duration_usec, <, 10000 * MSEC);
	CHECK_STR(r.output, "sleeping\n");
	ex_result_done(&r);
	check_no_children();

	/* A sleeper that finishes in time is left alone. */
	o = (ExOptions){.timeout_usec = 2000 * MSEC};
	CHECK_INT(ex_run((char *[]){p_sleep, "50", NULL}, &o, &r), ==, 0);
	info("sleeper (50 ms, in time)", r.duration_usec);
	CHECK(!r.timed_out);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK_INT(r.duration_usec, >=, 50 * MSEC);
	CHECK_STR(r.output, "sleeping\nwoke\n");
	ex_result_done(&r);
	check_no_children();
}

TEST(test_no_strays)
{
	ExResult r = {0};
	pid_t gc;

	CHECK_INT(ex_run((char *[]){p_bg, NULL}, NULL, &r), ==, 0);
	info("leader leaves a background", r.duration_usec);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK(!r.timed_out);
	gc = pid_after(r.output, "grandchild ");
	CHECK_INT(gc, >, 0);
	CHECK(gc > 0 && wait_gone(gc, false, 2000));
	ex_result_done(&r);
	check_no_children();
}

TEST(test_escaped_grandchild)
{
	uint64_t t0 = util_now_usec(), wall;
	ExResult r = {0};
	pid_t gc;

	/* Left the group with setsid() and holds the pipe: we must not hang on it. */
	CHECK_INT(ex_run((char *[]){p_bg, "escape", NULL}, NULL, &r), ==, 0);
	wall = util_now_usec() - t0;
	info("escaped grandchild (wall)", wall);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK_INT(wall, <, 2000 * MSEC);
	gc = pid_after(r.output, "grandchild ");
	CHECK_INT(gc, >, 0);
	/* Out of the executor's reach by design; the test cleans up after itself. */
	if (gc > 0 && pid_alive(gc))
		kill(gc, SIGKILL);
	CHECK(gc > 0 && wait_gone(gc, false, 2000));
	ex_result_done(&r);
	check_no_children();
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

TEST(test_output_cap)
{
	ExOptions o = {.timeout_usec = 10 * USEC_PER_SEC};
	ExResult r = {0};
	long rss0 = maxrss_kib();
	bool all_x = true;

	CHECK_INT(ex_run((char *[]){p_flood, "50000000", NULL}, &o, &r), ==, 0);
	info("flood 50 MB, cap 64 KiB", r.duration_usec);
	CHECK(!r.timed_out);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK_INT(r.term_signal, ==, 0);
	CHECK(r.output_truncated);
	CHECK_INT(r.output_len, ==, EX_OUTPUT_MAX_DEFAULT);
	CHECK_INT(strlen(r.output), ==, EX_OUTPUT_MAX_DEFAULT);
	for (size_t i = 0; i < r.output_len; i++)
		all_x = all_x && r.output[i] == 'x';
	CHECK(all_x);
	CHECK_INT(maxrss_kib() - rss0, <, 16 * 1024);
	ex_result_done(&r);
	check_no_children();

	/* Exactly at the cap is not truncated; one byte more is. */
	o.output_max = 1000;
	CHECK_INT(ex_run((char *[]){p_flood, "1000", NULL}, &o, &r), ==, 0);
	CHECK_INT(r.output_len, ==, 1000);
	CHECK(!r.output_truncated);
	ex_result_done(&r);
	CHECK_INT(ex_run((char *[]){p_flood, "1001", NULL}, &o, &r), ==, 0);
	CHECK_INT(r.output_len, ==, 1000);
	CHECK(r.output_truncated);
	ex_result_done(&r);
	o.output_max = 1;
	CHECK_INT(ex_run((char *[]){p_flood, "5", NULL}, &o, &r), ==, 0);
	CHECK_STR(r.output, "x");
	CHECK(r.output_truncated);
	ex_result_done(&r);
	check_no_children();
}

static const char fixed_env_lines[] = "ENV:PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
				      "ENV:LC_ALL=C\n"
				      "ENV:HOME=/\n"
				      "ENV:SYSTEMD_PAGER=cat\n"
				      "ENV:SYSTEMD_COLORS=0\n";

TEST(test_environment)
{
	const char *extra[] = {"DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/x/bus", "EMPTY=", NULL};
	ExOptions o = {.extra_env = extra};
	ExResult r = {0};

	setenv("HEALER_TEST_LEAK", "1", 1);
	CHECK_INT(ex_run((char *[]){p_env, NULL}, NULL, &r), ==, 0);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK(r.output && strncmp(r.output, fixed_env_lines, strlen(fixed_env_lines)) == 0);
	CHECK_INT(count(r.output, "ENV:"), ==, 5);
	ex_result_done(&r);

	CHECK_INT(ex_run((char *[]){p_env, NULL}, &o, &r), ==, 0);
	CHECK(r.output && strncmp(r.output, fixed_env_lines, strlen(fixed_env_lines)) == 0);
	CHECK_CONTAINS(r.output,
		       "\nENV:DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/x/bus\nENV:EMPTY=\n");
	CHECK_INT(count(r.output, "ENV:"), ==, 7);
	ex_result_done(&r);
	unsetenv("HEALER_TEST_LEAK");
	check_no_children();
}

static void dummy_handler(int sig)
{
	(void)sig;
}

/* The child's starting state under opts: what test_fds_and_signals checks. */
static void check_child_state(const ExOptions *opts)
{
	static const int blocked[] = {SIGTERM, SIGUSR1, SIGCHLD, SIGHUP, SIGINT, SIGALRM};
	struct sigaction ign = {.sa_handler = SIG_IGN}, hnd = {.sa_handler = dummy_handler};
	struct sigaction old_term, old_int, old_pipe, old_usr2;
	sigset_t mask, old_mask;
	ExResult r = {0};
	int leak, leak_high, saved_stdin, in[2];

	/* A daemon's state the child must not inherit. */
	leak = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
	leak_high = dup2(leak, 100);
	CHECK(leak >= 0 && leak_high == 100);
	/* Our stdin has data waiting: the child must see /dev/null instead. */
	saved_stdin = dup(STDIN_FILENO);
	CHECK_INT(pipe(in), ==, 0);
	CHECK_INT(write(in[1], "data", 4), ==, 4);
	CHECK_INT(dup2(in[0], STDIN_FILENO), ==, STDIN_FILENO);
	sigemptyset(&mask);
	for (size_t i = 0; i < ELEMENTSOF(blocked); i++)
		sigaddset(&mask, blocked[i]);
	sigprocmask(SIG_BLOCK, &mask, &old_mask);
	sigaction(SIGTERM, &ign, &old_term);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGUSR2, &hnd, &old_usr2);

	CHECK_INT(ex_run((char *[]){p_env, NULL}, opts, &r), ==, 0);

	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGUSR2, &old_usr2, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	close(leak);
	close(leak_high);
	dup2(saved_stdin, STDIN_FILENO);
	close(saved_stdin);
	close(in[0]);
	close(in[1]);

	CHECK_INT(r.exit_status, ==, 0);
	CHECK_CONTAINS(r.output, "\nFD:0\nFD:1\nFD:2\n");
	CHECK_INT(count(r.output, "FD:"), ==, 3);
	CHECK_CONTAINS(r.output, "\nSIGMASK:empty\n");
	CHECK_INT(count(r.output, "SIG:"), ==, 12);
	CHECK_INT(count(r.output, "=DFL\n"), ==, 12);
	CHECK_CONTAINS(r.output, "\nSIG:TERM=DFL\n");
	CHECK_CONTAINS(r.output, "\nSTDIN:devnull\nSTDIN-READ:eof\n");
	CHECK_CONTAINS(r.output, "\nSESSION:leader\n");
	CHECK_CONTAINS(r.output, "\nSTDERR:ok\n");
	if (harness_failed)
		fprintf(stderr, "--- ex_env said:\n%s---\n", r.output ? r.output : "");
	ex_result_done(&r);
	check_no_children();
}

TEST(test_fds_and_signals)
{
	check_child_state(NULL);
}

TEST(test_free_running)
{
	sd_event *e = NULL;
	ExChild *c = NULL;
	bool called = false;
	pid_t pid;
	int r = 0;

	CHECK_INT(sd_event_new(&e), >=, 0);
	/* Freed before the loop ever ran. */
	CHECK_INT(ex_spawn(e, (char *[]){p_sleep, NULL}, NULL, done_flag, &called, &c), ==, 0);
	pid = c ? ex_child_pid(c) : 0;
	CHECK_INT(pid, >, 0);
	CHECK(ex_child_free(c) == NULL);
	CHECK(!pid_alive(pid));
	check_no_children();

	/* Freed while running under the loop, with a grandchild in its group. */
	c = NULL;
	CHECK_INT(ex_spawn(e, (char *[]){p_stubborn, NULL}, NULL, done_flag, &called, &c), ==, 0);
	pid = c ? ex_child_pid(c) : 0;
	for (int i = 0; i < 5 && r >= 0; i++)
		r = sd_event_run(e, 20 * MSEC);
	CHECK_INT(r, >=, 0);
	CHECK(pid > 0 && group_alive(pid));
	CHECK(ex_child_free(c) == NULL);
	CHECK(!pid_alive(pid));
	CHECK(wait_gone(pid, true, 2000));
	CHECK(!called);
	check_no_children();
	CHECK(ex_child_free(NULL) == NULL);
	sd_event_unref(e);
}

typedef struct Slot {
	bool done;
	ExResult r;
} Slot;

static void slot_done(ExChild *c, const ExResult *r, void *userdata)
{
	Slot *s = userdata;

	s->done = true;
	s->r = *r;
	s->r.output = strdup(r->output);
	/* Freeing from inside the callback is allowed. */
	ex_child_free(c);
}

TEST(test_concurrent)
{
	ExOptions slow = {.timeout_usec = 5 * USEC_PER_SEC};
	ExOptions quick = {.timeout_usec = 300 * MSEC, .grace_usec = 200 * MSEC};
	Slot a = {0}, b = {0}, d = {0};
	uint64_t t0 = util_now_usec();
	sd_event *e = NULL;
	ExChild *c;
	int r = 0;

	CHECK_INT(sd_event_new(&e), >=, 0);
	CHECK_INT(ex_spawn(e, (char *[]){p_sleep, "100", NULL}, &slow, slot_done, &a, &c), ==, 0);
	CHECK_INT(ex_spawn(e, (char *[]){p_sleep, NULL}, &quick, slot_done, &b, &c), ==, 0);
	CHECK_INT(ex_spawn(e, (char *[]){"/bin/echo", "d", NULL}, NULL, slot_done, &d, &c), ==, 0);
	while (!(a.done && b.done && d.done) && util_now_usec() - t0 < 5 * USEC_PER_SEC && r >= 0)
		r = sd_event_run(e, 100 * MSEC);
	CHECK_INT(r, >=, 0);
	info("three on one loop (wall)", util_now_usec() - t0);
	CHECK(a.done && b.done && d.done);
	CHECK_INT(a.r.exit_status, ==, 0);
	CHECK(!a.r.timed_out);
	CHECK_STR(a.r.output, "sleeping\nwoke\n");
	CHECK(b.r.timed_out);
	CHECK_INT(b.r.term_signal, ==, SIGTERM);
	CHECK_STR(b.r.output, "sleeping\n");
	CHECK_INT(d.r.exit_status, ==, 0);
	CHECK_STR(d.r.output, "d\n");
	ex_result_done(&a.r);
	ex_result_done(&b.r);
	ex_result_done(&d.r);
	sd_event_unref(e);
	check_no_children();
}

static void make_file(const char *name, mode_t mode, char *path, size_t len)
{
	int fd;

	util_snprintf(path, len, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK_(fd >= 0, "create %s: %s", path, strerror(errno));
	if (fd >= 0) {
		CHECK_INT(fchmod(fd, mode), ==, 0);
		close(fd);
	}
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

static void chmod_ok(const char *name, mode_t before, mode_t after, const char *why)
{
	char path[PATH_MAX], reason[256];

	make_file(name, before, path, sizeof(path));
	CHECK_INT(ex_builtin_chmod_x(path, reason, sizeof(reason)), ==, 0);
	CHECK_INT(mode_of(path), ==, after);
	CHECK_CONTAINS(reason, why);
}

static void chmod_refused(const char *path, int err, const char *why)
{
	char reason[256];

	CHECK_INT(ex_builtin_chmod_x(path, reason, sizeof(reason)), ==, err);
	CHECK_CONTAINS(reason, why);
}

TEST(test_builtin_chmod_x)
{
	char path[PATH_MAX], target[PATH_MAX], dir[PATH_MAX], lnk[PATH_MAX], reason[256];
	uint64_t t0;

	chmod_ok("a", 0644, 0755, "0644 -> 0755");
	chmod_ok("b", 0600, 0700, "0600 -> 0700");
	chmod_ok("c", 0640, 0750, "0640 -> 0750");
	chmod_ok("d", 0755, 0755, "nothing to do");
	chmod_ok("e", 0000, 0000, "nothing to do");

	make_file("target", 0644, target, sizeof(target));
	util_snprintf(lnk, sizeof(lnk), "%s/symlink", tmpdir);
	CHECK_INT(symlink(target, lnk), ==, 0);
	chmod_refused(lnk, -EPERM, "symlink");
	CHECK_INT(mode_of(target), ==, 0644);

	util_snprintf(dir, sizeof(dir), "%s/realdir", tmpdir);
	CHECK_INT(mkdir(dir, 0755), ==, 0);
	util_snprintf(path, sizeof(path), "%s/realdir/f", tmpdir);
	CHECK_INT(close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), ==, 0);
	CHECK_INT(chmod(path, 0644), ==, 0);
	util_snprintf(lnk, sizeof(lnk), "%s/linkdir", tmpdir);
	CHECK_INT(symlink(dir, lnk), ==, 0);
	util_snprintf(lnk, sizeof(lnk), "%s/linkdir/f", tmpdir);
	chmod_refused(lnk, -EPERM, "symlink");
	CHECK_INT(mode_of(path), ==, 0644);
	chmod_refused(dir, -EPERM, "not a regular file");

	make_file("hard1", 0644, path, sizeof(path));
	util_snprintf(lnk, sizeof(lnk), "%s/hard2", tmpdir);
	CHECK_INT(link(path, lnk), ==, 0);
	chmod_refused(path, -EPERM, "hard link");
	CHECK_INT(mode_of(path), ==, 0644);

	make_file("suid", 04644, path, sizeof(path));
	chmod_refused(path, -EPERM, "setuid");
	CHECK_INT(mode_of(path), ==, 04644);
	make_file("sgid", 02644, path, sizeof(path));
	chmod_refused(path, -EPERM, "setgid");
	make_file("worldw", 0646, path, sizeof(path));
	chmod_refused(path, -EPERM, "writable by others");
	CHECK_INT(mode_of(path), ==, 0646);
	/* Group write: a member of a user group could have written the script. */
	make_file("groupw", 0664, path, sizeof(path));
	CHECK_INT(chown(path, 0, 4242), ==, 0);
	CHECK_INT(chmod(path, 0664), ==, 0);
	chmod_refused(path, -EPERM, "writable by a group other than root");
	CHECK_INT(mode_of(path), ==, 0664);
	/* An ACL entry giving a user write, behind group bits that show only the mask. */
	make_file("aclw", 0644, path, sizeof(path));
	CHECK_INT(test_set_acl(path, TEST_ACL_USER, 65534, 6, 6), ==, 0);
	chmod_refused(path, -EPERM, "writable by a user or group of its ACL");
	make_file("rootgroupw", 0664, path, sizeof(path));
	CHECK_INT(ex_builtin_chmod_x(path, reason, sizeof reason), ==, 0);
	CHECK_INT(mode_of(path), ==, 0775);

	util_snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	CHECK_INT(mkfifo(path, 0644), ==, 0);
	t0 = util_now_usec();
	chmod_refused(path, -EPERM, "not a regular file"); /* a blocking open meets the watchdog */
	CHECK_INT(util_now_usec() - t0, <, 10000 * MSEC);

	util_snprintf(path, sizeof(path), "%s/missing", tmpdir);
	chmod_refused(path, -ENOENT, "cannot open");
	chmod_refused("relative/path", -EINVAL, "not an absolute path");
	CHECK_INT(ex_builtin_chmod_x("relative", NULL, 0), ==, -EINVAL);
}

TEST(test_builtin_drop_caches)
{
	char path[PATH_MAX], lnk[PATH_MAX], reason[256];
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	make_file("drop_caches", 0644, path, sizeof(path));
	CHECK_INT(ex_builtin_drop_caches(path, reason, sizeof(reason)), ==, 0);
	CHECK_INT(util_read_file(path, 64, &data, &len), ==, 0);
	CHECK_INT(len, ==, 2);
	CHECK(data && memcmp(data, "3\n", 2) == 0);

	util_snprintf(path, sizeof(path), "%s/no-such-dir/drop_caches", tmpdir);
	CHECK_INT(ex_builtin_drop_caches(path, reason, sizeof(reason)), ==, -ENOENT);
	CHECK_CONTAINS(reason, "cannot open");
	util_snprintf(lnk, sizeof(lnk), "%s/drop_link", tmpdir);
	util_snprintf(path, sizeof(path), "%s/drop_caches", tmpdir);
	CHECK_INT(symlink(path, lnk), ==, 0);
	CHECK_INT(ex_builtin_drop_caches(lnk, reason, sizeof(reason)), ==, -ELOOP);
	util_snprintf(path, sizeof(path), "%s/no-such-file", tmpdir);
	CHECK_INT(ex_builtin_drop_caches(path, NULL, 0), ==, -ENOENT);
	CHECK_INT(access(path, F_OK), ==, -1); /* never created */
}

/*
 * Cgroups. The test makes one cgroup of its own, healer-test-PID, directly
 * under the host's cgroup v2 root (/sys/fs/cgroup/unified on a hybrid
 * system, /sys/fs/cgroup on a unified one). Only processes the test starts
 * go in there: the test process itself never moves, nothing else is
 * touched, and the directory is removed at the end. A private cgroup2
 * mount would change nothing: it shows the same hierarchy, with the same
 * controllers (on a hybrid system memory and pids stay with v1).
 */
static char cg_mount[PATH_MAX], cg_root[PATH_MAX];

static bool cg_init(void)
{
	static const char *const mounts[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};

	for (size_t i = 0; i < ELEMENTSOF(mounts); i++) {
		struct statfs sf;

		if (statfs(mounts[i], &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		util_snprintf(cg_mount, sizeof(cg_mount), "%s", mounts[i]);
		util_snprintf(cg_root, sizeof(cg_root), "%s/healer-test-%d", mounts[i],
			      (int)getpid());
		if (mkdir(cg_root, 0755) == 0)
			return true;
		printf("SKIP cgroup tests: cannot create %s: %s\n", cg_root, strerror(errno));
		cg_root[0] = '\0';
		return false;
	}
	printf("SKIP cgroup tests: no cgroup v2 file system mounted\n");
	return false;
}

/* How many entries of cg_root (or of dir) start with prefix; name of the last one. */
static int cg_entries(const char *dir, const char *prefix, char *last, size_t last_len)
{
	DIR *d = opendir(dir ? dir : cg_root);
	int n = 0;

	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			n++;
			if (last)
				util_snprintf(last, last_len, "%s", de->d_name);
		}
	closedir(d);
	return n;
}

static bool read_small(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

static bool write_small(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	return fd >= 0 && write(fd, value, strlen(value)) == (ssize_t)strlen(value);
}

typedef struct GcRun {
	bool done;
	ExResult r;
	pid_t gc;
	bool gc_alive_at_done;
} GcRun;

static void gc_done(ExChild *c, const ExResult *r, void *userdata)
{
	GcRun *g = userdata;

	(void)c;
	g->done = true;
	g->r = *r;
	g->r.output = strdup(r->output);
	g->gc = pid_after(r->output, "grandchild ");
	g->gc_alive_at_done = g->gc > 0 && pid_alive(g->gc);
}

/*
 * ex_run() with one more fact: whether the grandchild the program reported
 * was still alive when done ran (ex_run() itself frees the child, and with
 * it kills whatever is left, before it returns).
 */
static void run_gc(char *const argv[], const ExOptions *o, GcRun *g)
{
	sd_event *e = NULL;
	ExChild *c = NULL;
	int r = 0;

	*g = (GcRun){0};
	CHECK_INT(sd_event_new(&e), >=, 0);
	CHECK_INT(ex_spawn(e, argv, o, gc_done, g, &c), ==, 0);
	while (c && !g->done && r >= 0)
		r = sd_event_run(e, UINT64_MAX);
	CHECK_INT(r, >=, 0);
	CHECK_INT(g->gc, >, 0);
	ex_child_free(c);
	sd_event_unref(e);
}

TEST(test_cgroup_setup_override)
{
	char *parent = NULL, *why = NULL, missing[PATH_MAX];

	CHECK_INT(ex_cgroup_setup(cg_root, &parent, &why), ==, 0);
	CHECK_STR(parent, cg_root);
	CHECK(why == NULL);
	free(parent);
	parent = NULL;
	CHECK_INT(cg_entries(NULL, "healer-probe-", NULL, 0), ==, 0);

	CHECK_INT(ex_cgroup_setup(tmpdir, &parent, &why), ==, -EINVAL);
	CHECK_CONTAINS(why, "is not in a cgroup v2 file system");
	CHECK(parent == NULL);
	free(why);
	why = NULL;
	CHECK_INT(ex_cgroup_setup("sys/fs/cgroup", &parent, &why), ==, -EINVAL);
	CHECK_CONTAINS(why, "not an absolute path");
	free(why);
	why = NULL;
	util_snprintf(missing, sizeof(missing), "%s/no-such-cgroup", cg_root);
	CHECK_INT(ex_cgroup_setup(missing, &parent, &why), ==, -ENOENT);
	CHECK_CONTAINS(why, "no-such-cgroup");
	free(why);
	CHECK(parent == NULL);
	CHECK_INT(ex_cgroup_setup(cg_root, NULL, NULL), ==, -EINVAL);
}

TEST(test_cgroup_timeout)
{
	ExOptions o = {
		.timeout_usec = 300 * MSEC, .grace_usec = 200 * MSEC, .cgroup_parent = cg_root};
	ExResult r = {0};
	GcRun g;
	pid_t gc;

	/* setsid() and a double fork: out of the process group, not out of the cgroup. */
	run_gc((char *[]){p_escape, "stay", NULL}, &o, &g);
	info("escaped, cgroup (300+200 ms)", g.r.duration_usec);
	CHECK(g.r.timed_out);
	CHECK(g.r.contained);
	CHECK(!g.r.limits_applied);
	CHECK(!g.r.leftovers_killed); /* ended by the timeout, not left over */
	CHECK_INT(g.r.term_signal, ==, SIGKILL);
	CHECK_INT(g.r.duration_usec, >=, 500 * MSEC);
	CHECK_INT(g.r.duration_usec, <, 2000 * MSEC);
	/* Gone by the time done runs, and its cgroup with it. */
	CHECK(!g.gc_alive_at_done);
	CHECK(!pid_alive(g.gc));
	CHECK_INT(cg_entries(NULL, "cmd-", NULL, 0), ==, 0);
	ex_result_done(&g.r);
	check_no_children();

	/* The same without a cgroup: the process group kill misses the grandchild. */
	o.cgroup_parent = NULL;
	CHECK_INT(ex_run((char *[]){p_escape, "stay", NULL}, &o, &r), ==, 0);
	CHECK(r.timed_out);
	CHECK(!r.contained);
	CHECK_INT(r.term_signal, ==, SIGKILL);
	gc = pid_after(r.output, "grandchild ");
	CHECK_INT(gc, >, 0);
	CHECK_(gc > 0 && pid_alive(gc), "process group only: grandchild %d expected alive", gc);
	if (gc > 0 && pid_alive(gc))
		kill(gc, SIGKILL);
	CHECK(gc > 0 && wait_gone(gc, false, 2000));
	ex_result_done(&r);
	check_no_children();
}

TEST(test_cgroup_leftovers)
{
	ExOptions o = {.cgroup_parent = cg_root};
	char expect[PATH_MAX];
	ExResult r = {0};
	uint64_t t0 = util_now_usec(), wall;
	GcRun g;

	/* The leader exits 0 at once; its escaped grandchild holds the pipe. */
	run_gc((char *[]){p_escape, NULL}, &o, &g);
	wall = util_now_usec() - t0;
	info("leftover killed (wall)", wall);
	CHECK_INT(g.r.exit_status, ==, 0);
	CHECK(!g.r.timed_out);
	CHECK(g.r.contained);
	CHECK(g.r.leftovers_killed);
	CHECK(!g.gc_alive_at_done);
	/* Killed, so the pipe closes: no waiting for the drain deadline. */
	CHECK_INT(wall, <, 2000 * MSEC);
	ex_result_done(&g.r);

	/* A background child still in the group counts as left over too. */
	run_gc((char *[]){p_bg, NULL}, &o, &g);
	CHECK_INT(g.r.exit_status, ==, 0);
	CHECK(g.r.leftovers_killed);
	CHECK(!g.gc_alive_at_done);
	ex_result_done(&g.r);

	/* A command that leaves nothing behind is not reported. */
	CHECK_INT(ex_run((char *[]){"/bin/true", NULL}, &o, &r), ==, 0);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK(r.contained);
	CHECK(!r.leftovers_killed);
	ex_result_done(&r);

	/* And the child really is where it should be. */
	util_snprintf(expect, sizeof(expect), "0::%s/cmd-%d-", cg_root + strlen(cg_mount),
		      (int)getpid());
	CHECK_INT(ex_run((char *[]){"/bin/cat", "/proc/self/cgroup", NULL}, &o, &r), ==, 0);
	CHECK_CONTAINS(r.output, expect);
	ex_result_done(&r);
	CHECK_INT(cg_entries(NULL, "cmd-", NULL, 0), ==, 0);
	check_no_children();
}

TEST(test_cgroup_exec_errors)
{
	ExOptions o = {.cgroup_parent = cg_root};
	char noexec[PATH_MAX], missing[PATH_MAX];
	ExResult r = {.exit_status = 77};
	sd_event *e = NULL;
	ExChild *c = NULL;
	bool called = false;

	util_snprintf(noexec, sizeof(noexec), "%s/not-executable", tmpdir);
	CHECK_INT(ex_run((char *[]){"/nonexistent/healer-test", NULL}, &o, &r), ==, -ENOENT);
	CHECK_INT(ex_run((char *[]){noexec, NULL}, &o, &r), ==, -EACCES);
	CHECK_INT(ex_run((char *[]){tmpdir, NULL}, &o, &r), ==, -EACCES);
	CHECK_INT(r.exit_status, ==, 77);
	check_no_children();
	CHECK_INT(cg_entries(NULL, "cmd-", NULL, 0), ==, 0);

	/* No cgroup, no command: never a silent fallback to the process group. */
	util_snprintf(missing, sizeof(missing), "%s/no-such-cgroup", cg_root);
	o.cgroup_parent = missing;
	CHECK_INT(ex_run((char *[]){p_sleep, NULL}, &o, &r), ==, -ENOENT);
	o.cgroup_parent = "relative/cgroup";
	CHECK_INT(ex_run((char *[]){p_sleep, NULL}, &o, &r), ==, -EINVAL);
	check_no_children();

	o.cgroup_parent = cg_root;
	CHECK_INT(sd_event_new(&e), >=, 0);
	CHECK_INT(ex_spawn(e, (char *[]){"/nonexistent/x", NULL}, &o, done_flag, &called, &c), ==,
		  -ENOENT);
	CHECK(c == NULL);
	CHECK(!called);
	sd_event_unref(e);
	check_no_children();
	CHECK_INT(cg_entries(NULL, "cmd-", NULL, 0), ==, 0);
}

TEST(test_cgroup_child_state)
{
	ExOptions o = {.cgroup_parent = cg_root};

	/* Born by clone3() rather than posix_spawn(): the same clean slate. */
	check_child_state(&o);
	CHECK_INT(cg_entries(NULL, "cmd-", NULL, 0), ==, 0);
}

TEST(test_cgroup_free_running)
{
	ExOptions o = {.cgroup_parent = cg_root};
	char name[256], procs_path[PATH_MAX], procs[4096];
	pid_t pids[8];
	size_t n = 0;
	sd_event *e = NULL;
	ExChild *c = NULL;
	bool called = false;
	uint64_t t0 = util_now_usec();

	CHECK_INT(sd_event_new(&e), >=, 0);
	CHECK_INT(ex_spawn(e, (char *[]){p_escape, "stay", NULL}, &o, done_flag, &called, &c), ==,
		  0);
	CHECK_INT(cg_entries(NULL, "cmd-", name, sizeof(name)), ==, 1);
	util_snprintf(procs_path, sizeof(procs_path), "%s/%s/cgroup.procs", cg_root, name);
	/* Until leader and grandchild are both in (the middle child has exited). */
	while (util_now_usec() - t0 < 2 * USEC_PER_SEC) {
		(void)sd_event_run(e, 10 * MSEC);
		if (read_small(procs_path, procs, sizeof(procs)) && count(procs, "\n") == 2)
			break;
	}
	CHECK_INT(count(procs, "\n"), ==, 2);
	for (char *p = procs; *p && n < ELEMENTSOF(pids); p = strchr(p, '\n') + 1)
		pids[n++] = (pid_t)strtol(p, NULL, 10);
	CHECK(ex_child_free(c) == NULL);
	for (size_t i = 0; i < n; i++)
		CHECK_(!pid_alive(pids[i]), "pid %d of the freed command still alive", pids[i]);
	CHECK(!called);
	CHECK_INT(cg_entries(NULL, "cmd-", NULL, 0), ==, 0);
	check_no_children();
	sd_event_unref(e);
}

static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

TEST(test_cgroup_limits)
{
	const char *env[] = {"ASAN_OPTIONS=detect_leaks=0", NULL};
	ExOptions o = {.cgroup_parent = cg_root, .tasks_max = 8, .extra_env = env};
	char path[PATH_MAX], offered[1024];
	ExResult r = {0};
	bool pids, memory;

	util_snprintf(path, sizeof(path), "%s/cgroup.controllers", cg_root);
	CHECK(read_small(path, offered, sizeof(offered)));
	pids = list_has(offered, "pids");
	memory = list_has(offered, "memory");
	printf("INFO cgroup v2 controllers offered here: %s", offered[0] ? offered : "none\n");

	/* Asked for, but not enabled in the parent: run, and say the limits are not there. */
	CHECK_INT(ex_run((char *[]){p_forkbomb, "20", NULL}, &o, &r), ==, 0);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK(r.contained);
	CHECK(!r.limits_applied);
	CHECK_CONTAINS(r.output, "forked 20\n");
	ex_result_done(&r);
	o.tasks_max = 0;
	o.memory_max = 256ULL << 20;
	CHECK_INT(ex_run((char *[]){"/bin/true", NULL}, &o, &r), ==, 0);
	CHECK(!r.limits_applied);
	ex_result_done(&r);
	o.memory_max = 0;
	CHECK_INT(ex_run((char *[]){"/bin/true", NULL}, &o, &r), ==, 0);
	CHECK(!r.limits_applied); /* nothing asked for */
	ex_result_done(&r);

	util_snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg_root);
	if (memory) {
		CHECK(write_small(path, "+memory"));
		o.memory_max = 256ULL << 20;
		CHECK_INT(ex_run((char *[]){"/bin/true", NULL}, &o, &r), ==, 0);
		CHECK(r.limits_applied);
		ex_result_done(&r);
		o.memory_max = 0;
	}
	if (!pids) {
		printf("INFO pids not offered to cgroup v2 here: fork bomb under tasks_max not "
		       "run\n");
		check_no_children();
		return;
	}
	CHECK(write_small(path, "+pids"));
	o.tasks_max = 8;
	CHECK_INT(ex_run((char *[]){p_forkbomb, "64", NULL}, &o, &r), ==, 0);
	CHECK(r.limits_applied);
	CHECK_CONTAINS(r.output, "fork failed: Resource temporarily unavailable\n");
	CHECK(r.output && strtol(r.output + strlen("forked "), NULL, 10) < 8);
	CHECK(r.leftovers_killed);
	ex_result_done(&r);
	check_no_children();
	CHECK_INT(cg_entries(NULL, "cmd-", NULL, 0), ==, 0);
}

/* In a forked child moved into cg_root/own: ex_cgroup_setup() the daemon's way. */
static _Noreturn void setup_own_child(int fd)
{
	char own[PATH_MAX], pid[32], self[1024];
	char *parent = NULL, *again = NULL, *why = NULL;
	ExOptions o = {0};
	ExResult r = {0};
	int rc;

	util_snprintf(own, sizeof(own), "%s/own/cgroup.procs", cg_root);
	util_snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (!write_small(own, pid))
		_exit(3);
	rc = ex_cgroup_setup(NULL, &parent, &why);
	dprintf(fd, "setup %d %s\n", rc, parent ? parent : why ? why : "-");
	read_small("/proc/self/cgroup", self, sizeof(self));
	dprintf(fd, "self %s", strstr(self, "0::") ? strstr(self, "0::") : "none\n");
	rc = ex_cgroup_setup(NULL, &again, &why);
	dprintf(fd, "again %d %s\n", rc, again ? again : why ? why : "-");
	o.cgroup_parent = parent;
	rc = parent ? ex_run((char *[]){"/bin/cat", "/proc/self/cgroup", NULL}, &o, &r) : -1;
	dprintf(fd, "cmd %d %s", rc, r.output ? r.output : "-\n");
	_exit(0);
}

/* In a forked child left where the test runs (the root cgroup). */
static _Noreturn void setup_root_child(int fd)
{
	char *parent = NULL, *why = NULL;
	int rc = ex_cgroup_setup(NULL, &parent, &why);

	dprintf(fd, "setup %d %s\n", rc, parent ? parent : why ? why : "-");
	_exit(0);
}

static void run_forked(void (*fn)(int fd), char *out, size_t len)
{
	int fds[2], status = -1;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	out[0] = '\0';
	CHECK_INT(pipe2(fds, O_CLOEXEC), ==, 0);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		fn(fds[1]);
	}
	close(fds[1]);
	while (used + 1 < len && (n = read(fds[0], out + used, len - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(fds[0]);
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK_INT(status, ==, 0);
}

/*
 * What systemd's RestrictNamespaces= does to clone3(): ENOSYS for the whole
 * call, since a filter cannot read flags inside its structure. For this
 * process and its children, for good (a forked test child only).
 */
static bool refuse_clone3(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = ELEMENTSOF(f), .filter = f};

	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

/* In a forked child whose clone3() is refused: commands still start inside their cgroup. */
static _Noreturn void clone3_refused_child(int fd)
{
	ExOptions o = {.cgroup_parent = cg_root};
	ExResult r = {0};
	long rc;

	if (!refuse_clone3()) {
		dprintf(fd, "no filter: %s\n", strerror(errno));
		_exit(0);
	}
	rc = syscall(SYS_clone3, NULL, (size_t)0);
	dprintf(fd, "clone3 %ld %s\n", rc, rc < 0 ? strerrorname_np(errno) : "-");
	rc = ex_run((char *[]){"/bin/cat", "/proc/self/cgroup", NULL}, &o, &r);
	dprintf(fd, "cat %ld %d %s", rc, r.exit_status, r.output ? r.output : "-\n");
	ex_result_done(&r);
	rc = ex_run((char *[]){"/nonexistent/healer-test", NULL}, &o, &r);
	dprintf(fd, "missing %ld\n", rc);
	/* setsid() and a double fork, then the timeout: the cgroup still holds them all. */
	o.timeout_usec = 300 * MSEC;
	o.grace_usec = 200 * MSEC;
	rc = ex_run((char *[]){p_escape, "stay", NULL}, &o, &r);
	dprintf(fd, "escape %ld timed_out %d contained %d alive %d\n", rc, r.timed_out, r.contained,
		pid_alive(pid_after(r.output, "grandchild ")));
	ex_result_done(&r);
	dprintf(fd, "left %d\n", cg_entries(NULL, "cmd-", NULL, 0));
	_exit(0);
}

TEST(test_cgroup_clone3_refused)
{
	char out[8192], expect[PATH_MAX];

	run_forked(clone3_refused_child, out, sizeof(out));
	if (strncmp(out, "no filter", 9) == 0) {
		printf("INFO seccomp not available here (%s): clone3 fallback not tried\n", out);
		return;
	}
	CHECK_CONTAINS(out, "clone3 -1 ENOSYS\n");
	util_snprintf(expect, sizeof(expect), "\n0::%s/cmd-", cg_root + strlen(cg_mount));
	CHECK_CONTAINS(out, "cat 0 0 ");
	CHECK_CONTAINS(out, expect);
	CHECK_CONTAINS(out, "\nmissing -2\n");
	CHECK_CONTAINS(out, "\nescape 0 timed_out 1 contained 1 alive 0\n");
	CHECK_CONTAINS(out, "\nleft 0\n");
	check_no_children();
}

static bool own_cgroup_is_root(void)
{
	char self[4096];

	return read_small("/proc/self/cgroup", self, sizeof(self)) && strstr(self, "0::/\n");
}

TEST(test_cgroup_setup_own)
{
	char own[PATH_MAX], leaf[PATH_MAX], expect[PATH_MAX * 2], out[8192];
	const char *rel = cg_root + strlen(cg_mount);

	util_snprintf(own, sizeof(own), "%s/own", cg_root);
	util_snprintf(leaf, sizeof(leaf), "%s/daemon", own);
	CHECK_INT(mkdir(own, 0755), ==, 0);
	/* Systemd's mark of a Delegate=yes cgroup, which setup asks for where systemd runs. */
	CHECK_INT(setxattr(own, "trusted.delegate", "1", 1, 0), ==, 0);
	run_forked(setup_own_child, out, sizeof(out));
	util_snprintf(expect, sizeof(expect), "setup 0 %s\nself 0::%s/own/daemon\nagain 0 %s\n",
		      own, rel, own);
	CHECK_CONTAINS(out, expect);
	CHECK_CONTAINS(out, "\ncmd 0 ");
	util_snprintf(expect, sizeof(expect), "\n0::%s/own/cmd-", rel);
	CHECK_CONTAINS(out, expect);
	/* Empty once the child has exited: the command's cgroup was removed. */
	CHECK_INT(cg_entries(own, "cmd-", NULL, 0), ==, 0);
	CHECK_INT(rmdir(leaf), ==, 0);
	CHECK_INT(rmdir(own), ==, 0);

	if (!own_cgroup_is_root()) {
		printf("INFO not in the root cgroup: its refusal not tried\n");
		return;
	}
	run_forked(setup_root_child, out, sizeof(out));
	CHECK_CONTAINS(out, "setup -1 runs in the root cgroup");
	CHECK(own_cgroup_is_root());
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static bool progs_init(const char *argv0)
{
	const char *env = getenv("HEALER_PROGS_DIR");
	char dir[PATH_MAX], self[PATH_MAX];
	struct {
		char *buf;
		const char *name;
	} progs[] = {
		{p_sleep, "ex_sleep"},	    {p_stubborn, "ex_stubborn"}, {p_bg, "ex_bg"},
		{p_flood, "ex_flood"},	    {p_env, "ex_env"},		 {p_escape, "ex_escape"},
		{p_forkbomb, "ex_forkbomb"}};

	if (env && *env) {
		if (!realpath(env, dir))
			util_snprintf(dir, sizeof(dir), "%s", env);
	} else if (strchr(argv0, '/') && realpath(argv0, self)) {
		/* build/san/tests/test_executor -> build/san/progs */
		char *slash = strrchr(self, '/');

		*slash = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		util_snprintf(dir, sizeof(dir), "%s/progs", self);
	} else {
		dir[0] = '\0';
	}
	for (size_t i = 0; i < ELEMENTSOF(progs); i++) {
		util_snprintf(progs[i].buf, PATH_MAX, "%s/%s", dir, progs[i].name);
		if (dir[0] != '/' || access(progs[i].buf, X_OK) < 0) {
			fprintf(stderr,
				"test_executor: helper program %s not found (looked in '%s'); "
				"build the tests/progs helpers (make SANITIZE=1 tests) or set "
				"HEALER_PROGS_DIR to an absolute path\n",
				progs[i].name, dir);
			return false;
		}
	}
	return true;
}

/* A builtin run the daemon's way: a child of the healer binary, under the executor. */
TEST(test_builtin_in_child)
{
	const char *bin = getenv("HEALER_BIN");
	char self[PATH_MAX], path[PATH_MAX], **argv = NULL;
	ExResult r = {0};
	struct stat st;

	CHECK_INT(ex_builtin_argv("/x/healer", "reboot", NULL, &argv), ==, -EINVAL);
	CHECK_INT(ex_builtin_argv("/x/healer", "chmod-x", NULL, &argv), ==, -EINVAL);
	CHECK_INT(ex_builtin_argv("/x/healer", "drop-caches", "/p", &argv), ==, -EINVAL);
	CHECK_INT(ex_builtin_argv("healer", "drop-caches", NULL, &argv), ==, -EINVAL);
	CHECK_(bin && realpath(bin, self), "HEALER_BIN must name the built healer binary");
	if (!bin || !realpath(bin, self))
		return;
	make_file("child-chmod", 0600, path, sizeof(path));
	CHECK_INT(ex_builtin_argv(self, "chmod-x", path, &argv), ==, 0);
	if (!argv)
		return;
	CHECK_STR(argv[1], "builtin");
	CHECK(argv[4] == NULL);
	CHECK_INT(ex_run(argv, NULL, &r), ==, 0);
	CHECK_INT(r.exit_status, ==, 0);
	CHECK_INT(stat(path, &st), ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0700);
	ex_result_done(&r);
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/healer-test-executor-XXXXXX";

	(void)argc;
	if (!progs_init(argv[0]))
		return 2;
	/* Canonical, so that RESOLVE_NO_SYMLINKS sees no link of ours. */
	if (!mkdtemp(tmpl) || !realpath(tmpl, tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	check_no_children();
	/* Watchdog: a hang (say a child that escapes every kill) fails the run instead. */
	alarm(60);

	RUN(test_true_false);
	RUN(test_echo_output);
	RUN(test_exec_failure);
	RUN(test_timeout_stubborn);
	RUN(test_timeout_sleeper);
	RUN(test_no_strays);
	RUN(test_escaped_grandchild);
	RUN(test_output_cap);
	RUN(test_environment);
	RUN(test_fds_and_signals);
	RUN(test_free_running);
	RUN(test_concurrent);
	RUN(test_builtin_chmod_x);
	RUN(test_builtin_drop_caches);
	RUN(test_builtin_in_child);
	if (cg_init()) {
		RUN(test_cgroup_setup_override);
		RUN(test_cgroup_timeout);
		RUN(test_cgroup_leftovers);
		RUN(test_cgroup_exec_errors);
		RUN(test_cgroup_child_state);
		RUN(test_cgroup_free_running);
		RUN(test_cgroup_limits);
		RUN(test_cgroup_setup_own);
		RUN(test_cgroup_clone3_refused);
		harness_current = "cgroup cleanup";
		CHECK_(rmdir(cg_root) == 0, "rmdir %s: %s", cg_root, strerror(errno));
	}

	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_(access(tmpdir, F_OK) < 0, "temp dir %s left behind", tmpdir);
	return harness_finish();
}
