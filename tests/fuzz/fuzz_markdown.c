/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the Markdown half of the reply parser: any bytes as a free-text
 * reply. Beyond "no crash, no leak, no slow input", it checks what matters
 * for safety against a second, deliberately simpler reading of the same
 * cmark tree: every proposal's text lies inside a place commands may come
 * from (a code block outside block quotes whose tag is empty or a shell, or
 * the source lines of a list item outside block quotes). That reading is
 * wider than the parser's (it takes indented blocks and later paragraphs of
 * an item too), so it never cries wolf; a proposal outside it is a command
 * taken from a log block, a quote, an HTML block or prose.
 */
#include <cmark.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/fuzz/fuzz.h"
#include "llm/reply.h"

static const char *const words[] = {"systemctl", "chmod", "logrotate", "journalctl", NULL};

static bool quoted(cmark_node *n)
{
	for (n = cmark_node_parent(n); n; n = cmark_node_parent(n))
		if (cmark_node_get_type(n) == CMARK_NODE_BLOCK_QUOTE)
			return true;
	return false;
}

static bool shell_tag(const char *info)
{
	static const char *const tags[] = {"",	      "bash",	       "sh",  "shell",
					   "console", "shell-session", "zsh", "terminal"};
	size_t n = strcspn(info, " \t");

	for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
		if (strlen(tags[i]) == n && strncasecmp(info, tags[i], n) == 0)
			return true;
	return false;
}

/* The bytes of lines first..last (1-based, as cmark counts them) of s. */
static bool lines_hold(const char *s, size_t n, int first, int last, const char *text)
{
	int line = 1;
	size_t a = 0, i = 0;
	bool found;
	char *copy;

	for (; i < n && line < first; i++)
		if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n')))
			line++, a = i + 1;
	for (i = a; i < n && line <= last; i++)
		if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n')))
			line++;
	copy = strndup(s + a, i - a);
	if (!copy)
		abort();
	found = strstr(copy, text) != NULL;
	free(copy);
	return found;
}

/* Whether text lies inside some place a command may come from. */
static bool from_command_place(cmark_node *doc, const char *s, size_t n, const char *text)
{
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	bool found = false;

	while (!found && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *node = cmark_iter_get_node(it);

		if (ev != CMARK_EVENT_ENTER || quoted(node))
			continue;
		if (cmark_node_get_type(node) == CMARK_NODE_CODE_BLOCK)
			found = shell_tag(cmark_node_get_fence_info(node)) &&
				cmark_node_get_literal(node) &&
				strstr(cmark_node_get_literal(node), text);
		else if (cmark_node_get_type(node) == CMARK_NODE_ITEM)
			found = lines_hold(s, n, cmark_node_get_start_line(node),
					   cmark_node_get_end_line(node), text);
	}
	cmark_iter_free(it);
	return found;
}

static void check_text_reply(const LlmReply *r, const char *s, size_t n)
{
	cmark_node *doc = NULL;
	size_t skip = 0;

	/* The parser reads the text after any byte order marks, as cmark would. */
	while (n - skip >= 3 && memcmp(s + skip, "\xef\xbb\xbf", 3) == 0)
		skip += 3;
	for (size_t i = 0; i < r->n; i++) {
		const LlmProposal *p = &r->proposals[i];

		if (!p->text || p->action || p->n_args || strpbrk(p->text, "\r\n"))
			abort();
		if (!memmem(s, n, p->text, strlen(p->text)))
			abort();
		if (!p->reject_reason && p->n_tokens == 0)
			abort();
		for (size_t k = 0; k < p->n_tokens; k++)
			if (!strstr(p->text, p->tokens[k]))
				abort();
		if (!doc)
			doc = cmark_parse_document(s + skip, n - skip, CMARK_OPT_DEFAULT);
		if (!from_command_place(doc, s + skip, n - skip, p->text))
			abort();
	}
	if (doc)
		cmark_node_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const LlmReplyOptions opts = {.max_commands = 5, .command_words = words};
	const char *s = (const char *)data;
	LlmReply *r = NULL;
	char reason[512];
	int rc;

	reason[0] = '\0';
	rc = llm_reply_parse(s, size, &opts, &r, reason, sizeof reason);
	if (rc < 0) {
		/* A refused reply proposes nothing and says why. */
		if (r || reason[0] == '\0' || !memchr(reason, '\0', sizeof reason))
			abort();
		return 0;
	}
	if (!r || r->n > opts.max_commands)
		abort();
	if (r->style == LLM_REPLY_TEXT)
		check_text_reply(r, s, size);
	llm_reply_free(r);
	return 0;
}
