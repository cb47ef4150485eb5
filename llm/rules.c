/* SPDX-License-Identifier: MIT */
/*
 * The offline provider's rules. Parsing mirrors the whitelist's parser: every
 * error is collected as "file:line: message" and the file is accepted only
 * when there are none. Matching turns a message into the JSON plan a model
 * would send, so that the plan meets the same reply parser and whitelist.
 *
 * A journal line is attacker input. Patterns therefore run with match, depth
 * and heap limits and a work budget (pcre2's match limit alone counts per
 * starting position, so a long message multiplies it), and the plan is built
 * with cJSON: a message can fill a value, never shape the JSON around it.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/ini.h"
#include "common/text.h"
#include "common/util.h"
#include "llm/reply.h"
#include "llm/rules-internal.h"

typedef struct Parser {
	const char *name;
	unsigned line;
	LlmRules *rules;
	Rule *rule;    /* the section being read, or NULL */
	bool skipping; /* inside a section whose header was refused */
	bool seen_description, seen_unit, seen_message, seen_priority, seen_diagnosis;
	bool empty_message, empty_propose; /* reported already: not "missing" too */
	unsigned message_line, n_propose;
	IniErrors errs;
	bool oom;
} Parser;

_printf_(2, 3) static void perr(Parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ini_verror(&p->errs, p->line, fmt, ap);
	va_end(ap);
}

static bool is_name(const char *s, size_t n, bool dash)
{
	if (n == 0 || n > LLM_RULES_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (dash && s[i] == '-')))
			return false;
	return true;
}

/* An argument name, as the whitelist spells its parameters. */
static bool is_arg_name(const char *s, size_t n)
{
	if (n == 0 || n > LLM_RULES_MAX_NAME || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static void command_done(RuleCommand *c)
{
	free(c->action);
	for (size_t i = 0; i < c->n_args; i++) {
		free(c->args[i].name);
		free(c->args[i].value);
	}
}

static void rule_done(Rule *r)
{
	free(r->name);
	free(r->description);
	free(r->diagnosis);
	pcre2_code_free(r->unit_re);
	pcre2_code_free(r->message_re);
	for (size_t i = 0; i < r->n_commands; i++)
		command_done(&r->commands[i]);
}

LlmRules *llm_rules_free(LlmRules *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		rule_done(&r->rules[i]);
	free(r->rules);
	pcre2_match_context_free(r->mctx);
	free(r);
	return NULL;
}

/*
 * Auto-callouts visit every pattern item, so the budget counts work across
 * all starting positions, where pcre2's match limit restarts at each.
 */
static pcre2_code *compile(Parser *p, const char *key, const char *pattern, uint32_t extra)
{
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *re;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C |
				   PCRE2_AUTO_CALLOUT | extra,
			   &errcode, &erroff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];

		if (errcode == PCRE2_ERROR_HEAP_FAILED) {
			p->oom = true;
			return NULL;
		}
		pcre2_get_error_message(errcode, msg, sizeof msg);
		perr(p, "%s: bad pattern at offset %zu: %s", key, (size_t)erroff,
		     (const char *)msg);
	}
	return re;
}

static int parse_priority(const char *s)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "err",
					    "warning", "notice", "info", "debug"};

	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Every '{' opens one {NAME} that closes before the next brace; names are checked later. */
static int check_braces(Parser *p, const char *arg, const char *value)
{
	for (const char *s = value; (s = strpbrk(s, "{}"));) {
		const char *close;

		if (*s == '}') {
			perr(p, "propose: stray '}' in argument '%s'", arg);
			return -EINVAL;
		}
		close = strpbrk(s + 1, "{}");
		if (!close || *close == '{') {
			perr(p, "propose: '{' without '}' in argument '%s'", arg);
			return -EINVAL;
		}
		if (close == s + 1) {
			perr(p, "propose: empty placeholder {} in argument '%s'", arg);
			return -EINVAL;
		}
		s = close + 1;
	}
	return 0;
}

static int parse_arg(Parser *p, RuleCommand *c, const char *word, size_t n)
{
	const char *eq = memchr(word, '=', n);
	size_t nlen = eq ? (size_t)(eq - word) : n;
	RuleArg *a;

	if (!eq || !is_arg_name(word, nlen)) {
		perr(p, "propose: '%.*s' is not NAME=VALUE (NAME: lower case letters, digits, '_')",
		     (int)n, word);
		return -EINVAL;
	}
	if (nlen + 1 == n) {
		perr(p, "propose: argument '%.*s' has an empty value", (int)nlen, word);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_args; i++)
		if (strlen(c->args[i].name) == nlen && memcmp(c->args[i].name, word, nlen) == 0) {
			perr(p, "propose: argument '%.*s' given twice", (int)nlen, word);
			return -EINVAL;
		}
	if (c->n_args >= LLM_RULES_MAX_ARGS) {
		perr(p, "propose: more than %d arguments", LLM_RULES_MAX_ARGS);
		return -E2BIG;
	}
	a = &c->args[c->n_args];
	a->name = util_strndup(word, nlen);
	a->value = util_strndup(eq + 1, n - nlen - 1);
	if (!a->name || !a->value) {
		free(a->name);
		free(a->value);
		return -ENOMEM;
	}
	c->n_args++;
	return check_braces(p, a->name, a->value);
}

/* "ACTION [NAME=VALUE ...]", split on blanks, no quoting: values are single words. */
static int parse_propose(Parser *p, Rule *r, const char *value)
{
	RuleCommand c = {.line = p->line};
	const char *s = value;
	size_t n;
	int ret = 0;

	if (++p->n_propose > LLM_RULES_MAX_PROPOSE) {
		perr(p, "more than %d propose lines", LLM_RULES_MAX_PROPOSE);
		return -E2BIG;
	}
	/* Control characters never get here: parse_line refuses the line. */
	for (const char *t = value; *t; t++)
		if ((unsigned char)*t > 0x7e) {
			perr(p, "propose: only printable ASCII is allowed");
			return -EINVAL;
		}
	n = strcspn(s, " \t");
	if (!is_name(s, n, true)) {
		perr(p, "propose: action '%.*s' must be letters, digits, '_' or '-' (at most %d)",
		     (int)n, s, LLM_RULES_MAX_NAME);
		return -EINVAL;
	}
	c.action = util_strndup(s, n);
	if (!c.action)
		return -ENOMEM;
	for (s += n; *(s += strspn(s, " \t")); s += n) {
		int k;

		n = strcspn(s, " \t");
		k = parse_arg(p, &c, s, n);
		if (k == -ENOMEM || k == -E2BIG) {
			ret = k;
			break;
		}
		if (k < 0)
			ret = k;
	}
	if (ret < 0) {
		command_done(&c);
		return ret;
	}
	r->commands[r->n_commands++] = c;
	return 0;
}

static int set_text(Parser *p, const char *key, bool *seen, char **field, const char *value)
{
	size_t n = strlen(value);

	if (*seen)
		perr(p, "%s set twice", key);
	*seen = true;
	if (n > LLM_RULES_MAX_TEXT) {
		perr(p, "%s is %zu bytes, over the %d-byte cap", key, n, LLM_RULES_MAX_TEXT);
		return -E2BIG;
	}
	/* Valid UTF-8 without hidden characters already: ini_parse() checks every line. */
	free(*field);
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

static int rule_key(Parser *p, const char *key, const char *value)
{
	Rule *r = p->rule;

	if (strcmp(key, "description") == 0)
		return set_text(p, key, &p->seen_description, &r->description, value);
	if (strcmp(key, "diagnosis") == 0)
		return set_text(p, key, &p->seen_diagnosis, &r->diagnosis, value);
	if (strcmp(key, "unit") == 0 || strcmp(key, "message") == 0) {
		bool unit = key[0] == 'u';
		bool *seen = unit ? &p->seen_unit : &p->seen_message;
		pcre2_code **re = unit ? &r->unit_re : &r->message_re;

		if (*seen) {
			perr(p, "%s set twice", key);
			return -EINVAL;
		}
		*seen = true;
		if (!unit)
			p->message_line = p->line;
		/* A unit must match as a whole; a message is searched. */
		*re = compile(p, key, value,
			      unit ? PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY : 0);
		if (p->oom)
			return -ENOMEM;
		return *re ? 0 : -EINVAL;
	}
	if (strcmp(key, "priority") == 0) {
		if (p->seen_priority)
			perr(p, "priority set twice");
		p->seen_priority = true;
		r->max_priority = parse_priority(value);
		if (r->max_priority < 0) {
			perr(p,
			     "priority: '%s' is not 0-7 or a level (emerg, alert, crit, err, "
			     "warning, notice, info, debug)",
			     value);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "propose") == 0)
		return parse_propose(p, r, value);
	perr(p,
	     "unknown key '%s' in [rule %s] (known: description, unit, message, priority, "
	     "diagnosis, propose)",
	     key, r->name);
	return -EINVAL;
}

static bool has_group(const pcre2_code *re, const char *name, size_t n)
{
	uint32_t count = 0, size = 0;
	PCRE2_SPTR table = NULL;

	(void)pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
	(void)pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
	(void)pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count; i++) {
		const char *e = (const char *)table + (size_t)i * size + 2; /* after the number */

		if (strlen(e) == n && memcmp(e, name, n) == 0)
			return true;
	}
	return false;
}

/* "{unit}, {a}, {b}": what a VALUE of this rule may use, for messages. */
static void known_placeholders(const pcre2_code *re, char *buf, size_t len)
{
	uint32_t count = 0, size = 0;
	PCRE2_SPTR table = NULL;
	size_t used;

	(void)util_snprintf(buf, len, "{unit}");
	if (!re)
		return;
	(void)pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
	(void)pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
	(void)pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count; i++) {
		used = strlen(buf);
		if (util_snprintf(buf + used, len - used, ", {%s}",
				  (const char *)table + (size_t)i * size + 2) < 0) {
			buf[used] = '\0';
			return;
		}
	}
}

/* Every {NAME} of every propose line must be {unit} or a named group of message. */
static void check_placeholders(Parser *p, const Rule *r)
{
	char known[256];

	known_placeholders(r->message_re, known, sizeof known);
	for (size_t i = 0; i < r->n_commands; i++) {
		const RuleCommand *c = &r->commands[i];

		p->line = c->line;
		for (size_t j = 0; j < c->n_args; j++)
			for (const char *s = c->args[j].value; (s = strchr(s, '{')); s++) {
				size_t n = strcspn(s + 1, "}");

				if ((n == 4 && strncmp(s + 1, "unit", 4) == 0) ||
				    has_group(r->message_re, s + 1, n))
					continue;
				perr(p, "propose: unknown placeholder {%.*s} (known: %s)", (int)n,
				     s + 1, known);
			}
	}
}

/* Cross-checks a rule once its section has ended. */
static void finish_rule(Parser *p)
{
	Rule *r = p->rule;
	unsigned saved = p->line;

	if (!r)
		return;
	p->line = r->line;
	if (!p->seen_message && !p->empty_message)
		perr(p, "[rule %s] has no message = line", r->name);
	if (p->n_propose == 0 && !p->empty_propose)
		perr(p, "[rule %s] has no propose = line", r->name);
	if (r->message_re && has_group(r->message_re, "unit", 4)) {
		p->line = p->message_line;
		perr(p, "message: a group named 'unit' would hide {unit}; rename it");
	}
	/* A message that did not compile has unknown groups: its error is enough. */
	if (!p->seen_message || r->message_re)
		check_placeholders(p, r);
	p->line = saved;
}

static void reset_section(Parser *p)
{
	p->seen_description = p->seen_unit = p->seen_message = false;
	p->seen_priority = p->seen_diagnosis = false;
	p->empty_message = p->empty_propose = false;
	p->message_line = p->n_propose = 0;
}

static int begin_section(Parser *p, const char *hdr)
{
	LlmRules *rules = p->rules;
	const char *name;
	Rule *nr;

	finish_rule(p);
	reset_section(p);
	p->rule = NULL;
	p->skipping = true; /* until the header below proves valid */
	name = ini_section_arg(hdr, "rule");
	if (!name) {
		perr(p, "unknown section [%s] (known: [rule NAME])", hdr);
		return -EINVAL;
	}
	hdr = name;
	if (!is_name(hdr, strlen(hdr), true)) {
		perr(p, "rule name '%s' must be letters, digits, '_' or '-' (at most %d)", hdr,
		     LLM_RULES_MAX_NAME);
		return -EINVAL;
	}
	for (size_t i = 0; i < rules->n; i++)
		if (strcmp(rules->rules[i].name, hdr) == 0) {
			perr(p, "rule '%s' defined twice (first on line %u)", hdr,
			     rules->rules[i].line);
			return -EINVAL;
		}
	if (rules->n >= LLM_RULES_MAX_RULES) {
		perr(p, "more than %d rules", LLM_RULES_MAX_RULES);
		return -E2BIG;
	}
	nr = realloc(rules->rules, (rules->n + 1) * sizeof *nr);
	if (!nr)
		return -ENOMEM;
	rules->rules = nr;
	p->rule = &nr[rules->n];
	*p->rule = (Rule){.line = p->line, .max_priority = -1};
	p->rule->name = strdup(hdr);
	if (!p->rule->name)
		return -ENOMEM;
	rules->n++;
	p->skipping = false;
	return 0;
}

static int parse_line(char *s, void *userdata)
{
	Parser *p = userdata;
	char *key, *value;
	int r = ini_split(s, &p->errs, p->line, "'[rule NAME]'", &key, &value);

	if (r == -EBADMSG) {
		finish_rule(p);
		reset_section(p);
		p->rule = NULL;
		p->skipping = true;
	}
	if (r < 0)
		return r == -EBADMSG ? -EINVAL : r;
	if (r == INI_LINE_SECTION)
		return begin_section(p, key);
	if (p->skipping)
		return 0; /* the section header was already reported */
	if (!p->rule) {
		perr(p, "'%s' outside of a [rule NAME] section", key);
		return -EINVAL;
	}
	if (*value == '\0') {
		perr(p, "'%s' has an empty value", key);
		p->empty_message |= strcmp(key, "message") == 0;
		p->empty_propose |= strcmp(key, "propose") == 0;
		return -EINVAL;
	}
	return rule_key(p, key, value);
}

int llm_rules_parse(const char *name, const char *buf, size_t len, LlmRules **ret,
		    char **ret_errors)
{
	Parser p = {.name = name ? name : "rules"};
	_cleanup_(llm_rules_freep) LlmRules *rules = NULL;
	int r;

	if (ret_errors)
		*ret_errors = NULL;
	rules = calloc(1, sizeof *rules);
	if (!rules)
		return -ENOMEM;
	rules->mctx = regex_match_context_new();
	if (!rules->mctx)
		return -ENOMEM;
	p.rules = rules;
	r = ini_parse(buf, len, LLM_RULES_MAX_FILE_BYTES, LLM_RULES_MAX_LINE, &p.line, &p.errs,
		      parse_line, &p);
	if (r != -ENOMEM && r != -E2BIG && !p.oom)
		finish_rule(&p);
	if (p.oom || p.errs.oom || r == -ENOMEM) {
		ini_errors_free(&p.errs);
		return -ENOMEM;
	}
	if (p.errs.n > 0) {
		if (ret_errors && !(*ret_errors = ini_errors_join(&p.errs, p.name)))
			r = -ENOMEM;
		ini_errors_free(&p.errs);
		return r == -ENOMEM ? r : r == -E2BIG ? -E2BIG : -EINVAL;
	}
	*ret = TAKE_PTR(rules);
	return 0;
}

int llm_rules_load(const char *path, LlmRules **ret, char **ret_errors)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (ret_errors)
		*ret_errors = NULL;
	r = ini_read_file(path, LLM_RULES_MAX_FILE_BYTES, &buf, &len, ret_errors);
	if (r < 0)
		return r;
	return llm_rules_parse(path, buf, len, ret, ret_errors);
}

size_t llm_rules_count(const LlmRules *r)
{
	return r ? r->n : 0;
}

const char *llm_rules_name(const LlmRules *r, size_t i)
{
	return r && i < r->n ? r->rules[i].name : NULL;
}

/* ---- matching ---- */
