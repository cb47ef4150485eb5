/* SPDX-License-Identifier: MIT */
/*
 * Matching: the first rule whose unit, priority and message patterns fit
 * writes the plan. Every pattern runs under pcre2's limits and a budget of
 * work over the whole message; the plan is built with cJSON.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "llm/reply.h"
#include "llm/rules-internal.h"

static int budget_callout(pcre2_callout_block *b, void *data)
{
	unsigned long *left = data;

	(void)b;
	if (*left == 0)
		return PCRE2_ERROR_CALLOUT; /* aborts the match: no match */
	(*left)--;
	return 0;
}

typedef struct Matcher {
	pcre2_match_context *mctx; /* a copy that counts into left */
	unsigned long left;
} Matcher;

/* Returns 1 on a match (md filled), 0 on none or an exhausted limit, -ENOMEM. */
static int run(Matcher *m, const pcre2_code *re, const char *s, size_t n, pcre2_match_data *md)
{
	int rc;

	m->left = MATCH_BUDGET;
	rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, m->mctx);
	if (rc == PCRE2_ERROR_NOMEMORY)
		return -ENOMEM;
	return rc > 0;
}

typedef struct Buf {
	char *s;
	size_t n;
} Buf;

/*
 * Appends [s, s+n) as plain text (common/text.h: an invalid byte or a hidden
 * character becomes '?'), so that a plan stays valid JSON whatever the
 * message held. -E2BIG past the cap.
 */
static int buf_add(Buf *b, const char *s, size_t n)
{
	size_t tn;
	_cleanup_free_ char *t = text_clean(s, n, n, 0, &tn, NULL);

	if (!t)
		return -ENOMEM;
	if (b->n + tn > LLM_RULES_MAX_VALUE)
		return -E2BIG;
	memcpy(b->s + b->n, t, tn);
	b->n += tn;
	b->s[b->n] = '\0';
	return 0;
}

/*
 * One VALUE with its placeholders filled in. Returns 1 and a new *ret, 0 when
 * a placeholder has no value (no unit, an unset or empty group: the rule does
 * not apply), -E2BIG, -ENOMEM.
 */
static int fill(const char *tmpl, const char *unit, pcre2_match_data *md, char **ret)
{
	Buf b = {.s = malloc(LLM_RULES_MAX_VALUE + 1)};
	const char *s = tmpl;
	int r = 0;

	if (!b.s)
		return -ENOMEM;
	b.s[0] = '\0';
	while (*s && r >= 0) {
		size_t lit = strcspn(s, "{"), n;
		char name[256];
		PCRE2_UCHAR *val = NULL;
		PCRE2_SIZE vlen = 0;
		int rc;

		r = buf_add(&b, s, lit);
		s += lit;
		if (r < 0 || !*s)
			break;
		n = strcspn(s + 1, "}"); /* the parser saw to the closing brace */
		if (n == 4 && strncmp(s + 1, "unit", 4) == 0) {
			if (!unit)
				goto not_applicable;
			r = buf_add(&b, unit, strlen(unit));
		} else {
			if (n >= sizeof name)
				goto not_applicable;
			memcpy(name, s + 1, n);
			name[n] = '\0';
			rc = pcre2_substring_get_byname(md, (PCRE2_SPTR)name, &val, &vlen);
			if (rc == PCRE2_ERROR_NOMEMORY) {
				r = -ENOMEM;
				break;
			}
			if (rc < 0 || vlen == 0) {
				pcre2_substring_free(val);
				goto not_applicable;
			}
			r = buf_add(&b, (const char *)val, vlen);
			pcre2_substring_free(val);
		}
		s += n + 2;
	}
	if (r < 0) {
		free(b.s);
		return r;
	}
	*ret = b.s;
	return 1;

not_applicable:
	free(b.s);
	return 0;
}

/*
 * cJSON writes DEL raw, which the reply parser refuses, and a backslash as
 * "\\", which the reply parser's guard against an escaped NUL mistakes for
 * one when the text reads "\u0000". Both become \u escapes: the same value.
 */
static size_t json_tidy(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		const char *add = s;
		size_t k = 1;

		if (*s == 0x7f)
			add = "\\u007f", k = 6;
		else if (s[0] == '\\' && s[1] == '\\')
			add = "\\u005c", k = 6, s++;
		else if (s[0] == '\\')
			k = 2, s++; /* an escape: its letter goes with it */
		s++;
		if (out)
			memcpy(out + n, add, k);
		n += k;
	}
	if (out)
		out[n] = '\0';
	return n;
}

static int add_command(cJSON *commands, const RuleCommand *c, const char *unit,
		       pcre2_match_data *md)
{
	cJSON *cmd = cJSON_CreateObject(), *args;

	if (!cmd || !cJSON_AddItemToArray(commands, cmd)) {
		cJSON_Delete(cmd);
		return -ENOMEM;
	}
	if (!cJSON_AddStringToObject(cmd, "action", c->action))
		return -ENOMEM;
	args = cJSON_AddObjectToObject(cmd, "args");
	if (!args)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_args; i++) {
		_cleanup_free_ char *value = NULL;
		int r = fill(c->args[i].value, unit, md, &value);

		if (r <= 0)
			return r;
		if (!cJSON_AddStringToObject(args, c->args[i].name, value))
			return -ENOMEM;
	}
	return 1;
}

/* The plan of a rule whose patterns matched: 1 and *ret, 0 (not applicable), -errno. */
static int build_reply(const Rule *rule, const char *unit, pcre2_match_data *md, char **ret)
{
	const char *diagnosis = rule->diagnosis ? rule->diagnosis : rule->description;
	cJSON *root = cJSON_CreateObject(), *commands;
	char *printed, *tidy;
	size_t n;
	int r = -ENOMEM;

	if (!root)
		return -ENOMEM;
	if (diagnosis && !cJSON_AddStringToObject(root, "diagnosis", diagnosis))
		goto out;
	commands = cJSON_AddArrayToObject(root, "commands");
	if (!commands)
		goto out;
	for (size_t i = 0; i < rule->n_commands; i++) {
		r = add_command(commands, &rule->commands[i], unit, md);
		if (r <= 0)
			goto out;
	}
	r = -ENOMEM;
	printed = cJSON_PrintUnformatted(root);
	if (!printed)
		goto out;
	n = json_tidy(printed, NULL);
	if (n > LLM_REPLY_MAX_BYTES) {
		cJSON_free(printed);
		r = -E2BIG;
		goto out;
	}
	tidy = malloc(n + 1);
	if (tidy)
		json_tidy(printed, tidy);
	cJSON_free(printed);
	if (!tidy)
		goto out;
	*ret = tidy;
	r = 1;
out:
	cJSON_Delete(root);
	return r;
}

static bool priority_ok(const Rule *rule, int priority)
{
	if (rule->max_priority < 0)
		return true;
	return priority >= 0 && priority <= 7 && priority <= rule->max_priority;
}

/* 1 with *ret when the rule applies, 0 when it does not, -errno. */
static int try_rule(Matcher *m, const Rule *rule, const char *unit, int priority,
		    const char *message, size_t len, char **ret)
{
	pcre2_match_data *md;
	int r;

	if (!priority_ok(rule, priority))
		return 0;
	if (rule->unit_re) {
		if (!unit)
			return 0;
		md = pcre2_match_data_create_from_pattern(rule->unit_re, NULL);
		if (!md)
			return -ENOMEM;
		r = run(m, rule->unit_re, unit, strlen(unit), md);
		pcre2_match_data_free(md);
		if (r <= 0)
			return r;
	}
	md = pcre2_match_data_create_from_pattern(rule->message_re, NULL);
	if (!md)
		return -ENOMEM;
	r = run(m, rule->message_re, message, len, md);
	if (r > 0)
		r = build_reply(rule, unit, md, ret);
	pcre2_match_data_free(md);
	return r;
}

int llm_rules_match(const LlmRules *r, const char *unit, int priority, const char *message,
		    char **ret_reply, const char **ret_rule)
{
	Matcher m = {0};
	size_t len;
	int k = 0;

	if (!r || !message || !ret_reply)
		return -EINVAL;
	len = strnlen(message, LLM_RULES_MAX_MESSAGE + 1);
	if (len > LLM_RULES_MAX_MESSAGE)
		return 0;
	if (unit && !*unit)
		unit = NULL;
	if (unit && strnlen(unit, LLM_RULES_MAX_UNIT + 1) > LLM_RULES_MAX_UNIT)
		return 0;
	m.mctx = pcre2_match_context_copy(r->mctx);
	if (!m.mctx)
		return -ENOMEM;
	pcre2_set_callout(m.mctx, budget_callout, &m.left);
	for (size_t i = 0; i < r->n; i++) {
		char *reply = NULL;

		k = try_rule(&m, &r->rules[i], unit, priority, message, len, &reply);
		if (k > 0) {
			*ret_reply = reply;
			if (ret_rule)
				*ret_rule = r->rules[i].name;
			break;
		}
		if (k < 0)
			break;
	}
	pcre2_match_context_free(m.mctx);
	return k;
}
