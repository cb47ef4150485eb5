/* SPDX-License-Identifier: MIT */
/*
 * The reply parser's entry point and its free-text half. A reply is either a
 * JSON plan (bare, or the one ```json fence) or free text, where commands sit
 * in fenced code blocks and in list items. Anything that cannot be read with
 * certainty refuses the whole reply: a healer that guesses runs the wrong
 * thing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "common/util.h"
#include "llm/reply-internal.h"

int llm_reply_fail(int err, char *reason, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (reason && len > 0) {
		va_start(ap, fmt);
		vsnprintf(reason, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void proposal_done(LlmProposal *p)
{
	free(p->text);
	free(p->action);
	for (size_t i = 0; i < p->n_args; i++) {
		free(p->arg_names[i]);
		free(p->arg_values[i]);
	}
	free(p->arg_names);
	free(p->arg_values);
	for (size_t i = 0; i < p->n_tokens; i++)
		free(p->tokens[i]);
	free(p->tokens);
	free(p->reject_reason);
}

LlmReply *llm_reply_free(LlmReply *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		proposal_done(&r->proposals[i]);
	free(r->proposals);
	free(r->diagnosis);
	free(r);
	return NULL;
}

LlmProposal *llm_reply_add(ReplyBuilder *b, const char *s, size_t n)
{
	LlmReply *r = b->reply;
	LlmProposal *p;

	if (r->n == b->cap) {
		size_t ncap = b->cap ? 2 * b->cap : 8;
		LlmProposal *np = realloc(r->proposals, ncap * sizeof *np);

		if (!np)
			return NULL;
		r->proposals = np;
		b->cap = ncap;
	}
	p = &r->proposals[r->n];
	*p = (LlmProposal){0};
	p->text = util_strndup(s, n);
	if (!p->text)
		return NULL;
	r->n++;
	return p;
}

/*
 * Programs whose name as the first word makes a list item a command. Words
 * that also open ordinary sentences ("at", "free", "time", "make", a daemon's
 * own name) are left out: such an item is prose and runs nothing.
 */
static const char *const known_programs[] = {
	"sudo",	       "su",	     "doas",	  "pkexec",   "runuser",    "sh",
	"bash",	       "dash",	     "zsh",	  "ksh",      "mksh",	    "csh",
	"tcsh",	       "fish",	     "busybox",	  "toybox",   "env",	    "xargs",
	"nohup",       "timeout",    "nice",	  "ionice",   "chroot",	    "systemd-run",
	"setsid",      "nsenter",    "unshare",	  "exec",     "eval",	    "builtin",
	"strace",      "ltrace",     "gdb",	  "flock",    "chrt",	    "taskset",
	"stdbuf",      "unbuffer",   "find",	  "awk",      "gawk",	    "mawk",
	"sed",	       "perl",	     "python",	  "python2",  "python3",    "ruby",
	"node",	       "php",	     "lua",	  "tclsh",    "expect",	    "parallel",
	"rm",	       "rmdir",	     "mv",	  "cp",	      "ln",	    "dd",
	"mkfs",	       "shred",	     "truncate",  "tee",      "cat",	    "echo",
	"printf",      "chmod",	     "chown",	  "chgrp",    "chattr",	    "setfacl",
	"kill",	       "killall",    "pkill",	  "reboot",   "shutdown",   "poweroff",
	"halt",	       "telinit",    "systemctl", "service",  "journalctl", "logrotate",
	"sysctl",      "mount",	     "umount",	  "curl",     "wget",	    "nc",
	"ncat",	       "netcat",     "socat",	  "ssh",      "scp",	    "rsync",
	"tar",	       "gzip",	     "base64",	  "xxd",      "openssl",    "iptables",
	"nft",	       "ifconfig",   "useradd",	  "usermod",  "userdel",    "passwd",
	"crontab",     "apt",	     "apt-get",	  "dpkg",     "yum",	    "dnf",
	"rpm",	       "pip",	     "pip3",	  "npm",      "git",	    "gcc",
	"docker",      "podman",     "kubectl",	  "mkdir",    "touch",	    "ls",
	"ps",	       "df",	     "du",	  "grep",     "tail",	    "vi",
	"vim",	       "nano",	     "visudo",	  "modprobe", "insmod",	    "rmmod",
	"swapoff",     "swapon",     "fsck",	  "loginctl", "resolvectl", "hostnamectl",
	"timedatectl", "networkctl", "udevadm",
};

static bool in_list(const char *const *list, size_t n, const char *w, size_t wn)
{
	for (size_t i = 0; i < n && list[i]; i++)
		if (strlen(list[i]) == wn && strncmp(list[i], w, wn) == 0)
			return true;
	return false;
}

static bool is_command_word(const LlmReplyOptions *o, const char *w, size_t wn)
{
	size_t n = 0;

	if (wn > 0 && w[0] == '/')
		return true;
	if (in_list(known_programs, ELEMENTSOF(known_programs), w, wn))
		return true;
	if (o->command_words)
		while (o->command_words[n])
			n++;
	return in_list(o->command_words, n, w, wn);
}

/*
 * Lines are slices of the reply, not strings: nothing below may read past n
 * (the reply need not end in a NUL).
 */
static size_t blanks(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static size_t non_blanks(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	return i;
}

/* Leading indentation, then ``` or ~~~ (3 or more). Returns the run length. */
static size_t fence_run(const char *s, size_t n, char *ret_char)
{
	size_t i = blanks(s, n), k = 0;

	if (i >= n || (s[i] != '`' && s[i] != '~'))
		return 0;
	while (i + k < n && s[i + k] == s[i])
		k++;
	if (k < 3)
		return 0;
	*ret_char = s[i];
	return k;
}

/* The info string of a fence opening line, trimmed, into buf. */
static void fence_info(const char *s, size_t n, char *buf, size_t len)
{
	size_t i = blanks(s, n);
	char c = i < n ? s[i] : 0;
	size_t e;

	while (i < n && s[i] == c)
		i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	e = n;
	while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
		e--;
	(void)util_snprintf(buf, len, "%.*s", (int)(e - i), s + i);
}

/*
 * Only an untagged or shell-tagged block holds commands. A ```text or ```log
 * block is the model quoting the evidence back, not proposing it.
 */
static bool is_command_fence(const char *info)
{
	static const char *const tags[] = {"",	      "bash",	       "sh",  "shell",
					   "console", "shell-session", "zsh", "terminal"};
	size_t n = strcspn(info, " \t{");

	for (size_t i = 0; i < ELEMENTSOF(tags); i++)
		if (strlen(tags[i]) == n && strncasecmp(info, tags[i], n) == 0)
			return true;
	return false;
}

static bool is_closing_fence(const char *s, size_t n, char c, size_t run)
{
	char cc;
	size_t k = fence_run(s, n, &cc);
	size_t i;

	if (k < run || cc != c)
		return false;
	i = blanks(s, n) + k;
	for (; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* A list marker: "- ", "* ", "+ ", "1. ", "1) ". Returns the content offset or 0. */
static size_t list_item(const char *s, size_t n)
{
	size_t i = blanks(s, n), d = 0;

	if (i + 1 < n && (s[i] == '-' || s[i] == '*' || s[i] == '+') &&
	    (s[i + 1] == ' ' || s[i + 1] == '\t'))
		return i + 2;
	while (i + d < n && d < 9 && s[i + d] >= '0' && s[i + d] <= '9')
		d++;
	if (d > 0 && i + d + 1 < n && (s[i + d] == '.' || s[i + d] == ')') &&
	    (s[i + d + 1] == ' ' || s[i + d + 1] == '\t'))
		return i + d + 2;
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

static int add_command(ReplyBuilder *b, const char *s, size_t n, char *reason, size_t len)
{
	LlmProposal *p;

	if (b->reply->n >= b->max_commands)
		return llm_reply_fail(-E2BIG, reason, len,
				      "reply proposes more than max_commands (%zu) commands",
				      b->max_commands);
	p = llm_reply_add(b, s, n);
	if (!p)
		return -ENOMEM;
	return llm_reply_tokenise(p);
}

/* A list item's content: a command, or prose (returns 0, adds nothing). */
static int list_command(ReplyBuilder *b, const LlmReplyOptions *o, const char *s, size_t n,
			char *reason, size_t len)
{
	size_t k = 0, wn;

	trim(&s, &n);
	while (k < n && s[k] == '`')
		k++;
	if (k > 0) {
		/* Exactly one inline code span: `cmd` or ``cmd``. */
		if (n < 2 * k + 1 || s[n - k - 1] == '`')
			return 0;
		for (size_t i = n - k; i < n; i++)
			if (s[i] != '`')
				return 0;
		s += k;
		n -= 2 * k;
		trim(&s, &n);
		return n > 0 ? add_command(b, s, n, reason, len) : 0;
	}
	wn = non_blanks(s, n);
	if (!is_command_word(o, s, wn))
		return 0;
	return add_command(b, s, n, reason, len);
}

static int parse_text(ReplyBuilder *b, const LlmReplyOptions *o, const char *buf, size_t len,
		      char *reason, size_t reason_len)
{
	const char *s = buf, *end = buf + len;
	char fence_c = 0;
	size_t fence_len = 0;
	unsigned line = 0, fence_line = 0;
	bool fence_commands = false;
	int r;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		const char *t = s;
		size_t tn = n, off;
		char c;

		line++;
		s += n + (nl ? 1 : 0);
		if (fence_len > 0) {
			if (is_closing_fence(t, n, fence_c, fence_len)) {
				fence_len = 0;
				continue;
			}
			trim(&t, &tn);
			if (!fence_commands || tn == 0 || t[0] == '#')
				continue;
			if (tn >= 2 && t[0] == '$' && (t[1] == ' ' || t[1] == '\t')) {
				t += 2;
				tn -= 2;
				trim(&t, &tn);
			}
			r = add_command(b, t, tn, reason, reason_len);
			if (r < 0)
				return r;
			continue;
		}
		if ((off = fence_run(t, n, &c)) > 0) {
			char info[32];

			fence_info(t, n, info, sizeof info);
			fence_c = c;
			fence_len = off;
			fence_line = line;
			fence_commands = is_command_fence(info);
			continue;
		}
		off = list_item(t, n);
		if (off > 0) {
			r = list_command(b, o, t + off, n - off, reason, reason_len);
			if (r < 0)
				return r;
		}
	}
	if (fence_len > 0)
		return llm_reply_fail(-EBADMSG, reason, reason_len,
				      "code fence opened on line %u is never closed", fence_line);
	return 0;
}

/*
 * Finds the one ```json fence. Returns 1 with its body when the reply is in
 * JSON style, 0 when it is free text, or a refusal when fences are mixed.
 */
static int find_json_fence(const char *buf, size_t len, const char **ret, size_t *ret_len,
			   char *reason, size_t reason_len)
{
	const char *s = buf, *end = buf + len, *body = NULL, *body_end = NULL;
	unsigned n_json = 0, n_other = 0;
	char fence_c = 0;
	size_t fence_len = 0;
	bool in_json = false;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		const char *next = s + n + (nl ? 1 : 0);
		char c, info[32];
		size_t k;

		if (fence_len > 0) {
			if (is_closing_fence(s, n, fence_c, fence_len)) {
				if (in_json)
					body_end = s;
				fence_len = 0;
				in_json = false;
			}
		} else if ((k = fence_run(s, n, &c)) > 0) {
			fence_info(s, n, info, sizeof info);
			fence_c = c;
			fence_len = k;
			in_json = strcasecmp(info, "json") == 0;
			if (in_json) {
				n_json++;
				body = next;
			} else {
				n_other++;
			}
		}
		s = next;
	}
	if (n_json == 0)
		return 0;
	if (n_json > 1)
		return llm_reply_fail(-EBADMSG, reason, reason_len,
				      "reply holds %u JSON blocks; exactly one is allowed", n_json);
	if (n_other > 0)
		return llm_reply_fail(-EBADMSG, reason, reason_len,
				      "reply mixes a JSON block with other code blocks");
	if (fence_len > 0 || !body_end)
		return llm_reply_fail(-EBADMSG, reason, reason_len, "JSON block is never closed");
	*ret = body;
	*ret_len = (size_t)(body_end - body);
	return 1;
}

int llm_reply_parse(const char *buf, size_t len, const LlmReplyOptions *opts, LlmReply **ret,
		    char *reason, size_t reason_len)
{
	_cleanup_(llm_reply_freep) LlmReply *reply = NULL;
	ReplyBuilder b = {0};
	const char *s = buf, *json = NULL;
	size_t n = len, json_len = 0;
	int r;

	if (len > LLM_REPLY_MAX_BYTES)
		return llm_reply_fail(-E2BIG, reason, reason_len,
				      "reply is %zu bytes, over the %d-byte cap", len,
				      LLM_REPLY_MAX_BYTES);
	if (memchr(buf, '\0', len))
		return llm_reply_fail(-EBADMSG, reason, reason_len, "reply holds a NUL byte");
	if (!text_utf8_valid(buf, len))
		return llm_reply_fail(-EBADMSG, reason, reason_len, "reply is not valid UTF-8");
	reply = calloc(1, sizeof *reply);
	if (!reply)
		return -ENOMEM;
	b.reply = reply;
	b.max_commands = opts && opts->max_commands ? opts->max_commands : 5;

	/* A byte order mark is not content. */
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3, n -= 3;
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	if (n > 0 && *s == '{') {
		reply->style = LLM_REPLY_JSON;
		r = llm_reply_parse_json(&b, s, n, reason, reason_len);
	} else {
		r = find_json_fence(buf, len, &json, &json_len, reason, reason_len);
		if (r > 0) {
			reply->style = LLM_REPLY_JSON;
			r = llm_reply_parse_json(&b, json, json_len, reason, reason_len);
		} else if (r == 0) {
			static const LlmReplyOptions none = {0};

			reply->style = LLM_REPLY_TEXT;
			r = parse_text(&b, opts ? opts : &none, buf, len, reason, reason_len);
		}
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(reply);
	return 0;
}

int llm_reply_parse_command(const char *command, LlmReply **ret)
{
	_cleanup_(llm_reply_freep) LlmReply *reply = calloc(1, sizeof *reply);
	ReplyBuilder b = {.reply = reply, .max_commands = 1};
	size_t n = strnlen(command, LLM_REPLY_MAX_COMMAND + 1);
	LlmProposal *p;
	int r;

	if (!reply)
		return -ENOMEM;
	reply->style = LLM_REPLY_TEXT;
	p = llm_reply_add(&b, command, n);
	if (!p)
		return -ENOMEM;
	r = llm_reply_tokenise(p);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(reply);
	return 0;
}
