/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes redaction: any bytes are log text. Invariants: no limit is hit on
 * text of this size (a refusal would drop the evidence); the result is the
 * text with spans replaced by markers (what is left besides markers is a
 * subsequence of the input, every newline kept, no marker longer than the
 * span it replaced plus its own length); redacting it again changes
 * nothing; the keyword prefilter changes nothing; and a canary secret on a
 * line of its own never survives, whatever comes before it. The first byte
 * picks the checks: bit 0, the text alone or split into context lines and a
 * message through the prompt builder; bit 1, a canary line appended; bit 2,
 * the comparison without prefilter (the slowest: every pattern runs).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "llm/prompt.h"
#include "llm/redact-internal.h"
#include "llm/redact.h"
#include "tests/fuzz/fuzz.h"

#define MARKER_LEN (sizeof LLM_REDACTED - 1)
#define CANARY	   "\napi_key=Zq9xPw3vK2mN8bR4tY7w"
#define CANARY_BIT "K2mN8bR4"

static size_t count(const char *s, const char *what)
{
	size_t n = 0, k = strlen(what);

	for (const char *p = s; (p = strstr(p, what)); p += k)
		n++;
	return n;
}

/* out without its markers is a subsequence of in, and not much longer. */
static void check_shape(const char *in, const char *out)
{
	const char *i = in;
	size_t markers = 0;

	for (const char *o = out; *o;) {
		if (strncmp(o, LLM_REDACTED, MARKER_LEN) == 0) {
			o += MARKER_LEN;
			markers++;
			continue;
		}
		i = strchr(i, *o);
		if (!i)
			abort(); /* a byte the input did not have, or out of order */
		i++;
		o++;
	}
	if (count(in, "\n") != count(out, "\n"))
		abort();
	/* Each marker stands for one byte at least. */
	if (strlen(out) > strlen(in) + markers * (MARKER_LEN - 1))
		abort();
}

static void check_text(const char *in, bool canary, bool full_check)
{
	char *out = NULL, *again = NULL, *full = NULL;
	int r = llm_redact(in, &out, NULL);

	if (r == -ENOMEM)
		return;
	if (r < 0)
		abort(); /* -EINVAL: a pattern hit its limits on text this short */
	check_shape(in, out);
	if (llm_redact(out, &again, NULL) == 0 && strcmp(again, out) != 0)
		abort(); /* not idempotent */
	if (full_check && redact_text(in, false, &full, NULL) == 0 && strcmp(full, out) != 0)
		abort(); /* the prefilter skipped a rule that matches */
	if (canary && strstr(out, CANARY_BIT))
		abort(); /* the canary line survived */
	free(out);
	free(again);
	free(full);
}

/* The text as context lines and a message, through the prompt builder. */
static void check_prompt(char *text, bool canary)
{
	static const LlmCatalogParam unit_param[] = {{"unit", "[a-z.]+"}};
	static const LlmCatalogEntry cat[] = {{"restart_service", NULL, 1, unit_param}};
	const char *lines[64];
	size_t n = 0;
	LlmPrompt p = {0};
	int r;

	for (char *l = text; l && n < ELEMENTSOF(lines);) {
		char *nl = strchr(l, '\n');

		lines[n++] = l;
		if (nl)
			*nl++ = '\0';
		l = nl;
	}
	{
		LlmEvidence ev = {.unit = "app.service",
				  .identifier = n > 1 ? lines[0] : NULL,
				  .priority = 3,
				  .message = lines[n - 1],
				  .count = 1,
				  .context = lines,
				  .n_context = n - 1};

		r = llm_prompt_build(cat, 1, 5, &ev, true, &p);
	}
	if (r == -ENOMEM || r == -E2BIG)
		return;
	if (r < 0 || !p.user)
		abort(); /* -EINVAL: redaction hit its limits */
	if (canary && strstr(p.user, CANARY_BIT))
		abort(); /* the canary line went out */
	llm_prompt_done(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool canary;
	size_t n;
	char *text;

	if (size == 0)
		return 0;
	/* The input, a NUL cutting it short, then maybe a canary line. */
	text = malloc(size + sizeof CANARY);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	n = strlen(text);
	canary = (data[0] & 2) && !strstr(text, CANARY_BIT);
	if (canary)
		memcpy(text + n, CANARY, sizeof CANARY);
	if (data[0] & 1)
		check_prompt(text, canary);
	else
		check_text(text, canary, data[0] & 4);
	free(text);
	return 0;
}
