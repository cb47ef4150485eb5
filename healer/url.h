/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one rule for a URL Healer sends data to (the model's base_url, the
 * webhook): https:// to any host, or http:// only to this host, so that an
 * API key or an incident never crosses a network in clear. The URL is read
 * by curl's own parser, so what is checked is what gets connected to
 * ("http://127.0.0.1:80@elsewhere/" is elsewhere, and refused for its user).
 */

#include <stdbool.h>
#include <stddef.h>

#define URL_OUTBOUND_MAX ((size_t)2048)

/*
 * Whether url may be sent to. On false, why (when given) holds the reason,
 * naming the URL as `what` ("webhook URL", "[llm] base_url").
 */
bool url_outbound_ok(const char *url, const char *what, char *why, size_t why_len);
