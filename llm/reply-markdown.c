/* SPDX-License-Identifier: MIT */
/*
 * Free-text replies, read with the block structure a Markdown reader sees.
 *
 * A model that quotes an attacker's log lines back verbatim is the normal
 * case, so what counts as a command is decided the way the person reading
 * the reply decides it: by CommonMark. A hand-written scanner disagreed with
 * readers (an indented fence line inside a ```text block, a quoted list
 * item, an HTML comment all became commands); that was the injection path.
 *
 * The parser is cmark, the CommonMark reference implementation: it follows
 * the spec to the letter (fences, info strings, indentation, lazy
 * continuation, containers) and hands back a real block tree with each code
 * block's info string, literal and source position, which is exactly what
 * is walked here. md4c only calls back while it reads; rebuilding the tree
 * from its callbacks would be a second parser to get wrong.
 *
 * The rules:
 * - commands come only from fenced code blocks that are untagged or tagged
 *   with a shell language and sit outside any block quote, and from list
 *   items that are exactly one code span or start with a program word;
 * - any other block a reader sees as code (an indented code block, a fence
 *   tagged text or log or anything else, any code inside a block quote, an
 *   HTML block or comment) that holds a line that looks like a command
 *   refuses the whole reply: the reply shows a command where it claims to
 *   propose none, which is what an injected log line looks like;
 * - a list item inside a block quote that looks like a command refuses too:
 *   a quoted list is quoted evidence, never a proposal;
 * - so does a command whose block or line is not what it seems: a fence
 *   that never closes, a list item whose command runs on into the next line
 *   or is underlined into a heading, a bare CR;
 * - prose (paragraphs, headings, inline code) never runs and never refuses.
 *
 * The walk is iterative (cmark_iter) and skips inline content, so its cost is
 * linear in the blocks; nesting and block count are capped all the same so a
 * hostile reply cannot make anyone read a tree of a hundred thousand nodes.
 */
#include <cmark.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "llm/reply-internal.h"

/* Block quotes, lists and items inside each other: readers stop at a few. */
#define MAX_NESTING 16
/* Blocks in one reply: a plan is a handful; prose a few hundred at most. */
#define MAX_BLOCKS 4096
/*
 * cmark 0.30.2 (the Debian package) takes quadratic time on many image
 * openers followed by links ("![[]()" repeated, CVE-2023-22486, fixed in
 * 0.30.3): 64 KiB of it costs half a second of the one event loop. A
 * healer's reply has no images, so more than a few openers refuse it.
 */
#define MAX_IMAGE_OPENERS 256

/* Info strings (their first word, any case) of the blocks that hold commands. */
static const char *const shell_tags[] = {"",	    "bash",	     "sh",  "shell",
					 "console", "shell-session", "zsh", "terminal"};

/*
 * The reply's lines as cmark counts them (a line ends at LF, CR or CR LF), so
 * that a node's source position names the same bytes here.
 */
typedef struct Lines {
	const char *buf;
	uint32_t *start;
	uint32_t *end;
	size_t n;
} Lines;

typedef struct Walk {
	ReplyBuilder *b;
	const LlmReplyOptions *o;
	Lines lines;
	unsigned quoted; /* block quotes around the node being visited */
	char *reason;
	size_t reason_len;
	cmark_node *json; /* the survey: the one ```json fence, if any */
	unsigned n_json;
	unsigned n_other;
} Walk;

/* One code block as the walk reads it. */
typedef struct CodeBlock {
	const char *info;    /* "" when untagged or indented; "?" when not as written */
	const char *literal; /* the content, lines ending in LF */
	int first_line;	     /* the reply line of the literal's first line */
	bool fenced;
	bool closed; /* a fenced block that ends on its closing fence */
} CodeBlock;

#define FAIL(err, ...) llm_reply_fail(err, w->reason, w->reason_len, __VA_ARGS__)

static bool is_line_end(const char *s, size_t i, size_t n)
{
	return s[i] == '\n' || (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'));
}

static int lines_build(Lines *l, const char *s, size_t n)
{
	size_t count = 1, k = 0;

	for (size_t i = 0; i < n; i++)
		if (is_line_end(s, i, n))
			count++;
	l->buf = s;
	l->start = calloc(count, sizeof *l->start);
	l->end = calloc(count, sizeof *l->end);
	if (!l->start || !l->end)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (is_line_end(s, i, n)) {
			l->end[k] =
				(uint32_t)(i > 0 && s[i] == '\n' && s[i - 1] == '\r' ? i - 1 : i);
			l->start[++k] = (uint32_t)(i + 1);
		}
	l->end[k] = (uint32_t)n;
	l->n = count;
	return 0;
}

/*
 * Line no (1-based) from byte column col (1-based) to its end, without the
 * line ending. False when cmark names a place that is not there: the caller
 * then reads the block the way that runs nothing.
 */
static bool line_at(const Lines *l, int no, int col, const char **ret, size_t *ret_len)
{
	size_t first, last;

	if (no < 1 || (size_t)no > l->n || col < 1)
		return false;
	first = l->start[no - 1] + (size_t)(col - 1);
	last = l->end[no - 1];
	if (first > last)
		return false;
	*ret = l->buf + first;
	*ret_len = last - first;
	return true;
}

static bool is_shell(const char *info)
{
	size_t n = strcspn(info, " \t");

	for (size_t i = 0; i < ELEMENTSOF(shell_tags); i++)
		if (strlen(shell_tags[i]) == n && strncasecmp(info, shell_tags[i], n) == 0)
			return true;
	return false;
}

static bool is_json(const char *info)
{
	return strcspn(info, " \t") == 4 && strncasecmp(info, "json", 4) == 0;
}

/* A closing fence: container prefix (blanks, '>'), at least run of c, blanks. */
static bool closing_fence(const char *s, size_t n, char c, size_t run)
{
	size_t i = 0, k;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '>'))
		i++;
	k = run_of(s + i, n - i, c);
	if (k < run)
		return false;
	i += k;
	return i + blanks(s + i, n - i) == n;
}

static bool same_line(const char *a, size_t an, const char *b, size_t bn)
{
	trim(&a, &an);
	trim(&b, &bn);
	return an == bn && memcmp(a, b, an) == 0;
}

/* The first line of the block that follows node in document order, or 0. */
static int next_block_line(cmark_node *node)
{
	for (; node; node = cmark_node_parent(node))
		if (cmark_node_next(node))
			return cmark_node_get_start_line(cmark_node_next(node));
	return 0;
}

/*
 * cmark 0.30 does not say whether a code block was fenced, so the source
 * does: a fence starts, at the node's column, with three or more backticks
 * or tildes. An indented block whose first line happens to be such a run
 * has that line as its literal's first line, which a fence never has (it
 * would have closed the fence). Anything unclear reads as not fenced, and a
 * block that is not fenced never runs.
 */
static void read_block(const Walk *w, cmark_node *node, CodeBlock *ret)
{
	const char *info = cmark_node_get_fence_info(node), *lit = cmark_node_get_literal(node);
	int line = cmark_node_get_start_line(node), end = cmark_node_get_end_line(node);
	const char *s;
	size_t n, k;
	char c;

	*ret = (CodeBlock){.info = info ? info : "", .literal = lit ? lit : "", .first_line = line};
	if (!line_at(&w->lines, line, cmark_node_get_start_column(node), &s, &n) || n == 0)
		return;
	c = s[0];
	k = c == '`' || c == '~' ? run_of(s, n, c) : 0;
	if (k < 3)
		return;
	if (ret->info[0] == '\0' && (blanks(s + k, n - k) != n - k ||
				     same_line(s, n, ret->literal, strcspn(ret->literal, "\n"))))
		return;
	/*
	 * cmark decodes escapes and entities in the info string ("b&#97;sh"
	 * reads as bash); a tag that is not what the reply wrote marks no
	 * shell and no JSON block.
	 */
	if (!same_line(s + k, n - k, ret->info, strlen(ret->info)))
		ret->info = "?";
	ret->fenced = true;
	ret->first_line = line + 1;
	/*
	 * cmark ends a fence at its closing line, at the end of the reply, or
	 * at the line that ends its container (a line that then starts a block
	 * of its own); only the first is a closed fence.
	 */
	ret->closed = end > line && line_at(&w->lines, end, 1, &s, &n) &&
		      closing_fence(s, n, c, k) && next_block_line(node) != end;
}

static int add_command(Walk *w, const char *s, size_t n)
{
	LlmProposal *p;

	if (w->b->reply->n >= w->b->max_commands)
		return FAIL(-E2BIG, "reply proposes more than max_commands (%zu) commands",
			    w->b->max_commands);
	p = llm_reply_add(w->b, s, n);
	if (!p)
		return -ENOMEM;
	return llm_reply_tokenise(p);
}

/*
 * The lines of a command fence: '#' lines are comments, a leading "$ "
 * prompt is dropped. An unclosed fence that holds a command refuses: the
 * reply was cut short or its structure is not what it seems, and either way
 * the list of commands may be incomplete.
 */
static int fence_commands(Walk *w, const CodeBlock *cb)
{
	const char *s = cb->literal;
	int r;

	while (*s) {
		size_t n = strcspn(s, "\n"), tn = n;
		const char *t = s;

		s += n + (s[n] == '\n');
		trim(&t, &tn);
		if (tn == 0 || t[0] == '#')
			continue;
		if (tn >= 2 && t[0] == '$' && (t[1] == ' ' || t[1] == '\t')) {
			t += 2;
			tn -= 2;
			trim(&t, &tn);
		}
		if (!cb->closed)
			return FAIL(-EBADMSG, "code fence opened on line %d is never closed",
				    cb->first_line - 1);
		r = add_command(w, t, tn);
		if (r < 0)
			return r;
	}
	return 0;
}

/* What a block is, for a reason; the info string only when it is a plain word. */
static void describe(const Walk *w, const CodeBlock *cb, char *buf, size_t len)
{
	size_t n = strlen(cb->info);

	if (w->quoted)
		(void)util_snprintf(buf, len, "a code block inside a block quote");
	else if (!cb->fenced)
		(void)util_snprintf(buf, len, "an indented code block");
	else if (n > 0 && n <= 24 &&
		 strspn(cb->info, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
				  "TUVWXYZ0123456789._+-") == n)
		(void)util_snprintf(buf, len, "a code block tagged '%s'", cb->info);
	else
		(void)util_snprintf(buf, len, "a tagged code block");
}

/* Refuses when a line of text (shown as code, not run) looks like a command. */
static int check_shown(Walk *w, const char *text, int first_line, bool html, const char *what)
{
	int line = first_line;

	for (const char *s = text ? text : ""; *s; line++) {
		size_t n = strcspn(s, "\n"), k = html ? llm_reply_html_prefix(s, n) : 0;

		if (llm_reply_looks_like_command(w->o, s + k, n - k))
			return FAIL(-EBADMSG,
				    "line %d: %s shows a command; commands run only from untagged "
				    "or shell-tagged fences and list items",
				    line, what);
		s += n + (s[n] == '\n');
	}
	return 0;
}

static int code_block(Walk *w, cmark_node *node)
{
	CodeBlock cb;
	char what[64];

	read_block(w, node, &cb);
	if (cb.fenced && !w->quoted && is_shell(cb.info))
		return fence_commands(w, &cb);
	describe(w, &cb, what, sizeof what);
	return check_shown(w, cb.literal, cb.first_line, false, what);
}

/*
 * A list item proposes what its first paragraph's line says, read from the
 * source as written (escapes and entities stay visible, and the tokeniser
 * refuses them). When that line is a command but the paragraph goes on
 * (a lazy continuation line, a wrapped code span), a reader sees one longer
 * sentence: the item is refused rather than cut short.
 */
static int item(Walk *w, cmark_node *node)
{
	cmark_node *first = cmark_node_first_child(node);
	cmark_node_type t = first ? cmark_node_get_type(first) : CMARK_NODE_NONE;
	int line;
	const char *s, *cmd = NULL;
	size_t n, cmd_len = 0;
	bool is_cmd;

	if (t != CMARK_NODE_PARAGRAPH && t != CMARK_NODE_HEADING)
		return 0;
	line = cmark_node_get_start_line(first);
	if (!line_at(&w->lines, line, cmark_node_get_start_column(first), &s, &n))
		return 0;
	is_cmd = llm_reply_item_command(w->o, s, n, &cmd, &cmd_len);
	if (w->quoted && (is_cmd || llm_reply_looks_like_command(w->o, s, n)))
		return FAIL(-EBADMSG, "line %d: a list item inside a block quote shows a command",
			    line);
	if (w->quoted || !is_cmd)
		return 0;
	if (t == CMARK_NODE_HEADING)
		return FAIL(-EBADMSG, "line %d: a list item shows a command as a heading", line);
	if (cmark_node_get_end_line(first) > line)
		return FAIL(-EBADMSG, "line %d: a list item's command runs on into the next line",
			    line);
	return add_command(w, cmd, cmd_len);
}

static int visit_text(Walk *w, cmark_node *node)
{
	switch (cmark_node_get_type(node)) {
	case CMARK_NODE_CODE_BLOCK:
		return code_block(w, node);
	case CMARK_NODE_HTML_BLOCK:
		return check_shown(
			w, cmark_node_get_literal(node), cmark_node_get_start_line(node), true,
			w->quoted ? "an HTML block inside a block quote" : "an HTML block");
	case CMARK_NODE_ITEM:
		return item(w, node);
	default:
		return 0; /* prose and containers */
	}
}

/* Counts the code blocks: the one ```json fence outside quotes makes a JSON reply. */
static int visit_survey(Walk *w, cmark_node *node)
{
	CodeBlock cb;

	if (cmark_node_get_type(node) != CMARK_NODE_CODE_BLOCK)
		return 0;
	read_block(w, node, &cb);
	if (cb.fenced && !w->quoted && is_json(cb.info)) {
		w->n_json++;
		w->json = node;
	} else {
		w->n_other++;
	}
	return 0;
}

/*
 * Visits every block in document order, never recursing, never entering a
 * paragraph's or heading's inline content (prose is not read).
 */
static int walk(Walk *w, cmark_node *doc, int (*visit)(Walk *w, cmark_node *node))
{
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	unsigned depth = 0;
	size_t blocks = 0;
	int r = 0;

	if (!it)
		return -ENOMEM;
	w->quoted = 0;
	while (r >= 0 && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *node = cmark_iter_get_node(it);
		cmark_node_type t = cmark_node_get_type(node);
		bool container =
			t == CMARK_NODE_BLOCK_QUOTE || t == CMARK_NODE_LIST || t == CMARK_NODE_ITEM;

		if (ev == CMARK_EVENT_EXIT) {
			depth -= container;
			w->quoted -= t == CMARK_NODE_BLOCK_QUOTE;
			continue;
		}
		depth += container;
		w->quoted += t == CMARK_NODE_BLOCK_QUOTE;
		if (++blocks > MAX_BLOCKS)
			r = FAIL(-E2BIG, "reply holds more than %d Markdown blocks", MAX_BLOCKS);
		else if (depth > MAX_NESTING)
			r = FAIL(-E2BIG, "reply nests quotes and lists more than %d deep",
				 MAX_NESTING);
		else
			r = visit(w, node);
		if (t == CMARK_NODE_PARAGRAPH || t == CMARK_NODE_HEADING)
			cmark_iter_reset(it, node, CMARK_EVENT_EXIT);
	}
	cmark_iter_free(it);
	return r;
}

static int parse_json_block(Walk *w)
{
	CodeBlock cb;

	if (w->n_json > 1)
		return FAIL(-EBADMSG, "reply holds %u JSON blocks; exactly one is allowed",
			    w->n_json);
	if (w->n_other > 0)
		return FAIL(-EBADMSG, "reply mixes a JSON block with other code blocks");
	read_block(w, w->json, &cb);
	if (!cb.closed)
		return FAIL(-EBADMSG, "JSON block is never closed");
	w->b->reply->style = LLM_REPLY_JSON;
	return llm_reply_parse_json(w->b, cb.literal, strlen(cb.literal), w->reason, w->reason_len);
}

static size_t count_image_openers(const char *s, size_t n)
{
	size_t k = 0;

	for (const char *p = s; (p = memchr(p, '!', n - (size_t)(p - s))); p++)
		if ((size_t)(p - s) + 1 < n && p[1] == '[')
			k++;
	return k;
}

int llm_reply_parse_markdown(ReplyBuilder *b, const LlmReplyOptions *o, const char *s, size_t n,
			     char *reason, size_t reason_len)
{
	Walk w = {.b = b, .o = o, .reason = reason, .reason_len = reason_len};
	cmark_node *doc;
	int r;

	/*
	 * cmark skips a byte order mark at the start of what it is given; any
	 * left here would shift the columns of line 1 against the line table.
	 */
	while (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3, n -= 3;
	/*
	 * CommonMark ends a line at a bare CR; a terminal or a log viewer does
	 * not, and prints the next line over it. A reply that reads differently
	 * to different readers is refused.
	 */
	for (const char *p = s; (p = memchr(p, '\r', n - (size_t)(p - s))); p++)
		if ((size_t)(p - s) + 1 >= n || p[1] != '\n')
			return llm_reply_fail(-EBADMSG, reason, reason_len,
					      "reply holds a bare CR (byte %zu)", (size_t)(p - s));
	if (count_image_openers(s, n) > MAX_IMAGE_OPENERS)
		return llm_reply_fail(-E2BIG, reason, reason_len,
				      "reply holds more than %d image openers ('![')",
				      MAX_IMAGE_OPENERS);
	r = lines_build(&w.lines, s, n);
	if (r < 0)
		goto out;
	/*
	 * CMARK_OPT_DEFAULT: nothing is rendered, so the unsafe-HTML switch does
	 * not matter, and the text was checked as strict UTF-8 without NUL bytes
	 * already (CMARK_OPT_VALIDATE_UTF8 would only repeat that). cmark aborts
	 * on out-of-memory rather than failing; the 64 KiB reply cap bounds what
	 * it allocates and how long it takes: about 12 MB and 30 ms for the
	 * worst shapes measured (64 KiB of unmatched emphasis or brackets).
	 */
	doc = cmark_parse_document(s, n, CMARK_OPT_DEFAULT);
	if (!doc) {
		r = -ENOMEM;
		goto out;
	}
	r = walk(&w, doc, visit_survey);
	if (r >= 0 && w.n_json > 0)
		r = parse_json_block(&w);
	else if (r >= 0) {
		b->reply->style = LLM_REPLY_TEXT;
		r = walk(&w, doc, visit_text);
	}
	cmark_node_free(doc);
out:
	free(w.lines.start);
	free(w.lines.end);
	return r;
}
