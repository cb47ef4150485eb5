/* SPDX-License-Identifier: MIT */
/*
 * The follower against a live systemd-journald (tests/TESTING tier 1a): a
 * private mount namespace with its own /run, journald started standalone in
 * a journal namespace, entries sent to its socket. Shows that the follower
 * sees each entry on the loop's next wake-up, resumes from its cursor
 * without loss or repeats, survives rotation and vacuum, and waits for a
 * journal that does not exist yet. The host's journal is never touched.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "harness.h"
#include "common/util.h"
#include "healer/executor.h"
#include "healer/follow.h"

#define NS1 "healertest1"
#define NS2 "healertest2"

static char tmpdir[64];
static sd_event *ev;
static char *seen[256];
static size_t n_seen;

static void on_entry(const JrEntry *e, void *userdata)
{
	(void)userdata;
	if (n_seen < ELEMENTSOF(seen))
		seen[n_seen++] = strdup(e->message);
}

static void clear_seen(void)
{
	for (size_t i = 0; i < n_seen; i++)
		free(seen[i]);
	n_seen = 0;
}

static bool has_seen(const char *tag)
{
	for (size_t i = 0; i < n_seen; i++)
		if (strstr(seen[i], tag))
			return true;
	return false;
}

/* Runs the loop until n entries were seen or the deadline passed; returns µs taken. */
static uint64_t run_until(size_t n, uint64_t deadline_usec)
{
	uint64_t t0 = util_now_usec();

	while (n_seen < n && util_now_usec() - t0 < deadline_usec)
		sd_event_run(ev, 50 * USEC_PER_MSEC);
	return util_now_usec() - t0;
}

/* Runs the loop for a while so that anything pending arrives. */
static void settle(uint64_t usec)
{
	uint64_t t0 = util_now_usec();

	while (util_now_usec() - t0 < usec)
		sd_event_run(ev, 50 * USEC_PER_MSEC);
}

/*
 * Sends through logger(1) in a child: the entry must come from another
 * process, since the follower skips lines of its own PID.
 */
static int send_entry(const char *ns, const char *ident, int prio, const char *msg)
{
	static const char *const prios[] = {"user.emerg",   "user.alert",  "user.crit", "user.err",
					    "user.warning", "user.notice", "user.info"};
	char sock[128];
	char *argv[] = {"/usr/bin/logger", "-u",	sock, "-p", (char *)prios[prio], "-t",
			(char *)ident,	   (char *)msg, NULL};
	ExResult r = {0};
	int k;

	(void)util_snprintf(sock, sizeof sock, "/run/systemd/journal.%s/dev-log", ns);
	k = ex_run(argv, NULL, &r);
	if (k == 0 && r.exit_status != 0)
		k = -EIO;
	ex_result_done(&r);
	return k;
}

static void on_journald_exit(ExChild *c, const ExResult *r, void *userdata)
{
	(void)c;
	(void)userdata;
	fprintf(stderr, "journald exited early (status %d, signal %d): %s\n", r->exit_status,
		r->term_signal, r->output);
}

static ExChild *start_journald(const char *ns)
{
	char conf[256], path[256], *argv[] = {"/lib/systemd/systemd-journald", (char *)ns, NULL};
	ExOptions o = {.timeout_usec = 600 * USEC_PER_SEC};
	ExChild *c = NULL;
	FILE *f;

	(void)util_snprintf(conf, sizeof conf, "/run/systemd/journald@%s.conf.d", ns);
	mkdir("/run/systemd", 0755);
	mkdir(conf, 0755);
	(void)util_snprintf(path, sizeof path, "%s/test.conf", conf);
	f = fopen(path, "we");
	if (!f)
		return NULL;
	fputs("[Journal]\nStorage=volatile\nRateLimitBurst=0\n", f);
	fclose(f);
	CHECK_INT(ex_spawn(ev, argv, &o, on_journald_exit, NULL, &c), ==, 0);
	(void)util_snprintf(path, sizeof path, "/run/systemd/journal.%s/socket", ns);
	for (int i = 0; i < 200; i++) {
		struct stat st;

		if (stat(path, &st) == 0)
			return c;
		sd_event_run(ev, 10 * USEC_PER_MSEC);
	}
	CHECK_(0, "journald %s did not open its socket", ns);
	return c;
}

static Follower *follow(const char *ns, uint64_t lookback)
{
	JrOpenOptions o = {.source = JR_SOURCE_NAMESPACE, .namespace_name = ns, .max_priority = 3};
	FlOptions fo = {.lookback_usec = lookback};
	JrReader *r = NULL;
	Follower *f = NULL;
	char path[128];

	(void)util_snprintf(path, sizeof path, "%s/cursor-%s", tmpdir, ns);
	CHECK_INT(jr_open(&o, &r), ==, 0);
	if (!r)
		return NULL;
	CHECK_INT(fl_new(ev, r, cur_file_new(path), &fo, on_entry, NULL, &f), ==, 0);
	return f;
}

static int journalctl(const char *ns, const char *arg)
{
	char nsarg[64], *argv[] = {"/usr/bin/journalctl", nsarg, (char *)arg, NULL};
	ExResult r = {0};
	int k;

	(void)util_snprintf(nsarg, sizeof nsarg, "--namespace=%s", ns);
	k = ex_run(argv, NULL, &r);
	if (k == 0 && r.exit_status != 0) {
		fprintf(stderr, "journalctl %s: %s\n", arg, r.output);
		k = -EIO;
	}
	ex_result_done(&r);
	return k;
}

/* Journal files of a namespace: 1 when only the active file is left. */
static int count_files(const char *ns)
{
	char path[256], id[64] = "";
	FILE *f = fopen("/etc/machine-id", "re");
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (!f || !fgets(id, sizeof id, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	id[strcspn(id, "\n")] = '\0';
	(void)util_snprintf(path, sizeof path, "/run/log/journal/%s.%s", id, ns);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".journal") != NULL;
	closedir(d);
	return n;
}

static void test_follow(void)
{
	ExChild *jd = start_journald(NS1);
	Follower *f;
	uint64_t took, worst = 0;
	char msg[64];

	CHECK_INT(send_entry(NS1, "app", 3, "before start failed"), ==, 0);
	settle(600 * USEC_PER_MSEC); /* journald batches; let it land before we start */
	f = follow(NS1, 5 * USEC_PER_MINUTE);
	if (!f)
		return;
	run_until(1, 3 * USEC_PER_SEC);
	CHECK_INT(n_seen, ==, 1);
	CHECK(has_seen("before start failed"));

	/* Each new error is seen on a wake-up, not by polling. */
	for (int i = 1; i <= 5; i++) {
		snprintf(msg, sizeof msg, "live-%d failed", i);
		CHECK_INT(send_entry(NS1, "app", i % 4, msg), ==, 0);
		took = run_until(1 + (size_t)i, 3 * USEC_PER_SEC);
		worst = took > worst ? took : worst;
		CHECK_(has_seen(msg), "%s not seen within 3 s", msg);
	}
	printf("info: slowest entry seen %.0f ms after it was sent\n", (double)worst / 1000);
	/* Below err, and Healer's own lines, are not handed on. */
	CHECK_INT(send_entry(NS1, "app", 6, "just info"), ==, 0);
	CHECK_INT(send_entry(NS1, "healer", 3, "healer own failure"), ==, 0);
	CHECK_INT(send_entry(NS1, "app", 3, "marker-1 failed"), ==, 0);
	run_until(7, 3 * USEC_PER_SEC);
	settle(300 * USEC_PER_MSEC);
	CHECK_INT(n_seen, ==, 7);
	CHECK(!has_seen("just info"));
	CHECK(!has_seen("healer own"));
	CHECK_INT(fl_entries_skipped(f), ==, 1);
	for (size_t i = 1; i < n_seen && i < 6; i++) {
		snprintf(msg, sizeof msg, "live-%zu failed", i);
		CHECK_STR(seen[i], msg);
	}

	/* Stop, miss three entries while down, resume: exactly those three. */
	f = fl_free(f);
	clear_seen();
	for (int i = 1; i <= 3; i++) {
		snprintf(msg, sizeof msg, "down-%d failed", i);
		CHECK_INT(send_entry(NS1, "app", 3, msg), ==, 0);
	}
	settle(600 * USEC_PER_MSEC);
	f = follow(NS1, 5 * USEC_PER_MINUTE);
	run_until(3, 3 * USEC_PER_SEC);
	settle(300 * USEC_PER_MSEC);
	CHECK_INT(n_seen, ==, 3);
	for (size_t i = 0; i < n_seen && i < 3; i++) {
		snprintf(msg, sizeof msg, "down-%zu failed", i + 1);
		CHECK_STR(seen[i], msg);
	}

	/* Rotation: the journal file is archived under us. */
	clear_seen();
	CHECK_INT(journalctl(NS1, "--rotate"), ==, 0);
	CHECK_INT(send_entry(NS1, "app", 3, "after-rotate failed"), ==, 0);
	run_until(1, 3 * USEC_PER_SEC);
	CHECK(has_seen("after-rotate failed"));
	/* Vacuum: the file our position lies in is archived, then deleted. */
	settle(1500 * USEC_PER_MSEC);
	CHECK_INT(journalctl(NS1, "--rotate"), ==, 0);
	CHECK_INT(journalctl(NS1, "--vacuum-time=1s"), ==, 0);
	CHECK_(count_files(NS1) == 1, "vacuum left %d journal files", count_files(NS1));
	CHECK_INT(send_entry(NS1, "app", 3, "after-vacuum failed"), ==, 0);
	run_until(2, 3 * USEC_PER_SEC);
	settle(300 * USEC_PER_MSEC);
	CHECK(has_seen("after-vacuum failed"));
	CHECK_INT(fl_last_error(f), ==, 0);
	CHECK_INT(n_seen, ==, 2);
	fl_free(f);
	clear_seen();
	ex_child_free(jd);
}

/* A namespace whose journald has not started yet: follow it, then start it. */
static void test_not_yet(void)
{
	Follower *f = follow(NS2, 5 * USEC_PER_MINUTE);
	ExChild *jd;

	if (!f)
		return;
	settle(200 * USEC_PER_MSEC);
	CHECK_INT(n_seen, ==, 0);
	jd = start_journald(NS2);
	CHECK_INT(send_entry(NS2, "late", 3, "late journal failed"), ==, 0);
	run_until(1, 5 * USEC_PER_SEC);
	CHECK(has_seen("late journal failed"));
	fl_free(f);
	clear_seen();
	ex_child_free(jd);
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
	if (geteuid() != 0) {
		printf("SKIP: a private journald needs root\n0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	/* Everything below happens in a mount namespace of our own. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
		perror("private mount namespace");
		return 2;
	}
	snprintf(tmpdir, sizeof tmpdir, "/tmp/healer-live-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 2;
	/* Storage=volatile keeps journald in /run; shadow /var/log/journal all the same. */
	if (access("/var/log/journal", F_OK) == 0 &&
	    mount(tmpdir, "/var/log/journal", NULL, MS_BIND, NULL) < 0)
		return 2;
	if (sd_event_new(&ev) < 0)
		return 2;
	test_follow();
	test_not_yet();
	sd_event_unref(ev);
	umount("/var/log/journal");
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return harness_finish();
}
