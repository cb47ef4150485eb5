/* SPDX-License-Identifier: MIT */
#include "healer/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "common/text.h"
#include "common/util.h"

/*
 * The server is local but not trusted (any local user may listen on a
 * loopback port a check names once the real service is down): its reply
 * is capped at HTTP_REPLY_MAX and only the status line's three digits are
 * used. The URL comes from the whitelist; it still goes through the same
 * loopback rule here, so no check can make Healer talk to another host.
 */

#define HTTP_URL_MAX   2048
#define HTTP_REPLY_MAX 1024
#define HOST_MAX       64
#define TIMER_ACCURACY USEC_PER_MSEC

struct Probe {
	int fd;
	sd_event_source *io;
	sd_event_source *timer;
	char *url;
	char *request;
	size_t request_len, sent;
	char reply[HTTP_REPLY_MAX + 1];
	size_t reply_len;
	probe_done_fn done;
	void *userdata;
};

Probe *probe_free(Probe *p)
{
	if (!p)
		return NULL;
	sd_event_source_disable_unref(p->io);
	sd_event_source_disable_unref(p->timer);
	safe_close(p->fd);
	free(p->url);
	free(p->request);
	free(p);
	return NULL;
}

/* Ends the probe: the callback may free p, so this is the last thing a handler does. */
static void probe_end(Probe *p, int status, const char *fmt, ...) _printf_(3, 4);
static void probe_end(Probe *p, int status, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	p->io = sd_event_source_disable_unref(p->io);
	p->timer = sd_event_source_disable_unref(p->timer);
	p->fd = safe_close(p->fd);
	p->done(status, why, p->userdata);
}

/* IPv6 inside brackets: only ::1. */
static int parse_v6(char *host, struct sockaddr_storage *sa, socklen_t *sa_len, char **port)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
	char *close = strchr(host, ']');

	if (!close || (close[1] && close[1] != ':'))
		return -EPERM;
	*port = close[1] ? close + 2 : NULL;
	*close = '\0';
	if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1 ||
	    !IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
		return -EPERM;
	a6->sin6_family = AF_INET6;
	*sa_len = sizeof *a6;
	return 0;
}

/* IPv4 in 127.0.0.0/8, or "localhost", which is never looked up: /etc/hosts is not ours. */
static int parse_v4(char *host, struct sockaddr_storage *sa, socklen_t *sa_len, char **port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
	char *colon = strchr(host, ':');

	*port = NULL;
	if (colon) {
		*colon = '\0';
		*port = colon + 1;
	}
	if (strcmp(host, "localhost") == 0)
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return -EPERM;
	if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
		return -EPERM;
	a4->sin_family = AF_INET;
	*sa_len = sizeof *a4;
	return 0;
}

/*
 * http://HOST[:PORT][/PATH]. The path goes into the request line, so only
 * visible ASCII is accepted (no space, CR or LF to bend the request).
 */
static int parse_url(const char *url, struct sockaddr_storage *sa, socklen_t *sa_len,
		     const char **ret_path, size_t *ret_host_len)
{
	char host[HOST_MAX], *port;
	const char *auth, *end;
	uint64_t p = 80;
	size_t n;
	int k;

	if (strnlen(url, HTTP_URL_MAX + 1) > HTTP_URL_MAX || strncmp(url, "http://", 7) != 0)
		return -EPERM;
	auth = url + 7;
	end = auth + strcspn(auth, "/?#");
	if (*end && *end != '/')
		return -EPERM;
	for (const char *s = end; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '#')
			return -EPERM;
	n = (size_t)(end - auth);
	if (n == 0 || n >= sizeof host)
		return -EPERM;
	memcpy(host, auth, n);
	host[n] = '\0';
	memset(sa, 0, sizeof *sa);
	k = host[0] == '[' ? parse_v6(host, sa, sa_len, &port) : parse_v4(host, sa, sa_len, &port);
	if (k < 0)
		return k;
	if (port && util_parse_u64(port, 1, 65535, &p) < 0)
		return -EPERM;
	/* sin_port and sin6_port lie at the same offset. */
	((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)p);
	*ret_path = *end ? end : "/";
	*ret_host_len = n;
	return 0;
}

/* "HTTP/1.1 200 OK": the status, or -1. */
static int status_of(const char *reply)
{
	const char *s;

	if (strncmp(reply, "HTTP/", 5) != 0 || !(s = strchr(reply, ' ')))
		return -1;
	if (s[1] < '1' || s[1] > '5' || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' ||
	    (s[4] != ' ' && s[4] != '\r' && s[4] != '\n'))
		return -1;
	return (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
}

/* Returns true when the probe ended. */
static bool probe_send(Probe *p)
{
	int err = 0;
	socklen_t len = sizeof err;
	ssize_t n;

	if (p->sent == 0 && (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)) {
		err = err ? err : errno;
		probe_end(p, -err, "cannot connect to %s: %s", p->url, strerror(err));
		return true;
	}
	n = send(p->fd, p->request + p->sent, p->request_len - p->sent, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n < 0) {
		err = errno;
		probe_end(p, -err, "cannot send to %s: %s", p->url, strerror(err));
		return true;
	}
	p->sent += (size_t)n;
	if (p->sent == p->request_len && sd_event_source_set_io_events(p->io, EPOLLIN) < 0) {
		probe_end(p, -EIO, "cannot wait for %s", p->url);
		return true;
	}
	return false;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	Probe *p = userdata;
	ssize_t n;
	int status, err;

	(void)s;
	(void)revents;
	if (p->sent < p->request_len) {
		(void)probe_send(p);
		return 0;
	}
	n = recv(fd, p->reply + p->reply_len, HTTP_REPLY_MAX - p->reply_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0) {
		err = errno;
		probe_end(p, -err, "no answer from %s: %s", p->url, strerror(err));
		return 0;
	}
	p->reply_len += (size_t)n;
	p->reply[p->reply_len] = '\0';
	if (n > 0 && !memchr(p->reply, '\n', p->reply_len) && p->reply_len < HTTP_REPLY_MAX)
		return 0;
	status = status_of(p->reply);
	if (status < 0)
		probe_end(p, -EBADMSG, "%s answered without an HTTP status line", p->url);
	else
		probe_end(p, status, "HTTP %d from %s", status, p->url);
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	Probe *p = userdata;

	(void)s;
	(void)usec;
	probe_end(p, -ETIMEDOUT, "no answer from %s in time", p->url);
	return 0;
}

static int probe_connect(Probe *p, sd_event *e, const struct sockaddr_storage *sa, socklen_t sa_len,
			 uint64_t timeout_usec)
{
	int k;

	p->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	if (connect(p->fd, (const struct sockaddr *)sa, sa_len) < 0 && errno != EINPROGRESS)
		return -errno;
	k = sd_event_add_io(e, &p->io, p->fd, EPOLLOUT, on_io, p);
	if (k < 0)
		return k;
	(void)sd_event_source_set_description(p->io, "healer-probe-http");
	k = sd_event_add_time_relative(e, &p->timer, CLOCK_MONOTONIC, timeout_usec, TIMER_ACCURACY,
				       on_timeout, p);
	if (k < 0)
		return k;
	(void)sd_event_source_set_description(p->timer, "healer-probe-timeout");
	return 0;
}

int probe_http(sd_event *e, const char *url, uint64_t timeout_usec, probe_done_fn done,
	       void *userdata, Probe **ret)
{
	struct sockaddr_storage sa;
	socklen_t sa_len = 0;
	const char *path;
	size_t host_len;
	Probe *p;
	int k;

	if (!e || !url || !done || !ret)
		return -EINVAL;
	k = parse_url(url, &sa, &sa_len, &path, &host_len);
	if (k < 0)
		return k;
	p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	p->done = done;
	p->userdata = userdata;
	p->url = strdup(url);
	k = asprintf(&p->request,
		     "GET %s HTTP/1.0\r\nHost: %.*s\r\nUser-Agent: healer-check\r\n"
		     "Accept: */*\r\nConnection: close\r\n\r\n",
		     path, (int)host_len, url + 7);
	if (k < 0)
		p->request = NULL;
	if (k < 0 || !p->url) {
		probe_free(p);
		return -ENOMEM;
	}
	p->request_len = (size_t)k;
	k = probe_connect(p, e, &sa, sa_len, timeout_usec);
	if (k < 0) {
		probe_free(p);
		return k;
	}
	*ret = p;
	return 0;
}
