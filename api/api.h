/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The REST API: libmicrohttpd driven by the daemon's sd-event loop (its
 * epoll fd is one source; no threads), on [api] listen (127.0.0.1:8099 by
 * default, or a UNIX socket). Every POST and PUT needs the bearer token from
 * [api] token_file (made at first start, 0600); reads need it too unless
 * [api] public_reads = yes; /healthz and /metrics are open. A Host header
 * that is not the listen address or localhost is refused (DNS rebinding).
 * Every reply is JSON, {"status":"success",...} or {"status":"error",
 * "error":"..."}, except /metrics (Prometheus text) and the dashboard.
 */

#include <systemd/sd-event.h>

#include "healer/daemon.h"
#include "healer/store.h"

#define API_BODY_MAX	   (64 * 1024) /* bytes of a request body */
#define API_WAIT_MAX	   120	       /* seconds a ?wait= may hold a request */
#define API_TOKEN_BYTES	   32	       /* random bytes of a generated token */
#define API_TOKEN_MIN_HEX  32	       /* hex digits a token file must hold (128 bits) */
#define API_TOKEN_FILE_MAX 4096
#define API_VIEW_LISTEN	   "127.0.0.1:8098" /* healer serve's default: beside a daemon's 8099 */

typedef struct ApiServer ApiServer;

/*
 * Reads or makes the token and starts serving on d's loop. Returns 0, or
 * -errno with *ret_error (one line: what is wrong and what to do).
 */
int api_new(Daemon *d, ApiServer **ret, char **ret_error);

/*
 * A read-only view of a store file (healer serve: a replay's record, a
 * copied healer.db). The same endpoints and dashboard, answered from store
 * (opened read-only by the caller, who keeps it and the loop until
 * api_free()); no daemon stands behind it. Routes that would act, or that
 * only a live daemon can answer (heal, inject, approve and reject, enable
 * and disable, the whitelist and its test, /metrics), are refused before
 * their handler runs and after the token is checked: 403 for a write, 404
 * for a read, {"status":"error","error":"read-only view of replay FILE:
 * why"}. The status says "mode":"replay-view" and what the record spans.
 * Every read needs the token (there is no public_reads). Errors as
 * api_new().
 */
typedef struct ApiViewOptions {
	sd_event *event;
	Store *store;		/* open read-only */
	const char *file;	/* the store's path, as given: in the status and refusals */
	const char *listen;	/* "ADDR:PORT", "[ADDR]:PORT" or "unix:PATH" */
	const char *token_file; /* made when missing, as api_token_load() does */
} ApiViewOptions;
int api_new_view(const ApiViewOptions *o, ApiServer **ret, char **ret_error);

ApiServer *api_free(ApiServer *a);
static inline void api_freep(ApiServer **a)
{
	*a = api_free(*a);
}

/*
 * The token at path, made when missing (32 random bytes as hex, 0600, never
 * overwritten). A token file that others may read, or that holds fewer than
 * 128 bits, is refused. *ret is the token; errors as api_new().
 */
int api_token_load(const char *path, char **ret, char **ret_error);
