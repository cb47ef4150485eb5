/* SPDX-License-Identifier: MIT */
/*
 * The commands' side of the REST API: where the daemon listens and the
 * token it wants, read from healer.conf by the core's one loader; one
 * request at a time with libcurl's easy interface (a command does one
 * thing and waits for it); and what a failure means to an administrator,
 * as one message and an exit code.
 *
 * The token is a root secret. It goes into one request header and nowhere
 * else: never printed, never in a URL, wiped from memory when done. Only
 * plain HTTP to the configured address: a proxy named by the environment
 * would carry the token off the host, and a redirect could send it to
 * another server, so neither is followed.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "common/util.h"
#include "healer/cli/cli.h"
#include "healer/settings.h"

#define CONNECT_TIMEOUT_S 2
#define TOTAL_TIMEOUT_S	  30
#define REPLY_MAX	  (16 * 1024 * 1024) /* bytes of a reply; the whitelist is 64 KiB */
#define ETAG_MAX	  256

struct CliApi {
	char *listen;	 /* as configured, for messages */
	char *url;	 /* "http://127.0.0.1:8099", or "http://localhost" over a socket */
	char *unix_path; /* the socket, or NULL */
	char *host;	 /* a Host header that replaces curl's, or NULL */
	char *token_path;
	char *token;	 /* NULL when it could not be read: token_errno says why */
	int token_errno; /* EBADMSG: not a token */
	char *state_dir;
	unsigned timeout_s; /* of the last request, for messages */
	char error[CURL_ERROR_SIZE];
};

CliApi *cli_api_free(CliApi *a)
{
	if (!a)
		return NULL;
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	free(a->token);
	free(a->listen);
	free(a->url);
	free(a->unix_path);
	free(a->host);
	free(a->token_path);
	free(a->state_dir);
	free(a);
	return NULL;
}

void cli_reply_done(CliReply *r)
{
	cJSON_Delete(r->json);
	free(r->body);
	free(r->etag);
	*r = (CliReply){0};
}

const char *cli_api_state_dir(const CliApi *a)
{
	return a->state_dir;
}

const char *cli_api_listen(const CliApi *a)
{
	return a->listen;
}

/*
 * The URL for a listen address the config checked (cfg_valid_listen). A
 * wildcard address is reached on loopback, and then the Host header says
 * localhost, which the server takes besides its own address.
 */
static int address(CliApi *a, const char *listen)
{
	const char *colon;

	if (strncmp(listen, "unix:", 5) == 0) {
		a->unix_path = strdup(listen + 5);
		a->url = strdup("http://localhost");
		return a->unix_path && a->url ? 0 : -ENOMEM;
	}
	colon = strrchr(listen, ':');
	if (!colon)
		return -EINVAL;
	if (strncmp(listen, "0.0.0.0:", 8) == 0 || strncmp(listen, "[::]:", 5) == 0) {
		if (asprintf(&a->url, "http://%s%s", listen[0] == '[' ? "[::1]" : "127.0.0.1",
			     colon) < 0 ||
		    asprintf(&a->host, "Host: localhost%s", colon) < 0)
			return -ENOMEM;
		return 0;
	}
	return asprintf(&a->url, "http://%s", listen) < 0 ? -ENOMEM : 0;
}

/* The token as the daemon makes it: hex digits on one line. Failures are kept, not fatal. */
static void token_read(CliApi *a)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0, n;
	int r = util_read_file(a->token_path, API_TOKEN_FILE_MAX, &text, &len);

	if (r < 0) {
		a->token_errno = r == -E2BIG ? EBADMSG : -r;
		return;
	}
	n = strspn(text, "0123456789abcdefABCDEF");
	if (n < API_TOKEN_MIN_HEX || strspn(text + n, "\r\n") != len - n) {
		explicit_bzero(text, len);
		a->token_errno = EBADMSG;
		return;
	}
	text[n] = '\0';
	a->token = TAKE_PTR(text);
}

int cli_api_open(const char *what, const char *config, CliApi **ret)
{
	SettingsOptions so = {.config_path = config, .config_only = true};
	_cleanup_(settings_unrefp) Settings *s = NULL;
	_cleanup_free_ char *errors = NULL;
	const Config *c;
	CliApi *a;
	int r = settings_load(&so, &s, &errors);

	if (r < 0) {
		cli_print_errors(what, r, errors);
		return r;
	}
	c = settings_config(s);
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	if (!(a->listen = strdup(c->api_listen)) || !(a->state_dir = strdup(c->state_dir)) ||
	    (c->api_token_file ? !(a->token_path = strdup(c->api_token_file))
			       : asprintf(&a->token_path, "%s/api.token", c->state_dir) < 0) ||
	    (r = address(a, c->api_listen)) < 0) {
		fprintf(stderr, "healer %s: %s\n", what, strerror(r < 0 ? -r : ENOMEM));
		cli_api_free(a);
		return r < 0 ? r : -ENOMEM;
	}
	token_read(a);
	*ret = a;
	return 0;
}

/* ---- one request ---- */

typedef struct Sink {
	char *buf;
	size_t len, cap;
	bool over;
	char *etag;
} Sink;

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
	Sink *s = userdata;
	size_t add = size * n;

	int r = util_buf_append(&s->buf, &s->len, &s->cap, REPLY_MAX, p, add);

	if (r == -E2BIG)
		s->over = true;
	return r < 0 ? 0 : add; /* 0: curl stops with CURLE_WRITE_ERROR */
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
	Sink *s = userdata;
	size_t len = size * n, k = 5;

	if (len <= k || strncasecmp(p, "ETag:", k) != 0)
		return len;
	while (k < len && (p[k] == ' ' || p[k] == '\t'))
		k++;
	while (len > k && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
		len--;
	if (len - k <= ETAG_MAX) {
		free(s->etag);
		s->etag = strndup(p + k, len - k);
	}
	return size * n;
}

static void slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

/* The request's headers; NULL on OOM. The token's line is wiped when the list is freed. */
static struct curl_slist *headers(const CliApi *a, const CliRequest *q)
{
	struct curl_slist *l = NULL, *n;
	_cleanup_free_ char *auth = NULL, *type = NULL;
	const char *lines[6];
	size_t k = 0;

	if (a->token && asprintf(&auth, "Authorization: Bearer %s", a->token) < 0)
		return NULL;
	/* Without a body no type; curl would claim a form. */
	if (asprintf(&type, "Content-Type:%s%s", q->body && q->content_type ? " " : "",
		     q->body && q->content_type ? q->content_type : "") < 0) {
		if (auth)
			explicit_bzero(auth, strlen(auth));
		return NULL;
	}
	lines[k++] = "Accept: application/json";
	lines[k++] = "Expect:"; /* no 100-continue round trip: the server reads at once */
	lines[k++] = type;
	if (a->host)
		lines[k++] = a->host;
	if (q->header)
		lines[k++] = q->header;
	if (auth)
		lines[k++] = auth;
	for (size_t i = 0; i < k; i++) {
		n = curl_slist_append(l, lines[i]);
		if (!n) {
			slist_wipe_free(l);
			l = NULL;
			break;
		}
		l = n;
	}
	if (auth)
		explicit_bzero(auth, strlen(auth));
	return l;
}

static bool set_options(CliApi *a, CURL *h, const CliRequest *q, const char *url,
			struct curl_slist *hl, Sink *sink)
{
	bool ok =
		curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http") == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*") == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)a->timeout_s) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_USERAGENT, "healer/" HEALER_VERSION) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_WRITEDATA, sink) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_HEADERDATA, sink) == CURLE_OK &&
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, a->error) == CURLE_OK;

	if (ok && a->unix_path)
		ok = curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, a->unix_path) == CURLE_OK;
	if (ok && strcmp(q->method, "GET") == 0)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	/* POSTFIELDS sends the body (none: Content-Length 0) with POST or PUT alike. */
	ok = ok && curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				    (curl_off_t)(q->body ? q->body_len : 0)) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? q->body : "") == CURLE_OK;
	if (ok && strcmp(q->method, "POST") != 0)
		ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method) == CURLE_OK;
	return ok;
}

/* What a transfer that got no HTTP answer means, as -errno (see cli.h). */
static int transfer_error(CURL *h, CURLcode c, const Sink *sink)
{
	long os_errno = 0;

	switch (c) {
	case CURLE_COULDNT_CONNECT:
		(void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
		/* A stale socket file refuses; a missing one is ENOENT: both mean no daemon. */
		if (os_errno == EACCES || os_errno == EPERM)
			return -EACCES;
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
		return sink->over ? -E2BIG : -ENOMEM;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

int cli_api_request(CliApi *a, const CliRequest *q, CliReply *ret)
{
	static bool global;
	_cleanup_free_ char *url = NULL;
	struct curl_slist *hl = NULL;
	Sink sink = {0};
	CURL *h = NULL;
	CURLcode c;
	long status = 0;
	int r;

	*ret = (CliReply){0};
	a->error[0] = '\0';
	/* A line break would end the header and start another one of the caller's text. */
	if (q->header && strpbrk(q->header, "\r\n"))
		return -EINVAL;
	a->timeout_s = q->timeout_s ? q->timeout_s : TOTAL_TIMEOUT_S;
	if (!global) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		global = true;
	}
	if (asprintf(&url, "%s%s", a->url, q->path) < 0 || !(hl = headers(a, q)) ||
	    !(h = curl_easy_init())) {
		r = -ENOMEM;
		goto out;
	}
	if (!set_options(a, h, q, url, hl, &sink)) {
		r = -EINVAL;
		goto out;
	}
	c = curl_easy_perform(h);
	if (c != CURLE_OK) {
		if (!a->error[0])
			(void)util_snprintf(a->error, sizeof a->error, "%s", curl_easy_strerror(c));
		r = transfer_error(h, c, &sink);
		goto out;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	ret->status = status;
	ret->body = sink.buf ? TAKE_PTR(sink.buf) : strdup("");
	ret->body_len = sink.len;
	ret->etag = TAKE_PTR(sink.etag);
	if (!ret->body) {
		r = -ENOMEM;
		goto out;
	}
	/* A NUL inside would end the text early; such a reply is not the API's. */
	if (ret->body_len > 0 && !memchr(ret->body, '\0', ret->body_len))
		ret->json = cJSON_ParseWithLength(ret->body, ret->body_len);
	r = 0;
out:
	if (h)
		curl_easy_cleanup(h);
	slist_wipe_free(hl);
	free(sink.buf);
	free(sink.etag);
	if (r < 0)
		cli_reply_done(ret);
	return r;
}

/* ---- what went wrong ---- */

static const char *error_text(const CliReply *rep)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(rep->json, "error");

	return cJSON_IsString(e) ? e->valuestring : NULL;
}

static int fail_unauthorized(const CliApi *a, const char *what)
{
	if (a->token_errno == EACCES || a->token_errno == EPERM) {
		fprintf(stderr,
			"healer %s: cannot read the API token in %s: %s; run this as root, or "
			"give your user read access to that file\n",
			what, a->token_path, strerror(a->token_errno));
		return CLI_EXIT_USAGE;
	}
	if (a->token_errno == EBADMSG) {
		fprintf(stderr,
			"healer %s: %s does not hold an API token (hex digits on one line); "
			"delete it and restart the daemon to have a new one made\n",
			what, a->token_path);
		return CLI_EXIT_USAGE;
	}
	if (a->token_errno) {
		fprintf(stderr,
			"healer %s: cannot read the API token in %s: %s ([api] token_file)\n", what,
			a->token_path, strerror(a->token_errno));
		return CLI_EXIT_USAGE;
	}
	fprintf(stderr,
		"healer %s: the daemon refused the API token from %s (HTTP 401); is it the "
		"[api] token_file of the daemon listening on %s?\n",
		what, a->token_path, a->listen);
	return CLI_EXIT_REFUSED;
}

int cli_api_fail(const CliApi *a, const char *what, int r, const CliReply *rep, bool json)
{
	const char *msg;

	switch (r) {
	case 0:
		break;
	case -ECONNREFUSED:
		fprintf(stderr,
			"healer %s: the daemon is not running: nothing listens on %s ([api] "
			"listen); `healer run` or `systemctl start healer` starts it\n",
			what, a->listen);
		return CLI_EXIT_UNREACHABLE;
	case -EACCES:
		fprintf(stderr,
			"healer %s: no permission to connect to %s; run this as root, or give "
			"your user access to the socket\n",
			what, a->listen);
		return CLI_EXIT_UNREACHABLE;
	case -ETIMEDOUT:
		fprintf(stderr, "healer %s: the daemon on %s did not answer within %u s (%s)\n",
			what, a->listen, a->timeout_s, a->error);
		return CLI_EXIT_UNREACHABLE;
	case -ECONNRESET:
		fprintf(stderr,
			"healer %s: the daemon on %s closed the connection without an "
			"answer (%s)\n",
			what, a->listen, a->error);
		return CLI_EXIT_UNREACHABLE;
	case -E2BIG:
		fprintf(stderr, "healer %s: the reply from %s is over the %d MiB cap; ignored\n",
			what, a->listen, REPLY_MAX / (1024 * 1024));
		return CLI_EXIT_REFUSED;
	case -EPROTO:
		fprintf(stderr, "healer %s: cannot talk to the daemon on %s: %s\n", what, a->listen,
			a->error);
		return CLI_EXIT_UNREACHABLE;
	default:
		fprintf(stderr, "healer %s: %s\n", what, strerror(-r));
		return CLI_EXIT_REFUSED;
	}
	if (json && rep->json)
		printf("%s\n", rep->body);
	if (rep->status == 401)
		return fail_unauthorized(a, what);
	msg = error_text(rep);
	if (rep->status >= 200 && rep->status < 300 && !rep->json)
		fprintf(stderr, "healer %s: the reply from %s is not JSON (HTTP %ld)\n", what,
			a->listen, rep->status);
	else if (msg)
		fprintf(stderr, "healer %s: %s (HTTP %ld)\n", what, msg, rep->status);
	else
		fprintf(stderr, "healer %s: the daemon on %s answered HTTP %ld\n", what, a->listen,
			rep->status);
	return CLI_EXIT_REFUSED;
}

int cli_api_call(CliApi *a, const char *what, const CliRequest *q, bool json, CliReply *ret)
{
	int r = cli_api_request(a, q, ret);

	if (r == 0 && ret->status >= 200 && ret->status < 300 && cJSON_IsObject(ret->json))
		return 0;
	r = cli_api_fail(a, what, r, ret, json);
	cli_reply_done(ret);
	return r;
}
