/* SPDX-License-Identifier: MIT */
/*
 * Store tests on real SQLite files in one mkdtemp folder under /tmp,
 * removed at the end. Crash safety is tested with real children killed
 * with SIGKILL in the middle of a batch and right after its commit.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/store.h"
#include "tests/unit/harness.h"

#define T0	      (1700000000ULL * USEC_PER_SEC)
#define FP_HIGH	      0xfedcba9876543210ULL /* top bit set: the signed cast must round-trip */
#define MESSAGE_CAP   (16 * 1024)
#define CUT_MARK      "\xe2\x80\xa6[truncated]"
#define BENCH_BATCHES 20
#define BENCH_BATCH   500

static char tmpdir[PATH_MAX];
static unsigned db_counter;

/* A fresh database path in the temp folder. */
static void db_path(char *buf, size_t len)
{
	(void)util_snprintf(buf, len, "%s/db%u.db", tmpdir, ++db_counter);
}

static Store *open_new(char *path, size_t len)
{
	_cleanup_free_ char *err = NULL;
	Store *s = NULL;
	int r;

	db_path(path, len);
	r = st_open(path, &s, &err);
	CHECK_(r == 0 && s, "st_open %s: %d %s", path, r, err ? err : "");
	return s;
}

static StIncident incident(uint64_t fp, const char *unit, const char *message)
{
	return (StIncident){.fingerprint = fp,
			    .unit = unit,
			    .identifier = "nginx",
			    .source = "journal",
			    .source_class = "service",
			    .priority = 3,
			    .message = message,
			    .first_seen_usec = T0,
			    .last_seen_usec = T0,
			    .count = 1,
			    .first_cursor = "s=abc;i=1"};
}

static int64_t add_incident(Store *s, uint64_t fp, const char *unit)
{
	StIncident in = incident(fp, unit, "connection refused");
	int64_t id = 0;

	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	return id;
}

/* Runs one SQL statement on a connection of the test's own and returns its integer. */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	else
		fprintf(stderr, "raw_int %s: %s\n", sql, sqlite3_errmsg(db));
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	CHECK_(rc == SQLITE_OK, "raw_exec %s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static const cJSON *key(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	CHECK_(v != NULL, "JSON lacks key \"%s\"", k);
	return v;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = key(o, k);

	CHECK_(cJSON_IsNumber(v), "\"%s\" is not a number", k);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = key(o, k);

	CHECK_(cJSON_IsString(v), "\"%s\" is not a string", k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Prints and parses back: what a client of the API would read. */
static cJSON *roundtrip(cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);
	cJSON *back = text ? cJSON_Parse(text) : NULL;

	CHECK(back != NULL);
	free(text);
	cJSON_Delete(j);
	return back;
}

TEST(test_state_names)
{
	for (int i = 0; i < _AT_STATE_MAX; i++) {
		CHECK(at_state_name(i) != NULL);
		CHECK_INT(at_state_from_name(at_state_name(i)), ==, i);
	}
	CHECK_STR(at_state_name(AT_AWAITING_APPROVAL), "awaiting_approval");
	CHECK(at_state_name(_AT_STATE_MAX) == NULL);
	CHECK_INT(at_state_from_name("HEALED"), ==, -EINVAL);
	CHECK_INT(at_state_from_name(""), ==, -EINVAL);
	CHECK_INT(at_state_from_name(NULL), ==, -EINVAL);
	CHECK(!at_state_is_final(AT_DETECTED));
	CHECK(!at_state_is_final(AT_AWAITING_APPROVAL));
	CHECK(!at_state_is_final(AT_VERIFYING));
	CHECK(at_state_is_final(AT_HEALED));
	CHECK(at_state_is_final(AT_FAILED));
	CHECK(at_state_is_final(AT_REJECTED));
	CHECK(at_state_is_final(AT_SKIPPED));
	CHECK(at_state_is_final(AT_ESCALATED));
	CHECK(at_state_is_final(AT_INTERRUPTED));
	CHECK(!at_state_is_final(_AT_STATE_MAX));
}

TEST(test_open_create)
{
	char path[PATH_MAX], link[PATH_MAX + 8];
	_cleanup_free_ char *err = NULL;
	mode_t old = umask(0); /* 0600 whatever the umask */
	Store *s = open_new(path, sizeof path);
	struct stat st;

	CHECK(s != NULL);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK_INT(raw_int(path, "PRAGMA user_version"), ==, 2);
	/* WAL mode: the -wal file exists while a connection is open. */
	(void)util_snprintf(link, sizeof link, "%s-wal", path);
	CHECK(access(link, F_OK) == 0);
	CHECK_INT(raw_int(path,
			  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name"
			  " IN ('incidents', 'attempts', 'transitions', 'commands', 'knowledge',"
			  " 'cursor', 'audit', 'escalations', 'flags')"),
		  ==, 9);
	/* SQLite gives the -wal file the database's mode. */
	CHECK(stat(link, &st) == 0 && (st.st_mode & 077) == 0);
	umask(old);
	s = st_close(s);
	/* Opened again: nothing to migrate, nothing changed. */
	CHECK_INT(st_open(path, &s, &err), ==, 0);
	CHECK_INT(raw_int(path, "PRAGMA user_version"), ==, 2);
	CHECK_STR(st_errmsg(s), "no error");
	s = st_close(s);
	CHECK(st_close(NULL) == NULL);

	/* An empty file (what `touch` leaves) is migrated like a missing one. */
	db_path(path, sizeof path);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	CHECK_INT(st_open(path, &s, &err), ==, 0);
	CHECK_INT(raw_int(path, "PRAGMA user_version"), ==, 2);
	s = st_close(s);

	/* A symlink is not followed, whatever it points at. */
	(void)util_snprintf(link, sizeof link, "%s.lnk", path);
	CHECK(symlink(path, link) == 0);
	CHECK_INT(st_open(link, &s, &err), ==, -ELOOP);
	CHECK(s == NULL);
	CHECK_CONTAINS(err, link);
	free(err);
	CHECK_INT(st_open_readonly(link, &s, &err), <, 0);
	free(err);
	err = NULL;

	/* No folder is created for the caller; a directory is no database. */
	(void)util_snprintf(link, sizeof link, "%s/none/healer.db", tmpdir);
	CHECK_INT(st_open(link, &s, &err), ==, -ENOENT);
	CHECK_CONTAINS(err, "No such file");
	free(err);
	CHECK_INT(st_open(tmpdir, &s, &err), <, 0);
	CHECK(err != NULL);
	free(err);
	err = NULL;
	CHECK_INT(st_open(path, &s, NULL), ==, -EINVAL);
}

TEST(test_schema_refusals)
{
	char path[PATH_MAX];
	_cleanup_free_ char *err = NULL;
	Store *s = open_new(path, sizeof path);

	s = st_close(s);
	raw_exec(path, "PRAGMA user_version = 99");
	CHECK_INT(st_open(path, &s, &err), ==, -EPROTO);
	CHECK(s == NULL);
	CHECK_CONTAINS(err, "schema version 99 is newer than this Healer's 2");
	free(err);
	CHECK_INT(st_open_readonly(path, &s, &err), ==, -EPROTO);
	CHECK_CONTAINS(err, "newer");
	free(err);
	/* Nothing was changed by the refusal. */
	CHECK_INT(raw_int(path, "PRAGMA user_version"), ==, 99);

	/* Some other program's database. */
	db_path(path, sizeof path);
	raw_exec(path, "CREATE TABLE t (x); PRAGMA journal_mode = WAL");
	CHECK_INT(st_open(path, &s, &err), ==, -EPROTO);
	CHECK_CONTAINS(err, "not a Healer database");
	free(err);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_schema"), ==, 1);

	/* Read-only never migrates: an empty file is no store, an older schema is refused. */
	db_path(path, sizeof path);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	CHECK_INT(st_open_readonly(path, &s, &err), ==, -EPROTO);
	CHECK_CONTAINS(err, "not a Healer database (it holds no tables)");
	free(err);
	s = st_close(open_new(path, sizeof path));
	raw_exec(path, "PRAGMA user_version = 1");
	CHECK_INT(st_open_readonly(path, &s, &err), ==, -EPROTO);
	CHECK_CONTAINS(err, "schema version 1 is older than this Healer's 2");
	free(err);
	CHECK_INT(raw_int(path, "PRAGMA user_version"), ==, 1);
	db_path(path, sizeof path);
	CHECK_INT(st_open_readonly(path, &s, &err), <, 0);
	CHECK(err != NULL);
	CHECK(access(path, F_OK) < 0); /* and not created */
}

TEST(test_readonly)
{
	char path[PATH_MAX];
	_cleanup_free_ char *err = NULL;
	Store *s = open_new(path, sizeof path), *ro = NULL;
	StIncident in = incident(1, "a.service", "m");
	CursorStore *cs;
	uint64_t n = 0;
	int64_t id;
	char *c = (char *)"x";

	add_incident(s, 1, "a.service");
	CHECK_INT(st_open_readonly(path, &ro, &err), ==, 0);
	CHECK_INT(st_totals(ro, &n, NULL, NULL), ==, 0);
	CHECK_INT(n, ==, 1);
	CHECK_INT(st_incident_add(ro, &in, &id), ==, -EROFS);
	CHECK_CONTAINS(st_errmsg(ro), "read-only");
	CHECK_INT(st_batch_begin(ro), ==, -EROFS);
	CHECK_INT(st_audit(ro, "cli", "x", NULL, T0), ==, -EROFS);
	cs = st_cursor_store(ro);
	CHECK_INT(cs->save(cs, "s=1", 1), ==, -EROFS);
	CHECK_INT(cs->load(cs, &c), ==, 0);
	CHECK(c == NULL);
	cs = cur_free(cs);
	ro = st_close(ro);
	s = st_close(s);
}

/*
 * A reader takes the -wal, -shm and -journal beside a file as part of it:
 * another user's, or a symlink, put beside a record in a shared folder is
 * refused before SQLite reads it (the test runs as root, so "another user"
 * is a chown to nobody).
 */
TEST(test_readonly_sidecars)
{
	static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
	char path[PATH_MAX], side[PATH_MAX + 16];
	Store *s = open_new(path, sizeof path), *ro = NULL;

	add_incident(s, 1, "a.service");
	s = st_close(s);
	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
		_cleanup_free_ char *err = NULL;
		int fd;

		(void)util_snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
		(void)unlink(side);
		fd = open(side, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		CHECK(fd >= 0);
		close(fd);
		if (geteuid() == 0) {
			CHECK(chown(side, 65534, 65534) == 0);
			CHECK_INT(st_open_readonly(path, &ro, &err), ==, -EPERM);
			CHECK(ro == NULL);
			CHECK_CONTAINS(err, suffixes[i] + 1);
			CHECK_CONTAINS(err, "not a plain file of the database's owner");
			free(err);
			err = NULL;
		}
		/* A symlink, whoever owns it. */
		CHECK(unlink(side) == 0);
		CHECK(symlink("/etc/hostname", side) == 0);
		CHECK_INT(st_open_readonly(path, &ro, &err), ==, -EPERM);
		CHECK_CONTAINS(err, "not a plain file");
		CHECK(unlink(side) == 0);
	}
	/* The owner's own (empty) -wal is read as before. */
	{
		_cleanup_free_ char *err = NULL;

		(void)util_snprintf(side, sizeof side, "%s-wal", path);
		close(open(side, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));

		CHECK_INT(st_open_readonly(path, &ro, &err), ==, 0);
		ro = st_close(ro);
	}
}

TEST(test_incidents)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	StIncident in = incident(FP_HIGH, NULL, "disk full");
	uint64_t incidents = 0, lines = 0, attempts = 9;
	int64_t id = 0, id2 = 0;

	in.count = 3;
	in.identifier = NULL;
	in.first_cursor = NULL;
	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	CHECK_INT(id, >, 0);
	CHECK_INT(st_incident_touch(s, id, 2, T0 + 5), ==, 0);
	CHECK_INT(st_incident_touch(s, id, 1, T0 + 1), ==, 0); /* last_seen never goes back */
	CHECK_INT(raw_int(path, "SELECT last_seen FROM incidents"), ==, T0 + 5);
	CHECK_INT(st_incident_touch(s, id + 100, 1, T0), ==, -ENOENT);
	CHECK_INT(st_incident_add(s, &in, &id2), ==, 0);
	CHECK_INT(id2, ==, id + 1);
	CHECK_INT(st_totals(s, &incidents, &lines, &attempts), ==, 0);
	CHECK_INT(incidents, ==, 2);
	CHECK_INT(lines, ==, 3 + 2 + 1 + 3);
	CHECK_INT(attempts, ==, 0);
	/* The fingerprint's 64 bits survive the signed column. */
	CHECK_INT(raw_int(path, "SELECT count(*) FROM incidents WHERE fingerprint < 0"), ==, 2);

	/* A count saturates instead of turning into a floating-point number. */
	CHECK_INT(st_incident_touch(s, id2, UINT64_MAX, T0), ==, 0);
	CHECK_INT(st_incident_touch(s, id2, 5, T0), ==, 0);
	CHECK_INT(raw_int(path, "SELECT typeof(count) = 'integer' AND count = 9223372036854775807"
				" FROM incidents WHERE id = 2"),
		  ==, 1);

	in.message = NULL;
	CHECK_INT(st_incident_add(s, &in, &id), ==, -EINVAL);
	in.message = "x";
	in.source = NULL;
	CHECK_INT(st_incident_add(s, &in, &id), ==, -EINVAL);
	CHECK_INT(st_incident_add(s, NULL, &id), ==, -EINVAL);
	s = st_close(s);
}

TEST(test_attempts)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	int64_t inc = add_incident(s, FP_HIGH, "nginx.service"), a1 = 0, a2 = 0, a3 = 0;
	StAttempt a = {0}, *v = NULL;
	size_t n = 0;

	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0, false, &a1), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_SKIPPED, "cooldown", T0 + 1, true, &a2), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0 + 2, false, &a3), ==, 0);
	CHECK_INT(st_attempt_add(s, inc + 50, AT_DETECTED, NULL, T0, false, &a3), ==, -ENOENT);
	CHECK_INT(st_attempt_add(s, inc, _AT_STATE_MAX, NULL, T0, false, &a3), ==, -EINVAL);

	CHECK_INT(st_attempt_get(s, a1, &a), ==, 0);
	CHECK_INT(a.id, ==, a1);
	CHECK_INT(a.incident_id, ==, inc);
	CHECK(a.fingerprint == FP_HIGH);
	CHECK_STR(a.unit, "nginx.service");
	CHECK_INT(a.state, ==, AT_DETECTED);
	CHECK(a.reason == NULL && a.provider == NULL && a.plan_json == NULL);
	CHECK_INT(a.created_usec, ==, T0);
	CHECK(!a.dry_run);
	st_attempt_done(&a);
	CHECK_INT(st_attempt_get(s, 999, &a), ==, -ENOENT);

	CHECK_INT(st_attempt_transition(s, a1, AT_ANALYZING, "asking rules", T0 + 10), ==, 0);
	CHECK_INT(st_attempt_set_analysis(s, a1, "rules", NULL, "nginx is down",
					  "[{\"action\":\"restart_service\"}]", "reply text"),
		  ==, 0);
	CHECK_INT(st_attempt_set_analysis(s, 999, "rules", NULL, NULL, NULL, NULL), ==, -ENOENT);
	CHECK_INT(st_attempt_transition(s, a1, AT_EXECUTING, NULL, T0 + 20), ==, 0);
	CHECK_INT(st_attempt_transition(s, a1, AT_VERIFYING, NULL, T0 + 30), ==, 0);
	CHECK_INT(st_attempt_transition(s, a1, AT_HEALED, "nginx.service active", T0 + 40), ==, 0);
	CHECK_INT(st_attempt_get(s, a1, &a), ==, 0);
	CHECK_INT(a.state, ==, AT_HEALED);
	CHECK_STR(a.reason, "nginx.service active");
	CHECK_STR(a.provider, "rules");
	CHECK_STR(a.plan_json, "[{\"action\":\"restart_service\"}]");
	CHECK_INT(a.updated_usec, ==, T0 + 40);
	st_attempt_done(&a);

	/* Out of a final state there is no way: refused, nothing recorded. */
	CHECK_INT(st_attempt_transition(s, a1, AT_EXECUTING, "again", T0 + 50), ==, -EINVAL);
	CHECK_CONTAINS(st_errmsg(s), "already healed");
	CHECK_INT(st_attempt_transition(s, a2, AT_DETECTED, NULL, T0 + 50), ==, -EINVAL);
	CHECK_INT(st_attempt_transition(s, a1, AT_HEALED, NULL, T0 + 50), ==, -EINVAL);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM transitions WHERE attempt_id = 1"), ==, 5);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM transitions WHERE from_state IS NULL"), ==,
		  3);
	CHECK_INT(st_attempt_transition(s, 999, AT_FAILED, NULL, T0), ==, -ENOENT);
	CHECK_INT(st_attempt_transition(s, a3, _AT_STATE_MAX, NULL, T0), ==, -EINVAL);

	CHECK_INT(st_attempt_transition(s, a3, AT_AWAITING_APPROVAL, NULL, T0 + 60), ==, 0);
	CHECK_INT(st_attempts_unfinished(s, &v, &n), ==, 0);
	CHECK_INT(n, ==, 1);
	CHECK(n == 1 && v[0].id == a3 && v[0].state == AT_AWAITING_APPROVAL);
	st_attempts_free(v, n);

	/* What policy replays: skipped attempts left out; whether one reached executing. */
	CHECK_INT(st_attempts_since(s, T0, &v, &n), ==, 0);
	CHECK_INT(n, ==, 2);
	CHECK(n == 2 && v[0].id == a1 && v[1].id == a3);
	CHECK(n == 2 && v[0].executed && !v[1].executed);
	st_attempts_free(v, n);
	CHECK_INT(st_attempts_since(s, T0 + 100, &v, &n), ==, 0);
	CHECK_INT(n, ==, 0);
	st_attempts_free(v, n);
	s = st_close(s);
}

/*
 * A flood of lines policy skips (more than the replay reads) does not push
 * the attempts that count out of what a restart replays.
 */
TEST(test_attempts_since_skips_flood)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	int64_t inc = add_incident(s, FP_HIGH, "nginx.service"), real = 0;
	StAttempt *v = NULL;
	size_t n = 0;

	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0, false, &real), ==, 0);
	CHECK_INT(st_attempt_transition(s, real, AT_EXECUTING, NULL, T0 + 1), ==, 0);
	CHECK_INT(st_attempt_transition(s, real, AT_FAILED, "it did not work", T0 + 2), ==, 0);
	CHECK_INT(st_batch_begin(s), ==, 0);
	for (uint64_t i = 0; i < 10001; i++)
		if (st_attempt_add(s, inc, AT_SKIPPED, "hourly budget spent", T0 + 10 + i, false,
				   NULL) < 0)
			break;
	CHECK_INT(st_batch_commit(s, NULL), ==, 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM attempts"), ==, 10002);
	CHECK_INT(st_attempts_since(s, T0, &v, &n), ==, 0);
	CHECK_INT(n, ==, 1);
	CHECK(n == 1 && v[0].id == real && v[0].state == AT_FAILED && v[0].executed);
	st_attempts_free(v, n);
	s = st_close(s);
}

TEST(test_commands)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	int64_t inc = add_incident(s, 7, "nginx.service"), at = 0;
	const char *argv[] = {"/usr/bin/systemctl", "restart", "--", "nginx.service", NULL};
	StCommand c = {.index = 0,
		       .action = "restart_service",
		       .argv = argv,
		       .accepted = true,
		       .exit_status = 0,
		       .duration_usec = 1500,
		       .output = "ok\n"};

	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0, false, &at), ==, 0);
	c.attempt_id = at;
	CHECK_INT(st_command_add(s, &c), ==, 0);
	CHECK_INT(st_command_add(s, &c), ==, -EEXIST);
	c.index = 1;
	c.action = "drop_caches";
	c.argv = NULL;
	c.accepted = false;
	c.reason = "precondition: memory is not low";
	c.exit_status = -1;
	c.output = NULL;
	CHECK_INT(st_command_add(s, &c), ==, 0);
	c.attempt_id = 999;
	CHECK_INT(st_command_add(s, &c), ==, -ENOENT);
	c.action = NULL;
	CHECK_INT(st_command_add(s, &c), ==, -EINVAL);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM commands WHERE argv ="
				" '[\"/usr/bin/systemctl\",\"restart\",\"--\",\"nginx.service\"]'"),
		  ==, 1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM commands WHERE argv IS NULL"), ==, 1);
	s = st_close(s);
}

/*
 * "x" and then "€" (3 bytes) up to about n bytes: every cap used here minus
 * the mark falls inside a character, so the cut has to step back.
 */
static char *euros(size_t n)
{
	size_t k = (n - 1) / 3;
	char *t = malloc(1 + 3 * k + 1);

	if (!t)
		abort();
	t[0] = 'x';
	for (size_t i = 0; i < k; i++)
		memcpy(t + 1 + 3 * i, "\xe2\x82\xac", 3);
	t[1 + 3 * k] = '\0';
	return t;
}

static void check_cut(const char *what, const char *t, size_t cap)
{
	size_t n = t ? strlen(t) : 0, m = strlen(CUT_MARK);

	CHECK_(t && n <= cap && n >= cap - 3, "%s: %zu bytes for cap %zu", what, n, cap);
	CHECK_(t && text_utf8_valid(t, n), "%s: not UTF-8 after the cut", what);
	CHECK_(t && n >= m && strcmp(t + n - m, CUT_MARK) == 0, "%s: no cut mark", what);
}

TEST(test_caps)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	_cleanup_free_ char *big = euros(100 * 1024), *plan = malloc(ST_OUTPUT_MAX * 5);
	StIncident in = incident(9, "a.service", big);
	const char *argv[] = {"/bin/true", big, NULL};
	int64_t inc = 0, at = 0;
	StCommand c = {.action = "x", .argv = argv, .output = big, .reason = big};
	StAttempt a = {0};
	cJSON *j = NULL;
	const cJSON *item, *action;

	CHECK_INT(st_incident_add(s, &in, &inc), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, big, T0, false, &at), ==, 0);
	CHECK_INT(st_attempt_set_analysis(s, at, "rules", "m", big, "[]", big), ==, 0);
	c.attempt_id = at;
	CHECK_INT(st_command_add(s, &c), ==, 0);
	CHECK_INT(st_attempt_transition(s, at, AT_FAILED, big, T0 + 1), ==, 0);
	CHECK_INT(st_attempt_get(s, at, &a), ==, 0);
	check_cut("attempt reason", a.reason, ST_REASON_MAX);
	st_attempt_done(&a);
	CHECK_INT(st_attempt_json(s, at, &j), ==, 0);
	j = roundtrip(j);
	item = key(j, "error");
	check_cut("message", str(item, "message"), MESSAGE_CAP);
	check_cut("diagnosis", str(j, "diagnosis"), MESSAGE_CAP);
	action = cJSON_GetArrayItem(key(j, "actions"), 0);
	check_cut("output", str(action, "output"), ST_OUTPUT_MAX);
	check_cut("command reason", str(action, "reason"), ST_REASON_MAX);
	check_cut("argv[1]", cJSON_GetArrayItem(key(action, "argv"), 1)->valuestring, 4096);
	check_cut("transition reason", str(cJSON_GetArrayItem(key(j, "transitions"), 1), "reason"),
		  ST_REASON_MAX);
	cJSON_Delete(j);

	/* Invalid UTF-8 is made valid, not refused. */
	in.message = "bad \xff\xfe byte";
	CHECK_INT(st_incident_add(s, &in, &inc), ==, 0);
	CHECK_INT(raw_int(path, "SELECT message = 'bad ?? byte' FROM incidents ORDER BY id DESC"),
		  ==, 1);

	/* A plan is never cut (that would be another plan): refused whole. */
	memset(plan, 'a', ST_OUTPUT_MAX * 5 - 1);
	plan[ST_OUTPUT_MAX * 5 - 1] = '\0';
	CHECK_INT(st_attempt_set_analysis(s, at, "rules", NULL, NULL, plan, NULL), ==, -E2BIG);
	CHECK_INT(st_knowledge_record(s, 1, plan, true, T0), ==, -E2BIG);
	s = st_close(s);
}

static void check_plan(Store *s, uint64_t fp, const char *want)
{
	_cleanup_free_ char *plan = (char *)"unset";
	int r = st_knowledge_get(s, fp, &plan);

	CHECK_INT(r, ==, 0);
	if (want)
		CHECK_STR(plan, want);
	else
		CHECK_(plan == NULL, "expected no plan, got %s", plan);
	if (r < 0)
		plan = NULL;
}

TEST(test_knowledge)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	const char *a = "[{\"action\":\"restart_service\",\"args\":{\"unit\":\"x\"}}]";
	const char *b = "[{\"action\":\"vacuum_journal\",\"args\":{}}]";

	check_plan(s, FP_HIGH, NULL);
	CHECK_INT(st_knowledge_record(s, FP_HIGH, a, false, T0), ==, 0);
	check_plan(s, FP_HIGH, NULL); /* only failed so far */
	CHECK_INT(st_knowledge_record(s, FP_HIGH, a, true, T0 + 10), ==, 0);
	check_plan(s, FP_HIGH, a);
	check_plan(s, FP_HIGH ^ 1, NULL); /* another fingerprint knows nothing */
	check_plan(s, 0x7edcba9876543210ULL, NULL);
	CHECK_INT(st_knowledge_record(s, FP_HIGH, a, false, T0 + 20), ==, 0);
	check_plan(s, FP_HIGH, NULL); /* failed since its success: not reused */
	CHECK_INT(st_knowledge_record(s, FP_HIGH, a, true, T0 + 30), ==, 0);
	check_plan(s, FP_HIGH, a); /* healed again */
	/* A late report of an older failure does not move last_failure back or hide the plan. */
	CHECK_INT(st_knowledge_record(s, FP_HIGH, a, false, T0 + 5), ==, 0);
	check_plan(s, FP_HIGH, a);
	CHECK_INT(raw_int(path, "SELECT successes * 100 + failures FROM knowledge"), ==, 203);

	/* Two plans: the latest success wins; when it fails, the other (not failed since) is back.
	 */
	CHECK_INT(st_knowledge_record(s, FP_HIGH, b, true, T0 + 40), ==, 0);
	check_plan(s, FP_HIGH, b);
	CHECK_INT(st_knowledge_record(s, FP_HIGH, b, false, T0 + 50), ==, 0);
	check_plan(s, FP_HIGH, a);
	CHECK_INT(st_knowledge_record(s, FP_HIGH, b, true, T0 + 50), ==, 0);
	check_plan(s, FP_HIGH, a); /* a tie is not "newer than the failure" */

	CHECK_INT(st_knowledge_record(s, 1, NULL, true, T0), ==, -EINVAL);
	CHECK_INT(st_knowledge_record(s, 1, "", true, T0), ==, -EINVAL);
	s = st_close(s);
}

TEST(test_batch)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	StIncident in = incident(1, "a.service", "m");
	_cleanup_free_ char *cur = NULL;
	uint64_t n = 9;
	int64_t id;

	CHECK_INT(st_batch_commit(s, "s=1"), ==, -EINVAL); /* no batch */
	CHECK_INT(st_batch_begin(s), ==, 0);
	CHECK_INT(st_batch_begin(s), ==, -EBUSY);
	for (int i = 0; i < 10; i++)
		CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	st_batch_rollback(s);
	st_batch_rollback(s); /* no batch: nothing happens */
	CHECK_INT(st_totals(s, &n, NULL, NULL), ==, 0);
	CHECK_INT(n, ==, 0);

	/* A write that fails inside a batch undoes itself only. */
	CHECK_INT(st_batch_begin(s), ==, 0);
	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	CHECK_INT(st_attempt_add(s, 999, AT_DETECTED, NULL, T0, false, &id), ==, -ENOENT);
	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	CHECK_INT(st_batch_commit(s, "s=abc;i=2"), ==, 0);
	CHECK_INT(st_totals(s, &n, NULL, NULL), ==, 0);
	CHECK_INT(n, ==, 2);
	CHECK_INT(st_cursor_load(s, &cur), ==, 0);
	CHECK_STR(cur, "s=abc;i=2");

	/* NULL keeps the cursor; an invalid cursor rolls the whole batch back. */
	CHECK_INT(st_batch_begin(s), ==, 0);
	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	CHECK_INT(st_batch_commit(s, NULL), ==, 0);
	CHECK_INT(st_batch_begin(s), ==, 0);
	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	CHECK_INT(st_batch_commit(s, "bad cursor\n"), ==, -EINVAL);
	CHECK_INT(st_totals(s, &n, NULL, NULL), ==, 0);
	CHECK_INT(n, ==, 3);
	free(cur);
	CHECK_INT(st_cursor_load(s, &cur), ==, 0);
	CHECK_STR(cur, "s=abc;i=2");
	/* The batch is over after a failed commit: writes commit on their own again. */
	CHECK_INT(st_batch_commit(s, NULL), ==, -EINVAL);
	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	/* Closing with a batch open rolls it back. */
	CHECK_INT(st_batch_begin(s), ==, 0);
	CHECK_INT(st_incident_add(s, &in, &id), ==, 0);
	s = st_close(s);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM incidents"), ==, 4);
}

TEST(test_cursor_store)
{
	char path[PATH_MAX], long_cursor[CUR_MAX_BYTES + 2];
	Store *s = open_new(path, sizeof path);
	CursorStore *cs = st_cursor_store(s);
	char *c = (char *)"unset";

	CHECK_INT(cs->load(cs, &c), ==, 0);
	CHECK(c == NULL);
	CHECK_INT(cs->save(cs, "s=1;i=1", 0), ==, 0);
	CHECK_INT(cs->load(cs, &c), ==, 0);
	CHECK_STR(c, "s=1;i=1");
	free(c);
	CHECK_INT(cs->save(cs, "s=1;i=2", 1), ==, 0); /* durable, its own transaction */
	CHECK_INT(raw_int(path, "SELECT cursor = 's=1;i=2' FROM cursor"), ==, 1);

	/* Inside a batch the save joins it: rolled back with it, committed with it. */
	CHECK_INT(st_batch_begin(s), ==, 0);
	CHECK_INT(cs->save(cs, "s=1;i=3", 0), ==, 0);
	st_batch_rollback(s);
	CHECK_INT(cs->load(cs, &c), ==, 0);
	CHECK_STR(c, "s=1;i=2");
	free(c);
	CHECK_INT(st_batch_begin(s), ==, 0);
	CHECK_INT(cs->save(cs, "s=1;i=4", 1), ==, 0);
	CHECK_INT(raw_int(path, "SELECT cursor = 's=1;i=2' FROM cursor"), ==, 1);
	CHECK_INT(st_batch_commit(s, NULL), ==, 0);
	CHECK_INT(raw_int(path, "SELECT cursor = 's=1;i=4' FROM cursor"), ==, 1);

	CHECK_INT(cs->save(cs, "", 0), ==, -EINVAL);
	CHECK_INT(cs->save(cs, "two words", 0), ==, -EINVAL);
	memset(long_cursor, 'a', sizeof long_cursor - 1);
	long_cursor[sizeof long_cursor - 1] = '\0';
	CHECK_INT(cs->save(cs, long_cursor, 0), ==, -EINVAL);
	/* A cursor that is not one (edited by hand) is refused, never used to seek. */
	raw_exec(path, "UPDATE cursor SET cursor = 'x y'");
	CHECK_INT(cs->load(cs, &c), ==, -EBADMSG);
	cs = cur_free(cs);
	s = st_close(s);
}

/*
 * A child opens the store, begins a batch, adds n incidents (and, when
 * commit, commits them with a cursor), tells the parent over a pipe and
 * waits to be killed with SIGKILL.
 */
static void child_batch(const char *path, int n, bool commit)
{
	_cleanup_free_ char *err = NULL, *msg = malloc(1024);
	int fds[2];
	Store *s = NULL;
	pid_t pid;
	char b = 0;
	int status;

	memset(msg, 'm', 1023);
	msg[1023] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		StIncident in = incident(1, "a.service", msg);
		int64_t id;

		if (st_open(path, &s, &err) < 0 || st_batch_begin(s) < 0)
			_exit(3);
		for (int i = 0; i < n; i++)
			if (st_incident_add(s, &in, &id) < 0)
				_exit(4);
		if (commit && st_batch_commit(s, "s=child;i=1") < 0)
			_exit(5);
		if (write(fds[1], "x", 1) != 1)
			_exit(6);
		for (;;)
			pause();
	}
	close(fds[1]);
	CHECK_INT(read(fds[0], &b, 1), ==, 1); /* 0: the child failed before it got there */
	close(fds[0]);
	kill(pid, SIGKILL);
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(test_kill_before_commit)
{
	char path[PATH_MAX];
	_cleanup_free_ char *err = NULL, *cur = NULL;
	Store *s = open_new(path, sizeof path);
	uint64_t n = 9, lines = 9;

	/* Closed first: the child is the only writer, as a daemon is. */
	s = st_close(s);
	/* 5000 rows of 1 KiB outgrow SQLite's page cache: uncommitted pages reach the WAL. */
	child_batch(path, 5000, false);
	CHECK_INT(st_open(path, &s, &err), ==, 0);
	CHECK_INT(st_totals(s, &n, &lines, NULL), ==, 0);
	CHECK_INT(n, ==, 0);
	CHECK_INT(lines, ==, 0);
	CHECK_INT(st_cursor_load(s, &cur), ==, 0);
	CHECK(cur == NULL);
	s = st_close(s);
}

TEST(test_kill_after_commit)
{
	char path[PATH_MAX];
	_cleanup_free_ char *err = NULL, *cur = NULL;
	Store *s = open_new(path, sizeof path);
	uint64_t n = 0;

	s = st_close(s);
	child_batch(path, 500, true);
	CHECK_INT(st_open(path, &s, &err), ==, 0);
	CHECK_INT(st_totals(s, &n, NULL, NULL), ==, 0);
	CHECK_INT(n, ==, 500);
	CHECK_INT(st_cursor_load(s, &cur), ==, 0);
	CHECK_STR(cur, "s=child;i=1");
	s = st_close(s);
}

TEST(test_concurrent_reader)
{
	char path[PATH_MAX];
	_cleanup_free_ char *err = NULL;
	Store *s = open_new(path, sizeof path), *ro = NULL;
	int64_t inc = add_incident(s, 1, "a.service"), at;
	uint64_t n = 0, attempts = 0;
	cJSON *j = NULL;

	CHECK_INT(st_batch_begin(s), ==, 0);
	for (int i = 0; i < 20; i++)
		add_incident(s, 2, "b.service");
	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0, false, &at), ==, 0);
	/* Opened while the batch holds the write lock: it sees the state before the batch. */
	CHECK_INT(st_open_readonly(path, &ro, &err), ==, 0);
	CHECK_INT(st_totals(ro, &n, NULL, &attempts), ==, 0);
	CHECK_INT(n, ==, 1);
	CHECK_INT(attempts, ==, 0);
	CHECK_INT(st_history_json(ro, NULL, 10, 0, &j), ==, 0);
	CHECK_INT(num(j, "count"), ==, 0);
	cJSON_Delete(j);
	/* The writer itself sees its batch. */
	CHECK_INT(st_totals(s, &n, NULL, &attempts), ==, 0);
	CHECK_INT(n, ==, 21);
	CHECK_INT(st_history_json(s, NULL, 10, 0, &j), ==, 0);
	CHECK_INT(num(j, "count"), ==, 1);
	cJSON_Delete(j);
	CHECK_INT(st_batch_commit(s, "s=r;i=9"), ==, 0);
	CHECK_INT(st_totals(ro, &n, NULL, &attempts), ==, 0);
	CHECK_INT(n, ==, 21);
	CHECK_INT(attempts, ==, 1);
	ro = st_close(ro);
	s = st_close(s);
}

TEST(test_escalations)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	StEscalation *e = NULL;
	int64_t e1 = 0, e2 = 0;
	size_t n = 0;

	CHECK_INT(st_escalations(s, &e, &n), ==, 0);
	CHECK_INT(n, ==, 0);
	st_escalations_free(e, n);
	CHECK_INT(st_escalation_add(s, FP_HIGH, NULL, "3 failures in 1h", T0, &e1), ==, 0);
	CHECK_INT(st_escalation_add(s, 0, "nginx.service", NULL, T0 + 1, &e2), ==, 0);
	CHECK_INT(st_escalation_add(s, 0, NULL, "x", T0, NULL), ==, -EINVAL);
	CHECK_INT(st_escalations(s, &e, &n), ==, 0);
	CHECK_INT(n, ==, 2);
	if (n == 2) {
		CHECK_INT(e[0].id, ==, e1);
		CHECK(e[0].fingerprint == FP_HIGH && e[0].unit == NULL);
		CHECK_STR(e[0].reason, "3 failures in 1h");
		CHECK_INT(e[0].since_usec, ==, T0);
		CHECK(e[1].fingerprint == 0 && e[1].reason == NULL);
		CHECK_STR(e[1].unit, "nginx.service");
	}
	st_escalations_free(e, n);
	CHECK_INT(st_escalation_clear(s, e1), ==, 0);
	CHECK_INT(st_escalation_clear(s, e1), ==, -ENOENT);
	CHECK_INT(st_escalations(s, &e, &n), ==, 0);
	CHECK(n == 1 && e[0].id == e2);
	st_escalations_free(e, n);
	s = st_close(s);
}

TEST(test_flags)
{
	char path[PATH_MAX];
	_cleanup_free_ char *err = NULL;
	Store *s = open_new(path, sizeof path);
	int64_t v = 7;

	CHECK(s != NULL);
	CHECK_INT(st_flag_get(s, "enabled", &v), ==, -ENOENT);
	CHECK_INT(v, ==, 7);
	CHECK_INT(st_flag_set(s, "enabled", 0, 1), ==, 0);
	CHECK_INT(st_flag_get(s, "enabled", &v), ==, 0);
	CHECK_INT(v, ==, 0);
	CHECK_INT(st_flag_set(s, "enabled", 1, 2), ==, 0);
	s = st_close(s);
	/* Kept across a restart. */
	CHECK_INT(st_open(path, &s, &err), ==, 0);
	CHECK_INT(st_flag_get(s, "enabled", &v), ==, 0);
	CHECK_INT(v, ==, 1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM flags"), ==, 1);
	s = st_close(s);
}

TEST(test_cleanup)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	int64_t old_inc = add_incident(s, 1, "a.service"), new_inc, orphan_old, at_old, at_pending,
		at_new, at_tmp;
	StIncident in = incident(2, "b.service", "m");
	StCommand c = {.action = "x", .exit_status = 0};
	uint64_t deleted = 0, cutoff = T0 + 1000;

	in.first_seen_usec = in.last_seen_usec = T0 + 2000;
	CHECK_INT(st_incident_add(s, &in, &new_inc), ==, 0);
	orphan_old = add_incident(s, 3, NULL);
	in.fingerprint = 4;
	CHECK_INT(st_incident_add(s, &in, &at_tmp), ==, 0); /* a recent incident, no attempt yet */

	CHECK_INT(st_attempt_add(s, old_inc, AT_DETECTED, NULL, T0, false, &at_old), ==, 0);
	CHECK_INT(st_attempt_transition(s, at_old, AT_FAILED, "x", T0 + 10), ==, 0);
	c.attempt_id = at_old;
	CHECK_INT(st_command_add(s, &c), ==, 0);
	CHECK_INT(st_attempt_add(s, old_inc, AT_AWAITING_APPROVAL, NULL, T0, false, &at_pending),
		  ==, 0);
	CHECK_INT(st_attempt_add(s, new_inc, AT_HEALED, NULL, T0 + 2000, false, &at_new), ==, 0);
	CHECK_INT(st_audit(s, "cli", "approve", "attempt 1", T0), ==, 0);
	CHECK_INT(st_audit(s, "api", "whitelist", NULL, T0 + 2000), ==, 0);
	CHECK_INT(st_audit(s, "api", NULL, NULL, T0), ==, -EINVAL);
	CHECK_INT(st_knowledge_record(s, 1, "[]", true, T0), ==, 0);
	CHECK_INT(st_escalation_add(s, 1, NULL, NULL, T0, NULL), ==, 0);

	CHECK_INT(st_cleanup(s, cutoff, &deleted), ==, 0);
	/* The failed attempt, the orphaned old incident, one audit record. */
	CHECK_INT(deleted, ==, 3);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM attempts"), ==, 2);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM attempts WHERE state = 'failed'"), ==, 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM commands"), ==, 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM transitions WHERE to_state = 'failed'"), ==,
		  0);
	/* The old incident keeps its pending attempt; the orphan is gone, the recent one stays. */
	CHECK_INT(raw_int(path, "SELECT count(*) FROM incidents"), ==, 3);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM incidents WHERE fingerprint = 3"), ==, 0);
	CHECK(orphan_old > 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM audit"), ==, 1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM knowledge"), ==, 1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM escalations"), ==, 1);
	CHECK_INT(st_cleanup(s, cutoff, NULL), ==, 0);
	CHECK_INT(st_cleanup(s, cutoff, &deleted), ==, 0);
	CHECK_INT(deleted, ==, 0);
	s = st_close(s);
}

/* One attempt that ran, verified and healed; another that was rejected. */
static void history_fixture(Store *s, int64_t *ret_healed, int64_t *ret_rejected)
{
	StIncident in = incident(0x00ab, "nginx.service", "connect() failed");
	const char *argv[] = {"/usr/bin/systemctl", "restart", "nginx.service", NULL};
	StCommand c = {.action = "restart_service",
		       .argv = argv,
		       .accepted = true,
		       .exit_status = 0,
		       .duration_usec = 2500000,
		       .output = "done"};
	int64_t inc, a, b;

	in.count = 4;
	CHECK_INT(st_incident_add(s, &in, &inc), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0 + USEC_PER_SEC, false, &a), ==, 0);
	CHECK_INT(st_attempt_transition(s, a, AT_ANALYZING, NULL, T0 + 2 * USEC_PER_SEC), ==, 0);
	CHECK_INT(st_attempt_set_analysis(s, a, "gemini", "gemini-2.0", "upstream down", "[]",
					  "reply"),
		  ==, 0);
	CHECK_INT(st_attempt_transition(s, a, AT_EXECUTING, NULL, T0 + 3 * USEC_PER_SEC), ==, 0);
	c.attempt_id = a;
	CHECK_INT(st_command_add(s, &c), ==, 0);
	c.index = 1;
	c.action = "vacuum_journal";
	c.exit_status = 1;
	c.timed_out = true;
	c.term_signal = 9;
	CHECK_INT(st_command_add(s, &c), ==, 0);
	c.index = 2;
	c.accepted = false;
	c.argv = NULL;
	c.reason = "cooldown";
	CHECK_INT(st_command_add(s, &c), ==, 0);
	CHECK_INT(st_attempt_transition(s, a, AT_VERIFYING, NULL, T0 + 4 * USEC_PER_SEC), ==, 0);
	CHECK_INT(st_attempt_transition(s, a, AT_HEALED, "nginx.service is active",
					T0 + 5 * USEC_PER_SEC),
		  ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0 + 6 * USEC_PER_SEC, true, &b), ==,
		  0);
	CHECK_INT(st_attempt_set_analysis(s, b, "rules", NULL, NULL, NULL, NULL), ==, 0);
	CHECK_INT(st_attempt_transition(s, b, AT_REJECTED, "not in the whitelist",
					T0 + 7 * USEC_PER_SEC),
		  ==, 0);
	*ret_healed = a;
	*ret_rejected = b;
}

static void check_item_shape(const cJSON *it)
{
	static const char *const strings[] = {"timestamp", "updated", "status"};
	static const char *const maybe[] = {"reason", "diagnosis", "provider", "model",
					    "verification"};
	const cJSON *e = key(it, "error");

	num(it, "id");
	for (size_t i = 0; i < ELEMENTSOF(strings); i++)
		str(it, strings[i]);
	for (size_t i = 0; i < ELEMENTSOF(maybe); i++) {
		const cJSON *v = key(it, maybe[i]);

		CHECK_(cJSON_IsString(v) || cJSON_IsNull(v), "\"%s\": not a string or null",
		       maybe[i]);
	}
	CHECK(cJSON_IsBool(key(it, "dry_run")) && cJSON_IsBool(key(it, "success")));
	CHECK(cJSON_IsArray(key(it, "actions")) && cJSON_IsArray(key(it, "transitions")));
	CHECK(cJSON_IsObject(e));
	str(e, "service");
	str(e, "message");
	str(e, "level");
	str(e, "timestamp");
	str(e, "source");
	num(e, "count");
	num(e, "priority");
	CHECK_INT(strlen(str(e, "fingerprint")), ==, 16);
	CHECK_INT(strlen(str(it, "timestamp")), ==, strlen("2023-11-14T22:13:21.000000Z"));
}

TEST(test_history_json)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	const cJSON *list, *it, *e, *acts, *act, *tr;
	cJSON *j = NULL;
	int64_t a, b;

	history_fixture(s, &a, &b);
	CHECK_INT(st_history_json(s, NULL, 10, 0, &j), ==, 0);
	j = roundtrip(j);
	CHECK_INT(num(j, "count"), ==, 2);
	CHECK_INT(num(j, "total"), ==, 2);
	list = key(j, "history");
	CHECK_INT(cJSON_GetArraySize(list), ==, 2);
	for (int i = 0; i < cJSON_GetArraySize(list); i++)
		check_item_shape(cJSON_GetArrayItem(list, i));
	/* Newest first. */
	it = cJSON_GetArrayItem(list, 0);
	CHECK_INT(num(it, "id"), ==, b);
	CHECK_STR(str(it, "status"), "rejected");
	CHECK_STR(str(it, "reason"), "not in the whitelist");
	CHECK(cJSON_IsTrue(key(it, "dry_run")) && cJSON_IsFalse(key(it, "success")));
	CHECK(cJSON_IsNull(key(it, "verification")) && cJSON_IsNull(key(it, "diagnosis")));

	it = cJSON_GetArrayItem(list, 1);
	CHECK_INT(num(it, "id"), ==, a);
	CHECK_STR(str(it, "timestamp"), "2023-11-14T22:13:21.000000Z");
	CHECK_STR(str(it, "status"), "healed");
	CHECK(cJSON_IsTrue(key(it, "success")));
	CHECK_STR(str(it, "diagnosis"), "upstream down");
	CHECK_STR(str(it, "provider"), "gemini");
	CHECK_STR(str(it, "model"), "gemini-2.0");
	CHECK_STR(str(it, "verification"), "nginx.service is active");
	e = key(it, "error");
	CHECK_STR(str(e, "service"), "nginx.service");
	CHECK_STR(str(e, "message"), "connect() failed");
	CHECK_STR(str(e, "level"), "err");
	CHECK_STR(str(e, "timestamp"), "2023-11-14T22:13:20.000000Z");
	CHECK_STR(str(e, "fingerprint"), "00000000000000ab");
	CHECK_INT(num(e, "count"), ==, 4);
	CHECK_STR(str(e, "source"), "journal");

	acts = key(it, "actions");
	CHECK_INT(cJSON_GetArraySize(acts), ==, 3);
	act = cJSON_GetArrayItem(acts, 0);
	CHECK_STR(str(act, "action"), "restart_service");
	CHECK(cJSON_IsArray(key(act, "argv")) && cJSON_GetArraySize(key(act, "argv")) == 3);
	CHECK_STR(cJSON_GetArrayItem(key(act, "argv"), 2)->valuestring, "nginx.service");
	CHECK_INT(num(act, "exit_code"), ==, 0);
	CHECK_INT(num(act, "duration_ms"), ==, 2500);
	CHECK_STR(str(act, "output"), "done");
	CHECK(cJSON_IsTrue(key(act, "accepted")) && cJSON_IsFalse(key(act, "timed_out")));
	CHECK(cJSON_IsNull(key(act, "reason")) && cJSON_IsNull(key(act, "signal")));
	act = cJSON_GetArrayItem(acts, 1);
	CHECK(cJSON_IsTrue(key(act, "timed_out")));
	CHECK_INT(num(act, "signal"), ==, 9);
	act = cJSON_GetArrayItem(acts, 2);
	CHECK(cJSON_IsFalse(key(act, "accepted")) && cJSON_IsNull(key(act, "argv")));
	CHECK_STR(str(act, "reason"), "cooldown");

	tr = key(it, "transitions");
	CHECK_INT(cJSON_GetArraySize(tr), ==, 5);
	CHECK(cJSON_IsNull(key(cJSON_GetArrayItem(tr, 0), "from")));
	CHECK_STR(str(cJSON_GetArrayItem(tr, 0), "to"), "detected");
	CHECK_STR(str(cJSON_GetArrayItem(tr, 4), "from"), "verifying");
	CHECK_STR(str(cJSON_GetArrayItem(tr, 4), "to"), "healed");
	CHECK_STR(str(cJSON_GetArrayItem(tr, 4), "at"), "2023-11-14T22:13:25.000000Z");
	cJSON_Delete(j);

	/* Filter, page, refusals. */
	CHECK_INT(st_history_json(s, "healed", 10, 0, &j), ==, 0);
	CHECK_INT(num(j, "count"), ==, 1);
	CHECK_INT(num(cJSON_GetArrayItem(key(j, "history"), 0), "id"), ==, a);
	cJSON_Delete(j);
	CHECK_INT(st_history_json(s, NULL, 1, 1, &j), ==, 0);
	CHECK_INT(num(j, "count"), ==, 1);
	CHECK_INT(num(j, "total"), ==, 2);
	CHECK_INT(num(cJSON_GetArrayItem(key(j, "history"), 0), "id"), ==, a);
	cJSON_Delete(j);
	CHECK_INT(st_history_json(s, "failed", 10, 0, &j), ==, 0);
	CHECK_INT(num(j, "count"), ==, 0);
	CHECK_INT(cJSON_GetArraySize(key(j, "history")), ==, 0);
	cJSON_Delete(j);
	CHECK_INT(st_history_json(s, "nonsense", 10, 0, &j), ==, -EINVAL);
	CHECK_INT(st_history_json(s, NULL, ST_HISTORY_MAX + 1, 0, &j), ==, -E2BIG);
	CHECK_INT(st_history_json(s, NULL, ST_HISTORY_MAX, 0, &j), ==, 0);
	cJSON_Delete(j);

	CHECK_INT(st_attempt_json(s, a, &j), ==, 0);
	j = roundtrip(j);
	check_item_shape(j);
	CHECK_INT(num(j, "id"), ==, a);
	CHECK_INT(cJSON_GetArraySize(key(j, "actions")), ==, 3);
	cJSON_Delete(j);
	CHECK_INT(st_attempt_json(s, 999, &j), ==, -ENOENT);
	s = st_close(s);
}

TEST(test_statistics_json)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	const cJSON *g, *x;
	cJSON *j = NULL;
	int64_t a, b, c, inc;

	CHECK_INT(st_statistics_json(s, &j), ==, 0);
	CHECK_INT(num(j, "total_attempts"), ==, 0);
	CHECK_INT(num(j, "success_rate"), ==, 0);
	CHECK_INT(num(j, "mean_time_to_heal_ms"), ==, 0);
	cJSON_Delete(j);

	history_fixture(s, &a, &b);
	inc = add_incident(s, 5, "c.service");
	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0, false, &c), ==, 0);
	CHECK_INT(st_attempt_set_analysis(s, c, "gemini", NULL, NULL, NULL, NULL), ==, 0);
	CHECK_INT(st_attempt_transition(s, c, AT_FAILED, NULL, T0 + 1), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_DETECTED, NULL, T0, false, &c), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_SKIPPED, "cooldown", T0, false, &c), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_ESCALATED, NULL, T0, false, &c), ==, 0);
	CHECK_INT(st_attempt_add(s, inc, AT_INTERRUPTED, NULL, T0, false, &c), ==, 0);

	CHECK_INT(st_statistics_json(s, &j), ==, 0);
	j = roundtrip(j);
	CHECK_INT(num(j, "total_attempts"), ==, 7);
	CHECK_INT(num(j, "successful"), ==, 1);
	CHECK_INT(num(j, "failed"), ==, 1);
	CHECK_INT(num(j, "pending"), ==, 1);
	CHECK_INT(num(j, "rejected"), ==, 1);
	CHECK_INT(num(j, "skipped"), ==, 1);
	CHECK_INT(num(j, "escalated"), ==, 1);
	CHECK_INT(num(j, "interrupted"), ==, 1);
	CHECK(num(j, "success_rate") == 0.5);
	CHECK(num(j, "mean_time_to_heal_ms") == 4000.0); /* detected T0+1s, healed T0+5s */
	g = key(j, "by_action");
	x = key(g, "restart_service");
	CHECK_INT(num(x, "runs"), ==, 1);
	CHECK_INT(num(x, "failures"), ==, 0);
	x = key(g, "vacuum_journal");
	CHECK_INT(num(x, "runs"), ==, 1);
	CHECK_INT(num(x, "failures"), ==, 1);
	CHECK_INT(num(x, "refused"), ==, 1);
	g = key(j, "by_provider");
	x = key(g, "gemini");
	CHECK_INT(num(x, "attempts"), ==, 2);
	CHECK_INT(num(x, "successful"), ==, 1);
	CHECK_INT(num(x, "failed"), ==, 1);
	x = key(g, "rules");
	CHECK_INT(num(x, "attempts"), ==, 1);
	cJSON_Delete(j);
	s = st_close(s);
}

/* A figure, not an assertion: incidents per second through batches as the daemon writes them. */
TEST(test_bench_batches)
{
	char path[PATH_MAX];
	Store *s = open_new(path, sizeof path);
	StIncident in = incident(1, "nginx.service",
				 "connect() failed (111: Connection refused) while connecting to "
				 "upstream, client: 10.0.0.1, server: example.org");
	uint64_t start = util_now_usec(), usec, n = 0;
	char cursor[64];
	int64_t id;
	int r = 0;

	for (int b = 0; b < BENCH_BATCHES && r >= 0; b++) {
		r = st_batch_begin(s);
		for (int i = 0; i < BENCH_BATCH && r >= 0; i++) {
			in.fingerprint = (uint64_t)(b * BENCH_BATCH + i);
			r = st_incident_add(s, &in, &id);
		}
		(void)util_snprintf(cursor, sizeof cursor, "s=bench;i=%d", b);
		if (r >= 0)
			r = st_batch_commit(s, cursor);
	}
	usec = util_now_usec() - start;
	CHECK_INT(r, ==, 0);
	CHECK_INT(st_totals(s, &n, NULL, NULL), ==, 0);
	CHECK_INT(n, ==, BENCH_BATCHES * BENCH_BATCH);
	printf("info: store: %.0f incidents/s (%d batches of %d, %.1f ms per batch commit"
	       " with synchronous=FULL)\n",
	       (double)n * USEC_PER_SEC / (double)(usec ? usec : 1), BENCH_BATCHES, BENCH_BATCH,
	       (double)usec / 1000.0 / BENCH_BATCHES);
	s = st_close(s);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

int main(void)
{
	char tmpl[] = "/tmp/healer-store-XXXXXX";

	if (!mkdtemp(tmpl) || !realpath(tmpl, tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_state_names);
	RUN(test_open_create);
	RUN(test_schema_refusals);
	RUN(test_readonly);
	RUN(test_readonly_sidecars);
	RUN(test_incidents);
	RUN(test_attempts);
	RUN(test_attempts_since_skips_flood);
	RUN(test_commands);
	RUN(test_caps);
	RUN(test_knowledge);
	RUN(test_batch);
	RUN(test_cursor_store);
	RUN(test_kill_before_commit);
	RUN(test_kill_after_commit);
	RUN(test_concurrent_reader);
	RUN(test_escalations);
	RUN(test_flags);
	RUN(test_cleanup);
	RUN(test_history_json);
	RUN(test_statistics_json);
	RUN(test_bench_batches);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return harness_finish();
}
