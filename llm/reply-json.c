/* SPDX-License-Identifier: MIT */
/*
 * The JSON half of the reply parser. cJSON accepts more than a plan may hold
 * (duplicate keys, any types, trailing bytes after the object), so the plan's
 * shape is checked here member by member: the one shape, or a refusal.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "llm/reply-internal.h"

#define MAX_ARGS 16

#define BAD(...) llm_reply_fail(-EBADMSG, reason, reason_len, __VA_ARGS__)

/* Refuses a repeated key among an object's members: cJSON keeps both. */
static int check_unique(const cJSON *obj, const char *what, char *reason, size_t reason_len)
{
	for (const cJSON *a = obj->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return BAD("%s repeats the key \"%.64s\"", what, a->string);
	return 0;
}

/* "action k=v k=v", for reports. */
static char *describe(const char *action, const cJSON *args)
{
	size_t n = strlen(action) + 1;
	char *s, *p;

	for (const cJSON *a = args ? args->child : NULL; a; a = a->next)
		if (!cJSON_IsNull(a))
			n += strlen(a->string) + strlen(a->valuestring) + 2;
	s = malloc(n);
	if (!s)
		return NULL;
	p = s + (size_t)snprintf(s, n, "%s", action);
	for (const cJSON *a = args ? args->child : NULL; a; a = a->next)
		if (!cJSON_IsNull(a))
			p += snprintf(p, n - (size_t)(p - s), " %s=%s", a->string, a->valuestring);
	return s;
}

static int parse_command(ReplyBuilder *b, const cJSON *c, size_t idx, char *reason,
			 size_t reason_len)
{
	const cJSON *action = NULL, *args = NULL;
	_cleanup_free_ char *text = NULL;
	LlmProposal *p;
	size_t n_args = 0;
	int r;

	if (!cJSON_IsObject(c))
		return BAD("command %zu is not an object", idx + 1);
	r = check_unique(c, "a command", reason, reason_len);
	if (r < 0)
		return r;
	for (const cJSON *m = c->child; m; m = m->next) {
		if (strcmp(m->string, "action") == 0)
			action = m;
		else if (strcmp(m->string, "args") == 0)
			args = m;
		else
			return BAD("command %zu has an unknown key \"%.64s\"", idx + 1, m->string);
	}
	if (!action || !cJSON_IsString(action))
		return BAD("command %zu needs \"action\" as a string", idx + 1);
	if (args && !cJSON_IsObject(args))
		return BAD("command %zu: \"args\" must be an object", idx + 1);
	if (args) {
		r = check_unique(args, "\"args\"", reason, reason_len);
		if (r < 0)
			return r;
		for (const cJSON *a = args->child; a; a = a->next) {
			/*
			 * Strict schemas (OpenAI's) list every parameter of the
			 * catalogue, nullable: null is an argument not given.
			 */
			if (cJSON_IsNull(a))
				continue;
			if (!cJSON_IsString(a))
				return BAD("command %zu: argument \"%.64s\" must be a string",
					   idx + 1, a->string);
			if (++n_args > MAX_ARGS)
				return BAD("command %zu has more than %d arguments", idx + 1,
					   MAX_ARGS);
		}
	}
	text = describe(action->valuestring, args);
	if (!text)
		return -ENOMEM;
	p = llm_reply_add(b, text, strlen(text));
	if (!p)
		return -ENOMEM;
	p->action = strdup(action->valuestring);
	p->arg_names = calloc(n_args + 1, sizeof(char *));
	p->arg_values = calloc(n_args + 1, sizeof(char *));
	if (!p->action || !p->arg_names || !p->arg_values)
		return -ENOMEM;
	for (const cJSON *a = args ? args->child : NULL; a; a = a->next) {
		if (cJSON_IsNull(a))
			continue;
		p->arg_names[p->n_args] = strdup(a->string);
		p->arg_values[p->n_args] = strdup(a->valuestring);
		if (!p->arg_names[p->n_args] || !p->arg_values[p->n_args]) {
			free(p->arg_names[p->n_args]);
			free(p->arg_values[p->n_args]);
			return -ENOMEM;
		}
		p->n_args++;
	}
	return 0;
}

static int parse_plan(ReplyBuilder *b, const cJSON *root, char *reason, size_t reason_len)
{
	const cJSON *diagnosis = NULL, *commands = NULL;
	size_t n = 0, i = 0;
	int r;

	if (!cJSON_IsObject(root))
		return BAD("reply is not a JSON object");
	r = check_unique(root, "the plan", reason, reason_len);
	if (r < 0)
		return r;
	for (const cJSON *m = root->child; m; m = m->next) {
		if (strcmp(m->string, "diagnosis") == 0)
			diagnosis = m;
		else if (strcmp(m->string, "commands") == 0)
			commands = m;
		else
			return BAD(
				"plan has an unknown key \"%.64s\" (expected diagnosis, commands)",
				m->string);
	}
	if (diagnosis && !cJSON_IsString(diagnosis))
		return BAD("\"diagnosis\" must be a string");
	if (diagnosis && strlen(diagnosis->valuestring) > LLM_REPLY_MAX_DIAGNOSIS)
		return llm_reply_fail(-E2BIG, reason, reason_len,
				      "\"diagnosis\" is over the %d-byte cap",
				      LLM_REPLY_MAX_DIAGNOSIS);
	if (!commands || !cJSON_IsArray(commands))
		return BAD("plan needs \"commands\" as an array");
	for (const cJSON *c = commands->child; c; c = c->next)
		n++;
	if (n > b->max_commands)
		return llm_reply_fail(-E2BIG, reason, reason_len,
				      "reply proposes %zu commands, more than max_commands (%zu)",
				      n, b->max_commands);
	if (diagnosis) {
		/*
		 * The diagnosis is shown to people and stored: escaped controls
		 * decode to real ones here (\u001b, \u202e), so it is cleaned
		 * to plain text on one line.
		 */
		b->reply->diagnosis = text_clean_str(diagnosis->valuestring, 0);
		if (!b->reply->diagnosis)
			return -ENOMEM;
	}
	for (const cJSON *c = commands->child; c; c = c->next, i++) {
		r = parse_command(b, c, i, reason, reason_len);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * RFC 8259 forbids raw control bytes inside strings; cJSON lets them through,
 * and an escape sequence in a diagnosis would reach terminals and logs.
 */
static int check_strings(const char *s, size_t n, char *reason, size_t reason_len)
{
	bool in_string = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!in_string) {
			in_string = c == '"';
			continue;
		}
		if (c == '\\')
			i++;
		else if (c == '"')
			in_string = false;
		else if (c < 0x20 || c == 0x7f)
			return BAD("raw control byte 0x%02x inside a JSON string (byte %zu)", c, i);
	}
	return 0;
}

int llm_reply_parse_json(ReplyBuilder *b, const char *s, size_t n, char *reason, size_t reason_len)
{
	const char *end = NULL;
	cJSON *root;
	int r;

	/*
	 * cJSON decodes \u0000 into a NUL that silently cuts the string short
	 * ("nginx\u0000; rm" would read as "nginx"): refuse it outright.
	 */
	if (util_json_has_nul_escape(s, n))
		return BAD("reply holds an escaped NUL (\\u0000)");
	r = check_strings(s, n, reason, reason_len);
	if (r < 0)
		return r;
	root = cJSON_ParseWithLengthOpts(s, n, &end, false);
	if (!root)
		return BAD("reply is not valid JSON (near byte %zu)",
			   (size_t)((cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : s) - s));
	for (const char *t = end; t < s + n; t++)
		if (*t != ' ' && *t != '\t' && *t != '\r' && *t != '\n') {
			cJSON_Delete(root);
			return BAD("trailing data after the JSON object (byte %zu)",
				   (size_t)(t - s));
		}
	r = parse_plan(b, root, reason, reason_len);
	cJSON_Delete(root);
	return r;
}
