/* SPDX-License-Identifier: MIT */
/*
 * The words of free text: which first words make a program, which lines
 * shown as code look like a command, and what a list item proposes. Kept
 * apart from the Markdown walk so that the heuristics, and the log lines
 * they must not fire on, read in one place.
 */
#include <string.h>

#include "common/util.h"
#include "llm/reply-internal.h"

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

/*
 * A program word: a well-known program, one of the whitelist's command
 * words, or an absolute path. A word holding a colon never is: that is a
 * log line's source ("nginx:", "/var/log/nginx/error.log: permission
 * denied", "/etc/nginx/nginx.conf:12"), not a program.
 */
bool llm_reply_is_program_word(const LlmReplyOptions *o, const char *w, size_t wn)
{
	size_t n = 0;

	if (wn == 0 || memchr(w, ':', wn))
		return false;
	if (w[0] == '/')
		return true;
	if (in_list(known_programs, ELEMENTSOF(known_programs), w, wn))
		return true;
	if (o->command_words)
		while (o->command_words[n])
			n++;
	return in_list(o->command_words, n, w, wn);
}

/* A list marker and its blanks: "- ", "* ", "+ ", "1. ", "1) ". Returns its length or 0. */
static size_t list_marker(const char *s, size_t n)
{
	size_t d = 0;

	if (n >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && (s[1] == ' ' || s[1] == '\t'))
		return 1 + blanks(s + 1, n - 1);
	while (d < n && d < 9 && s[d] >= '0' && s[d] <= '9')
		d++;
	if (d > 0 && d + 1 < n && (s[d] == '.' || s[d] == ')') &&
	    (s[d + 1] == ' ' || s[d + 1] == '\t'))
		return d + 1 + blanks(s + d + 1, n - d - 1);
	return 0;
}

/*
 * A shell prompt and its blanks: "$ ", "# ", "user@host:~$ ",
 * "[root@host ~]# ". Returns its length or 0.
 */
static size_t prompt(const char *s, size_t n)
{
	size_t k = non_blanks(s, n);

	if (k < n && k >= 1 && (s[k - 1] == '$' || s[k - 1] == '#') &&
	    (k == 1 || memchr(s, '@', k)))
		return k + blanks(s + k, n - k);
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n < 128 ? n : 128);
		size_t c = close ? (size_t)(close - s) : n;

		if (c + 2 < n && (s[c + 1] == '$' || s[c + 1] == '#') &&
		    (s[c + 2] == ' ' || s[c + 2] == '\t'))
			return c + 2 + blanks(s + c + 2, n - c - 2);
	}
	return 0;
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
	size_t pn = strlen(p);

	return n >= pn && memcmp(s, p, pn) == 0;
}

/*
 * Whether a line shown as code looks like a command: after an optional list
 * marker and shell prompt, its first word is a program word. Evidence is
 * not: a second word ending in a colon makes a log line ("rsync error:
 * ..."), and device and kernel paths open the lines of df, mount and dmesg
 * ("/dev/sda1  50G  48G  96% /"), never a program.
 */
bool llm_reply_looks_like_command(const LlmReplyOptions *o, const char *s, size_t n)
{
	size_t i = blanks(s, n), wn, k;

	i += list_marker(s + i, n - i);
	i += prompt(s + i, n - i);
	wn = non_blanks(s + i, n - i);
	if (!llm_reply_is_program_word(o, s + i, wn) || has_prefix(s + i, wn, "/dev/") ||
	    has_prefix(s + i, wn, "/proc/") || has_prefix(s + i, wn, "/sys/"))
		return false;
	i += wn;
	i += blanks(s + i, n - i);
	k = non_blanks(s + i, n - i);
	return !(k > 0 && s[i + k - 1] == ':');
}

/* Leading HTML tags and comment openers, so "<!-- rm -rf / -->" shows its rm. */
size_t llm_reply_html_prefix(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		const char *gt;

		i += blanks(s + i, n - i);
		if (n - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0)
			i += 9;
		else if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0)
			i += 4;
		else if (n - i >= 2 && s[i] == '<' && s[i + 1] != ' ' &&
			 (gt = memchr(s + i, '>', n - i)))
			i = (size_t)(gt - s) + 1;
		else
			return i;
	}
}

/*
 * A list item's first line: exactly one code span (`cmd` or ``cmd``), or a
 * program word first. Returns whether it is a command, and the command.
 */
bool llm_reply_item_command(const LlmReplyOptions *o, const char *s, size_t n, const char **ret,
			    size_t *ret_len)
{
	size_t k;

	trim(&s, &n);
	k = run_of(s, n, '`');
	if (k > 0) {
		if (n < 2 * k + 1 || s[n - k - 1] == '`' || run_of(s + n - k, k, '`') != k)
			return false;
		s += k;
		n -= 2 * k;
		trim(&s, &n);
		*ret = s;
		*ret_len = n;
		return n > 0;
	}
	if (!llm_reply_is_program_word(o, s, non_blanks(s, n)))
		return false;
	*ret = s;
	*ret_len = n;
	return true;
}
