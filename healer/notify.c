/* SPDX-License-Identifier: MIT */
#include "healer/notify.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/url.h"
#include "llm/http.h"

/*
 * Who writes what we send: the text and fields carry unit names, commands
 * and journal excerpts, so anyone who can write a journal line shapes
 * them. They must not be able to break the JSON (invalid UTF-8, control
 * characters: cleaned), to ping a whole Slack channel or dress up a link
 * ("<!channel>", "<https://x|y>": & < > escaped in "text"), or to grow the
 * queue without bound (a cap per text and body, a bounded queue that
 * drops the oldest). A webhook that is down or slow must not hold up the
 * daemon: every call is asynchronous, one at a time so that order holds,
 * each bounded by CALL_TIMEOUT_USEC.
 */

#define CALL_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define REPLY_MAX	  ((size_t)16 * 1024)
#define RETRY_AFTER_MAX	  (60 * USEC_PER_SEC)
#define HOST_MAX	  256

typedef struct Msg {
	struct Msg *next;
	char *body;
	unsigned tries; /* made so far */
} Msg;

struct Notifier {
	sd_event *event;
	LlmHttp *http;
	char *url;
	char host[HOST_MAX];
	unsigned max_tries;
	uint64_t backoff_usec;
	Msg *current;		/* in flight (call set) or waiting for its retry (timer on) */
	LlmHttpCall *call;	/* the POST of current */
	sd_event_source *timer; /* retry backoff */
	Msg *head, *tail;	/* waiting behind current */
	size_t n_waiting;
	NotifyStats stats;
};

static const char *const events[] = {"healed", "failed", "escalated", "awaiting_approval"};

static Msg *msg_free(Msg *m)
{
	if (m) {
		free(m->body);
		free(m);
	}
	return NULL;
}

int notify_url_check(const char *url, char *why, size_t why_len)
{
	return url_outbound_ok(url, "webhook URL", why, why_len) ? 0 : -EINVAL;
}

/* Exponential from the base, jittered by +-25% so that retries spread out. */
static uint64_t backoff(const Notifier *n, unsigned tries)
{
	unsigned shift = tries > 1 ? tries - 1 : 0;
	uint64_t d = n->backoff_usec << (shift < 16 ? shift : 16);
	uint16_t rnd = 0;

	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
		rnd = 32768;
	return d * 3 / 4 + d / 2 * rnd / 65535;
}

/* Retry-After in delay-seconds (an HTTP date is ignored), capped; 0 when none. */
static uint64_t retry_after(const char *s)
{
	uint64_t secs;

	if (!s || util_parse_u64(s, 0, RETRY_AFTER_MAX / USEC_PER_SEC, &secs) < 0)
		return 0;
	return secs * USEC_PER_SEC;
}

static void pump(Notifier *n);

/* The try of n->current is over: next message, or its retry once the backoff has passed. */
static void try_over(Notifier *n, bool retry, uint64_t hint_usec)
{
	uint64_t wait;

	if (!retry || n->current->tries >= n->max_tries) {
		n->stats.failed++;
		n->current = msg_free(n->current);
		return;
	}
	wait = backoff(n, n->current->tries);
	if (hint_usec > wait)
		wait = hint_usec;
	if (sd_event_source_set_time_relative(n->timer, wait) < 0 ||
	    sd_event_source_set_enabled(n->timer, SD_EVENT_ONESHOT) < 0) {
		n->stats.failed++;
		n->current = msg_free(n->current);
		return;
	}
	n->stats.retries++;
}

static void on_reply(const LlmHttpResult *r, void *userdata)
{
	Notifier *n = userdata;

	n->call = NULL;
	/* 2xx: accepted, even if its reply was cut (too big) on our side. */
	if (r->status >= 200 && r->status < 300) {
		n->stats.sent++;
		n->current = msg_free(n->current);
	} else {
		/* No answer, a 5xx or a 429 may pass; any other status will not. */
		bool retry = r->status == 0 || r->status == 429 || r->status >= 500;

		try_over(n, retry, r->status ? retry_after(r->retry_after) : 0);
	}
	pump(n);
}

/* Posts n->current; a post that cannot start counts as a failed try. */
static void attempt(Notifier *n)
{
	char *headers[] = {"Content-Type: application/json", "Expect:", NULL};
	LlmHttpRequest req = {.url = n->url, .headers = headers, .body = n->current->body};

	n->current->tries++;
	if (llm_http_post(n->http, &req, CALL_TIMEOUT_USEC, REPLY_MAX, on_reply, n, &n->call) < 0)
		try_over(n, true, 0);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	Notifier *n = userdata;

	(void)s;
	(void)usec;
	if (n->current && !n->call)
		attempt(n);
	pump(n);
	return 0;
}

/* Starts the next message when nothing is in flight or waiting for a retry. */
static void pump(Notifier *n)
{
	while (!n->current && n->head) {
		n->current = n->head;
		n->head = n->head->next;
		if (!n->head)
			n->tail = NULL;
		n->current->next = NULL;
		n->n_waiting--;
		attempt(n);
	}
}

static void queue_push(Notifier *n, Msg *m)
{
	if (n->n_waiting >= NOTIFY_QUEUE_MAX) {
		Msg *oldest = n->head;

		n->head = oldest->next;
		if (!n->head)
			n->tail = NULL;
		n->n_waiting--;
		msg_free(oldest);
		n->stats.dropped++;
	}
	if (n->tail)
		n->tail->next = m;
	else
		n->head = m;
	n->tail = m;
	n->n_waiting++;
}

/* A copy of s with & < > as Slack's &amp; &lt; &gt; (the only markup it asks to escape). */
static char *slack_escape(const char *s)
{
	size_t len = 0;
	char *out, *o;

	for (const char *p = s; *p; p++)
		len += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
	out = malloc(len + 1);
	if (!out)
		return NULL;
	o = out;
	for (const char *p = s; *p; p++) {
		const char *rep = *p == '&'   ? "&amp;"
				  : *p == '<' ? "&lt;"
				  : *p == '>' ? "&gt;"
					      : NULL;

		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* Cleans every string below item in place (cleaning never lengthens one). */
static int clean_strings(cJSON *item, unsigned depth)
{
	if (depth > 32)
		return -E2BIG;
	if (cJSON_IsString(item) && item->valuestring) {
		_cleanup_free_ char *c = text_clean_str(item->valuestring, TEXT_KEEP_NEWLINES);

		if (!c)
			return -ENOMEM;
		/* Refused only for a string by reference: not ours to change, so not sent. */
		if (!cJSON_SetValuestring(item, c))
			return -EINVAL;
	}
	for (cJSON *child = item->child; child; child = child->next) {
		int r = clean_strings(child, depth + 1);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Moves fields' members into body, skipping names body already has. Frees fields. */
static int fields_merge(cJSON *body, cJSON *fields)
{
	int r = clean_strings(fields, 0);

	while (r >= 0 && fields->child) {
		cJSON *item = cJSON_DetachItemViaPointer(fields, fields->child);

		if (!item->string || cJSON_GetObjectItemCaseSensitive(body, item->string))
			cJSON_Delete(item);
		else if (!cJSON_AddItemToObject(body, item->string, item)) {
			cJSON_Delete(item);
			r = -ENOMEM;
		}
	}
	cJSON_Delete(fields);
	return r;
}

static void time_now_iso(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

/* The JSON body of one message; takes fields. */
static int body_build(const Notifier *n, const char *event, const char *text, cJSON *fields,
		      char **ret)
{
	_cleanup_free_ char *clean = NULL, *escaped = NULL;
	char when[32];
	cJSON *body = cJSON_CreateObject();
	char *json = NULL;
	int r = 0;

	clean = text_clean_str(text, 0);
	escaped = clean ? slack_escape(clean) : NULL;
	time_now_iso(when, sizeof(when));
	if (!body || !escaped || !cJSON_AddStringToObject(body, "event", event) ||
	    !cJSON_AddStringToObject(body, "text", escaped) ||
	    !cJSON_AddStringToObject(body, "host", n->host) ||
	    !cJSON_AddStringToObject(body, "time", when))
		r = -ENOMEM;
	if (r < 0)
		cJSON_Delete(fields);
	else if (fields)
		r = fields_merge(body, fields);
	if (r >= 0 && !(json = cJSON_PrintUnformatted(body)))
		r = -ENOMEM;
	cJSON_Delete(body);
	if (r >= 0 && strlen(json) > NOTIFY_BODY_MAX)
		r = -E2BIG;
	if (r < 0) {
		free(json);
		return r;
	}
	*ret = json;
	return 0;
}

int notify_send(Notifier *n, const char *event, const char *text, cJSON *fields)
{
	bool known = false;
	Msg *m;
	int r;

	for (size_t i = 0; event && i < ELEMENTSOF(events); i++)
		known = known || strcmp(event, events[i]) == 0;
	if (!n || !known || !text || (fields && !cJSON_IsObject(fields))) {
		cJSON_Delete(fields);
		return -EINVAL;
	}
	if (strlen(text) > NOTIFY_TEXT_MAX) {
		cJSON_Delete(fields);
		return -E2BIG;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		cJSON_Delete(fields);
		return -ENOMEM;
	}
	r = body_build(n, event, text, fields, &m->body);
	if (r < 0) {
		free(m);
		return r;
	}
	queue_push(n, m);
	pump(n);
	return 0;
}

void notify_stats(const Notifier *n, NotifyStats *ret)
{
	*ret = n->stats;
	ret->queued = n->n_waiting + (n->current ? 1 : 0);
}

void notify_set_retry(Notifier *n, unsigned tries, uint64_t backoff_usec)
{
	n->max_tries = tries ? tries : 1;
	n->backoff_usec = backoff_usec ? backoff_usec : 1;
}

int notify_new(sd_event *e, const char *url, Notifier **ret)
{
	_cleanup_(notify_freep) Notifier *n = NULL;
	_cleanup_free_ char *host = NULL;
	char raw[HOST_MAX] = "";
	int r;

	if (!e || !ret)
		return -EINVAL;
	r = notify_url_check(url, NULL, 0);
	if (r < 0)
		return r;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->event = sd_event_ref(e);
	n->max_tries = NOTIFY_TRIES_DEFAULT;
	n->backoff_usec = NOTIFY_BACKOFF_USEC_DEFAULT;
	n->url = strdup(url);
	if (!n->url)
		return -ENOMEM;
	(void)gethostname(raw, sizeof(raw) - 1);
	host = text_clean_str(raw, 0);
	if (!host)
		return -ENOMEM;
	(void)util_snprintf(n->host, sizeof(n->host), "%s", host);
	r = llm_http_new(e, &n->http);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(e, &n->timer, CLOCK_MONOTONIC, 0, LLM_TIMER_ACCURACY_USEC,
				       on_timer, n);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(n->timer, "notify-retry");
	r = sd_event_source_set_enabled(n->timer, SD_EVENT_OFF);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(n);
	return 0;
}

Notifier *notify_free(Notifier *n)
{
	if (!n)
		return NULL;
	/* Cancelled, not completed: its callback (and so n) is never touched again. */
	llm_http_cancel(n->call);
	n->http = llm_http_free(n->http);
	n->timer = sd_event_source_disable_unref(n->timer);
	msg_free(n->current);
	while (n->head) {
		Msg *next = n->head->next;

		msg_free(n->head);
		n->head = next;
	}
	free(n->url);
	sd_event_unref(n->event);
	free(n);
	return NULL;
}
