/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Webhook notifications: one JSON POST per event the daemon wants a human
 * to hear of, sent from the sd_event loop without ever blocking it, retried
 * with backoff, kept in a bounded queue. The body is
 *   {"event": "...", "text": "...", "host": "...", "time": "...", ...fields}
 * where "text" is the field Slack (and the many services that copy its
 * incoming webhooks) shows. Like the executor, it decides nothing and logs
 * nothing; the daemon reads the counters.
 */

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

typedef struct Notifier Notifier;

/* Messages waiting behind the one being sent; one more drops the oldest waiting. */
#define NOTIFY_QUEUE_MAX 100
/* Tries per message (the first one included); then it counts as failed. */
#define NOTIFY_TRIES_DEFAULT 5
/* Wait before the second try; doubled for each further one, jittered by +-25%. */
#define NOTIFY_BACKOFF_USEC_DEFAULT (1000ULL * 1000ULL)
/* One line for humans, in bytes; longer is -E2BIG rather than a cut. */
#define NOTIFY_TEXT_MAX 2000
/* The whole JSON body, fields included. */
#define NOTIFY_BODY_MAX ((size_t)64 * 1024)

typedef struct NotifyStats {
	uint64_t sent;	  /* answered 2xx */
	uint64_t failed;  /* given up: a 4xx other than 429, or every try used */
	uint64_t dropped; /* pushed out of a full queue, unsent */
	uint64_t retries; /* tries after a transport error, a 5xx or a 429 */
	size_t queued;	  /* waiting now, the one in flight or in backoff included */
} NotifyStats;

/*
 * Whether url may receive notifications: https:// to any host, http:// only
 * to 127.0.0.1, localhost or [::1] (nothing readable leaves the host in
 * clear), no user or password in it, no blanks or control characters. The
 * same rule as [llm] base_url. Returns 0, or -EINVAL and why (optional) filled.
 */
int notify_url_check(const char *url, char *why, size_t why_len);

/*
 * A notifier posting to url on e. Returns 0 and *ret (owned by the caller,
 * freed with notify_free()), -EINVAL for a url notify_url_check() refuses,
 * -ENOMEM, or another -errno.
 */
int notify_new(sd_event *e, const char *url, Notifier **ret);

/* Tries per message (>= 1) and the first backoff (> 0); tests shorten them. */
void notify_set_retry(Notifier *n, unsigned tries, uint64_t backoff_usec);

/*
 * Queues one message and returns at once; the POST happens on the loop.
 * event: "healed", "failed", "escalated" or "awaiting_approval". text: one
 * line for humans (cleaned to plain UTF-8 on one line, and escaped for Slack:
 * & < > as &amp; &lt; &gt;, so that no journal line can mention @channel or
 * hide a link). fields: NULL or a JSON object whose members are added to the
 * body (strings cleaned alike, newlines kept; "event", "text", "host" and
 * "time" cannot be overridden); notify takes ownership of it whatever the
 * result. The time is now's, in UTC. Returns 0 (queued: sent, failed or
 * dropped later show in the counters), -EINVAL (unknown event, NULL text,
 * fields not an object), -E2BIG (text or body over its cap), -ENOMEM.
 */
int notify_send(Notifier *n, const char *event, const char *text, cJSON *fields);

/* The counters so far. */
void notify_stats(const Notifier *n, NotifyStats *ret);

/*
 * Cancels the call in flight and drops every queued message (not counted as
 * dropped: the daemon is going away). Accepts NULL; returns NULL.
 */
Notifier *notify_free(Notifier *n);

static inline void notify_freep(Notifier **n)
{
	if (*n)
		*n = notify_free(*n);
}
