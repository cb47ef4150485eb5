/* SPDX-License-Identifier: MIT */
/*
 * Splits one free-text command into words, with no expansion and no quoting:
 * a command that would need either is refused, because what a shell would
 * make of it is exactly what an attacker controls.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "llm/reply-internal.h"

/* Every byte a shell gives meaning to, '#' included (mid-line comments). */
static const char shell_meta[] = ";|&$<>`\\(){}[]*?!~'\"#^";

/* Programs that run another program: never allowed, so nothing hides behind them. */
static const char *const wrappers[] = {
	"sudo",
	"su",
	"doas",
	"pkexec",
	"runuser",
	"sh",
	"bash",
	"dash",
	"zsh",
	"ksh",
	"mksh",
	"csh",
	"tcsh",
	"fish",
	"busybox",
	"toybox",
	"env",
	"xargs",
	"nohup",
	"timeout",
	"nice",
	"ionice",
	"chroot",
	"systemd-run",
	"setsid",
	"nsenter",
	"unshare",
	"watch",
	"script",
	"exec",
	"eval",
	"command",
	"builtin",
	"source",
	"time",
	"strace",
	"ltrace",
	"gdb",
	"flock",
	"chrt",
	"taskset",
	"stdbuf",
	"unbuffer",
	"find",
	"awk",
	"gawk",
	"mawk",
	"sed",
	"perl",
	"python",
	"python2",
	"python3",
	"ruby",
	"node",
	"php",
	"lua",
	"tclsh",
	"expect",
	"parallel",
	"ssh",
	"at",
	"crontab",
	"capsh",
	"setpriv",
	"machinectl",
	"systemd-nspawn",
	"ld.so",
	"ld-linux.so.2",
	"ld-linux-x86-64.so.2",
};

static int reject(LlmProposal *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int reject(LlmProposal *p, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(p->reject_reason);
	p->reject_reason = strdup(buf);
	return p->reject_reason ? 0 : -ENOMEM;
}

static bool is_wrapper(const char *w)
{
	const char *base = strrchr(w, '/');

	base = base ? base + 1 : w;
	for (size_t i = 0; i < ELEMENTSOF(wrappers); i++)
		if (strcmp(base, wrappers[i]) == 0)
			return true;
	return false;
}

static void drop_first(LlmProposal *p)
{
	free(p->tokens[0]);
	memmove(p->tokens, p->tokens + 1, (p->n_tokens - 1) * sizeof *p->tokens);
	p->n_tokens--;
	p->tokens[p->n_tokens] = NULL;
}

int llm_reply_tokenise(LlmProposal *p)
{
	const char *s = p->text;
	size_t n = strlen(s);

	if (n > LLM_REPLY_MAX_COMMAND)
		return reject(p, "command is %zu bytes, over the %d-byte cap", n,
			      LLM_REPLY_MAX_COMMAND);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80)
			return reject(p,
				      "non-ASCII byte 0x%02x at offset %zu (look-alike or "
				      "invisible characters are refused)",
				      c, i);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return reject(p, "control byte 0x%02x at offset %zu", c, i);
		if (strchr(shell_meta, c))
			return reject(p, "shell metacharacter '%c' at offset %zu", c, i);
	}
	p->tokens = calloc(LLM_REPLY_MAX_TOKENS + 1, sizeof *p->tokens);
	if (!p->tokens)
		return -ENOMEM;
	while (*s) {
		size_t k;

		s += strspn(s, " \t");
		if (!*s)
			break;
		k = strcspn(s, " \t");
		if (p->n_tokens >= LLM_REPLY_MAX_TOKENS)
			return reject(p, "command has more than %d words", LLM_REPLY_MAX_TOKENS);
		p->tokens[p->n_tokens] = util_strndup(s, k);
		if (!p->tokens[p->n_tokens])
			return -ENOMEM;
		p->n_tokens++;
		s += k;
	}
	if (p->n_tokens == 0)
		return reject(p, "empty command");
	/* One bare leading sudo is how people write root commands; Healer is root. */
	if (strcmp(p->tokens[0], "sudo") == 0) {
		drop_first(p);
		if (p->n_tokens == 0)
			return reject(p, "sudo without a command");
		if (p->tokens[0][0] == '-')
			return reject(p, "sudo with options ('%s') is never allowed", p->tokens[0]);
	}
	if (is_wrapper(p->tokens[0]))
		return reject(p, "'%s' runs other programs and is never allowed", p->tokens[0]);
	if (strchr(p->tokens[0], '='))
		return reject(p, "environment assignment '%s' is never allowed", p->tokens[0]);
	return 0;
}
