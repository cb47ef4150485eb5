/* SPDX-License-Identifier: MIT */
#include "healer/check.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/executor.h"
#include "healer/probe.h"
#include "healer/units.h"

/*
 * The runner takes the checks one after another. Each check either ends at
 * once (disk, memory, files) or starts one operation on the loop (a unit
 * query, a child, an HTTP probe) and ends from its callback. Ending
 * always re-arms a defer source and the next check starts from there, so
 * callbacks never nest and done is never called inline.
 *
 * Who may lie to us: the evidence text and the model choose which checks
 * run (through the whitelist), never what they see. What they see comes
 * from the manager, the kernel and the file system; a check's own child and
 * a loopback HTTP server are local but not trusted, so their output is
 * capped and cleaned before it reaches a detail string.
 */

#define TIMEOUT_DEFAULT_USEC (10 * USEC_PER_SEC)
#define WATCH_MIN_USEC	     USEC_PER_SEC
#define WATCH_MAX_USEC	     (10 * USEC_PER_SEC)
#define SETTLE_POLL_USEC     (50 * USEC_PER_MSEC)
#define TIMER_ACCURACY	     USEC_PER_MSEC
#define COMMAND_GRACE_USEC   USEC_PER_SEC
#define COMMAND_OUTPUT_MAX   ((size_t)4096)
#define MEMINFO_MAX	     ((size_t)64 * 1024)
#define DETAIL_MAX	     512

static const char oom_detail[] = "out of memory";

struct ChkRun {
	sd_event *event;
	WlCheck *checks;
	ChkResult *results;
	size_t n, i;
	sd_bus *bus;
	const Whitelist *wl;
	char *evidence_unit;
	uint64_t timeout_usec;
	uint64_t restart_watch_usec;
	char *meminfo_path;
	chk_done_fn done;
	void *userdata;

	sd_event_source *step;	   /* defer: starts the next check */
	sd_event_source *deadline; /* the current check's time limit */
	sd_event_source *timer;	   /* a unit check's next sample */
	bool pending;		   /* the current check waits for the loop */

	/* The current check's operation and what it saw so far. */
	char *unit;
	UnitQuery *query;
	ExChild *child;
	Probe *probe;
	bool sampled;
	uint32_t first_restarts;
	uint64_t watch_usec;
	char last_state[96]; /* "ActiveState=activating SubState=start" */
};

const char *chk_verdict_name(ChkVerdict v)
{
	switch (v) {
	case CHK_HOLDS:
		return "holds";
	case CHK_FAILS:
		return "fails";
	case CHK_UNKNOWN:
		return "unknown";
	}
	return NULL;
}

/* Ends whatever the current check still has running. */
static void op_stop(ChkRun *r)
{
	r->query = unit_query_cancel(r->query);
	free(r->unit);
	r->unit = NULL;
	if (r->child)
		r->child = ex_child_free(r->child);
	r->probe = probe_free(r->probe);
	r->deadline = sd_event_source_disable_unref(r->deadline);
	r->timer = sd_event_source_disable_unref(r->timer);
}

static void results_free(ChkResult *res, size_t n)
{
	for (size_t i = 0; res && i < n; i++)
		if (res[i].detail != oom_detail)
			free(res[i].detail);
	free(res);
}

static void checks_free(WlCheck *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		strv_free(c[i].argv);
		free(c[i].text);
	}
	free(c);
}

ChkRun *chk_run_cancel(ChkRun *r)
{
	if (!r)
		return NULL;
	op_stop(r);
	r->step = sd_event_source_disable_unref(r->step);
	results_free(r->results, r->n);
	checks_free(r->checks, r->n);
	sd_bus_unref(r->bus);
	sd_event_unref(r->event);
	free(r->evidence_unit);
	free(r->meminfo_path);
	free(r);
	return NULL;
}

static void schedule(ChkRun *r)
{
	(void)sd_event_source_set_enabled(r->step, SD_EVENT_ONESHOT);
}

/*
 * Records the current check's verdict and moves on. The detail is cut at
 * DETAIL_MAX and cleaned: it may quote a child's output or an HTTP reply.
 */
static void finish(ChkRun *r, ChkVerdict v, const char *fmt, ...) _printf_(3, 4);
static void finish(ChkRun *r, ChkVerdict v, const char *fmt, ...)
{
	char buf[DETAIL_MAX];
	ChkResult *res = &r->results[r->i];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	res->verdict = v;
	res->detail = text_clean(buf, strlen(buf), DETAIL_MAX, 0, NULL, NULL);
	if (!res->detail) {
		res->detail = (char *)oom_detail;
		res->verdict = CHK_UNKNOWN;
	}
	op_stop(r);
	r->i++;
	r->pending = false;
	schedule(r);
}

static int add_timer(ChkRun *r, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb,
		     const char *what)
{
	int k;

	*s = sd_event_source_disable_unref(*s);
	k = sd_event_add_time_relative(r->event, s, CLOCK_MONOTONIC, usec, TIMER_ACCURACY, cb, r);
	if (k >= 0)
		(void)sd_event_source_set_description(*s, what);
	return k;
}

static const char *span(uint64_t usec, char *buf, size_t len)
{
	util_format_timespan(usec, buf, len);
	return buf;
}

/* ---- unit checks ---- */

static bool state_is(const UnitInfo *u, const char *s)
{
	return u->active_state && strcmp(u->active_state, s) == 0;
}

/* What `systemctl is-active` calls active. */
static bool is_active(const UnitInfo *u)
{
	return state_is(u, "active") || state_is(u, "reloading") || state_is(u, "refreshing");
}

static void on_unit(int k, const UnitInfo *u, const char *error, void *userdata);
static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata);

static void unit_sample(ChkRun *r)
{
	int k = unit_query(r->bus, r->unit, on_unit, r, &r->query);

	if (k < 0)
		finish(r, CHK_UNKNOWN, "cannot ask the manager about %s: %s", r->unit,
		       strerror(-k));
}

static int on_sample(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	unit_sample(userdata);
	return 0;
}

/*
 * Failed; or restarting in a loop: NRestarts rising over the watch window.
 * A unit in a loop spends most of its time activating (auto-restart), but
 * a sample can also catch it running for the moment between two crashes,
 * so a running unit that has restarted before is watched too.
 */
static void judge_failed(ChkRun *r, const UnitInfo *u)
{
	char t[32];
	int k;

	if (state_is(u, "failed")) {
		finish(r, CHK_HOLDS, "%s", r->last_state);
		return;
	}
	if (r->sampled) {
		if (u->n_restarts > r->first_restarts)
			finish(r, CHK_HOLDS, "%s, NRestarts rose from %u to %u within %s",
			       r->last_state, r->first_restarts, u->n_restarts,
			       span(r->watch_usec, t, sizeof t));
		else
			finish(r, CHK_FAILS, "%s, NRestarts stayed at %u for %s", r->last_state,
			       u->n_restarts, span(r->watch_usec, t, sizeof t));
		return;
	}
	if (!state_is(u, "activating") && (u->n_restarts == 0 || state_is(u, "inactive"))) {
		finish(r, CHK_FAILS, "%s", r->last_state);
		return;
	}
	r->sampled = true;
	r->first_restarts = u->n_restarts;
	r->watch_usec = r->restart_watch_usec;
	if (!r->watch_usec) {
		r->watch_usec =
			u->restart_usec > WATCH_MAX_USEC / 2 ? WATCH_MAX_USEC : 2 * u->restart_usec;
		if (r->watch_usec < WATCH_MIN_USEC)
			r->watch_usec = WATCH_MIN_USEC;
	}
	k = add_timer(r, &r->timer, r->watch_usec, on_sample, "healer-check-watch");
	if (k >= 0)
		k = add_timer(r, &r->deadline, r->watch_usec + r->timeout_usec, on_deadline,
			      "healer-check-deadline");
	if (k < 0)
		finish(r, CHK_UNKNOWN, "cannot watch %s: %s", r->unit, strerror(-k));
}

/* Active; a unit on its way (activating, reloading ...) is sampled until it settles. */
static void judge_active(ChkRun *r, const UnitInfo *u)
{
	int k;

	if (state_is(u, "active")) {
		finish(r, CHK_HOLDS, "%s", r->last_state);
		return;
	}
	if (!state_is(u, "activating") && !state_is(u, "deactivating") &&
	    !state_is(u, "reloading") && !state_is(u, "refreshing")) {
		finish(r, CHK_FAILS, "%s", r->last_state);
		return;
	}
	r->sampled = true;
	k = add_timer(r, &r->timer, SETTLE_POLL_USEC, on_sample, "healer-check-settle");
	if (k < 0)
		finish(r, CHK_UNKNOWN, "cannot watch %s: %s", r->unit, strerror(-k));
}

static void on_unit(int k, const UnitInfo *u, const char *error, void *userdata)
{
	ChkRun *r = userdata;
	const WlCheck *c = &r->checks[r->i];
	const char *refused;
	char why[256];

	r->query = NULL; /* it ends with this call */
	if (k < 0) {
		finish(r, CHK_UNKNOWN, "%s", error);
		return;
	}
	(void)util_snprintf(r->last_state, sizeof r->last_state, "ActiveState=%s SubState=%s",
			    u->active_state, u->sub_state ? u->sub_state : "?");
	/* The unit safety rule holds for every check that looks at a unit. */
	refused = unit_refusal(u, r->wl, why, sizeof why);
	if (refused) {
		finish(r, CHK_UNKNOWN, "refused: %s", refused);
		return;
	}
	switch (c->kind) {
	case WL_CHECK_UNIT_FAILED:
		judge_failed(r, u);
		break;
	case WL_CHECK_UNIT_NOT_ACTIVE:
		finish(r, is_active(u) ? CHK_FAILS : CHK_HOLDS, "%s", r->last_state);
		break;
	case WL_CHECK_UNIT_ACTIVE:
		judge_active(r, u);
		break;
	default: /* WL_CHECK_UNIT_RUNS */
		if (unit_runs_path(u, c->argv[0]))
			finish(r, CHK_HOLDS, "%s runs %s", u->id, c->argv[0]);
		else
			finish(r, CHK_FAILS,
			       "%s does not run %s (not named by its ExecStart*= lines, not "
			       "beneath its WorkingDirectory=)",
			       u->id, c->argv[0]);
	}
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	ChkRun *r = userdata;
	const WlCheck *c = &r->checks[r->i];
	char t[32];

	(void)s;
	(void)usec;
	if (c->kind == WL_CHECK_UNIT_ACTIVE && r->sampled)
		finish(r, CHK_FAILS, "%s, not settled within %s", r->last_state,
		       span(r->timeout_usec, t, sizeof t));
	else
		finish(r, CHK_UNKNOWN, "no answer within %s", span(r->timeout_usec, t, sizeof t));
	return 0;
}

static void start_unit(ChkRun *r, const WlCheck *c)
{
	int k;

	if (c->kind == WL_CHECK_UNIT_RUNS && !r->evidence_unit) {
		finish(r, CHK_FAILS, "no evidence unit: nothing is known to run %s", c->argv[0]);
		return;
	}
	r->unit = c->kind == WL_CHECK_UNIT_RUNS ? strdup(r->evidence_unit)
						: wl_unit_mangle(c->argv[0]);
	if (!r->unit) {
		finish(r, CHK_UNKNOWN, "out of memory");
		return;
	}
	if (!r->bus) {
		finish(r, CHK_UNKNOWN, "no system bus: cannot ask about %s", r->unit);
		return;
	}
	r->pending = true;
	k = add_timer(r, &r->deadline, r->timeout_usec, on_deadline, "healer-check-deadline");
	if (k < 0) {
		finish(r, CHK_UNKNOWN, "cannot arm a timer: %s", strerror(-k));
		return;
	}
	unit_sample(r);
}

/* ---- command ---- */

static void on_child(ExChild *child, const ExResult *res, void *userdata)
{
	ChkRun *r = userdata;
	const WlCheck *c = &r->checks[r->i];
	char t[32];
	int n = (int)strcspn(res->output, "\n");

	(void)child;
	/*
	 * Only an exit says what the command found. Killed (by its timeout, or
	 * by anyone who can signal it: the OOM killer, a user it runs as), it
	 * found nothing; as a symptom check after a fix, "fails" would read as
	 * "the symptom is gone".
	 */
	if (res->timed_out)
		finish(r, CHK_UNKNOWN, "%s timed out after %s", c->argv[0],
		       span(r->timeout_usec, t, sizeof t));
	else if (res->term_signal)
		finish(r, CHK_UNKNOWN, "%s killed by SIG%s", c->argv[0],
		       sigabbrev_np(res->term_signal) ? sigabbrev_np(res->term_signal) : "?");
	else if (res->exit_status == 0)
		finish(r, CHK_HOLDS, "%s exited 0", c->argv[0]);
	else
		finish(r, CHK_FAILS, "%s exited %d%s%.*s", c->argv[0], res->exit_status,
		       n ? ": " : "", n, res->output);
}

static void start_command(ChkRun *r, const WlCheck *c)
{
	ExOptions o = {
		.timeout_usec = r->timeout_usec,
		.grace_usec = COMMAND_GRACE_USEC,
		.output_max = COMMAND_OUTPUT_MAX,
	};
	int k;

	r->pending = true;
	k = ex_spawn(r->event, c->argv, &o, on_child, r, &r->child);
	if (k < 0)
		finish(r, CHK_UNKNOWN, "cannot run %s: %s", c->argv[0], strerror(-k));
}

/* ---- http ---- */

static void on_probe(int status, const char *why, void *userdata)
{
	ChkRun *r = userdata;
	const char *url = r->checks[r->i].argv[0];
	char t[32];

	if (status >= 200 && status < 300)
		finish(r, CHK_HOLDS, "HTTP %d from %s", status, url);
	else if (status >= 0)
		finish(r, CHK_FAILS, "HTTP %d from %s", status, url);
	else if (status == -ETIMEDOUT)
		finish(r, CHK_UNKNOWN, "no answer within %s", span(r->timeout_usec, t, sizeof t));
	else
		finish(r, CHK_FAILS, "%s", why);
}

static void start_http(ChkRun *r, const WlCheck *c)
{
	int k;

	r->pending = true;
	k = probe_http(r->event, c->argv[0], r->timeout_usec, on_probe, r, &r->probe);
	if (k == -EPERM)
		finish(r, CHK_UNKNOWN, "refused: %s is not an http:// URL on loopback", c->argv[0]);
	else if (k < 0)
		finish(r, CHK_FAILS, "cannot connect to %s: %s", c->argv[0], strerror(-k));
}

/* ---- disk, memory, files ---- */

/* "90" or "90%", 0..100. */
static int parse_percent(const char *s, uint64_t *ret)
{
	char buf[8];
	size_t n = strlen(s);

	if (n && s[n - 1] == '%')
		n--;
	if (n == 0 || n >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return util_parse_u64(buf, 0, 100, ret);
}

/* Used space as df shows it: of what non-root users could have, rounded up. */
static void check_disk(ChkRun *r, const WlCheck *c)
{
	struct statvfs st;
	unsigned __int128 used, total;
	uint64_t limit, pct;

	if (parse_percent(c->argv[1], &limit) < 0) {
		finish(r, CHK_UNKNOWN, "bad percentage '%s'", c->argv[1]);
		return;
	}
	if (statvfs(c->argv[0], &st) < 0) {
		finish(r, CHK_UNKNOWN, "cannot stat the file system of %s: %m", c->argv[0]);
		return;
	}
	used = (unsigned __int128)(st.f_blocks - st.f_bfree);
	total = used + st.f_bavail;
	if (st.f_blocks < st.f_bfree || total == 0) {
		finish(r, CHK_UNKNOWN, "the file system of %s reports no blocks", c->argv[0]);
		return;
	}
	pct = (uint64_t)((used * 100 + total - 1) / total);
	if (pct > limit)
		finish(r, CHK_HOLDS, "disk %llu%% of %s used, above %llu%%",
		       (unsigned long long)pct, c->argv[0], (unsigned long long)limit);
	else
		finish(r, CHK_FAILS, "disk %llu%% of %s used, not above %llu%%",
		       (unsigned long long)pct, c->argv[0], (unsigned long long)limit);
}

/* The kB value of "Key:   123 kB" in /proc/meminfo, or -ENOENT. */
static int meminfo_value(const char *buf, const char *key, uint64_t *ret)
{
	size_t k = strlen(key);
	char num[24];

	for (const char *line = buf; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *v = line + k;
		size_t n;

		if (strncmp(line, key, k) != 0 || *v != ':')
			continue;
		v += 1 + strspn(v + 1, " \t");
		n = strspn(v, "0123456789");
		if (n == 0 || n >= sizeof num || strncmp(v + n, " kB", 3) != 0)
			return -EBADMSG;
		memcpy(num, v, n);
		num[n] = '\0';
		return util_parse_u64(num, 0, UINT64_MAX / 1024, ret);
	}
	return -ENOENT;
}

static void check_memory(ChkRun *r, const WlCheck *c)
{
	const char *path = r->meminfo_path ? r->meminfo_path : "/proc/meminfo";
	_cleanup_free_ char *buf = NULL;
	uint64_t limit, total, avail;
	size_t len;
	int k;

	if (parse_percent(c->argv[0], &limit) < 0) {
		finish(r, CHK_UNKNOWN, "bad percentage '%s'", c->argv[0]);
		return;
	}
	k = util_read_file(path, MEMINFO_MAX, &buf, &len);
	if (k >= 0 && strlen(buf) != len)
		k = -EBADMSG;
	if (k >= 0 && (k = meminfo_value(buf, "MemTotal", &total)) >= 0)
		k = meminfo_value(buf, "MemAvailable", &avail);
	if (k >= 0 && (total == 0 || avail > total))
		k = -EBADMSG;
	if (k < 0) {
		finish(r, CHK_UNKNOWN, "cannot read MemTotal and MemAvailable from %s: %s", path,
		       strerror(-k));
		return;
	}
	/* Exact: avail/total < limit/100, no rounding at the edge. */
	finish(r, avail * 100 < limit * total ? CHK_HOLDS : CHK_FAILS,
	       "memory %llu%% available (%llu of %llu MiB), %sbelow %llu%%",
	       (unsigned long long)(avail * 100 / total), (unsigned long long)(avail / 1024),
	       (unsigned long long)(total / 1024), avail * 100 < limit * total ? "" : "not ",
	       (unsigned long long)limit);
}

/* The file itself, never what a symlink points to (a link can be swapped). */
static void check_file(ChkRun *r, const WlCheck *c)
{
	const char *path = c->argv[0];
	_cleanup_close_ int fd = -1;
	struct stat st;
	bool x;

	if (path[0] != '/') {
		finish(r, CHK_UNKNOWN, "refused: %s is not an absolute path", path);
		return;
	}
	/*
	 * A file that is gone, or that is no longer a regular file, says
	 * nothing of its mode: undecided. Were it "fails", file-lacks-x after a
	 * fix would read "the symptom is gone" whenever the file vanished.
	 */
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
		finish(r, CHK_UNKNOWN, "no file %s", path);
		return;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		finish(r, CHK_UNKNOWN, "cannot open %s: %m", path);
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		finish(r, CHK_UNKNOWN, "refused: %s is a symlink", path);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		finish(r, CHK_UNKNOWN, "%s is not a regular file", path);
		return;
	}
	x = st.st_mode & 0111;
	if (c->kind == WL_CHECK_FILE_LACKS_X)
		finish(r, x ? CHK_FAILS : CHK_HOLDS, "mode %04o of %s: %s", st.st_mode & 07777,
		       path, x ? "has an x bit" : "no x bit");
	else
		finish(r, x ? CHK_HOLDS : CHK_FAILS, "mode %04o of %s: %s", st.st_mode & 07777,
		       path, x ? "executable" : "not executable");
}

/* ---- the runner ---- */

/* Operands per kind; -1: one or more (a command and its arguments). */
static const int operands[_WL_CHECK_KIND_MAX] = {
	[WL_CHECK_UNIT_FAILED] = 1,	[WL_CHECK_UNIT_NOT_ACTIVE] = 1,
	[WL_CHECK_UNIT_ACTIVE] = 1,	[WL_CHECK_DISK_ABOVE] = 2,
	[WL_CHECK_MEMORY_BELOW] = 1,	[WL_CHECK_FILE_LACKS_X] = 1,
	[WL_CHECK_FILE_EXECUTABLE] = 1, [WL_CHECK_UNIT_RUNS] = 1,
	[WL_CHECK_COMMAND] = -1,	[WL_CHECK_HTTP] = 1,
};

static void start_check(ChkRun *r)
{
	const WlCheck *c = &r->checks[r->i];
	int want;

	r->sampled = false;
	r->last_state[0] = '\0';
	if ((unsigned)c->kind >= _WL_CHECK_KIND_MAX) {
		finish(r, CHK_UNKNOWN, "unknown check kind %d", (int)c->kind);
		return;
	}
	want = operands[c->kind];
	if (want < 0 ? c->argc < 1 : c->argc != (size_t)want) {
		finish(r, CHK_UNKNOWN, "%s: wrong number of operands", c->text ? c->text : "check");
		return;
	}
	switch (c->kind) {
	case WL_CHECK_UNIT_FAILED:
	case WL_CHECK_UNIT_NOT_ACTIVE:
	case WL_CHECK_UNIT_ACTIVE:
	case WL_CHECK_UNIT_RUNS:
		start_unit(r, c);
		break;
	case WL_CHECK_DISK_ABOVE:
		check_disk(r, c);
		break;
	case WL_CHECK_MEMORY_BELOW:
		check_memory(r, c);
		break;
	case WL_CHECK_FILE_LACKS_X:
	case WL_CHECK_FILE_EXECUTABLE:
		check_file(r, c);
		break;
	case WL_CHECK_COMMAND:
		start_command(r, c);
		break;
	case WL_CHECK_HTTP:
		start_http(r, c);
		break;
	case _WL_CHECK_KIND_MAX:
		break;
	}
}

static int on_step(sd_event_source *s, void *userdata)
{
	ChkRun *r = userdata;
	bool all_hold = true;

	(void)s;
	while (!r->pending) {
		if (r->i < r->n) {
			start_check(r);
			continue;
		}
		for (size_t i = 0; i < r->n; i++)
			all_hold = all_hold && r->results[i].verdict == CHK_HOLDS;
		r->done(r->results, r->n, all_hold, r->userdata);
		chk_run_cancel(r);
		return 0;
	}
	return 0;
}

static int checks_copy(const WlCheck *src, size_t n, WlCheck **ret)
{
	WlCheck *c = calloc(n ? n : 1, sizeof *c);

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t argc = strv_length(src[i].argv);

		c[i].kind = src[i].kind;
		c[i].argc = argc;
		c[i].argv = calloc(argc + 1, sizeof(char *));
		c[i].text = src[i].text ? strdup(src[i].text) : NULL;
		if (!c[i].argv || (src[i].text && !c[i].text)) {
			checks_free(c, n);
			return -ENOMEM;
		}
		for (size_t a = 0; a < argc; a++)
			if (!(c[i].argv[a] = strdup(src[i].argv[a]))) {
				checks_free(c, n);
				return -ENOMEM;
			}
	}
	*ret = c;
	return 0;
}

int chk_run(sd_event *e, const WlCheck *checks, size_t n, const ChkOptions *o, chk_done_fn done,
	    void *userdata, ChkRun **ret)
{
	static const ChkOptions defaults = {0};
	ChkRun *r;
	int k;

	if (!e || !done || (n && !checks))
		return -EINVAL;
	if (n > 8 * WL_MAX_CHECKS)
		return -E2BIG;
	o = o ? o : &defaults;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->event = sd_event_ref(e);
	r->n = n;
	r->bus = o->bus ? sd_bus_ref(o->bus) : NULL;
	r->wl = o->wl;
	r->timeout_usec = o->timeout_usec ? o->timeout_usec : TIMEOUT_DEFAULT_USEC;
	r->restart_watch_usec = o->restart_watch_usec;
	r->done = done;
	r->userdata = userdata;
	r->results = calloc(n ? n : 1, sizeof *r->results);
	r->evidence_unit = o->evidence_unit ? strdup(o->evidence_unit) : NULL;
	r->meminfo_path = o->meminfo_path ? strdup(o->meminfo_path) : NULL;
	k = checks_copy(checks, n, &r->checks);
	if (k >= 0 && (!r->results || (o->evidence_unit && !r->evidence_unit) ||
		       (o->meminfo_path && !r->meminfo_path)))
		k = -ENOMEM;
	if (k >= 0)
		k = sd_event_add_defer(e, &r->step, on_step, r);
	if (k >= 0)
		(void)sd_event_source_set_description(r->step, "healer-check-step");
	if (k < 0) {
		chk_run_cancel(r);
		return k;
	}
	if (ret)
		*ret = r;
	return 0;
}
