/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "healer/follow.h"

/*
 * Timer slack, on purpose (sd-event reads 0 as its 250 ms default): the
 * journal poll is on the path from an entry to an action, so 1 ms; looking
 * again for a journal that does not exist yet is housekeeping.
 */
#define POLL_ACCURACY	USEC_PER_MSEC
#define REOPEN_ACCURACY (100 * USEC_PER_MSEC)

struct Follower {
	sd_event *ev;
	JrReader *reader;
	CursorStore *store;
	FlOptions opts;
	char *own_unit, *own_identifier;
	fl_entry_fn cb;
	void *userdata;
	sd_event_source *io, *timer, *more, *reopen;
	uint64_t start_realtime; /* where a first start begins: now - lookback, fixed at start */
	char *saved_cursor;
	uint64_t seen, skipped;
	int last_error;
	bool paused;
	bool cursor_stale;
	bool end_batch; /* fl_end_batch() during the current batch */
	bool held;	/* fl_hold(): no batch starts */
	bool more_held; /* a batch was due when reading was held */
	bool ended;	/* no_follow: at_end was called */
};

static bool own_line(const JrEntry *e, const char *own_unit, const char *own_identifier,
		     bool check_pid)
{
	const char *unit = own_unit ? own_unit : FL_OWN_UNIT;
	const char *ident = own_identifier ? own_identifier : FL_OWN_IDENTIFIER;

	if (check_pid && e->pid == getpid())
		return true;
	if ((e->unit && strcmp(e->unit, unit) == 0) ||
	    (e->systemd_unit && strcmp(e->systemd_unit, unit) == 0))
		return true;
	return e->identifier && strcmp(e->identifier, ident) == 0;
}

bool fl_is_own_line(const JrEntry *e, const char *own_unit, const char *own_identifier)
{
	return own_line(e, own_unit, own_identifier, true);
}

static void save_cursor(Follower *f, int durable)
{
	const char *c = jr_last_cursor(f->reader);

	if (!f->store || !c || (f->saved_cursor && strcmp(c, f->saved_cursor) == 0 && !durable))
		return;
	if (f->store->save(f->store, c, durable) < 0) {
		f->last_error = -EIO;
		return;
	}
	free(f->saved_cursor);
	f->saved_cursor = strdup(c);
}

/*
 * Reads one batch; asks for another iteration when the batch was full (or
 * was ended early). Without following, a batch that stops short is the
 * end: at_end is called once.
 */
static void drain(Follower *f)
{
	unsigned n = 0;
	bool began = false, past_until = false;
	int r;

	if (f->paused || f->ended)
		return;
	if (f->held) {
		f->more_held = true;
		return;
	}
	uint64_t until = util_now_usec() + f->opts.batch_usec;
	bool full = false;

	f->end_batch = false;
	while (!(full = n >= f->opts.batch || (n % 16 == 0 && n > 0 && util_now_usec() >= until))) {
		JrEntry e;
		r = jr_next(f->reader, &e);
		if (r < 0) {
			f->last_error = r;
			break;
		}
		if (r == 0)
			break;
		if (f->opts.no_follow && f->opts.until_usec &&
		    e.realtime_usec > f->opts.until_usec) {
			jr_entry_done(&e);
			past_until = true;
			break;
		}
		if (!began && f->opts.batch_begin)
			f->opts.batch_begin(f->userdata);
		began = true;
		n++;
		if (own_line(&e, f->own_unit, f->own_identifier, !f->opts.no_follow)) {
			f->skipped++;
			if (f->opts.own_entry)
				f->opts.own_entry(&e, f->userdata);
		} else {
			f->seen++;
			f->cb(&e, f->userdata);
		}
		jr_entry_done(&e);
		if (f->end_batch) {
			full = true;
			break;
		}
	}
	if (began && f->opts.batch_end) {
		r = f->opts.batch_end(jr_last_cursor(f->reader), f->userdata);
		if (r < 0) {
			f->last_error = r;
			fl_pause(f);
			return;
		}
	} else if (!f->opts.batch_end) {
		save_cursor(f, 0);
	}
	if (f->opts.no_follow && (!full || past_until)) {
		f->ended = true;
		(void)sd_event_source_set_enabled(f->more, SD_EVENT_OFF);
		if (f->opts.at_end)
			f->opts.at_end(f->userdata); /* last statement: it may stop the loop */
		return;
	}
	/* A full batch means more may wait: continue on the next iteration. */
	if (f->held) {
		f->more_held = full;
		full = false;
	}
	(void)sd_event_source_set_enabled(f->more, full ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
}

static void rearm_timer(Follower *f)
{
	uint64_t t = UINT64_MAX;

	/* Where inotify cannot watch (some file systems), sd-journal asks to poll. */
	if (jr_get_timeout(f->reader, &t) < 0 || t == UINT64_MAX) {
		(void)sd_event_source_set_enabled(f->timer, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(f->timer, t);
	(void)sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
}

static void wake(Follower *f)
{
	int r = jr_process(f->reader);

	if (r < 0)
		f->last_error = r;
	drain(f);
	rearm_timer(f);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	wake(userdata);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	wake(userdata);
	return 0;
}

static int on_more(sd_event_source *s, void *userdata)
{
	(void)s;
	drain(userdata);
	return 0;
}

static int position(Follower *f)
{
	_cleanup_free_ char *cursor = NULL;
	int r;

	if (f->opts.no_follow)
		return f->opts.since_usec ? jr_seek_realtime(f->reader, f->opts.since_usec)
					  : jr_seek_head(f->reader);
	/* After a reopen, near our own last entry is the best there is. */
	if (jr_last_cursor(f->reader)) {
		r = jr_seek_cursor(f->reader, jr_last_cursor(f->reader));
		return r < 0 ? r : 0;
	}
	if (f->store) {
		r = f->store->load(f->store, &cursor);
		if (r < 0)
			return r;
		if (cursor) {
			r = jr_seek_cursor(f->reader, cursor);
			if (r != 0)
				return r < 0 ? r : 0;
			/* Not in this journal: begin at now - lookback, and say so. */
			f->cursor_stale = true;
		}
	}
	return jr_seek_realtime(f->reader, f->start_realtime);
}

static int watch_fd(Follower *f)
{
	int fd = jr_get_fd(f->reader), events = jr_get_events(f->reader), r;

	if (fd < 0 || events < 0)
		return fd < 0 ? fd : events;
	f->io = sd_event_source_disable_unref(f->io);
	r = sd_event_add_io(f->ev, &f->io, fd, (uint32_t)events, on_io, f);
	if (r >= 0)
		(void)sd_event_source_set_description(f->io, "journal-io");
	return r;
}

/* While no journal file exists, look again every second (see jr_has_files). */
static int on_reopen(sd_event_source *s, uint64_t usec, void *userdata)
{
	Follower *f = userdata;
	int r;

	(void)usec;
	/*
	 * The old journal's fd closes in jr_reopen(); its number may go to
	 * anything opened next, so the I/O source must let go of it first.
	 */
	f->io = sd_event_source_disable_unref(f->io);
	if (jr_reopen(f->reader) < 0 || jr_has_files(f->reader) <= 0) {
		(void)sd_event_source_set_time_relative(s, USEC_PER_SEC);
		return 0;
	}
	r = position(f);
	if (r >= 0)
		r = watch_fd(f);
	if (r < 0) {
		f->last_error = r;
		(void)sd_event_source_set_time_relative(s, USEC_PER_SEC);
		return 0;
	}
	(void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
	drain(f);
	return 0;
}

int fl_new(sd_event *ev, JrReader *reader, CursorStore *store, const FlOptions *opts,
	   fl_entry_fn cb, void *userdata, Follower **ret)
{
	Follower *f = calloc(1, sizeof *f);
	int r;

	if (!f) {
		jr_free(reader);
		cur_free(store);
		return -ENOMEM;
	}
	f->ev = sd_event_ref(ev);
	f->reader = reader;
	f->store = store;
	f->cb = cb;
	f->userdata = userdata;
	if (opts)
		f->opts = *opts;
	if (f->opts.batch == 0)
		f->opts.batch = 500;
	if (f->opts.batch_usec == 0)
		f->opts.batch_usec = FL_BATCH_USEC;
	f->own_unit = strdup(opts && opts->own_unit ? opts->own_unit : FL_OWN_UNIT);
	f->own_identifier =
		strdup(opts && opts->own_identifier ? opts->own_identifier : FL_OWN_IDENTIFIER);
	if (!f->own_unit || !f->own_identifier) {
		r = -ENOMEM;
		goto fail;
	}
	f->start_realtime = util_realtime_usec();
	f->start_realtime = f->start_realtime > f->opts.lookback_usec
				    ? f->start_realtime - f->opts.lookback_usec
				    : 0;
	r = position(f);
	if (r < 0)
		goto fail;
	if (!f->opts.no_follow) {
		r = watch_fd(f);
		if (r >= 0)
			r = sd_event_add_time_relative(ev, &f->reopen, CLOCK_MONOTONIC,
						       USEC_PER_SEC, REOPEN_ACCURACY, on_reopen, f);
		if (r >= 0)
			r = sd_event_source_set_enabled(
				f->reopen, jr_has_files(reader) > 0 ? SD_EVENT_OFF : SD_EVENT_ON);
		if (r >= 0)
			r = sd_event_add_time(ev, &f->timer, CLOCK_MONOTONIC, UINT64_MAX,
					      POLL_ACCURACY, on_timer, f);
		if (r >= 0)
			r = sd_event_source_set_enabled(f->timer, SD_EVENT_OFF);
	}
	/* What was written before we started is read on the first iteration. */
	if (r >= 0)
		r = sd_event_add_defer(ev, &f->more, on_more, f);
	if (r >= 0)
		r = sd_event_source_set_enabled(f->more, SD_EVENT_ONESHOT);
	if (r < 0)
		goto fail;
	if (f->reopen)
		(void)sd_event_source_set_description(f->reopen, "journal-reopen");
	if (f->timer)
		(void)sd_event_source_set_description(f->timer, "journal-poll");
	(void)sd_event_source_set_description(f->more, "journal-next-batch");
	*ret = f;
	return 0;
fail:
	fl_free(f);
	return r;
}

Follower *fl_free(Follower *f)
{
	if (!f)
		return NULL;
	/*
	 * In batch mode the batch hook already committed every position that
	 * was recorded; saving the reader's position here could skip entries of
	 * a batch that failed to commit.
	 */
	if (f->reader && !f->opts.batch_end)
		save_cursor(f, 1);
	sd_event_source_disable_unref(f->io);
	sd_event_source_disable_unref(f->timer);
	sd_event_source_disable_unref(f->more);
	sd_event_source_disable_unref(f->reopen);
	sd_event_unref(f->ev);
	jr_free(f->reader);
	cur_free(f->store);
	free(f->saved_cursor);
	free(f->own_unit);
	free(f->own_identifier);
	free(f);
	return NULL;
}

bool fl_cursor_was_stale(const Follower *f)
{
	return f->cursor_stale;
}

JrReader *fl_reader(Follower *f)
{
	return f->reader;
}

void fl_catch_up(Follower *f)
{
	/* A replay reads on its own schedule: what it has not read yet is later, not late. */
	if (!f->paused && !f->opts.no_follow)
		wake(f);
}

void fl_pause(Follower *f)
{
	sd_event_source *const all[] = {f->io, f->timer, f->more, f->reopen};

	f->paused = true;
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		if (all[i])
			(void)sd_event_source_set_enabled(all[i], SD_EVENT_OFF);
}

void fl_end_batch(Follower *f)
{
	f->end_batch = true;
}

void fl_hold(Follower *f, bool hold)
{
	f->held = hold;
	if (!hold && f->more_held && !f->paused && !f->ended) {
		f->more_held = false;
		(void)sd_event_source_set_enabled(f->more, SD_EVENT_ONESHOT);
	}
}

uint64_t fl_entries_seen(const Follower *f)
{
	return f->seen;
}

uint64_t fl_entries_skipped(const Follower *f)
{
	return f->skipped;
}

int fl_last_error(const Follower *f)
{
	return f->last_error;
}
