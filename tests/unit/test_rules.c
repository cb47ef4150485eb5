/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <time.h>

#include "harness.h"
#include "common/text.h"
#include "common/util.h"
#include "llm/reply.h"
#include "llm/rules.h"
#include "whitelist/whitelist.h"

static const LlmReplyOptions reply_opts = {.max_commands = 5};

static const char *data_dir(void)
{
	const char *d = getenv("HEALER_TEST_DATA");

	return d ? d : "tests/data";
}

static LlmRules *parse_ok(const char *text)
{
	LlmRules *r = NULL;
	char *errors = NULL;
	int rc = llm_rules_parse("test.conf", text, strlen(text), &r, &errors);

	CHECK_(rc == 0, "refused (%d):\n%s", rc, errors ? errors : "");
	free(errors);
	return r;
}

/* Parses text that must be refused; returns the error text (caller frees). */
static char *parse_refused(const char *name, const char *text, size_t len, int err)
{
	LlmRules *r = NULL;
	char *errors = NULL;
	int rc = llm_rules_parse(name, text, len, &r, &errors);

	CHECK_(rc == err, "%s: expected %d, got %d", name, err, rc);
	CHECK(r == NULL);
	llm_rules_free(r);
	return errors;
}

/*
 * Feeds a plan through the real reply parser: it must be accepted whole, as
 * JSON, with no proposal refused. Returns the reply (caller frees).
 */
static LlmReply *reply_ok(const char *json)
{
	LlmReply *reply = NULL;
	char reason[256] = "";
	int rc = llm_reply_parse(json, strlen(json), &reply_opts, &reply, reason, sizeof reason);

	CHECK_(rc == 0, "reply parser refused (%d: %s): %s", rc, reason, json);
	if (!reply)
		return NULL;
	CHECK_INT(reply->style, ==, LLM_REPLY_JSON);
	for (size_t i = 0; i < reply->n; i++)
		CHECK_(!reply->proposals[i].reject_reason, "proposal %zu refused: %s", i,
		       reply->proposals[i].reject_reason);
	return reply;
}

/* ---- the example file against realistic messages (tests/data/rules/messages.txt) ---- */

typedef struct Case {
	unsigned line;
	const char *unit, *message, *rule, *reply;
	int priority;
	size_t n_propose;
	const char *propose[LLM_RULES_MAX_PROPOSE + 1];
} Case;

/*
 * The example rules propose only what examples/whitelist.conf allows: the
 * action exists with exactly these parameters, and the whitelist accepts the
 * command for the incident's unit. fix_permissions needs the file itself, so
 * there only the action and its parameter names are checked.
 */
static void check_whitelisted(const Whitelist *wl, const Case *c, const LlmProposal *p)
{
	const WlVetOptions vo = {.evidence_unit = c->unit};
	WlArg args[LLM_RULES_MAX_ARGS];
	WlCommand *cmd = NULL;
	char reason[512] = "";
	size_t i;
	int rc;

	for (i = 0; i < wl_n_actions(wl); i++)
		if (strcmp(wl_action_name(wl, i), p->action) == 0)
			break;
	CHECK_(i < wl_n_actions(wl), "messages.txt:%u: action %s is not in the whitelist", c->line,
	       p->action);
	if (i == wl_n_actions(wl))
		return;
	CHECK_INT(wl_action_n_params(wl, i), ==, p->n_args);
	for (size_t j = 0; j < p->n_args && j < LLM_RULES_MAX_ARGS; j++) {
		CHECK_STR(wl_action_param_name(wl, i, j), p->arg_names[j]);
		args[j] = (WlArg){p->arg_names[j], p->arg_values[j]};
	}
	if (strcmp(p->action, "fix_permissions") == 0)
		return;
	rc = wl_vet(wl, p->action, args, p->n_args, &vo, &cmd, reason, sizeof reason);
	CHECK_(rc == 0, "messages.txt:%u: whitelist refuses %s: %s", c->line, p->text, reason);
	wl_command_free(cmd);
}

static void run_case(const LlmRules *rules, const Whitelist *wl, const Case *c)
{
	char *reply = (char *)"untouched";
	const char *rule = "untouched";
	int rc = llm_rules_match(rules, c->unit, c->priority, c->message, &reply, &rule);
	LlmReply *parsed;

	if (strcmp(c->rule, "-") == 0) {
		CHECK_(rc == 0, "messages.txt:%u: expected no rule, got %d (%s): %s", c->line, rc,
		       rc > 0 ? rule : "", rc > 0 ? reply : "");
		CHECK_STR(reply, "untouched");
		CHECK_STR(rule, "untouched");
		if (rc > 0)
			free(reply);
		return;
	}
	CHECK_(rc == 1, "messages.txt:%u: expected rule %s, got %d", c->line, c->rule, rc);
	if (rc != 1)
		return;
	CHECK_(strcmp(rule, c->rule) == 0, "messages.txt:%u: rule %s, expected %s", c->line, rule,
	       c->rule);
	CHECK_(c->reply && strcmp(reply, c->reply) == 0,
	       "messages.txt:%u: reply\n  got:  %s\n  want: %s", c->line, reply,
	       c->reply ? c->reply : "(none)");
	parsed = reply_ok(reply);
	if (parsed) {
		CHECK_(parsed->n == c->n_propose, "messages.txt:%u: %zu proposals, expected %zu",
		       c->line, parsed->n, c->n_propose);
		for (size_t i = 0; i < parsed->n && i < c->n_propose; i++)
			CHECK_(strcmp(parsed->proposals[i].text, c->propose[i]) == 0,
			       "messages.txt:%u: proposal \"%s\", expected \"%s\"", c->line,
			       parsed->proposals[i].text, c->propose[i]);
		for (size_t i = 0; i < parsed->n; i++)
			check_whitelisted(wl, c, &parsed->proposals[i]);
		CHECK(parsed->diagnosis != NULL);
	}
	llm_reply_free(parsed);
	free(reply);
}

TEST(test_example_messages)
{
	char path[512], *buf = NULL, *line;
	size_t len = 0, n_cases = 0;
	LlmRules *rules = NULL;
	Whitelist *wl = NULL;
	char *errors = NULL;
	Case c = {.priority = 3};
	unsigned lineno = 0;
	bool seen[LLM_RULES_MAX_RULES] = {false};

	CHECK_INT(llm_rules_load("examples/rules.conf", &rules, &errors), ==, 0);
	CHECK_(errors == NULL, "examples/rules.conf:\n%s", errors ? errors : "");
	free(errors);
	CHECK_INT(wl_load("examples/whitelist.conf", &wl, NULL), ==, 0);
	if (!rules || !wl) {
		llm_rules_free(rules);
		wl_free(wl);
		return;
	}
	CHECK_INT(llm_rules_count(rules), ==, 11);
	CHECK_STR(llm_rules_name(rules, 0), "nginx-bind");
	CHECK(llm_rules_name(rules, llm_rules_count(rules)) == NULL);

	snprintf(path, sizeof path, "%s/rules/messages.txt", data_dir());
	CHECK_INT(util_read_file(path, 1 << 20, &buf, &len), ==, 0);
	for (line = buf; line; lineno++) {
		char *nl = strchr(line, '\n'), *colon;

		if (nl)
			*nl = '\0';
		if (line[0] == '\0' || !nl) {
			/* A blank line, or the end: the record so far is a case. */
			if (c.message) {
				CHECK_(c.rule != NULL, "messages.txt:%u: no rule: line", c.line);
				if (c.rule)
					run_case(rules, wl, &c);
				for (size_t i = 0; c.rule && i < llm_rules_count(rules); i++)
					if (strcmp(c.rule, llm_rules_name(rules, i)) == 0)
						seen[i] = true;
				n_cases++;
			}
			c = (Case){.priority = 3};
		} else if (line[0] != '#' && (colon = strstr(line, ": "))) {
			const char *v = colon + 2;

			*colon = '\0';
			if (!c.message && !c.unit && !c.rule)
				c.line = lineno + 1;
			if (strcmp(line, "unit") == 0)
				c.unit = v;
			else if (strcmp(line, "priority") == 0)
				c.priority = v[0] - '0';
			else if (strcmp(line, "message") == 0)
				c.message = v;
			else if (strcmp(line, "rule") == 0)
				c.rule = v;
			else if (strcmp(line, "reply") == 0)
				c.reply = v;
			else if (strcmp(line, "propose") == 0 &&
				 c.n_propose < LLM_RULES_MAX_PROPOSE)
				c.propose[c.n_propose++] = v;
			else
				CHECK_(false, "messages.txt:%u: unknown key %s", lineno + 1, line);
		} else if (line[0] != '#') {
			CHECK_(false, "messages.txt:%u: expected 'key: value'", lineno + 1);
		}
		line = nl ? nl + 1 : NULL;
	}
	CHECK_INT(n_cases, >=, 38);
	/* Every rule of the example is exercised by at least one message. */
	for (size_t i = 0; i < llm_rules_count(rules); i++)
		CHECK_(seen[i], "rule %s has no message in messages.txt", llm_rules_name(rules, i));
	free(buf);
	llm_rules_free(rules);
	wl_free(wl);
}

/* ---- errors: every file of rules/errors/ reports exactly its "# expect: LINE: TEXT" ---- */

TEST(test_error_files)
{
	char dir[512];
	struct dirent **list;
	int n;

	snprintf(dir, sizeof dir, "%s/rules/errors", data_dir());
	n = scandir(dir, &list, NULL, alphasort);
	CHECK(n > 2);
	for (int i = 0; i < n; i++) {
		char path[1024], *buf = NULL, *errors;
		size_t len, n_expect = 0, n_lines = 0;
		const char *name = list[i]->d_name;

		if (strlen(name) < 6 || strcmp(name + strlen(name) - 5, ".conf") != 0) {
			free(list[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", dir, name);
		CHECK_INT(util_read_file(path, 1 << 20, &buf, &len), ==, 0);
		errors = parse_refused(name, buf, len, -EINVAL);
		for (const char *e = errors; e && *e; e = strchr(e, '\n') + 1)
			n_lines++;
		for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			char want[1024], *nl;
			unsigned ln;
			int off = 0;

			if (sscanf(l, "# expect: %u: %n", &ln, &off) != 1 || off == 0)
				continue;
			nl = strchr(l + off, '\n');
			/* The whole error line: "name:line: message\n". */
			(void)util_snprintf(want, sizeof want, "%s:%u: %.*s\n", name, ln,
					    (int)(nl ? nl - (l + off) : (long)strlen(l + off)),
					    l + off);
			CHECK_CONTAINS(errors, want);
			n_expect++;
		}
		CHECK_(n_expect == n_lines, "%s: %zu errors reported, %zu expected:\n%s", name,
		       n_lines, n_expect, errors ? errors : "");
		free(errors);
		free(buf);
		free(list[i]);
	}
	free(list);
}

TEST(test_caps)
{
	size_t big = LLM_RULES_MAX_FILE_BYTES + 1;
	char *buf = malloc(big), *errors, line[LLM_RULES_MAX_LINE + 64];
	LlmRules *r = NULL;
	size_t used = 0;

	memset(buf, '#', big);
	errors = parse_refused("big", buf, big, -E2BIG);
	CHECK_STR(errors, "big:1: file is 1048577 bytes, over the 1048576-byte cap\n");
	free(errors);

	errors = parse_refused("nul", "[rule a]\n\0x", 11, -EINVAL);
	CHECK_STR(errors, "nul:1: file holds a NUL byte\n");
	free(errors);

	memset(line, 'a', sizeof line);
	memcpy(line, "[rule a]\n#", 10);
	line[sizeof line - 1] = '\n';
	errors = parse_refused("long", line, sizeof line, -EINVAL);
	CHECK_CONTAINS(errors, "long:2: line longer than 4096 bytes\n");
	free(errors);

	/* 257 rules: the 257th header is refused, and only it. */
	for (int i = 0; i <= LLM_RULES_MAX_RULES; i++)
		used += (size_t)snprintf(buf + used, big - used,
					 "[rule r%d]\nmessage = x\npropose = a\n", i);
	errors = parse_refused("many", buf, used, -EINVAL);
	CHECK_STR(errors, "many:769: more than 256 rules\n");
	free(errors);
	buf[used - strlen("[rule r256]\nmessage = x\npropose = a\n")] = '\0';
	CHECK_INT(llm_rules_parse("256", buf, strlen(buf), &r, NULL), ==, 0);
	CHECK_INT(llm_rules_count(r), ==, 256);
	llm_rules_free(r);
	r = NULL;

	/* An empty file is no rules at all: nothing ever matches. */
	CHECK_INT(llm_rules_parse("empty", "", 0, &r, NULL), ==, 0);
	CHECK_INT(llm_rules_count(r), ==, 0);
	llm_rules_free(r);
	r = NULL;

	CHECK_INT(llm_rules_load("/nonexistent/rules.conf", &r, &errors), ==, -ENOENT);
	CHECK_STR(errors, "/nonexistent/rules.conf: No such file or directory\n");
	CHECK(r == NULL);
	free(errors);
	free(buf);
}

/* ---- matching ---- */

static int match(const LlmRules *r, const char *unit, int prio, const char *msg, char **reply,
		 const char **rule)
{
	*reply = NULL;
	*rule = NULL;
	return llm_rules_match(r, unit, prio, msg, reply, rule);
}

TEST(test_unit_and_priority)
{
	LlmRules *r = parse_ok("[rule nginx]\n"
			       "unit = nginx\\.service\n"
			       "priority = err\n"
			       "message = boom\n"
			       "propose = restart_service unit={unit}\n"
			       "\n"
			       "[rule needs-unit]\n"
			       "priority = 4\n"
			       "message = boom\n"
			       "propose = restart_service unit={unit}\n"
			       "\n"
			       "[rule any]\n"
			       "message = boom\n"
			       "propose = restart_network\n");
	char *reply;
	const char *rule;

	if (!r)
		return;
	CHECK_INT(match(r, "nginx.service", 3, "it went boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "nginx");
	CHECK_STR(reply, "{\"commands\":[{\"action\":\"restart_service\",\"args\":{\"unit\":"
			 "\"nginx.service\"}}]}");
	free(reply);
	CHECK_INT(match(r, "nginx.service", 0, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "nginx");
	free(reply);
	/* The unit matches as a whole: anchored at both ends. */
	CHECK_INT(match(r, "nginx.service.evil", 3, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "needs-unit");
	free(reply);
	CHECK_INT(match(r, "xnginx.service", 3, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "needs-unit");
	free(reply);
	CHECK_INT(match(r, "nginx.service\n", 3, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "needs-unit");
	free(reply);
	/* Priority: warning is not err or worse, but is 4 or worse. */
	CHECK_INT(match(r, "nginx.service", 4, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "needs-unit");
	free(reply);
	CHECK_INT(match(r, "nginx.service", 5, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "any");
	free(reply);
	/* An unknown priority fails every rule that sets one. */
	CHECK_INT(match(r, "nginx.service", -1, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "any");
	free(reply);
	CHECK_INT(match(r, "nginx.service", 8, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "any");
	free(reply);
	/* No unit: neither a unit pattern nor {unit} can apply. */
	CHECK_INT(match(r, NULL, 3, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "any");
	CHECK_STR(reply, "{\"commands\":[{\"action\":\"restart_network\",\"args\":{}}]}");
	free(reply);
	CHECK_INT(match(r, "", 3, "boom", &reply, &rule), ==, 1);
	CHECK_STR(rule, "any");
	free(reply);
	CHECK_INT(match(r, "nginx.service", 3, "all quiet", &reply, &rule), ==, 0);
	CHECK(reply == NULL && rule == NULL);
	CHECK_INT(llm_rules_match(r, "nginx.service", 3, NULL, &reply, &rule), ==, -EINVAL);
	CHECK_INT(llm_rules_match(NULL, "nginx.service", 3, "boom", &reply, &rule), ==, -EINVAL);
	/* ret_rule may be NULL. */
	CHECK_INT(llm_rules_match(r, NULL, 3, "boom", &reply, NULL), ==, 1);
	free(reply);
	llm_rules_free(r);
}

TEST(test_placeholders)
{
	LlmRules *r = parse_ok("[rule two]\n"
			       "propose = copy from={src} to={dst}\n" /* before message: fine */
			       "message = cp (?<src>\\S+) (?<dst>\\S+) failed\n"
			       "description = copy failed\n"
			       "propose = note where={unit}:{src}->{dst}\n"
			       "\n"
			       "[rule optional]\n"
			       "message = ^path(?:=(?<path>/\\S*))?$\n"
			       "propose = fix_permissions path={path}\n"
			       "\n"
			       "[rule fallback]\n"
			       "message = ^path\n"
			       "propose = none\n");
	char *reply;
	const char *rule;
	LlmReply *p;

	if (!r)
		return;
	CHECK_INT(match(r, "app.service", 3, "cp /a /b failed", &reply, &rule), ==, 1);
	CHECK_STR(rule, "two");
	CHECK_STR(reply, "{\"diagnosis\":\"copy failed\",\"commands\":[{\"action\":\"copy\","
			 "\"args\":{\"from\":\"/a\",\"to\":\"/b\"}},{\"action\":\"note\",\"args\":"
			 "{\"where\":\"app.service:/a->/b\"}}]}");
	p = reply ? reply_ok(reply) : NULL;
	if (p) {
		CHECK_STR(p->diagnosis, "copy failed");
		CHECK_INT(p->n, ==, 2);
		CHECK_STR(p->proposals[0].action, "copy");
		CHECK_INT(p->proposals[0].n_args, ==, 2);
		CHECK_STR(p->proposals[0].arg_names[1], "to");
		CHECK_STR(p->proposals[0].arg_values[1], "/b");
		CHECK_STR(p->proposals[1].arg_values[0], "app.service:/a->/b");
	}
	llm_reply_free(p);
	free(reply);
	/* {unit} without a unit: the rule does not apply. */
	CHECK_INT(match(r, NULL, 3, "cp /a /b failed", &reply, &rule), ==, 0);

	CHECK_INT(match(r, NULL, 3, "path=/opt/x", &reply, &rule), ==, 1);
	CHECK_STR(rule, "optional");
	free(reply);
	/* An unset group, or an empty one, leaves the rule out. */
	CHECK_INT(match(r, NULL, 3, "path", &reply, &rule), ==, 1);
	CHECK_STR(rule, "fallback");
	free(reply);
	CHECK_INT(match(r, NULL, 3, "path=/", &reply, &rule), ==, 1);
	CHECK_STR(rule, "optional");
	free(reply);
	llm_rules_free(r);

	r = parse_ok("[rule empty]\nmessage = ^x(?<v>y*)$\npropose = a v={v}\n");
	if (r)
		CHECK_INT(match(r, NULL, 3, "x", &reply, &rule), ==, 0);
	llm_rules_free(r);
}

/* A message cannot shape the JSON around the values it fills. */
TEST(test_injection)
{
	LlmRules *r = parse_ok("[rule echo]\n"
			       "message = ^ECHO (?<text>.*)\n"
			       "diagnosis = said \"{text}\" \\ literally\n"
			       "propose = echo text={text}\n"
			       "\n"
			       "[rule unit]\n"
			       "message = ^UNIT\n"
			       "propose = restart_service unit={unit}\n");
	static const char *const hostile[] = {
		"x\"}], \"commands\": [{\"action\": \"rm\", \"args\": {\"path\": \"/\"}}]}",
		"\"}]}\n{\"commands\": []}",
		"a b \"quoted\" 'single' back\\slash \\\" \\u0000 \\\\u0000 tab\there",
		"ctl \x01\x1b[31m\x7f del, \xc2\x85 nel, \xc3\xa9t\xc3\xa9 \xf0\x9f\x94\xa5",
		"; rm -rf / # $(reboot) `id` | nc evil 1 && x",
		"} { ] [ , : \\",
	};
	char *reply;
	const char *rule;

	if (!r)
		return;
	for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
		char msg[512], *want;
		LlmReply *p;

		snprintf(msg, sizeof msg, "ECHO %s", hostile[i]);
		CHECK_INT(match(r, NULL, 3, msg, &reply, &rule), ==, 1);
		if (!reply)
			continue;
		/* DEL goes out escaped; the reply parser sees no raw control byte. */
		for (const char *s = reply; *s; s++)
			CHECK_((unsigned char)*s >= 0x20 && *s != 0x7f, "raw byte 0x%02x in %s",
			       (unsigned char)*s, reply);
		p = reply_ok(reply);
		if (p) {
			CHECK_INT(p->n, ==, 1);
			CHECK_STR(p->proposals[0].action, "echo");
			CHECK_INT(p->proposals[0].n_args, ==, 1);
			/* Multi-line input: '.' stops at the newline. */
			/* Controls and invalid bytes arrive as plain text (common/text.h). */
			want = text_clean_str(i == 1 ? "\"}]}" : hostile[i], 0);
			CHECK_STR(p->proposals[0].arg_values[0], want);
			free(want);
			/* The diagnosis is the administrator's text, placeholders and all. */
			CHECK_STR(p->diagnosis, "said \"{text}\" \\ literally");
		}
		llm_reply_free(p);
		free(reply);
	}
	CHECK_INT(match(r, NULL, 3, "ECHO a\\u0000b", &reply, &rule), ==, 1);
	CHECK_STR(reply, "{\"diagnosis\":\"said \\\"{text}\\\" \\u005c literally\",\"commands\":"
			 "[{\"action\":\"echo\",\"args\":{\"text\":\"a\\u005cu0000b\"}}]}");
	free(reply);

	/* A unit that is not valid UTF-8 goes out as plain text, still valid JSON. */
	CHECK_INT(match(r, "bad\xff\xc0\xafunit.service", 3, "UNIT", &reply, &rule), ==, 1);
	CHECK_STR(reply, "{\"commands\":[{\"action\":\"restart_service\",\"args\":{\"unit\":"
			 "\"bad???unit.service\"}}]}");
	if (reply) {
		LlmReply *p = reply_ok(reply);

		llm_reply_free(p);
	}
	free(reply);
	llm_rules_free(r);
}

/* Invalid UTF-8 in a message is no error: it just matches nothing itself. */
TEST(test_invalid_utf8)
{
	LlmRules *r = NULL;
	char *reply, *errors = NULL;
	const char *rule;

	CHECK_INT(llm_rules_load("examples/rules.conf", &r, &errors), ==, 0);
	free(errors);
	if (!r)
		return;
	CHECK_INT(match(r, "app.service", 3, "\xff\xfe\xc0 write failed: No space left on device",
			&reply, &rule),
		  ==, 1);
	CHECK_STR(rule, "no-space-left");
	free(reply);
	/* The permission rules want the whole line to be the shell's or systemd's. */
	CHECK_INT(match(r, "app.service", 3, "\xff\xfe\xc0 /opt/app/run.sh: Permission denied",
			&reply, &rule),
		  ==, 0);
	/* And a system service: a login session or a user's manager cannot ask. */
	CHECK_INT(match(r, "session-3.scope", 3,
			"Failed to execute /opt/app/run.sh: Permission denied", &reply, &rule),
		  ==, 0);
	CHECK_INT(match(r, "user@1000.service", 3,
			"Failed to execute /opt/app/run.sh: Permission denied", &reply, &rule),
		  ==, 0);
	CHECK_INT(match(r, "backup.service", 3,
			"Failed to execute /opt/app/run.sh: Permission denied", &reply, &rule),
		  ==, 1);
	free(reply);
	CHECK_INT(
		match(r, "app.service", 3, "/opt/app/r\xffun.sh: Permission denied", &reply, &rule),
		==, 0);
	CHECK_INT(match(r, "app.service", 3, "No space left on dev\xed\xa0\x80ice", &reply, &rule),
		  ==, 0);
	llm_rules_free(r);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Patterns that backtrack without end against a long hostile message: each
 * gives up (no match) and the next rule still gets its turn. The second one
 * stays under pcre2's match limit at every starting position, which alone
 * would cost seconds; the work budget stops it.
 */
TEST(test_backtracking)
{
	LlmRules *r = parse_ok("[rule nested]\n"
			       "message = (a+)+$\n"
			       "propose = never\n"
			       "\n"
			       "[rule per-position]\n"
			       "message = (?:a?){12}a{12}(?:$|c)\n"
			       "propose = never\n"
			       "\n"
			       "[rule alternation]\n"
			       "message = ^(?:a|aa)+c\n"
			       "propose = never\n"
			       "\n"
			       "[rule plain]\n"
			       "message = a!$\n"
			       "propose = found\n");
	size_t n = LLM_RULES_MAX_MESSAGE;
	char *msg = malloc(n + 1), *reply;
	const char *rule;
	double t;

	if (!r || !msg)
		return;
	memset(msg, 'a', n);
	msg[n - 1] = '!';
	msg[n] = '\0';
	t = now_sec();
	CHECK_INT(match(r, NULL, 3, msg, &reply, &rule), ==, 1);
	t = now_sec() - t;
	CHECK_STR(rule, "plain");
	CHECK_(t < 2.0, "hostile message took %.2fs", t);
	free(reply);

	/* One byte over the cap matches nothing at all. */
	msg = realloc(msg, n + 2);
	memset(msg, 'a', n + 1);
	msg[n] = '!';
	msg[n + 1] = '\0';
	CHECK_INT(match(r, NULL, 3, msg, &reply, &rule), ==, 0);
	free(msg);
	llm_rules_free(r);
}

TEST(test_value_caps)
{
	LlmRules *r = parse_ok("[rule double]\n"
			       "message = ^D(?<all>.+)$\n"
			       "propose = a v={all}{all}\n"
			       "\n"
			       "[rule wide]\n"
			       "message = ^W(?<all>.+)$\n"
			       "propose = a a={all} b={all} c={all} d={all}\n"
			       "propose = a a={all} b={all} c={all} d={all}\n"
			       "propose = a a={all} b={all} c={all} d={all}\n"
			       "propose = a a={all} b={all} c={all} d={all}\n"
			       "propose = a a={all} b={all} c={all} d={all}\n"
			       "\n"
			       "[rule long-unit]\n"
			       "message = ^U\n"
			       "propose = a u={unit}\n");
	char msg[5000], unit[LLM_RULES_MAX_UNIT + 2], *reply;
	const char *rule;

	if (!r)
		return;
	/* 2 x 2048 bytes is the cap exactly; one more byte is over it. */
	msg[0] = 'D';
	memset(msg + 1, 'x', 2048);
	msg[2049] = '\0';
	CHECK_INT(match(r, NULL, 3, msg, &reply, &rule), ==, 1);
	CHECK_INT(strlen(reply), ==,
		  strlen("{\"commands\":[{\"action\":\"a\",\"args\":{\"v\":\"\"}}]}") + 4096);
	free(reply);
	memset(msg + 1, 'x', 2049);
	msg[2050] = '\0';
	CHECK_INT(match(r, NULL, 3, msg, &reply, &rule), ==, -E2BIG);
	CHECK(reply == NULL && rule == NULL);
	/* 20 values of 4000 bytes: over the reply cap of llm/reply.h. */
	msg[0] = 'W';
	memset(msg + 1, 'x', 4000);
	msg[4001] = '\0';
	CHECK_INT(match(r, NULL, 3, msg, &reply, &rule), ==, -E2BIG);
	msg[3001] = '\0';
	CHECK_INT(match(r, NULL, 3, msg, &reply, &rule), ==, 1);
	CHECK_INT(strlen(reply), <=, LLM_REPLY_MAX_BYTES);
	if (reply) {
		LlmReply *p = reply_ok(reply);

		if (p)
			CHECK_INT(p->n, ==, 5);
		llm_reply_free(p);
	}
	free(reply);
	/* A unit longer than any systemd unit name matches nothing. */
	memset(unit, 'u', sizeof unit - 1);
	unit[LLM_RULES_MAX_UNIT] = '\0';
	CHECK_INT(match(r, unit, 3, "U", &reply, &rule), ==, 1);
	free(reply);
	unit[LLM_RULES_MAX_UNIT] = 'u';
	unit[LLM_RULES_MAX_UNIT + 1] = '\0';
	CHECK_INT(match(r, unit, 3, "U", &reply, &rule), ==, 0);
	llm_rules_free(r);
}

int main(void)
{
	RUN(test_example_messages);
	RUN(test_error_files);
	RUN(test_caps);
	RUN(test_unit_and_priority);
	RUN(test_placeholders);
	RUN(test_injection);
	RUN(test_invalid_utf8);
	RUN(test_backtracking);
	RUN(test_value_caps);
	return harness_finish();
}
