/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by api/server.c (HTTP, auth, limits) and api/routes.c (the endpoints). */

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "api/api.h"
#include "common/util.h"

typedef struct Request Request;

/*
 * The server answers for the live daemon (d set), or is a read-only view of
 * a store file (d NULL, view_file set): the routes read store and metrics,
 * never d, unless the route is marked live, and those a view refuses in
 * the dispatcher before any handler runs.
 */
struct ApiServer {
	Daemon *d; /* NULL in a view */
	sd_event *event;
	Store *store;
	Metrics *metrics;  /* NULL in a view: nothing counted, /metrics refused */
	char *view_file;   /* a view's store file */
	char *listen_name; /* how errors name the listen setting: "[api] listen", "--listen" */
	struct MHD_Daemon *mhd;
	sd_event_source *io, *timer, *run_soon;
	char *token;
	char *listen;		/* as configured */
	char *host, *host_port; /* what a Host header may say: "127.0.0.1", "127.0.0.1:8099" */
	bool unix_socket;
	char *unix_path;
	Request *requests;		    /* every request in flight (suspended ones included) */
	uint64_t window_start, window_used; /* the API's share of the loop */
};

struct Request {
	ApiServer *api;
	Request *prev, *next;
	struct MHD_Connection *conn;
	const char *method, *url;
	char *body;
	size_t body_len;
	bool too_big;
	bool suspended;
	bool answered;
	int early_code; /* refused before the body was read (0: none) */
	char *early_error;
	const struct Route *route;
	char **params; /* path parameters ({id}) */
	size_t n_params;
	/* A waiting request: what it waits for and when it gives up. */
	DaemonWaiter *waiter;
	sd_event_source *deadline;
	int64_t wait_attempt;
	cJSON *held;		      /* a reply being completed while suspended */
	struct MHD_Response *pending; /* the answer to queue once resumed */
	unsigned pending_code;
};

typedef enum RouteAuth {
	AUTH_OPEN,  /* /healthz, /metrics, the dashboard's files */
	AUTH_READ,  /* a token unless public_reads */
	AUTH_WRITE, /* always a token */
} RouteAuth;

/*
 * A handler answers with api_reply*() and returns MHD_YES, or suspends the
 * request (api_suspend) and answers later with api_resume_reply().
 */
typedef enum MHD_Result (*route_fn)(Request *q);

typedef struct Route {
	const char *method;
	const char *pattern; /* "{}" matches one path segment of digits */
	RouteAuth auth;
	route_fn handler;
	bool body;		  /* takes a request body */
	const char *content_type; /* the body's required type (prefix), or NULL */
	/*
	 * Why only the live daemon can answer it (it acts, or reads what only
	 * the running daemon knows): a read-only view refuses it with this
	 * text. NULL: a view answers it from its store.
	 */
	const char *live;
} Route;

extern const Route api_routes[];
extern const size_t api_n_routes;

/* Replies (each takes ownership of what it is given, and queues the response). */
enum MHD_Result api_reply_json(Request *q, unsigned code, cJSON *o);
/* {"status":"error","error":msg} with code; extra (may be NULL) merged in. */
/* JSON with an ETag header. */
enum MHD_Result api_reply_etag(Request *q, unsigned code, cJSON *o, const char *etag);
enum MHD_Result api_reply_error(Request *q, unsigned code, const char *msg, cJSON *extra);
enum MHD_Result api_reply_text(Request *q, unsigned code, const char *type, const char *text,
			       size_t len, bool copy);
/* {"status":"success"} with o's members merged in (o may be NULL). */
cJSON *api_success(cJSON *o);

/* Suspends q until api_resume_*(); a deadline of seconds answers with on_deadline. */
int api_suspend(Request *q, unsigned seconds, sd_event_time_handler_t on_deadline);
/* Answers a suspended request and resumes it. */
void api_resume_json(Request *q, unsigned code, cJSON *o);

/* The value of a query argument, or NULL. */
const char *api_query(Request *q, const char *name);
const char *api_header(Request *q, const char *name);
/* The request body parsed as a JSON object, or NULL after answering 400 itself. */
cJSON *api_body_object(Request *q);
