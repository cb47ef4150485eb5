/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the provider response parsers: the first byte picks the provider
 * and the HTTP status, the second the Retry-After header, the rest is the
 * body.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/fuzz/fuzz.h"
#include "llm/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 200, 200, 200, 200, 200, 400, 401,
					402, 403, 404, 408, 429, 500, 503, 520};
	static const char *const hints[] = {NULL, "7", "Wed, 21 Oct 2026 07:28:00 GMT",
					    "Sunday, 06-Nov-94 08:49:37 GMT"};
	LlmResponse r;
	LlmKind kind;
	long status;

	if (size < 2)
		return 0;
	/* byte 0: the kind and the status; byte 1: the Retry-After form. */
	kind = (LlmKind)(1 + data[0] % 3);
	status = statuses[(data[0] >> 2) % 16];
	if (llm_response_parse(kind, status, hints[data[1] % 4], 1790000000, (const char *)data + 2,
			       size - 2, &r) < 0)
		return 0;
	if (r.outcome == LLM_OUTCOME_OK && (!r.text || !r.text[0] || r.error))
		abort();
	if (r.outcome != LLM_OUTCOME_OK && (r.text || !r.error))
		abort();
	if (status != 200 && r.outcome == LLM_OUTCOME_OK)
		abort();
	/* A configuration fault names its kind, and only an HTTP error status makes one. */
	if ((r.outcome == LLM_OUTCOME_CONFIG) != (r.fault != LLM_FAULT_NONE))
		abort();
	if (r.outcome == LLM_OUTCOME_CONFIG && status == 200)
		abort();
	if (r.retry_after_usec > 3600 * USEC_PER_SEC)
		abort();
	if (r.tokens_thinking > 0 && r.tokens_out >= 0 && r.tokens_thinking > r.tokens_out &&
	    kind == LLM_KIND_GEMINI)
		abort();
	llm_response_done(&r);
	return 0;
}
