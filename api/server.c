/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd on the daemon's sd-event loop: MHD runs without threads in
 * epoll mode, its epoll fd is one io source and its timeout one timer, so a
 * request is served between journal batches and never blocks them. This
 * file holds the transport: limits, the Host check, authentication, the
 * flat dispatcher and the replies. The endpoints are in routes.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "healer/log.h"
#include "healer/metrics.h"

#define CONNECTIONS_MAX	     64
#define CONNECTIONS_PER_IP   32
#define CONNECTION_TIMEOUT_S 10
#define CONNECTION_MEMORY    (32 * 1024)   /* headers and buffers; bodies are copied out */
#define DISCARD_MAX	     (1024 * 1024) /* a refused body read past this closes the link */
#define URL_MAX		     2048
#define API_WINDOW_USEC	     (10 * 1000) /* the API may take half of each such window */

static const char *const security_headers[][2] = {
	{"Cache-Control", "no-store"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
};

/* *ret = the formatted message (NULL when memory ran out). */
_printf_(2, 3) static void set_error(char **ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret, fmt, ap) < 0)
		*ret = NULL;
	va_end(ap);
}

/* ---- replies ---- */

static void count_reply(Request *q, unsigned code)
{
	char c[8];

	(void)snprintf(c, sizeof c, "%u", code);
	metrics_add(q->api->metrics, M_API_REQUESTS, 1, c, NULL);
}

static enum MHD_Result queue(Request *q, unsigned code, struct MHD_Response *resp)
{
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	for (size_t i = 0; i < ELEMENTSOF(security_headers); i++)
		(void)MHD_add_response_header(resp, security_headers[i][0], security_headers[i][1]);
	if (code == MHD_HTTP_UNAUTHORIZED)
		(void)MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"healer\"");
	count_reply(q, code);
	q->answered = true;
	r = MHD_queue_response(q->conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}

static struct MHD_Response *json_response(cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	struct MHD_Response *resp;

	cJSON_Delete(o);
	if (!text)
		text = strdup("{\"status\":\"error\",\"error\":\"out of memory\"}");
	if (!text)
		return NULL;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	(void)MHD_add_response_header(resp, "Content-Type", "application/json");
	return resp;
}

cJSON *api_success(cJSON *o)
{
	cJSON *top = cJSON_CreateObject(), *c;

	if (!top) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(top, "status", "success");
	while (o && (c = o->child)) {
		cJSON_DetachItemViaPointer(o, c);
		cJSON_AddItemToObject(top, c->string, c);
	}
	cJSON_Delete(o);
	return top;
}

enum MHD_Result api_reply_json(Request *q, unsigned code, cJSON *o)
{
	return queue(q, code, json_response(o));
}

enum MHD_Result api_reply_etag(Request *q, unsigned code, cJSON *o, const char *etag)
{
	struct MHD_Response *resp = json_response(o);

	if (resp)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	return queue(q, code, resp);
}

static cJSON *error_object(const char *msg, cJSON *extra)
{
	cJSON *o = cJSON_CreateObject(), *c;

	if (!o) {
		cJSON_Delete(extra);
		return NULL;
	}
	cJSON_AddStringToObject(o, "status", "error");
	cJSON_AddStringToObject(o, "error", msg);
	while (extra && (c = extra->child)) {
		cJSON_DetachItemViaPointer(extra, c);
		cJSON_AddItemToObject(o, c->string, c);
	}
	cJSON_Delete(extra);
	return o;
}

enum MHD_Result api_reply_error(Request *q, unsigned code, const char *msg, cJSON *extra)
{
	return api_reply_json(q, code, error_object(msg, extra));
}

enum MHD_Result api_reply_text(Request *q, unsigned code, const char *type, const char *text,
			       size_t len, bool copy)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)text, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);

	if (!resp)
		return MHD_NO;
	(void)MHD_add_response_header(resp, "Content-Type", type);
	if (strncmp(type, "text/html", 9) == 0 || strncmp(type, "text/css", 8) == 0 ||
	    strncmp(type, "text/javascript", 15) == 0)
		(void)MHD_add_response_header(
			resp, "Content-Security-Policy",
			"default-src 'none'; script-src 'self'; style-src 'self'; "
			"connect-src 'self'; img-src 'self'; frame-ancestors 'none'; "
			"base-uri 'none'; form-action 'none'");
	return queue(q, code, resp);
}

const char *api_query(Request *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *api_header(Request *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

cJSON *api_body_object(Request *q)
{
	cJSON *o;

	if (!q->body || q->body_len == 0) {
		api_reply_error(q, MHD_HTTP_BAD_REQUEST, "the request needs a JSON object body",
				NULL);
		return NULL;
	}
	/* cJSON would end the string there, and the rest would quietly vanish. */
	if (memmem(q->body, q->body_len, "\\u0000", 6) || memchr(q->body, '\0', q->body_len)) {
		api_reply_error(q, MHD_HTTP_BAD_REQUEST, "the body holds a NUL character", NULL);
		return NULL;
	}
	o = cJSON_ParseWithLength(q->body, q->body_len);
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		api_reply_error(q, MHD_HTTP_BAD_REQUEST,
				"the body is not a JSON object (malformed, or nested too deeply)",
				NULL);
		return NULL;
	}
	return o;
}

/* ---- the loop ---- */

static void rearm(ApiServer *a)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(a->mhd, &ms) == MHD_YES) {
		(void)sd_event_source_set_time_relative(a->timer, ms * USEC_PER_MSEC);
		(void)sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
	} else {
		(void)sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
	}
}

/*
 * Requests go before the journal and the attempts, so that an answer waits
 * for at most one piece of other work; but the API may take only half of
 * each short window of the loop, so that a flood of requests cannot starve
 * detection. Past its share it queues as an equal until the window turns.
 */
static void run(ApiServer *a)
{
	uint64_t t0 = util_now_usec(), t1;

	(void)MHD_run(a->mhd);
	rearm(a);
	t1 = util_now_usec();
	if (t1 - a->window_start >= API_WINDOW_USEC) {
		a->window_start = t1;
		a->window_used = 0;
	}
	a->window_used += t1 - t0;
	(void)sd_event_source_set_priority(a->io, a->window_used < API_WINDOW_USEC / 2
							  ? SD_EVENT_PRIORITY_IMPORTANT
							  : SD_EVENT_PRIORITY_NORMAL);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	run(userdata);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	run(userdata);
	return 0;
}

static int on_run_soon(sd_event_source *s, void *userdata)
{
	(void)s;
	run(userdata);
	return 0;
}

int api_suspend(Request *q, unsigned seconds, sd_event_time_handler_t on_deadline)
{
	int r = sd_event_add_time_relative(q->api->event, &q->deadline, CLOCK_MONOTONIC,
					   (uint64_t)seconds * USEC_PER_SEC, USEC_PER_MSEC,
					   on_deadline, q);

	if (r < 0)
		return r;
	MHD_suspend_connection(q->conn);
	q->suspended = true;
	return 0;
}

void api_resume_json(Request *q, unsigned code, cJSON *o)
{
	if (!q->suspended) {
		cJSON_Delete(o);
		return;
	}
	q->deadline = sd_event_source_disable_unref(q->deadline);
	q->pending = json_response(o);
	q->pending_code = code;
	q->suspended = false;
	MHD_resume_connection(q->conn);
	(void)sd_event_source_set_enabled(q->api->run_soon, SD_EVENT_ONESHOT);
}

/* ---- requests ---- */

static void request_free(Request *q)
{
	ApiServer *a = q->api;

	if (q->prev)
		q->prev->next = q->next;
	else
		a->requests = q->next;
	if (q->next)
		q->next->prev = q->prev;
	daemon_waiter_cancel(q->waiter);
	sd_event_source_disable_unref(q->deadline);
	if (q->pending)
		MHD_destroy_response(q->pending);
	for (size_t i = 0; i < q->n_params; i++)
		free(q->params[i]);
	free(q->params);
	free(q->body);
	cJSON_Delete(q->held);
	free(q->early_error);
	free(q);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	if (*con_cls)
		request_free(*con_cls);
	*con_cls = NULL;
}

/* Whether path matches pattern, collecting "{}" segments (digits only). */
static bool match(const char *pattern, const char *path, char ***params, size_t *n)
{
	const char *p = pattern, *u = path;

	*n = 0;
	while (*p && *u) {
		if (p[0] == '{' && p[1] == '}') {
			size_t len = strspn(u, "0123456789");
			char **np;

			if (len == 0 || len > 18)
				return false;
			np = realloc(*params, (*n + 1) * sizeof **params);
			if (!np)
				return false;
			*params = np;
			if (!((*params)[(*n)++] = strndup(u, len)))
				return false;
			p += 2;
			u += len;
		} else if (*p++ != *u++) {
			return false;
		}
	}
	return !*p && !*u;
}

static void params_clear(char **params, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(params[i]);
}

/* The route for method and path; *ret_allow lists the methods of the path when none fits. */
static const Route *find_route(Request *q, const char *path, char *allow, size_t allow_len)
{
	const Route *found = NULL;
	size_t n;

	allow[0] = '\0';
	for (size_t i = 0; i < api_n_routes && !found; i++) {
		const Route *rt = &api_routes[i];

		n = 0;
		if (!match(rt->pattern, path, &q->params, &n)) {
			params_clear(q->params, n);
			continue;
		}
		if (strcmp(rt->method, q->method) == 0) {
			found = rt;
			q->n_params = n;
			break;
		}
		params_clear(q->params, n);
		if (!strstr(allow, rt->method))
			(void)snprintf(allow + strlen(allow), allow_len - strlen(allow), "%s%s",
				       allow[0] ? ", " : "", rt->method);
	}
	return found;
}

/* Whether the Host header names this server: its address, or localhost, with or without port. */
static bool host_ok(Request *q)
{
	ApiServer *a = q->api;
	const char *h = api_header(q, MHD_HTTP_HEADER_HOST);
	const char *port;

	if (a->unix_socket)
		return true; /* no browser reaches a UNIX socket */
	if (!h)
		return false;
	if (strcmp(h, a->host) == 0 || strcmp(h, a->host_port) == 0 || strcmp(h, "localhost") == 0)
		return true;
	port = strrchr(a->host_port, ':');
	return strncmp(h, "localhost:", 10) == 0 && port && strcmp(h + 9, port) == 0;
}

/* Compares in time that depends only on the lengths, never on where they differ. */
static bool token_equal(const char *given, const char *token)
{
	size_t gn = strlen(given), tn = strlen(token);
	unsigned char diff = gn != tn;

	for (size_t i = 0; i < tn; i++)
		diff |= (unsigned char)(token[i] ^ (i < gn ? given[i] : 0));
	return diff == 0;
}

static bool authorized(Request *q, RouteAuth need)
{
	const char *h;

	if (need == AUTH_OPEN)
		return true;
	/* A view has no healer.conf to allow public reads: its reads need the token. */
	if (need == AUTH_READ && q->api->d &&
	    settings_config(daemon_settings(q->api->d))->api_public_reads)
		return true;
	h = api_header(q, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return token_equal(h, q->api->token);
}

/* Checks made before any body is read; answers and returns false when refused. */
static bool admit(Request *q, const char *url)
{
	char allow[64], path[URL_MAX + 1];
	const char *len, *type;
	size_t n = strcspn(url, "?");

	if (n > URL_MAX) {
		api_reply_error(q, MHD_HTTP_URI_TOO_LONG, "the URL is too long", NULL);
		return false;
	}
	memcpy(path, url, n);
	path[n] = '\0';
	if (!host_ok(q)) {
		api_reply_error(q, MHD_HTTP_MISDIRECTED_REQUEST,
				"the Host header must name this server (its address or "
				"localhost)",
				NULL);
		return false;
	}
	q->route = find_route(q, path, allow, sizeof allow);
	if (!q->route && allow[0]) {
		struct MHD_Response *resp = json_response(error_object("method not allowed", NULL));

		if (resp)
			(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
		queue(q, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
		return false;
	}
	if (!q->route) {
		api_reply_error(q, MHD_HTTP_NOT_FOUND, "no such endpoint", NULL);
		return false;
	}
	if (!authorized(q, q->route->auth)) {
		api_reply_error(q, MHD_HTTP_UNAUTHORIZED,
				q->api->d
					? "a valid token is needed: send 'Authorization: Bearer "
					  "TOKEN' with the token from [api] token_file"
					: "a valid token is needed: send 'Authorization: Bearer "
					  "TOKEN' with the token from healer serve's --token-file",
				NULL);
		return false;
	}
	/*
	 * The one gate of a read-only view: a route that acts or needs the
	 * daemon never reaches its handler, whatever its body would say.
	 */
	if (!q->api->d && q->route->live) {
		char msg[512];

		(void)util_snprintf(msg, sizeof msg, "read-only view of replay %s: %s",
				    q->api->view_file, q->route->live);
		api_reply_error(
			q, strcmp(q->method, "GET") == 0 ? MHD_HTTP_NOT_FOUND : MHD_HTTP_FORBIDDEN,
			msg, NULL);
		return false;
	}
	len = api_header(q, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len && strtoull(len, NULL, 10) > API_BODY_MAX) {
		api_reply_error(q, MHD_HTTP_CONTENT_TOO_LARGE,
				"the body is larger than 64 KiB; nothing was changed", NULL);
		return false;
	}
	type = api_header(q, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (q->route->content_type && len && strtoull(len, NULL, 10) > 0 &&
	    (!type || strncasecmp(type, q->route->content_type, strlen(q->route->content_type)))) {
		char msg[128];

		(void)snprintf(msg, sizeof msg, "the body must be %s", q->route->content_type);
		api_reply_error(q, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg, NULL);
		return false;
	}
	return true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	ApiServer *a = cls;
	Request *q = *con_cls;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof *q);
		if (!q)
			return MHD_NO;
		*q = (Request){.api = a, .conn = conn, .method = method, .url = url};
		q->next = a->requests;
		if (a->requests)
			a->requests->prev = q;
		a->requests = q;
		*con_cls = q;
		if (!admit(q, url))
			return MHD_YES;
		return MHD_YES;
	}
	if (q->pending) {
		struct MHD_Response *resp = TAKE_PTR(q->pending);

		return queue(q, q->pending_code, resp);
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (q->answered || q->too_big || q->body_len + n > API_BODY_MAX) {
			/* Read and dropped; a client that keeps sending is cut off. */
			q->too_big = !q->answered;
			q->body_len += n;
			return q->body_len > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		if (!q->body && !(q->body = malloc(API_BODY_MAX + 1)))
			return MHD_NO;
		memcpy(q->body + q->body_len, upload_data, n);
		q->body_len += n;
		q->body[q->body_len] = '\0';
		return MHD_YES;
	}
	if (q->answered)
		return MHD_YES;
	if (q->too_big)
		return api_reply_error(q, MHD_HTTP_CONTENT_TOO_LARGE,
				       "the body is larger than 64 KiB; nothing was changed", NULL);
	if (!q->route->body && q->body_len > 0)
		return api_reply_error(q, MHD_HTTP_BAD_REQUEST, "this endpoint takes no body",
				       NULL);
	return q->route->handler(q);
}

_printf_(2, 0) static void on_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	(void)vsnprintf(buf, sizeof buf, fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_msg(LOG_DEBUG, "api: %s", buf);
}

/* ---- the listening socket ---- */

static int listen_unix(ApiServer *a, const char *path, int *ret_fd, char **ret_error)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
	/* A socket left by an earlier run goes; anything else at that path stays. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			set_error(ret_error, "%s: %s exists and is not a socket", a->listen_name,
				  path);
			return -EEXIST;
		}
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
	umask(old);
	if (r < 0) {
		close(fd);
		set_error(ret_error, "%s: cannot bind %s: %s", a->listen_name, path, strerror(-r));
		return r;
	}
	a->unix_socket = true;
	a->unix_path = strdup(path);
	*ret_fd = fd;
	return 0;
}

static int listen_ip(ApiServer *a, const char *v, int *ret_fd, char **ret_error)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	char host[64];
	const char *colon;
	int fd, one = 1, family;
	unsigned long port;

	if (v[0] == '[') {
		const char *end = strchr(v, ']');

		if (!end || end[1] != ':' || (size_t)(end - v - 1) >= sizeof host)
			return -EINVAL;
		memcpy(host, v + 1, (size_t)(end - v - 1));
		host[end - v - 1] = '\0';
		colon = end + 1;
		family = AF_INET6;
	} else {
		colon = strrchr(v, ':');
		if (!colon || (size_t)(colon - v) >= sizeof host)
			return -EINVAL;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
		family = AF_INET;
	}
	port = strtoul(colon + 1, NULL, 10);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		sl = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		sl = sizeof *s6;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int r = -errno;

		close(fd);
		set_error(ret_error, "%s: cannot bind %s: %s%s", a->listen_name, v, strerror(-r),
			  r == -EADDRINUSE ? " (is another healer running?)" : "");
		return r;
	}
	if (asprintf(&a->host, "%s%s%s", family == AF_INET6 ? "[" : "", host,
		     family == AF_INET6 ? "]" : "") < 0 ||
	    !(a->host_port = strdup(v))) {
		close(fd);
		return -ENOMEM;
	}
	*ret_fd = fd;
	return 0;
}

/* ---- the token ---- */

static int token_make(const char *path, char **ret, char **ret_error)
{
	unsigned char raw[API_TOKEN_BYTES];
	char hex[2 * API_TOKEN_BYTES + 2];
	int fd, r = 0;

	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		return -EIO;
	for (size_t i = 0; i < sizeof raw; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		set_error(ret_error, "%s: cannot create the API token: %s", path, strerror(-r));
		return r;
	}
	hex[2 * API_TOKEN_BYTES] = '\n';
	if (write(fd, hex, 2 * API_TOKEN_BYTES + 1) != 2 * API_TOKEN_BYTES + 1 || fsync(fd) < 0)
		r = -EIO;
	close(fd);
	if (r < 0) {
		(void)unlink(path);
		set_error(ret_error, "%s: cannot write the API token", path);
		return r;
	}
	hex[2 * API_TOKEN_BYTES] = '\0';
	*ret = strdup(hex);
	log_msg(LOG_NOTICE, "Made a new API token in %s", path);
	return *ret ? 0 : -ENOMEM;
}

int api_token_load(const char *path, char **ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	char why[256];
	struct stat st;
	size_t len = 0, n;
	int r;

	*ret = NULL;
	*ret_error = NULL;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return token_make(path, ret, ret_error);
		r = -errno;
		set_error(ret_error, "%s: %s", path, strerror(-r));
		return r;
	}
	r = util_read_trusted_file(path, API_TOKEN_FILE_MAX, &text, &len, why, sizeof why);
	if (r < 0) {
		set_error(ret_error, "%s: %s", path, r == -EPERM ? why : strerror(-r));
		return r;
	}
	if (st.st_mode & 077) {
		set_error(ret_error, "%s: others may read the API token; chmod 600 it", path);
		return -EPERM;
	}
	n = strspn(text, "0123456789abcdefABCDEF");
	if (n < API_TOKEN_MIN_HEX || strspn(text + n, "\r\n") != len - n) {
		set_error(ret_error,
			  "%s: the API token must be at least %d hex digits (128 bits) on one "
			  "line; delete the file to have a new one made",
			  path, API_TOKEN_MIN_HEX);
		return -EINVAL;
	}
	text[n] = '\0';
	*ret = TAKE_PTR(text);
	return 0;
}

/* ---- start and stop ---- */

/* Reads or makes the token, listens, and puts the HTTP server on a->event; a freed on error. */
static int start(ApiServer *a, const char *listen_on, const char *token_path, char **ret_error)
{
	const union MHD_DaemonInfo *info;
	int fd = -1, r;

	if (!(a->listen = strdup(listen_on)) || !a->listen_name) {
		api_free(a);
		return -ENOMEM;
	}
	r = api_token_load(token_path, &a->token, ret_error);
	if (r >= 0)
		r = strncmp(listen_on, "unix:", 5) == 0
			    ? listen_unix(a, listen_on + 5, &fd, ret_error)
			    : listen_ip(a, listen_on, &fd, ret_error);
	if (r >= 0 && listen(fd, 128) < 0)
		r = -errno;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		if (!*ret_error)
			set_error(ret_error, "%s %s: %s", a->listen_name, listen_on, strerror(-r));
		api_free(a);
		return r;
	}
	a->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_access, a, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)CONNECTIONS_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		a->unix_socket ? 0u : (unsigned)CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
		MHD_OPTION_EXTERNAL_LOGGER, on_log, a, MHD_OPTION_END);
	if (!a->mhd) {
		close(fd);
		set_error(ret_error, "%s %s: the HTTP server did not start", a->listen_name,
			  listen_on);
		api_free(a);
		return -EIO;
	}
	info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	r = info ? sd_event_add_io(a->event, &a->io, info->epoll_fd, EPOLLIN, on_io, a) : -EIO;
	if (r >= 0)
		r = sd_event_add_time_relative(a->event, &a->timer, CLOCK_MONOTONIC, USEC_PER_SEC,
					       USEC_PER_MSEC, on_timer, a);
	if (r >= 0)
		r = sd_event_add_defer(a->event, &a->run_soon, on_run_soon, a);
	if (r >= 0)
		r = sd_event_source_set_enabled(a->run_soon, SD_EVENT_OFF);
	if (r < 0) {
		set_error(ret_error, "%s: cannot watch the HTTP server: %s", a->listen_name,
			  strerror(-r));
		api_free(a);
		return r;
	}
	rearm(a);
	log_msg(LOG_INFO, "API listening on %s%s%s", listen_on,
		a->d ? "" : ", a read-only view of ", a->d ? "" : a->view_file);
	return 0;
}

int api_new(Daemon *d, ApiServer **ret, char **ret_error)
{
	const Config *c = settings_config(daemon_settings(d));
	_cleanup_free_ char *token_path = NULL;
	ApiServer *a = calloc(1, sizeof *a);
	int r;

	*ret = NULL;
	*ret_error = NULL;
	if (!a)
		return -ENOMEM;
	*a = (ApiServer){.d = d,
			 .event = daemon_event(d),
			 .store = daemon_store(d),
			 .metrics = daemon_metrics(d),
			 .listen_name = strdup("[api] listen")};
	if (c->api_token_file)
		token_path = strdup(c->api_token_file);
	else if (asprintf(&token_path, "%s/api.token", daemon_state_dir(d)) < 0)
		token_path = NULL;
	if (!token_path) {
		api_free(a);
		return -ENOMEM;
	}
	r = start(a, c->api_listen, token_path, ret_error);
	if (r < 0)
		return r;
	*ret = a;
	return 0;
}

int api_new_view(const ApiViewOptions *o, ApiServer **ret, char **ret_error)
{
	ApiServer *a = calloc(1, sizeof *a);
	int r;

	*ret = NULL;
	*ret_error = NULL;
	if (!a)
		return -ENOMEM;
	*a = (ApiServer){.event = o->event,
			 .store = o->store,
			 .view_file = strdup(o->file),
			 .listen_name = strdup("--listen")};
	if (!a->view_file) {
		api_free(a);
		return -ENOMEM;
	}
	r = start(a, o->listen ? o->listen : API_VIEW_LISTEN, o->token_file, ret_error);
	if (r < 0)
		return r;
	*ret = a;
	return 0;
}

ApiServer *api_free(ApiServer *a)
{
	if (!a)
		return NULL;
	/* Suspended requests hold waiters on the daemon: they go first. */
	for (Request *q = a->requests; q; q = q->next) {
		q->waiter = (daemon_waiter_cancel(q->waiter), NULL);
		if (q->suspended) {
			q->suspended = false;
			MHD_resume_connection(q->conn);
		}
	}
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	while (a->requests)
		request_free(a->requests);
	sd_event_source_disable_unref(a->io);
	sd_event_source_disable_unref(a->timer);
	sd_event_source_disable_unref(a->run_soon);
	if (a->unix_path)
		(void)unlink(a->unix_path);
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	free(a->listen);
	free(a->listen_name);
	free(a->view_file);
	free(a->host);
	free(a->host_port);
	free(a->unix_path);
	free(a);
	return NULL;
}
