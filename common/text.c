/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

size_t text_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c;
	size_t need;
	uint32_t cp, min;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		need = 1, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		need = 2, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		need = 3, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (need >= n)
		return 0;
	for (size_t k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

uint32_t text_utf8_decode(const unsigned char *s, size_t len)
{
	uint32_t cp = len == 1	 ? s[0]
		      : len == 2 ? s[0] & 0x1f
		      : len == 3 ? s[0] & 0x0f
				 : s[0] & 0x07;

	for (size_t k = 1; k < len; k++)
		cp = (cp << 6) | (s[k] & 0x3f);
	return cp;
}

bool text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0, k; i < n; i += k) {
		if (u[i] < 0x80) {
			k = 1;
			continue;
		}
		k = text_utf8_len(u + i, n - i);
		if (k == 0)
			return false;
	}
	return true;
}

/*
 * Controls, Unicode's Bidi_Control and Default_Ignorable_Code_Point sets,
 * and the line and paragraph separators, as ranges in order.
 */
static const struct {
	uint32_t first, last;
} hidden[] = {
	{0x0000, 0x001f},   {0x007f, 0x009f},	{0x00ad, 0x00ad},   {0x034f, 0x034f},
	{0x061c, 0x061c},   {0x115f, 0x1160},	{0x17b4, 0x17b5},   {0x180b, 0x180f},
	{0x200b, 0x200f},   {0x2028, 0x202e},	{0x2060, 0x206f},   {0x3164, 0x3164},
	{0xfe00, 0xfe0f},   {0xfeff, 0xfeff},	{0xffa0, 0xffa0},   {0xfff0, 0xfffb},
	{0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
};

bool text_is_hidden(uint32_t cp)
{
	for (size_t i = 0; i < sizeof hidden / sizeof hidden[0] && cp >= hidden[i].first; i++)
		if (cp <= hidden[i].last)
			return true;
	return false;
}

char *text_clean(const char *s, size_t n, size_t cap, unsigned flags, size_t *ret_len,
		 bool *ret_replaced)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t max = n < cap ? n : cap, o = 0;
	bool changed = false;
	char *d = malloc(max + 1);

	if (!d)
		return NULL;
	for (size_t i = 0, k; i < n; i += k) {
		const char *add = s + i;
		size_t addn = k = text_utf8_len(u + i, n - i);
		bool replaced = false;

		if (k == 0) {
			add = "?", addn = k = 1, replaced = true; /* one invalid byte, one '?' */
		} else {
			uint32_t cp = text_utf8_decode(u + i, k);

			if (cp == '\n' && (flags & TEXT_KEEP_NEWLINES))
				;
			else if (cp == '\n' || cp == '\t' || cp == '\r')
				add = " ", addn = 1;
			else if (text_is_hidden(cp))
				add = "?", addn = 1, replaced = true;
		}
		if (o + addn > max)
			break; /* cut: the next character does not fit whole */
		memcpy(d + o, add, addn);
		o += addn;
		changed |= replaced;
	}
	d[o] = '\0';
	if (ret_len)
		*ret_len = o;
	if (ret_replaced)
		*ret_replaced = changed;
	return d;
}

char *text_clean_str(const char *s, unsigned flags)
{
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	return text_clean(s, n, n, flags, NULL, NULL);
}
