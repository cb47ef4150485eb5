/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The checks of healer.conf's values that need more than a table row:
 * addresses, URLs, journal namespace names. Internal to healer/config.c.
 */

#include <stdbool.h>
#include <stddef.h>

/* http:// to 127.0.0.1, localhost or [::1] (then ':', '/' or the end). */
bool cfg_loopback_http(const char *url);
/* https://HOST..., or loopback http://, without user information or blanks; why on false. */
bool cfg_valid_url(const char *v, char *why, size_t why_len);
/* ADDRESS:PORT with an IPv4 literal, [IPv6]:PORT, or unix:/PATH; why on false. */
bool cfg_valid_listen(const char *v, char *why, size_t why_len);
/* A journald namespace name: letters, digits and _.:@-, not beginning with . or -, 1..222 bytes. */
bool cfg_valid_namespace(const char *s);
/* The URL as shown to people: scheme and host, and a mark where the rest was left out. */
void cfg_show_url(const char *url, char *buf, size_t len);
