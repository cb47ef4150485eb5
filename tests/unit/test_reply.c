/* SPDX-License-Identifier: MIT */
#include "harness.h"
#include "common/util.h"
#include "llm/reply.h"

static const char *const words[] = {"systemctl", "chmod", "logrotate", NULL};
static const LlmReplyOptions opts = {.max_commands = 5, .command_words = words};

static LlmReply *parse_ok(const char *s)
{
	LlmReply *r = NULL;
	char reason[256] = "";
	int rc = llm_reply_parse(s, strlen(s), &opts, &r, reason, sizeof reason);

	CHECK_(rc == 0, "refused (%d: %s): %s", rc, reason, s);
	return r;
}

static void parse_refused(const char *s, size_t len, int err, const char *why)
{
	LlmReply *r = NULL;
	char reason[256] = "";
	int rc = llm_reply_parse(s, len, &opts, &r, reason, sizeof reason);

	CHECK_(rc == err, "expected %d, got %d (%s) for: %.80s", err, rc, reason, s);
	CHECK_CONTAINS(reason, why);
	CHECK(r == NULL);
	llm_reply_free(r);
}

/* The reply's proposals, each as "text|reject reason". */
static void expect_texts(const char *reply, const char *const *want, size_t n)
{
	LlmReply *r = parse_ok(reply);

	if (!r)
		return;
	CHECK_INT(r->n, ==, n);
	for (size_t i = 0; i < r->n && i < n; i++) {
		char got[1200];

		snprintf(got, sizeof got, "%s|%s", r->proposals[i].text,
			 r->proposals[i].reject_reason ? r->proposals[i].reject_reason : "");
		CHECK_CONTAINS(got, want[i]);
	}
	llm_reply_free(r);
}

TEST(test_json_plan)
{
	LlmReply *r = parse_ok("  {\"diagnosis\": \"nginx died\", \"commands\": [{\"action\": "
			       "\"restart_service\", \"args\": {\"unit\": \"nginx\"}}, "
			       "{\"action\": \"clear_cache\"}]}\n");

	if (!r)
		return;
	CHECK_INT(r->style, ==, LLM_REPLY_JSON);
	CHECK_STR(r->diagnosis, "nginx died");
	CHECK_INT(r->n, ==, 2);
	CHECK_STR(r->proposals[0].action, "restart_service");
	CHECK_INT(r->proposals[0].n_args, ==, 1);
	CHECK_STR(r->proposals[0].arg_names[0], "unit");
	CHECK_STR(r->proposals[0].arg_values[0], "nginx");
	CHECK_STR(r->proposals[0].text, "restart_service unit=nginx");
	CHECK_INT(r->proposals[1].n_args, ==, 0);
	CHECK_INT(r->proposals[1].n_tokens, ==, 0);
	llm_reply_free(r);

	r = parse_ok("Here is the plan:\n\n```json\n{\"commands\": []}\n```\nGood luck.\n");
	if (r) {
		CHECK_INT(r->style, ==, LLM_REPLY_JSON);
		CHECK_INT(r->n, ==, 0);
		CHECK(r->diagnosis == NULL);
	}
	llm_reply_free(r);

	r = parse_ok("\xef\xbb\xbf{\"commands\": [{\"action\": \"x\", \"args\": {}}]}");
	if (r)
		CHECK_INT(r->n, ==, 1);
	llm_reply_free(r);
}

TEST(test_json_refusals)
{
#define REFUSE(s, why) parse_refused(s, sizeof(s) - 1, -EBADMSG, why)
	REFUSE("{\"commands\": [], \"commands\": [{\"action\": \"x\"}]}", "repeats the key");
	REFUSE("{\"commands\": [{\"action\": \"a\", \"action\": \"b\"}]}", "repeats the key");
	REFUSE("{\"commands\": [{\"action\": \"a\", \"args\": {\"u\": \"x\", \"u\": \"y\"}}]}",
	       "repeats the key");
	REFUSE("{\"commands\": [], \"note\": \"hi\"}", "unknown key \"note\"");
	REFUSE("{\"commands\": [{\"action\": \"a\", \"sudo\": true}]}", "unknown key \"sudo\"");
	REFUSE("{\"commands\": []} {\"commands\": []}", "trailing data");
	REFUSE("{\"commands\": []}\n```bash\nrm -rf /\n```\n", "trailing data");
	REFUSE("{\"commands\": {}}", "\"commands\" as an array");
	REFUSE("{\"diagnosis\": 1, \"commands\": []}", "\"diagnosis\" must be a string");
	REFUSE("{\"commands\": [\"systemctl restart nginx\"]}", "not an object");
	REFUSE("{\"commands\": [{\"action\": 7}]}", "\"action\" as a string");
	REFUSE("{\"commands\": [{\"args\": {}}]}", "\"action\" as a string");
	REFUSE("{\"commands\": [{\"action\": \"a\", \"args\": []}]}", "must be an object");
	REFUSE("{\"commands\": [{\"action\": \"a\", \"args\": {\"n\": 3}}]}", "must be a string");
	REFUSE("{\"commands\": [{\"action\": \"a\", \"args\": {\"n\": [\"x\"]}}]}",
	       "must be a string");
	REFUSE("{\"commands\": [{\"action\": \"a\", \"args\": {\"u\": \"nginx\\u0000;reboot\"}}]}",
	       "escaped NUL");
	REFUSE("{\"commands\": [", "not valid JSON");
	REFUSE("{'commands': []}", "not valid JSON");
	REFUSE("{\"commands\": [] /* c */}", "not valid JSON");
	REFUSE("```json\n{\"commands\": []}\n```\n```json\n{\"commands\": []}\n```\n",
	       "2 JSON blocks");
	REFUSE("```json\n{\"commands\": []}\n```\n```bash\nsystemctl restart nginx\n```\n",
	       "mixes a JSON block");
	REFUSE("```json\n{\"commands\": []}\n", "never closed");
#undef REFUSE
	{
		/* Nesting past cJSON's limit is refused, not followed. */
		char deep[4200];
		size_t n = 0;

		n += (size_t)snprintf(deep, sizeof deep, "{\"commands\": ");
		for (int i = 0; i < 2000; i++)
			deep[n++] = '[';
		for (int i = 0; i < 2000; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		parse_refused(deep, n, -EBADMSG, "not valid JSON");
	}
	{
		char six[1024];

		snprintf(six, sizeof six, "{\"commands\": [%s]}",
			 "{\"action\":\"a\"},{\"action\":\"a\"},{\"action\":\"a\"},"
			 "{\"action\":\"a\"},{\"action\":\"a\"},{\"action\":\"a\"}");
		parse_refused(six, strlen(six), -E2BIG, "more than max_commands (5)");
	}
}

TEST(test_reply_caps)
{
	size_t big = LLM_REPLY_MAX_BYTES + 1;
	char *s = malloc(big);

	memset(s, 'a', big);
	parse_refused(s, big, -E2BIG, "over the 65536-byte cap");
	free(s);
	parse_refused("systemctl restart nginx\0; reboot", 32, -EBADMSG, "NUL byte");
	parse_refused("caf\xc3 ok", 7, -EBADMSG, "not valid UTF-8");
	parse_refused("\xc0\xaf", 2, -EBADMSG, "not valid UTF-8");     /* overlong '/' */
	parse_refused("\xed\xa0\x80", 3, -EBADMSG, "not valid UTF-8"); /* surrogate */
	parse_refused("\xf4\x90\x80\x80", 4, -EBADMSG, "not valid UTF-8");
}

TEST(test_text_sources)
{
	static const char *const fence[] = {"systemctl restart nginx|", "chmod +x /opt/x|"};
	static const char *const lists[] = {"systemctl restart nginx|", "systemctl reload php|",
					    "/usr/bin/systemctl restart a|", "rm -rf /tmp/x|"};

	expect_texts("Try this:\n```bash\n# restart it\nsystemctl restart nginx\n\n"
		     "$ chmod +x /opt/x\n```\nThen check.\n",
		     fence, 2);
	expect_texts("~~~\nsystemctl restart nginx\n~~~\n````\nchmod +x /opt/x\n````\n", fence, 2);
	expect_texts("Steps:\n1. Check the logs for errors.\n- `systemctl restart nginx`\n"
		     "2) systemctl reload php\n* Restart the service with `systemctl restart x`.\n"
		     "+ /usr/bin/systemctl restart a\n- nginx failed because of a typo\n"
		     "10. rm -rf /tmp/x\n\nrm -rf / in prose is ignored\n    lazy rm -rf\n",
		     lists, 4);
	expect_texts("Nothing to do: the disk recovered by itself.\n", NULL, 0);
	parse_refused("```bash\nsystemctl restart nginx\n", 31, -EBADMSG,
		      "fence opened on line 1 is never closed");
	parse_refused("```\na\n```\n``\n```sh\nb\n", 20, -EBADMSG, "never closed");
	{
		static const char six[] = "```\nsystemctl restart a\nsystemctl restart b\n"
					  "systemctl restart c\nsystemctl restart d\n"
					  "systemctl restart e\nsystemctl restart f\n```\n";

		parse_refused(six, sizeof six - 1, -E2BIG, "more than max_commands");
	}
}

static void expect_reject(const char *cmd, const char *why)
{
	LlmReply *r = NULL;

	CHECK_INT(llm_reply_parse_command(cmd, &r), ==, 0);
	if (!r)
		return;
	CHECK_INT(r->n, ==, 1);
	CHECK_(r->proposals[0].reject_reason != NULL, "'%s' was not refused", cmd);
	CHECK_CONTAINS(r->proposals[0].reject_reason, why);
	llm_reply_free(r);
}

static void expect_tokens(const char *cmd, size_t n, const char *first, const char *last)
{
	LlmReply *r = NULL;

	CHECK_INT(llm_reply_parse_command(cmd, &r), ==, 0);
	if (!r)
		return;
	CHECK_(r->proposals[0].reject_reason == NULL, "'%s' refused: %s", cmd,
	       r->proposals[0].reject_reason);
	CHECK_INT(r->proposals[0].n_tokens, ==, n);
	if (r->proposals[0].n_tokens == n && n > 0) {
		CHECK_STR(r->proposals[0].tokens[0], first);
		CHECK_STR(r->proposals[0].tokens[n - 1], last);
	}
	llm_reply_free(r);
}

TEST(test_tokenise)
{
	static const char meta[] = ";|&$<>`\\(){}[]*?!~'\"#^";

	expect_tokens("systemctl restart nginx", 3, "systemctl", "nginx");
	expect_tokens("  systemctl\trestart   nginx  ", 3, "systemctl", "nginx");
	expect_tokens("sudo systemctl restart nginx", 3, "systemctl", "nginx");
	expect_tokens("journalctl --vacuum-size=100M", 2, "journalctl", "--vacuum-size=100M");
	for (const char *m = meta; *m; m++) {
		char cmd[64];

		snprintf(cmd, sizeof cmd, "systemctl restart nginx%cx", *m);
		expect_reject(cmd, "shell metacharacter");
	}
	expect_reject("systemctl restart nginx\n", "control byte 0x0a");
	expect_reject("systemctl restart \x1b[0mnginx", "control byte 0x1b");
	expect_reject("systemctl restart nginx\x7f", "control byte 0x7f");
	expect_reject("\xd1\x95ystemctl restart nginx", "non-ASCII byte 0xd1");
	expect_reject("systemctl\xc2\xa0restart nginx", "non-ASCII");
	expect_reject("systemctl restart \xe2\x80\xaenginx", "non-ASCII");
	expect_reject("sudo -u root systemctl restart nginx", "sudo with options");
	expect_reject("sudo sudo systemctl restart nginx", "'sudo' runs other programs");
	expect_reject("sudo", "sudo without a command");
	expect_reject("env systemctl restart nginx", "'env' runs other programs");
	expect_reject("/usr/bin/env systemctl restart nginx", "runs other programs");
	expect_reject("sh -c reboot", "'sh' runs other programs");
	expect_reject("xargs reboot", "runs other programs");
	expect_reject("nohup systemctl restart nginx", "runs other programs");
	expect_reject("timeout 5 systemctl restart nginx", "runs other programs");
	expect_reject("busybox reboot", "runs other programs");
	expect_reject("systemd-run reboot", "runs other programs");
	expect_reject("SYSTEMD_LOG_LEVEL=debug systemctl restart nginx", "environment assignment");
	expect_reject("   ", "empty command");
	{
		char many[400] = "systemctl";

		for (int i = 0; i < 33; i++)
			memcpy(many + 9 + 2 * i, " x", 3);
		expect_reject(many, "more than 32 words");
	}
	{
		char huge[1100];

		memset(huge, 'a', sizeof huge - 1);
		huge[sizeof huge - 1] = '\0';
		expect_reject(huge, "over the 1024-byte cap");
	}
}

TEST(test_review_findings)
{
	static const char *const shell[] = {"systemctl restart nginx|"};
	LlmReply *r;

	/* Escaped control characters decode in cJSON: the diagnosis is made plain. */
	r = parse_ok("{\"diagnosis\": \"ok\\u001b]2;owned\\u0007\\u001b[2J \\u009b x \u00e9\", "
		     "\"commands\": []}");
	if (r)
		CHECK_STR(r->diagnosis, "ok?]2;owned??[2J ? x \u00e9");
	llm_reply_free(r);
	r = parse_ok("{\"diagnosis\": \"line one\\nline\\ttwo\", \"commands\": []}");
	if (r)
		CHECK_STR(r->diagnosis, "line one line two");
	llm_reply_free(r);
	/* Quoted evidence in a text or log block is not a proposal... */
	expect_texts("The log says:\n```text\nnginx: [emerg] bind() failed\n```\n```log\n$(id)\n"
		     "```\nFix:\n```Bash\nsystemctl restart nginx\n```\n",
		     shell, 1);
	/* ...and one that shows a command refuses the reply. */
	parse_refused("The log says:\n```text\nrm -rf / ; reboot\n```\n", 38, -EBADMSG,
		      "line 3: a code block tagged 'text' shows a command");
	expect_texts("```python\nimport os\n```\n~~~ console\nsystemctl restart nginx\n~~~\n",
		     shell, 1);
}

/* The CommonMark reading: where commands come from, and what refuses. */
TEST(test_markdown)
{
	static const char *const item_fence[] = {"systemctl restart nginx|", "chmod +x /opt/x|"};
	LlmReply *r;

#define REFUSE(s, why) parse_refused(s, sizeof(s) - 1, -EBADMSG, why)
	/* A fence in a list item runs; comments and prompts as in any fence. */
	expect_texts("1. Restart:\n\n   ```bash\n   # first\n   $ systemctl restart nginx\n   ```\n"
		     "2. `chmod +x /opt/x`\n",
		     item_fence, 2);
	/* The item's text as written: emphasis markers stay and reach the whitelist. */
	{
		static const char *const raw[] = {"systemctl restart _nginx_|"};

		expect_texts("- systemctl restart _nginx_\n", raw, 1);
	}
	/* Evidence in code blocks and quotes proposes nothing. */
	expect_texts("```log\nnginx: [emerg] bind() failed\n/var/log/x.log: denied\n```\n"
		     "> - Active: failed\n\n    /dev/sda1 50G 48G 96% /\n",
		     NULL, 0);
	REFUSE("x\n\n```text\nsystemctl restart nginx\n```\n",
	       "line 4: a code block tagged 'text' shows a command");
	REFUSE("```te\x1bxt\nsystemctl restart nginx\n```\n", "line 2: a tagged code block shows");
	REFUSE("Run:\n\n    systemctl restart nginx\n", "line 3: an indented code block shows");
	REFUSE("> ```\n> $ systemctl restart nginx\n> ```\n",
	       "line 2: a code block inside a block quote shows");
	REFUSE("> 1. systemctl restart nginx\n", "line 1: a list item inside a block quote");
	REFUSE("ok\n\n<!-- systemctl restart nginx -->\n", "line 3: an HTML block shows");
	REFUSE("- systemctl restart nginx\nrm -rf /\n", "line 1: a list item's command runs on");
	REFUSE("- systemctl restart nginx\n  ---\n", "as a heading");
	REFUSE("```bash\rsystemctl restart nginx\r```\r", "bare CR (byte 7)");
	REFUSE("1. Fix:\n   ```bash\n   systemctl restart nginx\n```\n",
	       "fence opened on line 2 is never closed");
	REFUSE("```json\n{\"commands\": []}\n```\n\n    indented\n", "mixes a JSON block");
#undef REFUSE
	/* An unclosed fence refuses only when it would hold a command. */
	expect_texts("```text\nnginx: [emerg] bind() failed\n", NULL, 0);
	expect_texts("```bash\n# nothing yet\n", NULL, 0);
	/* The one ```json fence is found in the tree, in a list item too. */
	r = parse_ok("1. Plan:\n\n   ```json\n   {\"commands\": [{\"action\": \"a\"}]}\n   ```\n");
	if (r) {
		CHECK_INT(r->style, ==, LLM_REPLY_JSON);
		CHECK_INT(r->n, ==, 1);
	}
	llm_reply_free(r);
	r = parse_ok("> ```json\n> {\"commands\": [{\"action\": \"a\"}]}\n> ```\n");
	if (r) {
		CHECK_INT(r->style, ==, LLM_REPLY_TEXT);
		CHECK_INT(r->n, ==, 0);
	}
	llm_reply_free(r);
}

TEST(test_markdown_caps)
{
	char buf[20000];
	size_t n = 0;

	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "> ");
	n += (size_t)snprintf(buf + n, sizeof buf - n, "deep\n");
	parse_refused(buf, n, -E2BIG, "more than 16 deep");
	for (n = 0; n + 3 < sizeof buf && n < 3 * 4097; n += 3)
		memcpy(buf + n, "a\n\n", 3);
	parse_refused(buf, n, -E2BIG, "more than 4096 Markdown blocks");
	for (n = 0; n < 6 * 257; n += 6)
		memcpy(buf + n, "![[]()", 6);
	parse_refused(buf, n, -E2BIG, "more than 256 image openers");
	/* At the caps, the reply is read. */
	for (n = 0; n < 6 * 256; n += 6)
		memcpy(buf + n, "![[]()", 6);
	memcpy(buf + n, "\n", 2);
	expect_texts(buf, NULL, 0);
}

int main(void)
{
	RUN(test_json_plan);
	RUN(test_json_refusals);
	RUN(test_reply_caps);
	RUN(test_text_sources);
	RUN(test_tokenise);
	RUN(test_review_findings);
	RUN(test_markdown);
	RUN(test_markdown_caps);
	return harness_finish();
}
