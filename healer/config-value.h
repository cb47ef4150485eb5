/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The checks of healer.conf's values that need more than a table row:
 * addresses, URLs, journal namespace names. Internal to healer/config.c,
 * and to healer serve, whose --listen follows [api] listen's rule.
 */

#include <stdbool.h>
#include <stddef.h>

/* ADDRESS:PORT with an IPv4 literal, [IPv6]:PORT, or unix:/PATH; why on false. */
bool cfg_valid_listen(const char *v, char *why, size_t why_len);
/* A journald namespace name: letters, digits and _.:@-, not beginning with . or -, 1..222 bytes. */
bool cfg_valid_namespace(const char *s);
/* The URL as shown to people: scheme and host, and a mark where the rest was left out. */
void cfg_show_url(const char *url, char *buf, size_t len);
