/* SPDX-License-Identifier: MIT */
/*
 * healer replay's part of the daemon (daemon.h, DaemonReplay): pacing the
 * reader against the attempts on the simulated clock, the end of the
 * journal, and the tally the summary is made from. Everything else a
 * replay does is the daemon's own code, on the clock daemon_now() gives.
 */
#include <string.h>

#include "healer/daemon-internal.h"
#include "healer/log.h"

void replay_count(ReplayCounts *c, const char *name)
{
	size_t i = 0;

	if (!name)
		name = "unknown";
	while (i < c->len && strcmp(c->name[i], name) != 0)
		i++;
	if (i == c->len) {
		if (c->len == REPLAY_KINDS_MAX) {
			/* The vocabularies are fixed and small: the last slot takes the rest. */
			i = REPLAY_KINDS_MAX - 1;
			c->name[i] = "other";
		} else {
			c->name[c->len++] = name;
		}
	}
	c->n[i]++;
}

void replay_attempt_ended(Daemon *d, const char *outcome, const char *refusal)
{
	if (!daemon_replaying(d))
		return;
	replay_count(&d->tally.outcomes, outcome);
	if (refusal)
		replay_count(&d->tally.refusals, refusal);
}

/*
 * Attempts are decided on the clock of the entry that opened them: the
 * follower ends its batch at each new attempt (daemon.c) and holds here
 * until no attempt is live, then reads on. Once it has read the last entry
 * and the last attempt is gone, the loop ends.
 */
void replay_pace(Daemon *d)
{
	if (!daemon_replaying(d) || !d->follower || d->stopping)
		return;
	if (d->attempts) {
		fl_hold(d->follower, true);
		return;
	}
	fl_hold(d->follower, false);
	if (d->replay_ended) {
		d->stopping = true;
		(void)sd_event_exit(d->event, d->exit_code);
	}
}

void replay_at_end(void *userdata)
{
	Daemon *d = userdata;
	int r = fl_last_error(d->follower);

	if (r < 0) {
		log_errno(LOG_ERR, r, "Reading the journal failed: %m; the replay stops there");
		d->exit_code = 1;
	}
	d->replay_ended = true;
	replay_pace(d);
}

static cJSON *counts_json(const ReplayCounts *c)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && i < c->len; i++)
		if (!cJSON_AddNumberToObject(o, c->name[i], (double)c->n[i])) {
			cJSON_Delete(o);
			return NULL;
		}
	return o;
}

cJSON *daemon_replay_json(Daemon *d)
{
	cJSON *o, *x;
	int r;

	if (!daemon_replaying(d) || !(o = cJSON_CreateObject()))
		return NULL;
	r = cJSON_AddBoolToObject(o, "complete", d->replay_ended && d->exit_code == 0) &&
	    cJSON_AddNumberToObject(o, "entries", (double)d->lines) &&
	    cJSON_AddNumberToObject(o, "incidents", (double)d->incidents) &&
	    cJSON_AddNumberToObject(o, "incidents_not_stored", (double)d->unacted_dropped_total) &&
	    cJSON_AddNumberToObject(o, "first_entry", (double)d->tally.first_usec) &&
	    cJSON_AddNumberToObject(o, "last_entry", (double)d->tally.last_usec) &&
	    cJSON_AddNumberToObject(o, "analyses", (double)d->tally.analyses);
	if (r && (x = counts_json(&d->tally.outcomes)))
		cJSON_AddItemToObject(o, "outcomes", x);
	else
		r = 0;
	if (r && (x = counts_json(&d->tally.refusals)))
		cJSON_AddItemToObject(o, "refusals", x);
	else
		r = 0;
	if (r && (x = counts_json(&d->tally.not_judged)))
		cJSON_AddItemToObject(o, "not_judged", x);
	else
		r = 0;
	if (!r) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
