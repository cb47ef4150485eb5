/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/util.h"
#include "healer/url.h"

_printf_(3, 4) static bool refuse(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return false;
	va_start(ap, fmt);
	(void)vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return false;
}

typedef enum Verdict { V_OK, V_MALFORMED, V_USER, V_SCHEME, V_NOMEM } Verdict;

/* Scheme and host as curl reads them, and whether a user or password is named. */
static Verdict judge(const char *url)
{
	static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};
	char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
	CURLU *u = curl_url();
	Verdict v = V_SCHEME;

	if (!u)
		return V_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		v = V_MALFORMED;
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
		 curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
		v = V_USER;
	else if (strcmp(scheme, "https") == 0)
		v = V_OK;
	else if (strcmp(scheme, "http") == 0)
		for (size_t i = 0; i < ELEMENTSOF(loopback); i++)
			if (strcasecmp(host, loopback[i]) == 0)
				v = V_OK;
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return v;
}

bool url_outbound_ok(const char *url, const char *what, char *why, size_t why_len)
{
	if (why && why_len)
		why[0] = '\0';
	if (!url || !*url)
		return refuse(why, why_len, "%s is empty", what);
	if (strlen(url) > URL_OUTBOUND_MAX)
		return refuse(why, why_len, "%s is longer than %zu bytes", what, URL_OUTBOUND_MAX);
	/* Before curl: it would quietly accept or re-encode some of these. */
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("\"<>\\^`{|}", *p))
			return refuse(why, why_len,
				      "%s holds a blank, a control character or a character URLs "
				      "escape",
				      what);
	/* Literally, before curl, which reads "HTTPS:" and "https:///h" its own lenient way. */
	if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
	    strchr("/?#", url[url[4] == 's' ? 8 : 7]))
		return refuse(why, why_len,
			      "%s '%s' must begin with https:// or http:// and a host", what, url);
	switch (judge(url)) {
	case V_OK:
		return true;
	case V_MALFORMED:
		return refuse(why, why_len, "%s '%s' is malformed or names no host", what, url);
	case V_USER:
		return refuse(why, why_len,
			      "%s must not name a user or password (credentials go in files)",
			      what);
	case V_NOMEM:
		return refuse(why, why_len, "%s could not be checked: out of memory", what);
	case V_SCHEME:
		break;
	}
	return refuse(why, why_len,
		      "%s '%s' must be https:// (http:// only to 127.0.0.1, localhost or [::1])",
		      what, url);
}
