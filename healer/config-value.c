/* SPDX-License-Identifier: MIT */
/*
 * Value checks of healer.conf beyond a row's bounds. They only look at
 * text: no name is resolved, no file is opened.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "common/util.h"
#include "healer/config-value.h"

/* Writes why a value is refused; returns false. */
_printf_(3, 4) static bool refuse(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return false;
}

/*
 * The API's address: an IP literal and a port, or a UNIX socket. No host
 * names: what the API is reachable on must not depend on a resolver.
 */
bool cfg_valid_listen(const char *v, char *why, size_t why_len)
{
	const char *host = v, *end, *port;
	unsigned char addr[16];
	char h[64];
	uint64_t u;
	int family = AF_INET;

	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/' || strlen(v + 5) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
			return refuse(why, why_len,
				      "unix: needs an absolute path of at most 107 bytes");
		return true;
	}
	if (v[0] == '[') {
		family = AF_INET6;
		host = v + 1;
		end = strchr(host, ']');
		port = end && end[1] == ':' ? end + 2 : NULL;
	} else {
		end = strrchr(v, ':');
		port = end ? end + 1 : NULL;
	}
	if (port && (size_t)(end - host) < sizeof h) {
		memcpy(h, host, (size_t)(end - host));
		h[end - host] = '\0';
	} else
		port = NULL;
	if (!port || inet_pton(family, h, addr) != 1 || util_parse_u64(port, 1, 65535, &u) < 0)
		return refuse(why, why_len,
			      "must be ADDRESS:PORT (an IPv4 address, or an IPv6 one in "
			      "brackets; port 1 to 65535) or unix:/PATH");
	return true;
}

/*
 * A journal namespace name as journald takes one (it names a folder and a
 * unit instance): letters, digits and "_.:@-", not beginning with '.' or
 * '-', at most 222 bytes.
 */
bool cfg_valid_namespace(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 222 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:@-", s[i]))
			return false;
	return true;
}

/* A URL as shown: scheme and host, never a path or query (a webhook's token lives there). */
void cfg_show_url(const char *url, char *v, size_t len)
{
	const char *auth = strstr(url, "://");
	size_t n;

	auth = auth ? auth + 3 : url;
	n = (size_t)(auth - url) + strcspn(auth, "/?#");
	(void)util_snprintf(v, len, "%.*s%s", (int)n, url, url[n] ? "/... (rest not shown)" : "");
}
