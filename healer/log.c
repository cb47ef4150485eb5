/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/text.h"
#include "healer/log.h"

static int max_level = LOG_INFO;
static int to_journal = -1;

/*
 * Whether stderr is connected to journald (systemd sets JOURNAL_STREAM to
 * its device:inode): then "<N>" prefixes carry the priority; on a terminal
 * a plain word reads better.
 */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (to_journal >= 0)
		return to_journal;
	to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		     fstat(STDERR_FILENO, &st) == 0 && st.st_dev == (dev_t)dev &&
		     st.st_ino == (ino_t)ino;
	return to_journal;
}

void log_set_max_level(int prio)
{
	max_level = prio;
}

int log_get_max_level(void)
{
	return max_level;
}

/*
 * Log lines quote journal text and model replies: they are cleaned to one
 * plain line, so a crafted message cannot forge a second log line or hide
 * bidi tricks in the administrator's terminal.
 */
_printf_(2, 0) static void emit(int prio, const char *fmt, va_list ap)
{
	char buf[2048];
	_cleanup_free_ char *clean = NULL;

	if (prio > max_level)
		return;
	vsnprintf(buf, sizeof buf, fmt, ap);
	clean = text_clean(buf, strlen(buf), sizeof buf, 0, NULL, NULL);
	if (stderr_is_journal())
		fprintf(stderr, "<%d>%s\n", prio, clean ? clean : buf);
	else
		fprintf(stderr, "healer: %s%s\n",
			prio <= LOG_ERR	      ? "error: "
			: prio == LOG_WARNING ? "warning: "
					      : "",
			clean ? clean : buf);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(prio, fmt, ap);
	va_end(ap);
}

int log_errno_(int prio, int r, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	errno = r < 0 ? -r : r;
	va_start(ap, fmt);
	emit(prio, fmt, ap);
	va_end(ap);
	errno = saved;
	return r;
}
