/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the provider response parsers: the first byte picks the provider
 * and the HTTP status, the rest is the body.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "llm/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 200, 200, 200, 400, 401, 429, 503};
	LlmResponse r;
	LlmKind kind;
	long status;

	if (size < 1)
		return 0;
	kind = (LlmKind)(1 + data[0] % 3);
	status = statuses[(data[0] >> 2) % 8];
	if (llm_response_parse(kind, status, (data[0] & 0x80) ? "7" : NULL, (const char *)data + 1,
			       size - 1, &r) < 0)
		return 0;
	if (r.outcome == LLM_OUTCOME_OK && (!r.text || !r.text[0] || r.error))
		abort();
	if (r.outcome != LLM_OUTCOME_OK && (r.text || !r.error))
		abort();
	if (status != 200 && r.outcome == LLM_OUTCOME_OK)
		abort();
	llm_response_done(&r);
	return 0;
}
