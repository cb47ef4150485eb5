/* SPDX-License-Identifier: MIT */
/*
 * Normalisation and fingerprint of a journal message. What varies between two
 * lines of the same failure (numbers, ids, addresses) is replaced by a
 * placeholder, so a storm of "worker 17 died", "worker 18 died" is one
 * incident. The hash is FNV-1a: fast, stable across runs and hosts, and a
 * collision only folds two incidents together, it never runs anything.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "journal/journal.h"

static bool is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static size_t hex_run(const char *s)
{
	size_t n = 0;

	while (isxdigit((unsigned char)s[n]))
		n++;
	return n;
}

static size_t digit_run(const char *s)
{
	size_t n = 0;

	while (isdigit((unsigned char)s[n]))
		n++;
	return n;
}

/* 8-4-4-4-12 hex digits. */
static size_t match_uuid(const char *s)
{
	static const size_t groups[] = {8, 4, 4, 4, 12};
	size_t o = 0;

	for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
		if (hex_run(s + o) != groups[g])
			return 0;
		o += groups[g];
		if (g < 4) {
			if (s[o] != '-')
				return 0;
			o++;
		}
	}
	return is_word(s[o]) ? 0 : o;
}

/* a.b.c.d with 1-3 digits each, optionally :port. */
static size_t match_ipv4(const char *s)
{
	size_t o = 0;

	for (int part = 0; part < 4; part++) {
		size_t d = digit_run(s + o);

		if (d == 0 || d > 3)
			return 0;
		o += d;
		if (part < 3) {
			if (s[o] != '.')
				return 0;
			o++;
		}
	}
	if (s[o] == ':' && digit_run(s + o + 1) > 0)
		o += 1 + digit_run(s + o + 1);
	return is_word(s[o]) ? 0 : o;
}

/* Hex groups joined by at least two colons (also catches times and MACs). */
static size_t match_colon_hex(const char *s)
{
	size_t o = 0, colons = 0;

	while (isxdigit((unsigned char)s[o]) || s[o] == ':') {
		colons += s[o] == ':';
		o++;
	}
	if (colons < 2 || o < 5 || is_word(s[o]))
		return 0;
	return o;
}

/* 0x1f2e or a bare hex id of 8+ digits holding at least one decimal digit. */
static size_t match_hex_id(const char *s)
{
	size_t n;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		n = hex_run(s + 2);
		return n > 0 && !is_word(s[2 + n]) ? 2 + n : 0;
	}
	n = hex_run(s);
	if (n < 8 || is_word(s[n]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (isdigit((unsigned char)s[i]))
			return n;
	return 0;
}

void jr_normalise(const char *m, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (size_t i = 0; m[i] && o + 1 < len;) {
		bool boundary = i == 0 || !is_word(m[i - 1]);
		const char *ph = NULL;
		size_t k = 0;

		if (boundary && isxdigit((unsigned char)m[i])) {
			if ((k = match_uuid(m + i)))
				ph = "<uuid>";
			else if ((k = match_ipv4(m + i)))
				ph = "<ip>";
			else if ((k = match_colon_hex(m + i)))
				ph = "<addr>";
			else if ((k = match_hex_id(m + i)))
				ph = "<hex>";
		}
		if (!ph && isdigit((unsigned char)m[i])) {
			k = digit_run(m + i);
			ph = "#";
		}
		if (ph) {
			size_t pl = strlen(ph);

			if (o + pl >= len)
				break;
			memcpy(buf + o, ph, pl);
			o += pl;
			i += k;
			continue;
		}
		buf[o++] = m[i++];
	}
	buf[o] = '\0';
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	/* A separator byte keeps ("ab","c") and ("a","bc") apart. */
	h ^= 0xff;
	h *= 0x100000001b3ULL;
	return h;
}

uint64_t jr_fingerprint(const char *unit, const char *identifier, const char *message)
{
	char norm[JR_MESSAGE_MAX * 2 + 64];
	uint64_t h = 0xcbf29ce484222325ULL;

	jr_normalise(message ? message : "", norm, sizeof norm);
	h = fnv1a(h, unit);
	h = fnv1a(h, identifier);
	return fnv1a(h, norm);
}

int jr_priority_from_string(const char *s)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "err",
					    "warning", "notice", "info", "debug"};
	uint64_t v;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 8; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	if (strcasecmp(s, "error") == 0)
		return 3;
	if (strcasecmp(s, "critical") == 0)
		return 2;
	if (strcasecmp(s, "warn") == 0)
		return 4;
	if (util_parse_u64(s, 0, 7, &v) == 0)
		return (int)v;
	return -EINVAL;
}
