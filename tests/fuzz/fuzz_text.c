/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the plain-text cleaner that every outside text passes through. The
 * first byte picks the cap (0-255, or no cap) and the flags; the rest is the
 * text. Checks: the result is strict UTF-8 no longer than the cap or the
 * input, holds no hidden character (no raw newline unless kept), is a prefix
 * of cleaning the whole text (a cut never changes what comes before it), and
 * cleaning it again changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "tests/fuzz/fuzz.h"

static void check_plain(const char *s, size_t n, unsigned flags)
{
	const unsigned char *u = (const unsigned char *)s;

	if (!text_utf8_valid(s, n) || strlen(s) != n)
		abort();
	for (size_t i = 0, k; i < n; i += k) {
		uint32_t cp;

		k = text_utf8_len(u + i, n - i);
		cp = text_utf8_decode(u + i, k);
		if (cp == '\n' && (flags & TEXT_KEEP_NEWLINES))
			continue;
		if (text_is_hidden(cp))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;
	size_t cap, n, len, whole_len, again_len;
	const char *s;
	char *out, *whole, *again;
	bool replaced;

	if (size < 1)
		return 0;
	flags = data[0] & 1 ? TEXT_KEEP_NEWLINES : 0;
	cap = data[0] >> 1 == 127 ? SIZE_MAX : data[0] >> 1;
	s = (const char *)data + 1;
	n = size - 1;
	out = text_clean(s, n, cap, flags, &len, &replaced);
	whole = text_clean(s, n, SIZE_MAX, flags, &whole_len, NULL);
	if (!out || !whole)
		abort();
	if (len > n || len > cap || len > whole_len || memcmp(out, whole, len) != 0)
		abort();
	check_plain(out, len, flags);
	again = text_clean(out, len, SIZE_MAX, flags, &again_len, &replaced);
	if (!again || again_len != len || memcmp(again, out, len) != 0 || replaced)
		abort();
	free(again);
	free(whole);
	free(out);
	return 0;
}
