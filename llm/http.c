/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "common/util.h"
#include "llm/http.h"

struct LlmHttp {
	sd_event *event;
	CURLM *multi;
	sd_event_source *timer;
	LlmHttpCall *calls;   /* running calls, for llm_http_free() */
	unsigned dispatching; /* inside a done callback */
	bool dead;	      /* freed from a callback: really freed once it returns */
};

struct LlmHttpCall {
	LlmHttp *h;
	LlmHttpCall *next, *prev;
	CURL *curl;
	struct curl_slist *headers;
	char *buf;
	size_t len, cap, max;
	bool too_big;
	char retry_after[64];
	uint64_t t0;
	llm_http_done_fn done;
	void *userdata;
	char errbuf[CURL_ERROR_SIZE];
};

/* Takes c out of the multi handle and the list; c itself stays. */
static void call_detach(LlmHttpCall *c)
{
	LlmHttp *h = c->h;

	if (!h)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (h->calls == c)
		h->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	if (c->curl)
		curl_multi_remove_handle(h->multi, c->curl);
	c->h = NULL;
}

static void call_free(LlmHttpCall *c)
{
	call_detach(c);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->buf);
	free(c);
}

static void http_destroy(LlmHttp *h);

void llm_http_cancel(LlmHttpCall *c)
{
	if (c)
		call_free(c);
}

static void check_finished(LlmHttp *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		LlmHttpCall *c = NULL;
		LlmHttpResult r = {0};

		if (m->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c) != CURLE_OK ||
		    !c)
			continue;
		r.curl_code = (int)m->data.result;
		r.timed_out = m->data.result == CURLE_OPERATION_TIMEDOUT;
		r.too_big = c->too_big;
		r.error = r.curl_code
				  ? (c->errbuf[0] ? c->errbuf : curl_easy_strerror(m->data.result))
				  : NULL;
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r.status);
		r.body = c->buf ? c->buf : "";
		r.len = c->len;
		r.retry_after = c->retry_after[0] ? c->retry_after : NULL;
		r.elapsed_usec = util_now_usec() - c->t0;
		/*
		 * Detached first: the callback may free the whole LlmHttp (a
		 * client shutting down from its own completion), and nothing of
		 * h is touched after it returns but the dead flag.
		 */
		call_detach(c);
		h->dispatching++;
		c->done(&r, c->userdata);
		h->dispatching--;
		call_free(c);
		if (h->dead) {
			http_destroy(h);
			return;
		}
	}
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	LlmHttp *h = userdata;
	int action = 0, running;

	(void)s;
	if (revents & (EPOLLIN | EPOLLPRI))
		action |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		action |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		action |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, action, &running);
	check_finished(h);
	return 0;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	LlmHttp *h = userp;
	sd_event_source *io = socketp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (io) {
			sd_event_source_disable_unref(io);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (io) {
		if (sd_event_source_set_io_events(io, events) < 0 ||
		    sd_event_source_set_enabled(io, SD_EVENT_ON) < 0)
			return -1;
		return 0;
	}
	if (sd_event_add_io(h->event, &io, s, events, on_io, h) < 0)
		return -1;
	(void)sd_event_source_set_description(io, "llm-curl-socket");
	if (curl_multi_assign(h->multi, s, io) != CURLM_OK) {
		sd_event_source_disable_unref(io);
		return -1;
	}
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	LlmHttp *h = userdata;
	int running;

	(void)s;
	(void)usec;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_finished(h);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	LlmHttp *h = userp;

	(void)multi;
	if (timeout_ms < 0)
		return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	if (sd_event_source_set_time_relative(h->timer, (uint64_t)timeout_ms * USEC_PER_MSEC) < 0 ||
	    sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT) < 0)
		return -1;
	return 0;
}

int llm_http_new(sd_event *e, LlmHttp **ret)
{
	static bool global;
	LlmHttp *h;
	int r;

	if (!global) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		global = true;
	}
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->event = sd_event_ref(e);
	h->multi = curl_multi_init();
	if (!h->multi) {
		llm_http_free(h);
		return -ENOMEM;
	}
	/*
	 * curl's timer drives every transfer step (connect, the first bytes,
	 * timeouts): sd-event reads accuracy 0 as 250 ms of slack, which turned
	 * a 1 ms loopback call into 240 ms. 1 ms keeps it near exact; the
	 * accuracy set here holds for every later set_time().
	 */
	r = sd_event_add_time_relative(e, &h->timer, CLOCK_MONOTONIC, 0, LLM_TIMER_ACCURACY_USEC,
				       on_timer, h);
	if (r >= 0)
		r = sd_event_source_set_description(h->timer, "llm-curl-timer");
	if (r >= 0)
		r = sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
	if (r < 0) {
		llm_http_free(h);
		return r;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*ret = h;
	return 0;
}

static void http_destroy(LlmHttp *h)
{
	while (h->calls)
		call_free(h->calls);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	sd_event_source_disable_unref(h->timer);
	sd_event_unref(h->event);
	free(h);
}

LlmHttp *llm_http_free(LlmHttp *h)
{
	if (!h)
		return NULL;
	if (h->dispatching) {
		/* Called from a done callback: finish when it returns. */
		while (h->calls)
			call_free(h->calls);
		h->dead = true;
		return NULL;
	}
	http_destroy(h);
	return NULL;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *userdata)
{
	LlmHttpCall *c = userdata;
	size_t n = size * nmemb;
	int r = util_buf_append(&c->buf, &c->len, &c->cap, c->max, p, n);

	if (r == -E2BIG)
		c->too_big = true;
	return r < 0 ? 0 : n; /* 0 aborts the transfer */
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userdata)
{
	LlmHttpCall *c = userdata;
	size_t n = size * nmemb;

	if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		size_t i = 12, k = 0;

		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		while (i < n && p[i] != '\r' && p[i] != '\n' && k + 1 < sizeof c->retry_after)
			c->retry_after[k++] = p[i++];
		c->retry_after[k] = '\0';
	}
	return n;
}

int llm_http_post(LlmHttp *h, const LlmHttpRequest *req, uint64_t timeout_usec, size_t max_body,
		  llm_http_done_fn done, void *userdata, LlmHttpCall **ret)
{
	LlmHttpCall *c = calloc(1, sizeof *c);
	long timeout_ms = (long)(timeout_usec / USEC_PER_MSEC);
	int ok = 1;

	if (!c)
		return -ENOMEM;
	c->h = h;
	c->max = max_body;
	c->done = done;
	c->userdata = userdata;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		struct curl_slist *n = curl_slist_append(c->headers, req->headers[i]);

		if (!n) {
			ok = 0;
			break;
		}
		c->headers = n;
	}
	ok = ok && curl_easy_setopt(c->curl, CURLOPT_URL, req->url) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			      timeout_ms < 10000 ? timeout_ms : 10000L) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_COPYPOSTFIELDS, req->body) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "healer/0.1") == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK &&
	     curl_easy_setopt(c->curl, CURLOPT_PRIVATE, c) == CURLE_OK;
	/*
	 * Plain http:// is allowed to loopback only; a proxy from the
	 * environment would carry the key and the evidence off the host in
	 * clear. (https goes through a proxy as an end-to-end TLS tunnel.)
	 */
	if (ok && strncmp(req->url, "http://", 7) == 0)
		ok = curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*") == CURLE_OK;
	if (!ok) {
		curl_easy_cleanup(c->curl);
		curl_slist_free_all(c->headers);
		free(c);
		return -EINVAL;
	}
	if (curl_multi_add_handle(h->multi, c->curl) != CURLM_OK) {
		curl_easy_cleanup(c->curl);
		curl_slist_free_all(c->headers);
		free(c);
		return -EIO;
	}
	c->t0 = util_now_usec();
	c->next = h->calls;
	if (h->calls)
		h->calls->prev = c;
	h->calls = c;
	if (ret)
		*ret = c;
	return 0;
}
