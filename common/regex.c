/* SPDX-License-Identifier: MIT */
#include "common/regex.h"

pcre2_match_context *regex_match_context_new(void)
{
	pcre2_match_context *m = pcre2_match_context_create(NULL);

	if (!m)
		return NULL;
	pcre2_set_match_limit(m, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(m, REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(m, REGEX_HEAP_LIMIT_KIB);
	return m;
}
