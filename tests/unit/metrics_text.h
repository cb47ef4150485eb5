/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading values back from Prometheus text, for the tests of /metrics. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The value of the sample line that begins with prefix (name and labels), or NaN. */
static inline double sample(const char *text, const char *prefix)
{
	size_t pl = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, pl) == 0 && p[pl] == ' ')
			return strtod(p + pl + 1, NULL);
	return NAN;
}

#define CHECK_SAMPLE(text, prefix, want)                                            \
	do {                                                                        \
		double _got = sample((text), (prefix)), _want = (want);             \
		CHECK_(_got == _want, "%s: %.17g vs %.17g", (prefix), _got, _want); \
	} while (0)
