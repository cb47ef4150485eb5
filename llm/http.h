/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * HTTP through libcurl's multi interface driven by an sd-event loop (the
 * pattern of systemd's curl-util): curl's sockets become I/O sources, its
 * timer a time source, and no call ever blocks the loop.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "llm/provider.h"

/*
 * The accuracy of every timer on the path from an incident to a reply
 * (curl's timer, retry waits): sd-event reads 0 as its default slack of
 * 250 ms, not as "exact".
 */
#define LLM_TIMER_ACCURACY_USEC 1000ULL

typedef struct LlmHttp LlmHttp;
typedef struct LlmHttpCall LlmHttpCall;

typedef struct LlmHttpResult {
	int curl_code;	   /* 0 on a completed exchange */
	const char *error; /* curl's words when curl_code != 0 */
	bool timed_out;
	bool too_big;	  /* the body passed max_body; the transfer was cut */
	long status;	  /* HTTP status, 0 when none arrived */
	const char *body; /* NUL-terminated, len bytes */
	size_t len;
	const char *retry_after; /* the Retry-After header, or NULL */
	uint64_t elapsed_usec;
} LlmHttpResult;

/* Called once per call, from the loop; r and its strings live until it returns. */
typedef void (*llm_http_done_fn)(const LlmHttpResult *r, void *userdata);

int llm_http_new(sd_event *e, LlmHttp **ret);
/* Cancels every call still running (their callbacks are not called). */
LlmHttp *llm_http_free(LlmHttp *h);

/*
 * POSTs req. Total time is bounded by timeout_usec, the body by max_body.
 * TLS is verified; only http and https, no redirects. On success *ret
 * (optional) identifies the call until its callback has run.
 */
int llm_http_post(LlmHttp *h, const LlmHttpRequest *req, uint64_t timeout_usec, size_t max_body,
		  llm_http_done_fn done, void *userdata, LlmHttpCall **ret);

/* Stops a running call; its callback is not called. */
void llm_http_cancel(LlmHttpCall *c);
