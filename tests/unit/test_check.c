/* SPDX-License-Identifier: MIT */
/*
 * healer/check.c on real things: a tmpfs of fixed size for disk-above
 * (compared with df), meminfo files, real files and links, real children,
 * an HTTP server on 127.0.0.1 in this process, and real units. The test
 * re-runs itself in tests/sandbox/sandbox.sh: the units need a manager, and
 * the tmpfs and the loopback server stay in the sandbox's namespaces.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include "harness.h"
#include "sandbox.h"
#include "healer/check.h"
#include "healer/executor.h"
#include "healer/units.h"

static sd_event *ev;
static sd_bus *bus;
static char progs[PATH_MAX];
static char *detail; /* of the last check1() */
static uint64_t took_usec;

/* ---- running checks ---- */

typedef struct Outcome {
	bool called;
	size_t n;
	bool all_hold;
	ChkVerdict v[16];
	char *detail[16];
} Outcome;

static void on_done(const ChkResult *res, size_t n, bool all_hold, void *userdata)
{
	Outcome *o = userdata;

	CHECK(!o->called);
	o->called = true;
	o->n = n;
	o->all_hold = all_hold;
	for (size_t i = 0; i < n && i < ELEMENTSOF(o->v); i++) {
		o->v[i] = res[i].verdict;
		CHECK(res[i].detail != NULL);
		o->detail[i] = strdup(res[i].detail ? res[i].detail : "");
	}
}

static void outcome_done(Outcome *o)
{
	for (size_t i = 0; i < o->n && i < ELEMENTSOF(o->v); i++)
		free(o->detail[i]);
}

static void run_checks(const WlCheck *c, size_t n, const ChkOptions *o, Outcome *out)
{
	uint64_t t0 = util_now_usec();

	*out = (Outcome){0};
	CHECK_INT(chk_run(ev, c, n, o, on_done, out, NULL), ==, 0);
	CHECK(!out->called); /* never inline */
	while (!out->called && util_now_usec() - t0 < 30 * USEC_PER_SEC)
		sd_event_run(ev, 100 * USEC_PER_MSEC);
	took_usec = util_now_usec() - t0;
	CHECK_(out->called, "checks never finished");
}

/* One check of kind with the NULL-terminated operands; detail in `detail`. */
static ChkVerdict check1(const ChkOptions *o, WlCheckKind kind, ...)
{
	char *argv[8];
	size_t n = 0;
	Outcome out;
	va_list ap;

	va_start(ap, kind);
	while (n < ELEMENTSOF(argv) - 1 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	run_checks(&(WlCheck){.kind = kind, .argv = argv, .argc = n, .text = "test"}, 1, o, &out);
	free(detail);
	detail = strdup(out.n ? out.detail[0] : "");
	outcome_done(&out);
	return out.n ? out.v[0] : (ChkVerdict)-1;
}

#define CHECK_VERDICT(call, want, text)                                                   \
	do {                                                                              \
		ChkVerdict _v = (call);                                                   \
		CHECK_(_v == (want), "%s: %s, want %s (%s)", #call, chk_verdict_name(_v), \
		       chk_verdict_name(want), detail);                                   \
		CHECK_CONTAINS(detail, text);                                             \
	} while (0)

static const char *fixture(const char *rel, char *buf)
{
	(void)util_snprintf(buf, PATH_MAX, "%s/%s", sandbox_fixture(), rel);
	return buf;
}

/* ---- disk, memory, files ---- */

TEST(test_disk)
{
	char dir[PATH_MAX], file[PATH_MAX], lim[16], want[64],
		*argv[] = {"/usr/bin/df", "--output=pcent", dir, NULL};
	ChkOptions o = {0};
	struct statvfs st;
	unsigned long long used, total, pct;
	ExResult res = {0};
	int fd;

	fixture("disk", dir);
	CHECK_INT(mkdir(dir, 0755), ==, 0);
	CHECK_INT(mount("healer-test", dir, "tmpfs", 0, "size=1m"), ==, 0);
	fixture("disk/fill", file);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_INT(posix_fallocate(fd, 0, 400 * 1024), ==, 0);
	close(fd);
	CHECK_INT(statvfs(dir, &st), ==, 0);
	used = st.f_blocks - st.f_bfree;
	total = used + st.f_bavail;
	pct = (used * 100 + total - 1) / total;
	CHECK_INT(pct, >, 30);
	CHECK_INT(pct, <, 60);

	/* What df itself shows. */
	CHECK_INT(ex_run(argv, NULL, &res), ==, 0);
	(void)util_snprintf(want, sizeof want, " %llu%%", pct);
	CHECK_CONTAINS(res.output, want);
	ex_result_done(&res);

	(void)util_snprintf(want, sizeof want, "disk %llu%% of %s used, above %llu%%", pct, dir,
			    pct - 1);
	(void)util_snprintf(lim, sizeof lim, "%llu", pct - 1);
	CHECK_VERDICT(check1(&o, WL_CHECK_DISK_ABOVE, dir, lim, NULL), CHK_HOLDS, want);
	(void)util_snprintf(lim, sizeof lim, "%llu%%", pct);
	(void)util_snprintf(want, sizeof want, "disk %llu%% of %s used, not above %llu%%", pct, dir,
			    pct);
	CHECK_VERDICT(check1(&o, WL_CHECK_DISK_ABOVE, dir, lim, NULL), CHK_FAILS, want);
	/* The file system of a file in it counts, as df's does. */
	CHECK_VERDICT(check1(&o, WL_CHECK_DISK_ABOVE, file, "0", NULL), CHK_HOLDS, "above 0%");
	CHECK_VERDICT(check1(&o, WL_CHECK_DISK_ABOVE, file, "101", NULL), CHK_UNKNOWN,
		      "bad percentage '101'");
	CHECK_VERDICT(check1(&o, WL_CHECK_DISK_ABOVE, file, "x", NULL), CHK_UNKNOWN, "bad");
	fixture("disk/none/x", file);
	CHECK_VERDICT(check1(&o, WL_CHECK_DISK_ABOVE, file, "50", NULL), CHK_UNKNOWN,
		      "No such file or directory");
	CHECK_INT(umount2(dir, MNT_DETACH), ==, 0);
}

TEST(test_memory)
{
	char path[PATH_MAX];
	ChkOptions o = {.meminfo_path = fixture("meminfo", path)};

	sandbox_file("meminfo", 0644,
		     "MemTotal:        1024000 kB\nMemFree:          10000 kB\n"
		     "MemAvailable:     153600 kB\nBuffers:  1 kB\n");
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "20", NULL), CHK_HOLDS,
		      "memory 15% available (150 of 1000 MiB), below 20%");
	/* Exactly 15%: not below 15%. */
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "15%", NULL), CHK_FAILS, "not below 15%");
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "16", NULL), CHK_HOLDS, "below 16%");
	sandbox_file("meminfo", 0644, "MemTotal:        1024000 kB\nMemFree: 5 kB\n");
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "20", NULL), CHK_UNKNOWN, "MemAvailable");
	sandbox_file("meminfo", 0644, "MemTotal: 100 kB\nMemAvailable: 200 kB\n");
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "20", NULL), CHK_UNKNOWN, "cannot read");
	sandbox_file("meminfo", 0644, "MemTotal: 100 MB\nMemAvailable: 20 kB\n");
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "20", NULL), CHK_UNKNOWN, "cannot read");
	/* The real one. */
	o.meminfo_path = NULL;
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "0", NULL), CHK_FAILS, "not below 0%");
	CHECK_VERDICT(check1(&o, WL_CHECK_MEMORY_BELOW, "100", NULL), CHK_HOLDS,
		      "MiB), below 100%");
}

TEST(test_files)
{
	char p[PATH_MAX], want[PATH_MAX + 64];
	ChkOptions o = {0};

	sandbox_file("f/plain.sh", 0644, "#!/bin/sh\n");
	sandbox_file("f/exec.sh", 0755, "#!/bin/sh\n");
	sandbox_file("f/owner.sh", 0700, "#!/bin/sh\n");
	sandbox_symlink("plain.sh", "f/link.sh");
	fixture("f/plain.sh", p);
	(void)util_snprintf(want, sizeof want, "mode 0644 of %s: no x bit", p);
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_LACKS_X, p, NULL), CHK_HOLDS, want);
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_EXECUTABLE, p, NULL), CHK_FAILS, "not executable");
	fixture("f/exec.sh", p);
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_LACKS_X, p, NULL), CHK_FAILS, "0755");
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_EXECUTABLE, p, NULL), CHK_HOLDS, ": executable");
	fixture("f/owner.sh", p);
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_LACKS_X, p, NULL), CHK_FAILS, "0700");
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_EXECUTABLE, p, NULL), CHK_HOLDS, "0700");
	/* A link to a file without x: refused, never judged by its target. */
	fixture("f/link.sh", p);
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_LACKS_X, p, NULL), CHK_UNKNOWN, "is a symlink");
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_EXECUTABLE, p, NULL), CHK_UNKNOWN, "symlink");
	fixture("f", p);
	/* Gone, or not a file: its mode says nothing, and a symptom must not read as gone. */
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_LACKS_X, p, NULL), CHK_UNKNOWN,
		      "not a regular file");
	fixture("f/none.sh", p);
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_LACKS_X, p, NULL), CHK_UNKNOWN, "no file");
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_EXECUTABLE, p, NULL), CHK_UNKNOWN, "no file");
	CHECK_VERDICT(check1(&o, WL_CHECK_FILE_EXECUTABLE, "f/plain.sh", NULL), CHK_UNKNOWN,
		      "not an absolute path");
}

/* ---- command ---- */

TEST(test_command)
{
	char ex[PATH_MAX], sl[PATH_MAX];
	ChkOptions o = {.timeout_usec = 300 * USEC_PER_MSEC};

	(void)util_snprintf(ex, sizeof ex, "%s/chk_exit", progs);
	(void)util_snprintf(sl, sizeof sl, "%s/ex_sleep", progs);
	CHECK_VERDICT(check1(&o, WL_CHECK_COMMAND, ex, "0", NULL), CHK_HOLDS, "chk_exit exited 0");
	CHECK_VERDICT(check1(&o, WL_CHECK_COMMAND, ex, "3", "disk \x1b[2Jfull", NULL), CHK_FAILS,
		      "exited 3: disk ?[2Jfull");
	CHECK_VERDICT(check1(&o, WL_CHECK_COMMAND, sl, "5000", NULL), CHK_UNKNOWN,
		      "timed out after 300ms");
	CHECK_INT(took_usec, <, 2 * USEC_PER_SEC);
	/* Killed by a signal: it said nothing, neither "holds" nor "fails". */
	CHECK_VERDICT(check1(&o, WL_CHECK_COMMAND, "/bin/sh", "-c", "kill -KILL $$", NULL),
		      CHK_UNKNOWN, "killed by SIGKILL");
	CHECK_VERDICT(check1(&o, WL_CHECK_COMMAND, "/nonexistent/prog", NULL), CHK_UNKNOWN,
		      "cannot run /nonexistent/prog");
	CHECK_VERDICT(check1(&o, WL_CHECK_COMMAND, "chk_exit", "0", NULL), CHK_UNKNOWN,
		      "cannot run");
	CHECK_VERDICT(check1(&o, WL_CHECK_COMMAND, NULL), CHK_UNKNOWN, "wrong number of operands");
}

/* ---- http: a server on 127.0.0.1 on this loop ---- */

typedef struct Conn {
	int fd;
	sd_event_source *src;
	char buf[2048];
	size_t len;
} Conn;

static Conn *conns[32];
static size_t n_conns;
static char last_request[2048];

static void reply(Conn *c, const char *text)
{
	if (send(c->fd, text, strlen(text), MSG_NOSIGNAL) < 0)
		perror("send");
	c->src = sd_event_source_disable_unref(c->src);
	c->fd = safe_close(c->fd);
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	Conn *c = userdata;
	ssize_t n = recv(fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);

	(void)s;
	(void)revents;
	if (n <= 0) {
		reply(c, "");
		return 0;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (!strstr(c->buf, "\r\n\r\n"))
		return 0;
	memcpy(last_request, c->buf, c->len + 1);
	if (strncmp(c->buf, "GET /ok ", 8) == 0)
		reply(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
	else if (strncmp(c->buf, "GET /bad ", 9) == 0)
		reply(c, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
	else if (strncmp(c->buf, "GET /garbage ", 13) == 0)
		reply(c, "hello there\n");
	else if (strncmp(c->buf, "GET /slow ", 10) != 0) /* /slow: never answers */
		reply(c, "HTTP/1.1 404 Not Found\r\n\r\n");
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	Conn *c;

	(void)s;
	(void)revents;
	(void)userdata;
	if (cfd < 0 || n_conns >= ELEMENTSOF(conns)) {
		safe_close(cfd);
		return 0;
	}
	c = calloc(1, sizeof *c);
	c->fd = cfd;
	conns[n_conns++] = c;
	CHECK_INT(sd_event_add_io(ev, &c->src, cfd, EPOLLIN, on_conn, c), >=, 0);
	return 0;
}

TEST(test_http)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	sd_event_source *src = NULL;
	char url[128], closed[64];
	ChkOptions o = {.timeout_usec = 300 * USEC_PER_MSEC};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unsigned port;

	CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof a), ==, 0);
	CHECK_INT(listen(fd, 16), ==, 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
	port = ntohs(a.sin_port);
	CHECK_INT(sd_event_add_io(ev, &src, fd, EPOLLIN, on_accept, NULL), >=, 0);

	(void)util_snprintf(url, sizeof url, "http://127.0.0.1:%u/ok", port);
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, url, NULL), CHK_HOLDS, "HTTP 200 from http://");
	CHECK_CONTAINS(last_request, "GET /ok HTTP/1.0\r\n");
	(void)util_snprintf(url, sizeof url, "Host: 127.0.0.1:%u\r\n", port);
	CHECK_CONTAINS(last_request, url);
	(void)util_snprintf(url, sizeof url, "http://localhost:%u/ok", port);
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, url, NULL), CHK_HOLDS, "HTTP 200");
	(void)util_snprintf(url, sizeof url, "http://127.0.0.1:%u/bad", port);
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, url, NULL), CHK_FAILS, "HTTP 500 from");
	(void)util_snprintf(url, sizeof url, "http://127.0.0.1:%u/missing", port);
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, url, NULL), CHK_FAILS, "HTTP 404");
	(void)util_snprintf(url, sizeof url, "http://127.0.0.1:%u/garbage", port);
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, url, NULL), CHK_FAILS, "without an HTTP status");
	(void)util_snprintf(url, sizeof url, "http://127.0.0.1:%u/slow", port);
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, url, NULL), CHK_UNKNOWN, "no answer within 300ms");
	CHECK_INT(took_usec, <, USEC_PER_SEC);

	/* A port nobody listens on (ours, closed again). */
	src = sd_event_source_disable_unref(src);
	safe_close(fd);
	(void)util_snprintf(closed, sizeof closed, "http://127.0.0.1:%u/ok", port);
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, closed, NULL), CHK_FAILS, "Connection refused");
	CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, "http://[::1]:1/", NULL), CHK_FAILS,
		      "cannot connect");

	/* Loopback only, plain http, nothing that could bend the request line. */
	static const char *const refused[] = {
		"http://10.1.2.3/",
		"https://127.0.0.1/",
		"http://127.0.0.1.nip.io/",
		"http://user@127.0.0.1/",
		"http://[::2]/",
		"http://[::ffff:127.0.0.1]/",
		"http://127.1/",
		"http://127.0.0.1/a b",
		"http://127.0.0.1/a\r\nX: y",
		"http://127.0.0.1:0/",
		"http://127.0.0.1:65536/",
		"http://127.0.0.1?x",
		"http://",
		"ftp://127.0.0.1/",
		"http://example.com/",
	};
	for (size_t i = 0; i < ELEMENTSOF(refused); i++)
		CHECK_VERDICT(check1(&o, WL_CHECK_HTTP, refused[i], NULL), CHK_UNKNOWN,
			      "not an http:// URL on loopback");
	for (size_t i = 0; i < n_conns; i++) {
		conns[i]->src = sd_event_source_disable_unref(conns[i]->src);
		safe_close(conns[i]->fd);
		free(conns[i]);
	}
	n_conns = 0;
}

/* ---- units ---- */

TEST(test_unit_states)
{
	ChkOptions o = {.bus = bus, .timeout_usec = 2 * USEC_PER_SEC};

	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "bad.service", NULL), CHK_HOLDS,
		      "ActiveState=failed SubState=failed");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "ok.service", NULL), CHK_FAILS,
		      "ActiveState=active SubState=running");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_NOT_ACTIVE, "bad", NULL), CHK_HOLDS,
		      "ActiveState=failed");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_NOT_ACTIVE, "ok.service", NULL), CHK_FAILS,
		      "ActiveState=active");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_ACTIVE, "ok.service", NULL), CHK_HOLDS,
		      "ActiveState=active SubState=running");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_ACTIVE, "bad.service", NULL), CHK_FAILS,
		      "ActiveState=failed");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_ACTIVE, "nosuch.service", NULL), CHK_UNKNOWN,
		      "unit nosuch.service not found");
	o.bus = NULL;
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "bad.service", NULL), CHK_UNKNOWN,
		      "no system bus");
}

static void systemctl(const char *verb, const char *unit)
{
	char *argv[] = {"/usr/bin/systemctl", "--no-block", (char *)verb, (char *)unit, NULL};
	ExResult r = {0};

	CHECK_INT(ex_run(argv, NULL, &r), ==, 0);
	CHECK_(r.exit_status == 0, "systemctl %s %s: %s", verb, unit, r.output);
	ex_result_done(&r);
}

/* `systemctl --no-block` only queues the job: waits until the unit shows the state. */
static void wait_state(const char *unit, const char *state)
{
	char *argv[] = {"/usr/bin/systemctl", "is-active", (char *)unit, NULL};
	bool seen = false;

	for (uint64_t t0 = util_now_usec(); !seen && util_now_usec() - t0 < 5 * USEC_PER_SEC;) {
		ExResult r = {0};

		if (ex_run(argv, NULL, &r) == 0)
			seen = strncmp(r.output, state, strlen(state)) == 0 &&
			       r.output[strlen(state)] == '\n';
		ex_result_done(&r);
	}
	CHECK_(seen, "%s never became %s", unit, state);
}

TEST(test_unit_transitions)
{
	ChkOptions o = {.bus = bus, .timeout_usec = 2 * USEC_PER_SEC};

	/* Restarting in a loop: activating, NRestarts rising within the default window. */
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "flap.service", NULL), CHK_HOLDS,
		      "NRestarts rose from ");
	CHECK_CONTAINS(detail, "within 1s");
	printf("info: unit-failed on a restart loop took %llu ms\n",
	       (unsigned long long)(took_usec / USEC_PER_MSEC));
	CHECK_INT(took_usec, >=, USEC_PER_SEC);
	CHECK_INT(took_usec, <, 3 * USEC_PER_SEC);

	/* Activating without restarts (a slow start): not failed. */
	systemctl("start", "slow.service");
	wait_state("slow.service", "activating");
	o.restart_watch_usec = 300 * USEC_PER_MSEC;
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "slow.service", NULL), CHK_FAILS,
		      "ActiveState=activating SubState=start, NRestarts stayed at 0 for 300ms");
	/* ... and not active either: it does not settle within the timeout. */
	o.timeout_usec = 300 * USEC_PER_MSEC;
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_ACTIVE, "slow.service", NULL), CHK_FAILS,
		      "ActiveState=activating SubState=start, not settled within 300ms");
	CHECK_INT(took_usec, <, USEC_PER_SEC);
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_NOT_ACTIVE, "slow.service", NULL), CHK_HOLDS,
		      "activating");

	/* Activating, then active: unit-active waits for it. */
	systemctl("start", "late.service");
	wait_state("late.service", "activating");
	o.timeout_usec = 5 * USEC_PER_SEC;
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_ACTIVE, "late.service", NULL), CHK_HOLDS,
		      "ActiveState=active SubState=running");
	CHECK_INT(took_usec, >=, 200 * USEC_PER_MSEC);

	/* A running unit that restarted once, long ago: watched, and not failed. */
	wait_state("once.service", "active");
	o.restart_watch_usec = 300 * USEC_PER_MSEC;
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "once.service", NULL), CHK_FAILS,
		      "ActiveState=active SubState=running, NRestarts stayed at 1 for 300ms");
}

TEST(test_unit_safety)
{
	const char *text = "[healer]\nprotect = ok.service\n";
	ChkOptions o = {.bus = bus, .timeout_usec = 2 * USEC_PER_SEC};
	char p[PATH_MAX], *errors = NULL;
	Whitelist *wl = NULL;

	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "refuse.service", NULL), CHK_UNKNOWN,
		      "refused: refuse.service has RefuseManualStart=yes");
	CHECK_INT(wl_parse("test", text, strlen(text), &wl, &errors), ==, 0);
	o.wl = wl;
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_ACTIVE, "ok.service", NULL), CHK_UNKNOWN,
		      "refused: ok.service is protected");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_FAILED, "bad.service", NULL), CHK_HOLDS, "failed");

	/* unit-runs: the evidence unit's Exec lines and WorkingDirectory. */
	fixture("app/run.sh", p);
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_RUNS, p, NULL), CHK_FAILS, "no evidence unit");
	o.evidence_unit = "runner.service";
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_RUNS, p, NULL), CHK_HOLDS, "runner.service runs ");
	fixture("work/tool.sh", p);
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_RUNS, p, NULL), CHK_HOLDS, "runs");
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_RUNS, "/etc/passwd", NULL), CHK_FAILS,
		      "runner.service does not run /etc/passwd");
	o.evidence_unit = "ok.service";
	CHECK_VERDICT(check1(&o, WL_CHECK_UNIT_RUNS, "/bin/sleep", NULL), CHK_UNKNOWN, "refused");
	wl_free(wl);
	free(errors);
}

/* ---- the runner ---- */

TEST(test_runner)
{
	char ex[PATH_MAX], sl[PATH_MAX], dir[PATH_MAX];
	char *a_ok[] = {"ok.service", NULL}, *a_disk[] = {dir, "100", NULL},
	     *a_cmd[] = {ex, "0", NULL}, *a_sleep[] = {sl, NULL}, *a_bad[] = {NULL};
	WlCheck c[] = {
		{.kind = WL_CHECK_UNIT_ACTIVE, .argv = a_ok, .argc = 1, .text = "unit-active ok"},
		{.kind = WL_CHECK_DISK_ABOVE, .argv = a_disk, .argc = 2},
		{.kind = WL_CHECK_COMMAND, .argv = a_cmd, .argc = 2},
		{.kind = (WlCheckKind)99, .argv = a_bad, .argc = 0},
	};
	ChkOptions o = {.bus = bus};
	ChkRun *run = NULL;
	Outcome out;
	pid_t pid;

	(void)util_snprintf(ex, sizeof ex, "%s/chk_exit", progs);
	(void)util_snprintf(sl, sizeof sl, "%s/ex_sleep", progs);
	fixture("", dir);
	run_checks(c, 3, &o, &out);
	CHECK_INT(out.n, ==, 3);
	CHECK(out.v[0] == CHK_HOLDS && out.v[1] == CHK_FAILS && out.v[2] == CHK_HOLDS);
	CHECK(!out.all_hold);
	CHECK_CONTAINS(out.detail[1], "not above 100%");
	outcome_done(&out);
	run_checks(c, 1, &o, &out);
	CHECK(out.all_hold);
	outcome_done(&out);
	run_checks(c + 3, 1, &o, &out);
	CHECK(out.v[0] == CHK_UNKNOWN && !out.all_hold);
	CHECK_CONTAINS(out.detail[0], "unknown check kind 99");
	outcome_done(&out);
	run_checks(c, 0, &o, &out);
	CHECK(out.called && out.n == 0 && out.all_hold);
	CHECK_INT(chk_run(ev, c, 1, &o, NULL, NULL, NULL), ==, -EINVAL);

	/* Cancelled while a child runs: the child dies, done never runs. */
	c[0] = (WlCheck){.kind = WL_CHECK_COMMAND, .argv = a_sleep, .argc = 1};
	out = (Outcome){0};
	CHECK_INT(chk_run(ev, c, 1, &o, on_done, &out, &run), ==, 0);
	for (int i = 0; i < 20; i++)
		sd_event_run(ev, 10 * USEC_PER_MSEC);
	pid = 0;
	{
		char *argv[] = {"/usr/bin/pgrep", "-f", sl, NULL};
		ExResult r = {0};

		CHECK_INT(ex_run(argv, NULL, &r), ==, 0);
		pid = (pid_t)strtol(r.output, NULL, 10);
		ex_result_done(&r);
	}
	CHECK_INT(pid, >, 1);
	CHECK(chk_run_cancel(run) == NULL);
	CHECK(chk_run_cancel(NULL) == NULL);
	CHECK_INT(kill(pid, 0), ==, -1);
	for (int i = 0; i < 10; i++)
		sd_event_run(ev, 10 * USEC_PER_MSEC);
	CHECK(!out.called);
}

/* ---- set-up ---- */

static void setup(const char *root)
{
	const char *dir = getenv("HEALER_PROGS_DIR");
	char p[PATH_MAX];

	if (!realpath(dir ? dir : "build/san/progs", progs)) {
		perror("HEALER_PROGS_DIR");
		exit(2);
	}
	sandbox_file("units/ok.service", 0644, "[Service]\nExecStart=/bin/sleep infinity\n");
	sandbox_file("units/bad.service", 0644, "[Service]\nExecStart=/bin/false\n");
	sandbox_file("units/flap.service", 0644,
		     "[Unit]\nStartLimitIntervalSec=0\n"
		     "[Service]\nExecStart=%s/chk_exit 1\nRestart=always\nRestartSec=100ms\n",
		     progs);
	sandbox_file("units/slow.service", 0644,
		     "[Service]\nType=oneshot\nExecStart=/bin/sleep 600\n");
	sandbox_file("units/late.service", 0644,
		     "[Service]\nExecStartPre=/bin/sleep 1\nExecStart=/bin/sleep infinity\n");
	sandbox_file(
		"units/once.service", 0644,
		"[Service]\nExecStart=/bin/sh -c 'test -e %1$s/once || { : >%1$s/once; exit 1; }; "
		"exec /bin/sleep infinity'\nRestart=on-failure\nRestartSec=100ms\n",
		root);
	sandbox_file("units/refuse.service", 0644,
		     "[Unit]\nRefuseManualStart=yes\n[Service]\nExecStart=/bin/false\n");
	sandbox_file("units/runner.service", 0644,
		     "[Service]\nExecStart=/bin/sh %1$s/app/run.sh\nWorkingDirectory=%1$s/work\n",
		     root);
	(void)util_snprintf(p, sizeof p, "%s/progs", root);
	if (symlink(progs, p) < 0)
		exit(2);
}

int main(void)
{
	static const char *const start[] = {"ok.service", "bad.service", "flap.service",
					    "once.service", NULL};
	char p[PATH_MAX];
	int r;

	r = sandbox_main(setup, start);
	if (r >= 0)
		return r;
	/* Inside: the programs through the link setup() left. */
	if (!realpath(fixture("progs", p), progs)) {
		printf("FAIL no progs link in %s\n", sandbox_fixture());
		return harness_finish();
	}
	CHECK_INT(sd_event_default(&ev), >=, 0);
	CHECK_INT(unit_bus_open(ev, &bus), ==, 0);
	RUN(test_disk);
	RUN(test_memory);
	RUN(test_files);
	RUN(test_command);
	RUN(test_http);
	if (bus) {
		RUN(test_unit_states);
		RUN(test_unit_transitions);
		RUN(test_unit_safety);
		RUN(test_runner);
	}
	free(detail);
	sd_bus_flush_close_unref(bus);
	sd_event_unref(ev);
	return harness_finish();
}
