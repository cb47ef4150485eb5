/* SPDX-License-Identifier: MIT */
/*
 * The journal reader against real journal files: the export files of tests/data/journal
 * turned into journals by systemd-journal-remote, read back through
 * sd-journal. No mocks.
 */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "harness.h"
#include "common/util.h"
#include "healer/cursor.h"
#include "healer/executor.h"
#include "healer/follow.h"
#include "healer/incident.h"
#include "journal/journal.h"
#include "llm/prompt.h"
#include "llm/redact.h"

static char tmpdir[64];

static const char *data_dir(void)
{
	const char *d = getenv("HEALER_TEST_DATA");

	return d ? d : "tests/data";
}

/* export file -> DIR/NAME/x.journal; returns the directory. */
static char *make_journal(const char *export_path, const char *name)
{
	static char dir[256];
	char out[300];
	char *argv[] = {"/lib/systemd/systemd-journal-remote", "-o", out, (char *)export_path,
			NULL};
	ExOptions o = {.timeout_usec = 120 * USEC_PER_SEC};
	ExResult res = {0};

	snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
	mkdir(dir, 0755);
	snprintf(out, sizeof out, "%s/x.journal", dir);
	CHECK_INT(ex_run(argv, &o, &res), ==, 0);
	CHECK_(res.exit_status == 0, "journal-remote failed: %s", res.output ? res.output : "");
	ex_result_done(&res);
	return dir;
}

static JrReader *open_dir(const char *dir, int max_priority)
{
	JrOpenOptions o = {
		.source = JR_SOURCE_DIRECTORY, .directory = dir, .max_priority = max_priority};
	JrReader *r = NULL;

	CHECK_INT(jr_open(&o, &r), ==, 0);
	if (r)
		CHECK_INT(jr_seek_head(r), ==, 0);
	return r;
}

/* Reads all selected entries into a small array of copies. */
/*
 * Entries (fields, one per line) into a journal of their own, a second
 * apart; common is added to each. Returns a reader at its head, or NULL.
 */
static JrReader *journal_of(const char *name, const char *common, const char *const *entries,
			    size_t n)
{
	char export[128];
	FILE *f;

	snprintf(export, sizeof export, "%s/%s.export", tmpdir, name);
	f = fopen(export, "we");
	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%zu\n_BOOT_ID="
			"0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d\n%s%s\n",
			1790000000000000ULL + i * 1000, 1000 + i * 1000, common, entries[i]);
	fclose(f);
	return open_dir(make_journal(export, name), 3);
}

static size_t read_all(JrReader *r, JrEntry *v, size_t max)
{
	size_t n = 0;
	JrEntry e;

	while (n < max && jr_next(r, &e) > 0)
		v[n++] = e;
	return n;
}

static const char *basic_dir;

TEST(test_fields_and_trust)
{
	JrReader *r = open_dir(basic_dir, 3);
	JrEntry v[80];
	size_t n;

	if (!r)
		return;
	n = read_all(r, v, 80);
	/* 69 entries: 2 below err, 1 without PRIORITY, 3 at warning: 63 selected. */
	CHECK_INT(n, ==, 63);
	CHECK_STR(v[0].message, "bind() to 0.0.0.0:80 failed (98: Address already in use)");
	CHECK_STR(v[0].unit, "nginx.service");
	CHECK_STR(v[0].systemd_unit, "nginx.service");
	CHECK_STR(v[0].identifier, "nginx");
	CHECK_STR(v[0].comm, "nginx");
	CHECK_STR(v[0].exe, "/usr/sbin/nginx");
	CHECK_STR(v[0].hostname, "web1");
	CHECK_STR(v[0].boot_id, "0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d");
	CHECK_STR(v[0].transport, "journal");
	CHECK(v[0].systemd_user_unit == NULL && v[0].systemd_session == NULL);
	CHECK_INT(v[0].pid, ==, 1234);
	CHECK_INT(v[0].uid, ==, 0);
	CHECK_INT(v[0].priority, ==, 3);
	CHECK_INT(v[0].realtime_usec, ==, 1790000000000000ULL + 3000000);
	CHECK(v[0].cursor && strlen(v[0].cursor) > 10);
	/* PID 1's UNIT= names the unit. */
	CHECK_STR(v[1].unit, "nginx.service");
	CHECK_STR(v[1].systemd_unit, "init.scope");
	/* A user's UNIT= and SYSLOG_IDENTIFIER do not. */
	CHECK_STR(v[2].identifier, "sshd");
	CHECK_STR(v[2].unit, "user@1000.service");
	/* Nor a user's own service manager's USER_UNIT=. */
	CHECK_STR(v[3].unit, "user@1000.service");
	/* A root service manager's USER_UNIT= does. */
	CHECK_STR(v[4].unit, "app.service");
	CHECK(v[4].systemd_unit == NULL);
	/* Own lines are read here; skipping them is the caller's decision. */
	CHECK_STR(v[5].identifier, "healer");
	CHECK_STR(v[6].systemd_unit, "healer.service");
	/* Long: cut at the cap and flagged. */
	CHECK_INT(v[7].message_len, ==, JR_MESSAGE_MAX);
	CHECK(v[7].message_truncated);
	CHECK(!v[0].message_truncated);
	/* Binary: control bytes and invalid UTF-8 replaced, valid UTF-8 kept. */
	CHECK_STR(v[8].message, "bad ??[31m bytes ?? and ok \xc3\xa9");
	CHECK(v[8].message_binary);
	CHECK(!v[0].message_binary);
	CHECK_INT(v[60].priority, ==, 0);
	CHECK_INT(v[62].priority, ==, 2);
	for (size_t i = 0; i < n; i++)
		jr_entry_done(&v[i]);
	jr_free(r);

	r = open_dir(basic_dir, 4);
	if (r) {
		n = read_all(r, v, 80);
		CHECK_INT(n, ==, 67); /* + the warnings of nginx and storage */
		CHECK_STR(v[64].message, "disk 91% full");
		/* An identifier is plain text too: no escape or newline survives. */
		CHECK_STR(v[65].identifier, "evil?[2J tag");
		/* Strict UTF-8; C1 controls and bidi overrides are not text. */
		CHECK_STR(v[66].message, "a??b?c?d???e");
		CHECK(v[66].message_binary);
		for (size_t i = 0; i < n; i++)
			jr_entry_done(&v[i]);
	}
	jr_free(r);
}

TEST(test_incidents)
{
	JrReader *r = open_dir(basic_dir, 3);
	IncidentTable *t = inc_table_new(10 * USEC_PER_MINUTE, 1000);
	JrEntry e;
	int opened = 0, folded = 0;
	const Incident *storm, *again;

	if (!r || !t)
		return;
	while (jr_next(r, &e) > 0) {
		int k = inc_table_add(t, &e, NULL);

		CHECK(k >= 0);
		opened += k == 1;
		folded += k == 0;
		jr_entry_done(&e);
	}
	CHECK_INT(inc_table_size(t), ==, 14);
	CHECK_INT(opened, ==, 14);
	CHECK_INT(folded, ==, 49);
	storm = inc_table_get(t, 9);
	again = inc_table_get(t, 10);
	if (storm && again) {
		CHECK_STR(storm->unit, "php-fpm.service");
		CHECK_INT(storm->count, ==, 50);
		CHECK_INT(storm->last_seen - storm->first_seen, ==, 49000);
		/* After the window, the same fingerprint is a new incident. */
		CHECK_INT(again->fingerprint, ==, storm->fingerprint);
		CHECK_INT(again->count, ==, 1);
	}
	inc_table_free(t);
	jr_free(r);

	/* The cap holds against many distinct lines. */
	t = inc_table_new(USEC_PER_MINUTE, 3);
	r = open_dir(basic_dir, 3);
	while (r && jr_next(r, &e) > 0) {
		(void)inc_table_add(t, &e, NULL);
		jr_entry_done(&e);
	}
	CHECK_INT(inc_table_size(t), ==, 3);
	CHECK(inc_table_dropped(t) > 0);
	inc_table_free(t);
	jr_free(r);
}

TEST(test_context)
{
	JrReader *r = open_dir(basic_dir, 3);
	JrEntry e = {0};
	char **lines = NULL;

	if (!r)
		return;
	CHECK_INT(jr_next(r, &e), ==, 1);
	CHECK_INT(jr_context(r, &e, 20, 4096, &lines), ==, 0);
	if (lines) {
		CHECK_STR(lines[0], "<6> nginx: starting nginx 1.22");
		CHECK_CONTAINS(lines[1], "<4> nginx: conflicting server name");
		CHECK(lines[2] == NULL);
		strv_free(lines);
	}
	/* The byte cap ends the list; the lines nearest the error are kept. */
	CHECK_INT(jr_context(r, &e, 20, 70, &lines), ==, 0);
	if (lines) {
		CHECK_CONTAINS(lines[0], "<4> nginx: conflicting server name");
		CHECK(lines[1] == NULL);
		strv_free(lines);
	}
	/* The reader's own position is untouched. */
	jr_entry_done(&e);
	CHECK_INT(jr_next(r, &e), ==, 1);
	CHECK_CONTAINS(e.message, "Main process exited, code=exited");
	/* PID 1's line about nginx: its context is nginx's lines before it. */
	CHECK_INT(jr_context(r, &e, 20, 4096, &lines), ==, 0);
	if (lines) {
		CHECK_CONTAINS(lines[2], "bind() to 0.0.0.0:80 failed");
		CHECK(lines[3] == NULL);
		strv_free(lines);
	}
	jr_entry_done(&e);
	jr_free(r);
}

TEST(test_cursor_resume)
{
	char path[128], *stored = NULL;
	CursorStore *cs;
	JrReader *r = open_dir(basic_dir, 3);
	JrEntry e;
	char *third = NULL;

	if (!r)
		return;
	snprintf(path, sizeof path, "%s/cursor", tmpdir);
	cs = cur_file_new(path);
	CHECK_INT(cs->load(cs, &stored), ==, 0);
	CHECK(stored == NULL);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(jr_next(r, &e), ==, 1);
		if (i == 2)
			third = strdup(e.message);
		jr_entry_done(&e);
	}
	CHECK_INT(cs->save(cs, jr_last_cursor(r), 1), ==, 0);
	CHECK_INT(jr_next(r, &e), ==, 1);
	jr_free(r);

	r = open_dir(basic_dir, 3);
	CHECK_INT(cs->load(cs, &stored), ==, 0);
	CHECK(stored != NULL);
	CHECK_INT(jr_seek_cursor(r, stored), ==, 1);
	{
		JrEntry f;

		CHECK_INT(jr_next(r, &f), ==, 1);
		CHECK_STR(f.message, e.message);
		CHECK(strcmp(f.message, third) != 0);
		jr_entry_done(&f);
	}
	jr_entry_done(&e);
	free(third);
	free(stored);
	CHECK_INT(jr_seek_cursor(r, ""), ==, -EINVAL);
	/* A well-formed cursor of another journal: detected, not trusted. */
	CHECK_INT(jr_seek_cursor(r, "s=0123456789abcdef0123456789abcdef;i=1;b="
				    "0123456789abcdef0123456789abcdef;m=1;t=5f0000000000;x=1"),
		  ==, 0);
	jr_free(r);

	/* What stands at PATH.tmp is replaced, never written through. */
	{
		char victim[160], tmp[160], *vbuf = NULL;
		size_t vlen;
		FILE *v;

		snprintf(victim, sizeof victim, "%s/victim", tmpdir);
		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		v = fopen(victim, "we");
		fputs("precious\n", v);
		fclose(v);
		CHECK_INT(link(victim, tmp), ==, 0);
		CHECK_INT(cs->save(cs, "s=abc;i=1", 0), ==, 0);
		CHECK_INT(util_read_file(victim, 64, &vbuf, &vlen), ==, 0);
		CHECK_STR(vbuf, "precious\n");
		free(vbuf);
		unlink(victim);
		CHECK_INT(mkfifo(tmp, 0600), ==, 0);
		CHECK_INT(cs->save(cs, "s=abc;i=2", 0), ==, 0); /* a FIFO does not block it */
	}
	/* A cursor file that holds garbage is refused, not followed. */
	{
		FILE *f = fopen(path, "we");

		fputs("s=1;i=\x01\n", f);
		fclose(f);
		CHECK_INT(cs->load(cs, &stored), ==, -EBADMSG);
	}
	cur_free(cs);
}

TEST(test_open_errors)
{
	JrOpenOptions o = {.source = JR_SOURCE_DIRECTORY,
			   .directory = "/nonexistent/journal",
			   .max_priority = 3};
	const char *files[] = {"/nonexistent/x.journal", NULL};
	JrReader *r = NULL;

	CHECK_INT(jr_open(&o, &r), ==, -ENOENT);
	o.source = JR_SOURCE_FILES;
	o.files = files;
	CHECK_INT(jr_open(&o, &r), ==, -ENOENT);
	o.max_priority = 9;
	CHECK_INT(jr_open(&o, &r), ==, -EINVAL);
	CHECK(r == NULL);
	CHECK_INT(jr_priority_from_string("err"), ==, 3);
	CHECK_INT(jr_priority_from_string("CRIT"), ==, 2);
	CHECK_INT(jr_priority_from_string("warning"), ==, 4);
	CHECK_INT(jr_priority_from_string("7"), ==, 7);
	CHECK_INT(jr_priority_from_string("8"), ==, -EINVAL);
	CHECK_INT(jr_priority_from_string("loud"), ==, -EINVAL);
}

static void norm(const char *in, const char *want)
{
	char buf[512];

	jr_normalise(in, buf, sizeof buf);
	CHECK_STR(buf, want);
}

TEST(test_fingerprint)
{
	norm("worker 17 died", "worker # died");
	norm("sshd[1234]: fatal", "sshd[#]: fatal");
	norm("from 192.168.1.20:5432 refused", "from <ip> refused");
	norm("peer fe80::1ff:fe23:4567:890a down", "peer <addr> down");
	norm("id 1b4e28ba-2fa1-11d2-883f-0016d3cca427 gone", "id <uuid> gone");
	norm("ptr 0x7ffd3a2c at deadbeef12", "ptr <hex> at <hex>");
	norm("disk sda1 at 91%", "disk sda# at #%");
	norm("container abcdef1234567890 exited", "container <hex> exited");
	norm("deadbeef is a word", "deadbeef is a word");
	norm("at 12:34:56 the clock", "at <addr> the clock");
	CHECK_INT(jr_fingerprint("a.service", "a", "worker 1 died"), ==,
		  jr_fingerprint("a.service", "a", "worker 2 died"));
	CHECK(jr_fingerprint("a.service", "a", "worker 1 died") !=
	      jr_fingerprint("b.service", "a", "worker 1 died"));
	CHECK(jr_fingerprint("a.service", "a", "worker died") !=
	      jr_fingerprint("a.service", "a", "worker exited"));
	CHECK(jr_fingerprint("ab", "c", "m") != jr_fingerprint("a", "bc", "m"));
}

/* 50,000 identical lines written in under a second: one incident. */
TEST(test_flood)
{
	char export[128];
	FILE *f;
	const char *dir;
	JrReader *r;
	IncidentTable *t = inc_table_new(10 * USEC_PER_MINUTE, 100);
	JrEntry e;
	uint64_t n = 0, bad = 0;

	snprintf(export, sizeof export, "%s/flood.export", tmpdir);
	f = fopen(export, "we");
	if (!f || !t)
		return;
	for (int i = 0; i < 50000; i++)
		fprintf(f,
			"__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID="
			"0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d\n_SYSTEMD_UNIT=db.service\n_PID=%d\n"
			"SYSLOG_IDENTIFIER=db\nPRIORITY=3\nMESSAGE=connection %d to 10.1.2.%d "
			"lost\n\n",
			1790000000000000ULL + (unsigned long long)i * 10, 1000 + i * 10,
			100 + i % 7, i, i % 250);
	fclose(f);
	dir = make_journal(export, "flood");
	r = open_dir(dir, 3);
	while (r && jr_next(r, &e) > 0) {
		n++;
		bad += inc_table_add(t, &e, NULL) < 0;
		jr_entry_done(&e);
	}
	CHECK_INT(n, ==, 50000);
	CHECK_INT(bad, ==, 0);
	CHECK_INT(inc_table_size(t), ==, 1);
	if (inc_table_size(t) == 1)
		CHECK_INT(inc_table_get(t, 0)->count, ==, 50000);
	inc_table_free(t);
	jr_free(r);
}

/*
 * The fields journald sets about where a sender runs: _TRANSPORT, and
 * _SYSTEMD_USER_UNIT / _SYSTEMD_SESSION for a user's manager or a login
 * session. Fields of the same name without the '_' are the client's own
 * and are not read as these.
 */
TEST(test_transport_and_sessions)
{
	static const char *const entries[] = {
		/* The kernel: no unit, no process. */
		"_TRANSPORT=kernel\nSYSLOG_IDENTIFIER=kernel\nMESSAGE=EXT4-fs error (device "
		"sda1)\n",
		/* A process under a user's service manager. */
		"_TRANSPORT=stdout\n_PID=4100\n_UID=1000\n_SYSTEMD_UNIT=user@1000.service\n"
		"_SYSTEMD_USER_UNIT=syncthing.service\nSYSLOG_IDENTIFIER=syncthing\nMESSAGE=x\n",
		/* A login session's process; it claims another transport and session. */
		"_TRANSPORT=syslog\n_PID=4200\n_UID=1000\n_SYSTEMD_UNIT=session-7.scope\n"
		"_SYSTEMD_SESSION=7\nTRANSPORT=kernel\nSYSTEMD_SESSION=1\n"
		"SYSTEMD_USER_UNIT=a.service\nSYSLOG_IDENTIFIER=bash\nMESSAGE=y\n",
		/* A transport that is not a plain token is not read. */
		"_TRANSPORT=ker nel\n_PID=1\nMESSAGE=z\n",
	};
	JrEntry v[8];
	JrReader *r = journal_of("transport", "PRIORITY=3\n", entries, ELEMENTSOF(entries));
	size_t n;

	if (!r)
		return;
	n = read_all(r, v, ELEMENTSOF(v));
	CHECK_INT(n, ==, 4);
	if (n == 4) {
		CHECK_STR(v[0].transport, "kernel");
		CHECK(v[0].unit == NULL && v[0].systemd_unit == NULL);
		CHECK_STR(v[1].transport, "stdout");
		CHECK_STR(v[1].systemd_user_unit, "syncthing.service");
		CHECK_STR(v[1].unit, "user@1000.service");
		CHECK(v[1].systemd_session == NULL);
		CHECK_STR(v[2].transport, "syslog");
		CHECK_STR(v[2].systemd_session, "7");
		CHECK(v[2].systemd_user_unit == NULL);
		CHECK(v[3].transport == NULL);
	}
	for (size_t i = 0; i < n; i++)
		jr_entry_done(&v[i]);
	jr_free(r);
}

/*
 * PID 1 says a running service died at warning ("Failed with result
 * 'signal'"), never at err: its warnings are read whatever the threshold;
 * nobody else's, and not its notices.
 */
TEST(test_pid1_warnings)
{
	static const char *const entries[] = {
		"PRIORITY=4\n_PID=1\n_UID=0\nUNIT=app.service\n_SYSTEMD_UNIT=init.scope\n"
		"MESSAGE=app.service: Failed with result 'signal'.\n",
		"PRIORITY=5\n_PID=1\n_UID=0\nUNIT=app.service\n_SYSTEMD_UNIT=init.scope\n"
		"MESSAGE=app.service: Main process exited, code=killed, status=9/KILL\n",
		"PRIORITY=4\n_PID=4321\n_SYSTEMD_UNIT=app.service\nMESSAGE=a warning of app's "
		"own\n",
		"PRIORITY=4\n_PID=4321\nPID=1\n_SYSTEMD_UNIT=app.service\nMESSAGE=claims pid 1\n",
		"PRIORITY=3\n_PID=1\n_UID=0\nUNIT=db.service\n_SYSTEMD_UNIT=init.scope\n"
		"MESSAGE=Failed to start db.service.\n",
	};
	JrEntry v[8];
	JrReader *r = journal_of("pid1", "", entries, ELEMENTSOF(entries));
	size_t n = r ? read_all(r, v, ELEMENTSOF(v)) : 0;

	CHECK_INT(n, ==, 2);
	if (n == 2) {
		CHECK_STR(v[0].message, "app.service: Failed with result 'signal'.");
		CHECK_STR(v[0].unit, "app.service");
		CHECK_INT(v[0].priority, ==, 4);
		CHECK_STR(v[1].message, "Failed to start db.service.");
	}
	for (size_t i = 0; i < n; i++)
		jr_entry_done(&v[i]);
	jr_free(r);
}

static void export_entry(FILE *f, int i, const char *prio, const char *message)
{
	fprintf(f,
		"__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID="
		"0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d\n_SYSTEMD_UNIT=app.service\n_PID=31\n_UID=33\n"
		"SYSLOG_IDENTIFIER=app\nPRIORITY=%s\nMESSAGE=%s\n\n",
		1790000000000000ULL + (unsigned long long)i * 1000, 1000 + i * 1000, prio, message);
}

/*
 * Redaction happens before any cut. The reader keeps a message up to 16 KiB,
 * so a token across the 2 KiB a prompt shows reaches redaction whole; a
 * token across the reader's own cap is cut, and still redacted (a known
 * prefix matches at the end of the text).
 */
TEST(test_token_at_the_cut)
{
	static const char token[] = "Zq9xPw3vK2mN8bR4tY7wZ1cF6hJ0sD5gA2eU9iO3kP4q";
	static const char gh[] = "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c";
	static const LlmCatalogParam unit_param[] = {{"unit", "[a-z.]+"}};
	static const LlmCatalogEntry cat[] = {{"restart_service", NULL, 1, unit_param}};
	static char msg[JR_MESSAGE_MAX + 256];
	char export[128], **ctx = NULL, *red = NULL;
	const char *dir;
	JrReader *r;
	JrEntry e = {0};
	LlmPrompt p = {0};
	FILE *f;
	size_t at = LLM_PROMPT_MESSAGE_MAX - 20;

	snprintf(export, sizeof export, "%s/cut.export", tmpdir);
	f = fopen(export, "we");
	if (!f)
		return;
	export_entry(f, 0, "6", "starting with password:");
	export_entry(f, 1, "6", "Hunter2Secret");
	for (size_t i = 0; i < at; i++)
		msg[i] = "word "[i % 5];
	msg[at - 1] = ' ';
	snprintf(msg + at, sizeof msg - at, "%s then the rest", token);
	export_entry(f, 2, "3", msg);
	for (size_t i = 0; i < JR_MESSAGE_MAX - 12; i++)
		msg[i] = "word "[i % 5];
	msg[JR_MESSAGE_MAX - 13] = ' ';
	snprintf(msg + JR_MESSAGE_MAX - 12, sizeof msg - (JR_MESSAGE_MAX - 12), "%s tail", gh);
	export_entry(f, 3, "3", msg);
	fclose(f);
	dir = make_journal(export, "cut");
	r = open_dir(dir, 3);
	if (!r)
		return;
	CHECK_INT(jr_next(r, &e), ==, 1);
	/* Kept whole: the token straddles byte 2048 of the message. */
	CHECK(!e.message_truncated);
	CHECK_INT(e.message_len, ==, at + strlen(token) + 14);
	CHECK_CONTAINS(e.message, token);
	CHECK_INT(jr_context(r, &e, 10, 64 * 1024, &ctx), ==, 0);
	{
		LlmEvidence ev = {.unit = e.unit,
				  .identifier = e.identifier,
				  .priority = e.priority,
				  .message = e.message,
				  .count = 1,
				  .context = (const char *const *)ctx,
				  .n_context = ctx && ctx[0] ? (ctx[1] ? 2 : 1) : 0};

		CHECK_INT(ev.n_context, ==, 2);
		CHECK_INT(llm_prompt_build(cat, 1, 5, &ev, true, &p), ==, 0);
		CHECK(p.user && !strstr(p.user, "Zq9xPw3v") && !strstr(p.user, "iO3kP4q"));
		/* The password written as an entry of its own, after "password:". */
		CHECK(p.user && !strstr(p.user, "Hunter2Secret"));
		CHECK_CONTAINS(p.user, "starting with password:");
		llm_prompt_done(&p);
	}
	strv_free(ctx);
	jr_entry_done(&e);
	/* Over the reader's cap: cut inside the token, flagged, and still redacted. */
	CHECK_INT(jr_next(r, &e), ==, 1);
	CHECK(e.message_truncated);
	CHECK_INT(e.message_len, ==, JR_MESSAGE_MAX);
	CHECK(e.message && strstr(e.message, "ghp_Ab3dEf6h") && !strstr(e.message, gh));
	CHECK_INT(llm_redact(e.message, &red, NULL), ==, 0);
	CHECK(red && !strstr(red, "ghp_") && !strstr(red, "Ab3dEf6h"));
	free(red);
	jr_entry_done(&e);
	jr_free(r);
}

static unsigned follow_seen;

static void count_entry(const JrEntry *e, void *userdata)
{
	(void)e;
	(void)userdata;
	follow_seen++;
}

/* A storm is read in bounded batches: one loop iteration, one batch. */
TEST(test_follow_batches)
{
	FlOptions o = {.lookback_usec = 3650 * USEC_PER_DAY, .batch = 10};
	char path[128];
	sd_event *ev = NULL;
	Follower *f = NULL;

	snprintf(path, sizeof path, "%s/follow-cursor", tmpdir);
	CHECK_INT(sd_event_new(&ev), >=, 0);
	CHECK_INT(fl_new(ev, open_dir(basic_dir, 3), cur_file_new(path), &o, count_entry, NULL, &f),
		  ==, 0);
	if (!f)
		return;
	CHECK_INT(sd_event_run(ev, 0), >, 0);
	/* Ten read, two of them Healer's own. */
	CHECK_INT(follow_seen, ==, 8);
	CHECK_INT(fl_entries_seen(f) + fl_entries_skipped(f), ==, 10);
	for (int i = 0; i < 20; i++)
		sd_event_run(ev, 0);
	CHECK_INT(follow_seen, ==, 61);
	CHECK_INT(fl_entries_skipped(f), ==, 2);
	CHECK_INT(fl_last_error(f), ==, 0);
	f = fl_free(f);
	/* Restarted from the stored cursor: nothing is read twice. */
	CHECK_INT(fl_new(ev, open_dir(basic_dir, 3), cur_file_new(path), &o, count_entry, NULL, &f),
		  ==, 0);
	for (int i = 0; i < 5; i++)
		sd_event_run(ev, 0);
	CHECK_INT(follow_seen, ==, 61);
	fl_free(f);
	sd_event_unref(ev);
}

/* A replay's reading: from since to until, batches ended and held on request, one end. */
typedef struct ReplaySeen {
	Follower *f;
	uint64_t first, last;
	unsigned n, ends, hold_at;
	bool held;
} ReplaySeen;

static void replay_entry(const JrEntry *e, void *userdata)
{
	ReplaySeen *s = userdata;

	if (!s->first)
		s->first = e->realtime_usec;
	s->last = e->realtime_usec;
	if (++s->n == s->hold_at) {
		fl_end_batch(s->f);
		fl_hold(s->f, true);
		s->held = true;
	}
}

static void replay_end(void *userdata)
{
	((ReplaySeen *)userdata)->ends++;
}

TEST(test_follow_replay)
{
	JrReader *r = open_dir(basic_dir, 3);
	JrEntry e;
	uint64_t since = 0, until = 0;
	ReplaySeen s = {.hold_at = 3};
	FlOptions o = {.no_follow = true, .at_end = replay_end};
	sd_event *ev = NULL;

	/* The 5th and the 20th selected entries' times bound the replay. */
	for (int i = 0; r && i < 20 && jr_next(r, &e) > 0; i++) {
		if (i == 4)
			since = e.realtime_usec;
		if (i == 19)
			until = e.realtime_usec;
		jr_entry_done(&e);
	}
	jr_free(r);
	o.since_usec = since;
	o.until_usec = until;
	CHECK_INT(sd_event_new(&ev), >=, 0);
	CHECK_INT(fl_new(ev, open_dir(basic_dir, 3), NULL, &o, replay_entry, &s, &s.f), ==, 0);
	if (!s.f)
		return;
	for (int i = 0; i < 10; i++)
		sd_event_run(ev, 0);
	/* Held after the third entry: nothing more is read, and the end is not reached. */
	CHECK_INT(s.n, ==, 3);
	CHECK_INT(s.ends, ==, 0);
	fl_hold(s.f, false);
	for (int i = 0; i < 10; i++)
		sd_event_run(ev, 0);
	/* From since to until inclusive (own lines skipped), then the end, once. */
	CHECK(s.first == since);
	CHECK(s.last == until);
	CHECK_INT(s.n + fl_entries_skipped(s.f), ==, 16);
	CHECK_INT(s.ends, ==, 1);
	fl_free(s.f);
	sd_event_unref(ev);
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
	char data[PATH_MAX], export[PATH_MAX + 64];

	snprintf(tmpdir, sizeof tmpdir, "/tmp/healer-journal-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 2;
	/* Absolute: children of the executor start in /. */
	if (!realpath(data_dir(), data))
		return 2;
	snprintf(export, sizeof export, "%s/journal/basic.export", data);
	basic_dir = strdup(make_journal(export, "basic"));
	RUN(test_fields_and_trust);
	RUN(test_incidents);
	RUN(test_context);
	RUN(test_cursor_resume);
	RUN(test_open_errors);
	RUN(test_fingerprint);
	RUN(test_flood);
	RUN(test_transport_and_sessions);
	RUN(test_pid1_warnings);
	RUN(test_token_at_the_cut);
	RUN(test_follow_batches);
	RUN(test_follow_replay);
	free((char *)basic_dir);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return harness_finish();
}
