/* SPDX-License-Identifier: MIT */
/*
 * Webhook notifications against a real HTTP server inside the test: a
 * listening socket on 127.0.0.1 driven by the same sd-event loop as the
 * notifier, answering from a script of statuses (or holding requests
 * unanswered until told), recording every request it completes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "healer/notify.h"
#include "tests/unit/harness.h"

#define MSEC	 USEC_PER_MSEC
#define REQS_MAX 256
#define BUF_MAX	 ((size_t)128 * 1024)

typedef struct Srv Srv;

typedef struct Req {
	char *head; /* request line and headers */
	char *body;
	uint64_t at; /* when it was complete */
} Req;

typedef struct Conn {
	Srv *srv;
	int fd;
	sd_event_source *src;
	char *buf;
	size_t len;
	bool recorded, answered, closed;
} Conn;

struct Srv {
	int fd;
	char url[64];
	sd_event_source *src;
	const int *script; /* statuses to answer, in order; 200 once it is used up */
	size_t n_script;
	bool hold; /* leave requests unanswered until srv_release() */
	Req reqs[REQS_MAX];
	size_t n_reqs;
	Conn *conns[REQS_MAX];
	size_t n_conns;
	size_t closed_unanswered; /* connections the client gave up on */
};

static void conn_close(Conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	c->src = sd_event_source_disable_unref(c->src);
	c->fd = safe_close(c->fd);
}

static void conn_answer(Conn *c)
{
	Srv *s = c->srv;
	size_t i = s->n_reqs - 1;
	int status = i < s->n_script ? s->script[i] : 200;
	char resp[160];
	int len = snprintf(
		resp, sizeof(resp),
		"HTTP/1.1 %d Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);

	CHECK_INT(write(c->fd, resp, (size_t)len), ==, len);
	c->answered = true;
	conn_close(c);
}

/* Records the request once head and body are in; NULL-safe on partial input. */
static bool conn_complete(Conn *c)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl;
	size_t head_len, body_len = 0;
	Req *q;

	if (!end)
		return false;
	head_len = (size_t)(end - c->buf) + 4;
	c->buf[head_len - 2] = '\0';
	cl = strcasestr(c->buf, "\r\nContent-Length:");
	if (cl)
		body_len = strtoul(cl + 17, NULL, 10);
	c->buf[head_len - 2] = '\r';
	if (c->len < head_len + body_len)
		return false;
	if (c->srv->n_reqs >= REQS_MAX)
		return false;
	q = &c->srv->reqs[c->srv->n_reqs++];
	q->head = strndup(c->buf, head_len);
	q->body = strndup(c->buf + head_len, body_len);
	q->at = util_now_usec();
	c->recorded = true;
	return true;
}

static int on_conn(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Conn *c = userdata;
	ssize_t n;

	(void)src;
	(void)revents;
	n = read(fd, c->buf + c->len, BUF_MAX - 1 - c->len);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN) {
			if (!c->answered)
				c->srv->closed_unanswered++;
			conn_close(c);
		}
		return 0;
	}
	c->len += (size_t)n;
	if (!c->recorded && conn_complete(c) && !c->srv->hold)
		conn_answer(c);
	return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Srv *s = userdata;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	Conn *c;

	(void)src;
	(void)revents;
	if (cfd < 0)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c || s->n_conns >= REQS_MAX || !(c->buf = malloc(BUF_MAX))) {
		free(c);
		close(cfd);
		return 0;
	}
	c->srv = s;
	c->fd = cfd;
	s->conns[s->n_conns++] = c;
	CHECK_INT(
		sd_event_add_io(sd_event_source_get_event(src), &c->src, cfd, EPOLLIN, on_conn, c),
		>=, 0);
	return 0;
}

static void srv_start(sd_event *e, Srv *s, const int *script, size_t n_script)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	*s = (Srv){.script = script, .n_script = n_script};
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(s->fd >= 0);
	CHECK_INT(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	CHECK_INT(listen(s->fd, 64), ==, 0);
	CHECK_INT(getsockname(s->fd, (struct sockaddr *)&a, &alen), ==, 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/hook", (unsigned)ntohs(a.sin_port));
	CHECK_INT(sd_event_add_io(e, &s->src, s->fd, EPOLLIN, on_accept, s), >=, 0);
}

/* Answers (with the script) every request held so far, and holds no more. */
static void srv_release(Srv *s)
{
	s->hold = false;
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i]->recorded && !s->conns[i]->closed)
			conn_answer(s->conns[i]);
}

static void srv_stop(Srv *s)
{
	for (size_t i = 0; i < s->n_conns; i++) {
		conn_close(s->conns[i]);
		free(s->conns[i]->buf);
		free(s->conns[i]);
	}
	for (size_t i = 0; i < s->n_reqs; i++) {
		free(s->reqs[i].head);
		free(s->reqs[i].body);
	}
	s->src = sd_event_source_disable_unref(s->src);
	s->fd = safe_close(s->fd);
}

typedef bool (*cond_fn)(const void *arg);

/* Runs the loop until cond holds or ms pass; returns whether it held. */
static bool run_until(sd_event *e, cond_fn cond, const void *arg, unsigned ms)
{
	uint64_t end = util_now_usec() + ms * MSEC;

	while (!cond(arg)) {
		if (util_now_usec() >= end)
			return false;
		if (sd_event_run(e, 10 * MSEC) < 0)
			return false;
	}
	return true;
}

typedef struct Want {
	Notifier *n;
	const Srv *s;
	uint64_t sent, failed, reqs, retries, closed;
} Want;

static bool reached(const void *arg)
{
	const Want *w = arg;
	NotifyStats st = {0};

	if (w->n)
		notify_stats(w->n, &st);
	return st.sent >= w->sent && st.failed >= w->failed && st.retries >= w->retries &&
	       (!w->s || (w->s->n_reqs >= w->reqs && w->s->closed_unanswered >= w->closed));
}

static char hostname[256];

TEST(test_url_rules)
{
	static const char *const ok[] = {"http://127.0.0.1:8080/hook",
					 "http://localhost/x",
					 "http://[::1]:9/x",
					 "https://hooks.example.com/services/T0/B0/xyz",
					 "https://example.com:8443/a?b=c",
					 "http://LOCALHOST:1/"};
	static const char *const bad[] = {"http://example.com/hook",
					  "http://127.0.0.1.example.com/",
					  "http://127.0.0.1:80@example.com/",
					  "https://user:pw@example.com/",
					  "ftp://127.0.0.1/",
					  "HTTP://localhost/",
					  "https:///path",
					  "file:///etc/passwd",
					  "http://127.0.0.1/a b",
					  "http://127.0.0.1/\n",
					  "127.0.0.1:80/hook",
					  "",
					  "http://10.0.0.1/hook"};
	char why[256];
	sd_event *e = NULL;
	Notifier *n = NULL;

	for (size_t i = 0; i < ELEMENTSOF(ok); i++)
		CHECK_(notify_url_check(ok[i], why, sizeof(why)) == 0, "%s refused: %s", ok[i],
		       why);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		CHECK_(notify_url_check(bad[i], why, sizeof(why)) == -EINVAL, "%s accepted",
		       bad[i]);
		CHECK_(why[0] != '\0', "%s: no reason given", bad[i]);
	}
	CHECK_INT(notify_url_check(NULL, NULL, 0), ==, -EINVAL);
	CHECK_INT(notify_url_check("http://example.com/", why, sizeof(why)), ==, -EINVAL);
	CHECK_CONTAINS(why, "must be https://");

	CHECK_INT(sd_event_new(&e), >=, 0);
	CHECK_INT(notify_new(e, "http://example.com/hook", &n), ==, -EINVAL);
	CHECK(n == NULL);
	CHECK_INT(notify_new(e, NULL, &n), ==, -EINVAL);
	CHECK_INT(notify_new(e, "https://hooks.example.com/x", &n), ==, 0);
	CHECK(notify_free(n) == NULL);
	CHECK(notify_free(NULL) == NULL);
	sd_event_unref(e);
}

/* Whether s is "YYYY-MM-DDTHH:MM:SSZ" within a minute of now. */
static bool iso_now(const char *s)
{
	struct tm tm = {0};
	const char *end;

	if (!s || strlen(s) != 20)
		return false;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return end && *end == '\0' && llabs((long long)(timegm(&tm) - time(NULL))) < 60;
}

TEST(test_retry_then_delivered)
{
	static const int script[] = {503, 503};
	const uint64_t base = 50 * MSEC;
	sd_event *e = NULL;
	Notifier *n = NULL;
	NotifyStats st;
	cJSON *fields, *got = NULL, *nested;
	Srv s;

	CHECK_INT(sd_event_new(&e), >=, 0);
	srv_start(e, &s, script, ELEMENTSOF(script));
	CHECK_INT(notify_new(e, s.url, &n), ==, 0);
	notify_set_retry(n, 5, base);
	fields = cJSON_CreateObject();
	cJSON_AddStringToObject(fields, "unit", "nginx.service");
	cJSON_AddNumberToObject(fields, "attempt", 2);
	cJSON_AddStringToObject(fields, "output", "line1\nline2\x01");
	cJSON_AddStringToObject(fields, "event", "spoofed");
	cJSON_AddStringToObject(fields, "host", "elsewhere");
	nested = cJSON_AddObjectToObject(fields, "nested");
	cJSON_AddStringToObject(nested, "a", "b\x1b[31m");
	CHECK_INT(
		notify_send(n, "healed",
			    "restarted nginx.service <!channel> & <https://x|y>\tok\nnext caf\xc3",
			    fields),
		==, 0);
	CHECK(run_until(e, reached, &(Want){.n = n, .sent = 1}, 5000));
	notify_stats(n, &st);
	CHECK_INT(st.sent, ==, 1);
	CHECK_INT(st.retries, ==, 2);
	CHECK_INT(st.failed, ==, 0);
	CHECK_INT(st.dropped, ==, 0);
	CHECK_INT(st.queued, ==, 0);
	/* Three tries of one message: the same body each time, answered 2xx once. */
	CHECK_INT(s.n_reqs, ==, 3);
	if (s.n_reqs == 3) {
		uint64_t gap1 = s.reqs[1].at - s.reqs[0].at, gap2 = s.reqs[2].at - s.reqs[1].at;

		printf("INFO backoff %.1f ms then %.1f ms (base 50 ms, +-25%%)\n",
		       (double)gap1 / 1000.0, (double)gap2 / 1000.0);
		CHECK_INT(gap1, >=, base * 3 / 4);
		CHECK_INT(gap2, >=, base * 3 / 2);
		CHECK_INT(gap2, >, gap1);
		CHECK_STR(s.reqs[0].body, s.reqs[2].body);
		CHECK_STR(s.reqs[1].body, s.reqs[2].body);
		CHECK(strncmp(s.reqs[2].head, "POST /hook HTTP/1.1\r\n", 21) == 0);
		CHECK(strcasestr(s.reqs[2].head, "\r\nContent-Type: application/json\r\n") != NULL);
		got = cJSON_Parse(s.reqs[2].body);
	}
	CHECK(got != NULL);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(got, "event")), "healed");
	CHECK_STR(
		cJSON_GetStringValue(cJSON_GetObjectItem(got, "text")),
		"restarted nginx.service &lt;!channel&gt; &amp; &lt;https://x|y&gt; ok next caf?");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(got, "host")), hostname);
	CHECK(iso_now(cJSON_GetStringValue(cJSON_GetObjectItem(got, "time"))));
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(got, "unit")), "nginx.service");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(got, "attempt")), ==, 2);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(got, "output")), "line1\nline2?");
	CHECK_STR(
		cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "nested"), "a")),
		"b?[31m");
	/* Four of its own and unit, attempt, output, nested: the spoofed two dropped. */
	CHECK_INT(cJSON_GetArraySize(got), ==, 8);
	cJSON_Delete(got);
	notify_free(n);
	srv_stop(&s);
	sd_event_unref(e);
}

TEST(test_give_up)
{
	static const int always_500[] = {500, 500, 500, 500, 500, 500};
	static const int bad_request[] = {400};
	static const int too_many[] = {429, 429};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	char url[64];
	sd_event *e = NULL;
	Notifier *n = NULL;
	NotifyStats st;
	Srv s;
	int fd;

	CHECK_INT(sd_event_new(&e), >=, 0);
	/* Every try a 5xx: five tries, then failed. */
	srv_start(e, &s, always_500, ELEMENTSOF(always_500));
	CHECK_INT(notify_new(e, s.url, &n), ==, 0);
	notify_set_retry(n, 5, 5 * MSEC);
	CHECK_INT(notify_send(n, "failed", "nginx.service still down", NULL), ==, 0);
	CHECK(run_until(e, reached, &(Want){.n = n, .failed = 1}, 5000));
	notify_stats(n, &st);
	CHECK_INT(s.n_reqs, ==, 5);
	CHECK_INT(st.retries, ==, 4);
	CHECK_INT(st.sent, ==, 0);
	n = notify_free(n);
	srv_stop(&s);

	/* A 4xx other than 429 will not pass on a second try: failed at once. */
	srv_start(e, &s, bad_request, ELEMENTSOF(bad_request));
	CHECK_INT(notify_new(e, s.url, &n), ==, 0);
	notify_set_retry(n, 5, 5 * MSEC);
	CHECK_INT(notify_send(n, "escalated", "x", NULL), ==, 0);
	CHECK(run_until(e, reached, &(Want){.n = n, .failed = 1}, 5000));
	notify_stats(n, &st);
	CHECK_INT(s.n_reqs, ==, 1);
	CHECK_INT(st.retries, ==, 0);
	n = notify_free(n);
	srv_stop(&s);

	/* 429 is "later", not "never". */
	srv_start(e, &s, too_many, ELEMENTSOF(too_many));
	CHECK_INT(notify_new(e, s.url, &n), ==, 0);
	notify_set_retry(n, 5, 5 * MSEC);
	CHECK_INT(notify_send(n, "awaiting_approval", "x", NULL), ==, 0);
	CHECK(run_until(e, reached, &(Want){.n = n, .sent = 1}, 5000));
	notify_stats(n, &st);
	CHECK_INT(s.n_reqs, ==, 3);
	CHECK_INT(st.retries, ==, 2);
	n = notify_free(n);
	srv_stop(&s);

	/* Nobody listening: a transport error, retried, then failed. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &alen), ==, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", (unsigned)ntohs(a.sin_port));
	close(fd);
	CHECK_INT(notify_new(e, url, &n), ==, 0);
	notify_set_retry(n, 3, 5 * MSEC);
	CHECK_INT(notify_send(n, "healed", "x", NULL), ==, 0);
	CHECK(run_until(e, reached, &(Want){.n = n, .failed = 1}, 5000));
	notify_stats(n, &st);
	CHECK_INT(st.retries, ==, 2);
	CHECK_INT(st.sent, ==, 0);
	n = notify_free(n);
	sd_event_unref(e);
}

TEST(test_queue_bound)
{
	sd_event *e = NULL;
	Notifier *n = NULL;
	NotifyStats st;
	char text[32];
	Srv s;

	CHECK_INT(sd_event_new(&e), >=, 0);
	srv_start(e, &s, NULL, 0);
	s.hold = true;
	CHECK_INT(notify_new(e, s.url, &n), ==, 0);
	/* One goes out at once; 100 wait; each further one pushes out the oldest waiting. */
	for (int i = 0; i < 150; i++) {
		snprintf(text, sizeof(text), "msg %d", i);
		CHECK_INT(notify_send(n, "healed", text, NULL), ==, 0);
	}
	notify_stats(n, &st);
	CHECK_INT(st.dropped, ==, 150 - 1 - NOTIFY_QUEUE_MAX);
	CHECK_INT(st.queued, ==, 1 + NOTIFY_QUEUE_MAX);
	CHECK(run_until(e, reached, &(Want){.n = n, .s = &s, .reqs = 1}, 5000));
	srv_release(&s);
	CHECK(run_until(e, reached, &(Want){.n = n, .sent = 1 + NOTIFY_QUEUE_MAX}, 10000));
	notify_stats(n, &st);
	CHECK_INT(st.sent, ==, 1 + NOTIFY_QUEUE_MAX);
	CHECK_INT(st.queued, ==, 0);
	CHECK_INT(s.n_reqs, ==, 1 + NOTIFY_QUEUE_MAX);
	/* In order, the oldest waiting ones gone. */
	if (s.n_reqs == 1 + NOTIFY_QUEUE_MAX) {
		CHECK_CONTAINS(s.reqs[0].body, "\"text\":\"msg 0\"");
		CHECK_CONTAINS(s.reqs[1].body, "\"text\":\"msg 50\"");
		CHECK_CONTAINS(s.reqs[NOTIFY_QUEUE_MAX].body, "\"text\":\"msg 149\"");
	}
	notify_free(n);
	srv_stop(&s);
	sd_event_unref(e);
}

TEST(test_free_in_flight)
{
	static const int unavailable[] = {503};
	sd_event *e = NULL;
	Notifier *n = NULL;
	Srv s;

	CHECK_INT(sd_event_new(&e), >=, 0);
	/* A call on the wire, unanswered, and more waiting behind it. */
	srv_start(e, &s, NULL, 0);
	s.hold = true;
	CHECK_INT(notify_new(e, s.url, &n), ==, 0);
	CHECK_INT(notify_send(n, "healed", "first", NULL), ==, 0);
	CHECK_INT(notify_send(n, "healed", "second", cJSON_CreateObject()), ==, 0);
	CHECK(run_until(e, reached, &(Want){.n = n, .s = &s, .reqs = 1}, 5000));
	CHECK(notify_free(n) == NULL);
	/* The connection is closed, and nothing of n runs on the loop any more. */
	CHECK(run_until(e, reached, &(Want){.s = &s, .closed = 1}, 5000));
	for (int i = 0; i < 5; i++)
		sd_event_run(e, 10 * MSEC);
	CHECK_INT(s.n_reqs, ==, 1);
	srv_stop(&s);

	/* Waiting for a retry: the timer goes with it. */
	srv_start(e, &s, unavailable, ELEMENTSOF(unavailable));
	CHECK_INT(notify_new(e, s.url, &n), ==, 0);
	notify_set_retry(n, 5, 20 * MSEC);
	CHECK_INT(notify_send(n, "failed", "x", NULL), ==, 0);
	CHECK(run_until(e, reached, &(Want){.n = n, .retries = 1}, 5000));
	CHECK(notify_free(n) == NULL);
	for (int i = 0; i < 10; i++)
		sd_event_run(e, 10 * MSEC);
	CHECK_INT(s.n_reqs, ==, 1);
	srv_stop(&s);
	sd_event_unref(e);
}

TEST(test_send_refused)
{
	char long_text[NOTIFY_TEXT_MAX + 2];
	sd_event *e = NULL;
	Notifier *n = NULL;
	NotifyStats st;

	CHECK_INT(sd_event_new(&e), >=, 0);
	CHECK_INT(notify_new(e, "http://127.0.0.1:9/never", &n), ==, 0);
	/* Refused, and fields freed all the same (the leak checker watches). */
	CHECK_INT(notify_send(n, "rebooted", "x", cJSON_CreateObject()), ==, -EINVAL);
	CHECK_INT(notify_send(n, NULL, "x", cJSON_CreateObject()), ==, -EINVAL);
	CHECK_INT(notify_send(n, "healed", NULL, cJSON_CreateObject()), ==, -EINVAL);
	CHECK_INT(notify_send(n, "healed", "x", cJSON_CreateArray()), ==, -EINVAL);
	CHECK_INT(notify_send(NULL, "healed", "x", cJSON_CreateObject()), ==, -EINVAL);
	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	CHECK_INT(notify_send(n, "healed", long_text, cJSON_CreateObject()), ==, -E2BIG);
	long_text[NOTIFY_TEXT_MAX] = '\0';
	cJSON *big = cJSON_CreateObject();
	char *blob = calloc(1, NOTIFY_BODY_MAX + 1);

	memset(blob, 'b', NOTIFY_BODY_MAX);
	cJSON_AddStringToObject(big, "output", blob);
	free(blob);
	CHECK_INT(notify_send(n, "healed", long_text, big), ==, -E2BIG);
	notify_stats(n, &st);
	CHECK_INT(st.queued, ==, 0);
	notify_free(n);
	sd_event_unref(e);
}

int main(void)
{
	if (gethostname(hostname, sizeof(hostname) - 1) < 0)
		return 2;
	/* A hang fails the run instead of stalling the suite. */
	alarm(60);
	RUN(test_url_rules);
	RUN(test_retry_then_delivered);
	RUN(test_give_up);
	RUN(test_queue_bound);
	RUN(test_free_in_flight);
	RUN(test_send_refused);
	return harness_finish();
}
