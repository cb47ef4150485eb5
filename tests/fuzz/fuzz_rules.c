/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the rules parser, and the matcher behind it: any input is parsed or
 * refused with messages; a parsed file is matched against fixed messages and
 * against the input itself (its own patterns may find their own text). Every
 * plan a rule makes must pass the real reply parser whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "llm/reply.h"
#include "llm/rules.h"
#include "tests/fuzz/fuzz.h"

static void check_match(const LlmRules *rules, const char *unit, int priority, const char *msg)
{
	static const LlmReplyOptions opts = {.max_commands = LLM_RULES_MAX_PROPOSE};
	char *reply = NULL, reason[256];
	const char *rule = NULL;
	LlmReply *parsed = NULL;
	int r = llm_rules_match(rules, unit, priority, msg, &reply, &rule), k;

	if (r == 0 || r == -E2BIG || r == -ENOMEM) {
		if (reply || rule)
			abort(); /* written without a match */
		return;
	}
	if (r != 1 || !reply || !rule)
		abort();
	k = llm_reply_parse(reply, strlen(reply), &opts, &parsed, reason, sizeof reason);
	if (k == -ENOMEM) {
		free(reply);
		return;
	}
	if (k < 0)
		abort(); /* a plan the reply parser refuses: invalid JSON or shape */
	if (parsed->style != LLM_REPLY_JSON || parsed->n == 0 || parsed->n > LLM_RULES_MAX_PROPOSE)
		abort();
	for (size_t i = 0; i < parsed->n; i++)
		if (parsed->proposals[i].reject_reason || !parsed->proposals[i].action)
			abort();
	llm_reply_free(parsed);
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *unit;
		int priority;
		const char *message;
	} probes[] = {
		{"nginx.service", 3,
		 "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)"},
		{"app.service", 3,
		 "app.service: Failed to execute /opt/app/run.sh: Permission denied"},
		{NULL, 2, "No space left on device"},
		{"a\xff.service", 7,
		 "x\"}], \"commands\": [{\"action\": \"rm\"}]} \\u0000 \x7f \x01"},
		{"", -1, ""},
	};
	LlmRules *rules = NULL;
	char *errors = NULL;
	int r = llm_rules_parse("fuzz", (const char *)data, size, &rules, &errors);

	if (r == 0 && (!rules || errors))
		abort();
	if (r < 0 && r != -ENOMEM && (rules || !errors))
		abort();
	if (rules) {
		char *msg = malloc(size + 1);

		if (llm_rules_count(rules) > LLM_RULES_MAX_RULES)
			abort();
		for (size_t i = 0; i < ELEMENTSOF(probes); i++)
			check_match(rules, probes[i].unit, probes[i].priority, probes[i].message);
		if (msg) {
			memcpy(msg, data, size);
			msg[size] = '\0'; /* a NUL inside ends the message early: fine */
			check_match(rules, "fuzz.service", 3, msg);
			check_match(rules, NULL, 0, msg);
			free(msg);
		}
	}
	llm_rules_free(rules);
	free(errors);
	return 0;
}
