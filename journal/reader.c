/* SPDX-License-Identifier: MIT */
/*
 * sd-journal behind a small reader: open, PRIORITY matches, seek, read one
 * entry into a JrEntry, and the fd interface for an event loop.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "common/text.h"
#include "common/util.h"
#include "journal/internal.h"

struct JrReader {
	sd_journal *j;
	JrOpenOptions opts;
	char *directory;
	char **files;
	char *namespace_name;
	char *last_cursor;
};

JrReader *jr_free(JrReader *r)
{
	if (!r)
		return NULL;
	sd_journal_close(r->j);
	free(r->directory);
	strv_free(r->files);
	free(r->namespace_name);
	free(r->last_cursor);
	free(r);
	return NULL;
}

int jr_open_journal_(const JrReader *r, sd_journal **ret)
{
	struct stat st;

	switch (r->opts.source) {
	case JR_SOURCE_SYSTEM:
		return sd_journal_open(ret, SD_JOURNAL_LOCAL_ONLY);
	case JR_SOURCE_DIRECTORY:
		if (stat(r->directory, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		return sd_journal_open_directory(ret, r->directory, 0);
	case JR_SOURCE_FILES:
		for (size_t i = 0; r->files[i]; i++)
			if (stat(r->files[i], &st) < 0)
				return -errno;
		return sd_journal_open_files(ret, (const char **)r->files, 0);
	case JR_SOURCE_NAMESPACE:
		return sd_journal_open_namespace(ret, r->namespace_name, SD_JOURNAL_LOCAL_ONLY);
	}
	return -EINVAL;
}

static int add_priority_matches(sd_journal *j, int max_priority)
{
	int r = 0;

	/* Matches on one field are OR'ed: the journal's index does the work. */
	for (int p = 0; p <= max_priority && r >= 0; p++) {
		char m[16];

		(void)util_snprintf(m, sizeof m, "PRIORITY=%d", p);
		r = sd_journal_add_match(j, m, 0);
	}
	/*
	 * Or PID 1's own word on a unit at warning: systemd says a running
	 * service died ("Failed with result 'signal'") at warning and never at
	 * err, so an err threshold alone would never see a killed service.
	 * _PID is set by journald: nobody else can write as PID 1.
	 */
	if (r >= 0 && max_priority < JR_PID1_PRIORITY) {
		char m[16];

		(void)util_snprintf(m, sizeof m, "PRIORITY=%d", JR_PID1_PRIORITY);
		r = sd_journal_add_disjunction(j);
		if (r >= 0)
			r = sd_journal_add_match(j, "_PID=1", 0);
		if (r >= 0)
			r = sd_journal_add_match(j, m, 0);
	}
	return r;
}

/* A fresh sd_journal with the reader's matches and threshold. */
static int open_selected(const JrReader *r, sd_journal **ret)
{
	sd_journal *j = NULL;
	int k = jr_open_journal_(r, &j);

	if (k >= 0)
		k = add_priority_matches(j, r->opts.max_priority);
	/* Enough to tell a message over the cap from one at it, no more. */
	if (k >= 0)
		k = sd_journal_set_data_threshold(j, JR_MESSAGE_MAX + 64);
	if (k < 0) {
		sd_journal_close(j);
		return k;
	}
	*ret = j;
	return 0;
}

int jr_open(const JrOpenOptions *opts, JrReader **ret)
{
	_cleanup_(jr_freep) JrReader *r = NULL;
	size_t n = 0;
	int k;

	if (!opts || opts->max_priority < 0 || opts->max_priority > 7)
		return -EINVAL;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->opts = *opts;
	switch (opts->source) {
	case JR_SOURCE_SYSTEM:
		break;
	case JR_SOURCE_DIRECTORY:
		if (!opts->directory)
			return -EINVAL;
		r->directory = strdup(opts->directory);
		if (!r->directory)
			return -ENOMEM;
		break;
	case JR_SOURCE_FILES:
		while (opts->files && opts->files[n])
			n++;
		if (n == 0 || n > JR_MAX_FILES)
			return -EINVAL;
		r->files = calloc(n + 1, sizeof(char *));
		if (!r->files)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			r->files[i] = strdup(opts->files[i]);
			if (!r->files[i])
				return -ENOMEM;
		}
		break;
	case JR_SOURCE_NAMESPACE:
		if (!opts->namespace_name || !opts->namespace_name[0])
			return -EINVAL;
		r->namespace_name = strdup(opts->namespace_name);
		if (!r->namespace_name)
			return -ENOMEM;
		break;
	default:
		return -EINVAL;
	}
	r->opts.directory = r->directory;
	r->opts.files = (const char *const *)r->files;
	r->opts.namespace_name = r->namespace_name;
	k = open_selected(r, &r->j);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(r);
	return 0;
}

static int set_last_cursor(JrReader *r, const char *c)
{
	char *d = strdup(c);

	if (!d)
		return -ENOMEM;
	free(r->last_cursor);
	r->last_cursor = d;
	return 0;
}

/*
 * Positions on the entry at cursor so that the next sd_journal_next() moves
 * past it. If that entry is gone (vacuumed), the journal lands on the nearest
 * later one, which has not been read yet: step back so it is not skipped.
 */
/*
 * 1 when the cursor's own entry is in this journal (the next read is the
 * entry after it), 0 when it is not: a cursor of another machine, or of a
 * position vacuumed away. sd-journal then seeks to some nearby position,
 * which the caller must not trust as "where we left off".
 */
static int seek_after(sd_journal *j, const char *cursor)
{
	int r = sd_journal_seek_cursor(j, cursor);

	if (r < 0)
		return r;
	r = sd_journal_next(j);
	if (r <= 0)
		return r;
	if (sd_journal_test_cursor(j, cursor) > 0)
		return 1;
	r = sd_journal_previous(j);
	return r < 0 ? r : 0;
}

int jr_seek_cursor(JrReader *r, const char *cursor)
{
	int k;

	if (!cursor || !cursor[0] || strlen(cursor) > 1024)
		return -EINVAL;
	k = seek_after(r->j, cursor);
	if (k < 0)
		return k;
	if (k == 0)
		return 0;
	k = set_last_cursor(r, cursor);
	return k < 0 ? k : 1;
}

int jr_seek_realtime(JrReader *r, uint64_t realtime_usec)
{
	return sd_journal_seek_realtime_usec(r->j, realtime_usec);
}

int jr_seek_head(JrReader *r)
{
	return sd_journal_seek_head(r->j);
}

int jr_seek_tail(JrReader *r)
{
	int k = sd_journal_seek_tail(r->j);

	if (k < 0)
		return k;
	/* After seek_tail the journal sits past the end; previous() anchors it. */
	k = sd_journal_previous(r->j);
	return k < 0 ? k : 0;
}

/*
 * Journal fields go to prompts, JSON and terminals: they must be plain text
 * (common/text.h). A field over its cap is cut at a character boundary.
 */
static char *field_copy(const char *v, size_t n, size_t cap)
{
	return text_clean(v, n, cap, 0, NULL, NULL);
}

static int copy_message(JrEntry *e, const char *v, size_t n)
{
	e->message_truncated = n > JR_MESSAGE_MAX;
	e->message = text_clean(v, n, JR_MESSAGE_MAX, 0, &e->message_len, &e->message_binary);
	return e->message ? 0 : -ENOMEM;
}

/* A unit name, or another token journald sets, from a field: plain printable ASCII, else ignored.
 */
static char *unit_copy(const char *v, size_t n)
{
	if (n == 0 || n > JR_FIELD_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e || v[i] == '/')
			return NULL;
	return util_strndup(v, n);
}

static bool num_field(const char *v, size_t n, uint64_t max, uint64_t *ret)
{
	char b[24];

	if (n == 0 || n >= sizeof b)
		return false;
	memcpy(b, v, n);
	b[n] = '\0';
	return util_parse_u64(b, 0, max, ret) == 0;
}

#define FIELD_IS(d, l, name) ((l) > sizeof(name) && memcmp((d), name "=", sizeof(name)) == 0)

typedef struct RawUnits {
	const char *unit, *user_unit;
	size_t unit_len, user_unit_len;
} RawUnits;

/* One pass over the entry's fields; the message and trusted fields are copied. */
static int read_fields(sd_journal *j, JrEntry *e, RawUnits *u)
{
	const void *d;
	size_t l;
	int r;

	sd_journal_restart_data(j);
	while ((r = sd_journal_enumerate_available_data(j, &d, &l)) > 0) {
		const char *s = d;
		uint64_t v;

		if (FIELD_IS(s, l, "MESSAGE")) {
			if (!e->message && (r = copy_message(e, s + 8, l - 8)) < 0)
				return r;
		} else if (FIELD_IS(s, l, "PRIORITY")) {
			if (num_field(s + 9, l - 9, 7, &v))
				e->priority = (int)v;
		} else if (FIELD_IS(s, l, "SYSLOG_IDENTIFIER")) {
			if (!e->identifier &&
			    !(e->identifier = field_copy(s + 18, l - 18, JR_FIELD_MAX)))
				return -ENOMEM;
		} else if (FIELD_IS(s, l, "_SYSTEMD_UNIT")) {
			if (!e->systemd_unit)
				e->systemd_unit = unit_copy(s + 14, l - 14);
		} else if (FIELD_IS(s, l, "_SYSTEMD_USER_UNIT")) {
			if (!e->systemd_user_unit)
				e->systemd_user_unit = unit_copy(s + 19, l - 19);
		} else if (FIELD_IS(s, l, "_SYSTEMD_SESSION")) {
			if (!e->systemd_session)
				e->systemd_session = unit_copy(s + 17, l - 17);
		} else if (FIELD_IS(s, l, "_TRANSPORT")) {
			if (!e->transport)
				e->transport = unit_copy(s + 11, l - 11);
		} else if (FIELD_IS(s, l, "_PID")) {
			if (num_field(s + 5, l - 5, INT32_MAX, &v))
				e->pid = (pid_t)v;
		} else if (FIELD_IS(s, l, "_UID")) {
			if (num_field(s + 5, l - 5, UINT32_MAX - 1, &v))
				e->uid = (uid_t)v;
		} else if (FIELD_IS(s, l, "_COMM")) {
			if (!e->comm && !(e->comm = field_copy(s + 6, l - 6, JR_FIELD_MAX)))
				return -ENOMEM;
		} else if (FIELD_IS(s, l, "_EXE")) {
			if (!e->exe && !(e->exe = field_copy(s + 5, l - 5, JR_FIELD_MAX)))
				return -ENOMEM;
		} else if (FIELD_IS(s, l, "_HOSTNAME")) {
			if (!e->hostname &&
			    !(e->hostname = field_copy(s + 10, l - 10, JR_FIELD_MAX)))
				return -ENOMEM;
		} else if (FIELD_IS(s, l, "HEALER_INJECT_ID")) {
			if (!e->inject_id)
				e->inject_id = unit_copy(s + 17, l - 17);
		} else if (FIELD_IS(s, l, "HEALER_CLAIMED_UNIT")) {
			if (!e->claimed_unit)
				e->claimed_unit = unit_copy(s + 20, l - 20);
		} else if (FIELD_IS(s, l, "UNIT")) {
			u->unit = s + 5, u->unit_len = l - 5;
		} else if (FIELD_IS(s, l, "USER_UNIT")) {
			u->user_unit = s + 10, u->user_unit_len = l - 10;
		}
	}
	return r;
}

static bool is_service_manager(const JrEntry *e)
{
	const char *base;

	if (!e->exe || !e->comm || strcmp(e->comm, "systemd") != 0)
		return false;
	base = strrchr(e->exe, '/');
	return base && strcmp(base, "/systemd") == 0 &&
	       (strncmp(e->exe, "/usr/lib/systemd/", 17) == 0 ||
		strncmp(e->exe, "/lib/systemd/", 13) == 0);
}

/*
 * The unit an entry is about, from trusted sources only. UNIT= and
 * USER_UNIT= are ordinary fields any client may send, so they count only
 * when the sender itself is trusted: PID 1, or a root-owned service
 * manager. A user's own `systemd --user` runs as that user and is ignored.
 */
static int pick_unit(JrEntry *e, const RawUnits *u)
{
	const char *src = NULL;
	size_t n = 0;

	if (u->unit && e->pid == 1 && e->uid == 0)
		src = u->unit, n = u->unit_len;
	else if (u->user_unit && e->uid == 0 && is_service_manager(e))
		src = u->user_unit, n = u->user_unit_len;
	if (src) {
		e->unit = unit_copy(src, n);
		if (e->unit)
			return 0;
	}
	if (e->systemd_unit) {
		e->unit = strdup(e->systemd_unit);
		if (!e->unit)
			return -ENOMEM;
	}
	return 0;
}

void jr_entry_done(JrEntry *e)
{
	free(e->message);
	free(e->identifier);
	free(e->cursor);
	free(e->hostname);
	free(e->systemd_unit);
	free(e->comm);
	free(e->exe);
	free(e->transport);
	free(e->systemd_user_unit);
	free(e->systemd_session);
	free(e->unit);
	free(e->inject_id);
	free(e->claimed_unit);
	*e = (JrEntry){0};
}

/* Reads the entry the journal is positioned on. */
static int read_entry(sd_journal *j, JrEntry *ret)
{
	JrEntry e = {.priority = -1, .uid = (uid_t)-1};
	RawUnits u = {0};
	sd_id128_t boot;
	int r;

	r = read_fields(j, &e, &u);
	if (r >= 0)
		r = pick_unit(&e, &u);
	if (r >= 0)
		r = sd_journal_get_realtime_usec(j, &e.realtime_usec);
	if (r >= 0 && sd_journal_get_monotonic_usec(j, &e.monotonic_usec, &boot) >= 0)
		(void)sd_id128_to_string(boot, e.boot_id);
	if (r >= 0)
		r = sd_journal_get_cursor(j, &e.cursor);
	if (r >= 0 && !e.message) {
		e.message = strdup("");
		if (!e.message)
			r = -ENOMEM;
	}
	if (r < 0) {
		jr_entry_done(&e);
		return r;
	}
	*ret = e;
	return 0;
}

int jr_next(JrReader *r, JrEntry *ret)
{
	for (;;) {
		JrEntry e;
		int k = sd_journal_next(r->j);

		if (k <= 0)
			return k;
		k = read_entry(r->j, &e);
		if (k < 0)
			return k;
		k = set_last_cursor(r, e.cursor);
		if (k < 0) {
			jr_entry_done(&e);
			return k;
		}
		if (e.priority < 0 || (e.priority > r->opts.max_priority &&
				       !(e.pid == 1 && e.priority <= JR_PID1_PRIORITY))) {
			/* A corrupt or hand-made entry the match let through: skip it. */
			jr_entry_done(&e);
			continue;
		}
		*ret = e;
		return 1;
	}
}

const char *jr_last_cursor(const JrReader *r)
{
	return r->last_cursor;
}

int jr_get_fd(JrReader *r)
{
	return sd_journal_get_fd(r->j);
}

int jr_get_events(JrReader *r)
{
	return sd_journal_get_events(r->j);
}

int jr_get_timeout(JrReader *r, uint64_t *ret_usec)
{
	return sd_journal_get_timeout(r->j, ret_usec);
}

int jr_process(JrReader *r)
{
	int k = sd_journal_process(r->j);

	if (k < 0)
		return k;
	/*
	 * Files came or went (rotation, vacuum). sd-journal keeps its place
	 * as a position in time and sequence, not in a file, so a follower
	 * carries on; seeking again here would only lose that place.
	 */
	if (k == SD_JOURNAL_INVALIDATE)
		return 2;
	return k == SD_JOURNAL_APPEND ? 1 : 0;
}

int jr_has_files(JrReader *r)
{
	uint64_t bytes = 0;
	int k = sd_journal_get_usage(r->j, &bytes);

	return k < 0 ? k : bytes > 0;
}

int jr_reopen(JrReader *r)
{
	sd_journal *j = NULL;
	int k = open_selected(r, &j);

	if (k < 0)
		return k;
	sd_journal_close(r->j);
	r->j = j;
	return 0;
}
