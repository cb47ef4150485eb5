/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_executor: describes the process it finds itself in,
 * one fact per line:
 *   ENV:NAME=value      every environment entry, in order
 *   FD:N                every open fd
 *   SIGMASK:empty|N...  the blocked signals
 *   SIG:NAME=DFL|IGN|HANDLER  dispositions of signals a daemon tends to touch
 *   STDIN:devnull|other, STDIN-READ:eof|data|error
 *   SESSION:leader|other (pid == pgid == sid)
 *   STDERR:ok           written to stderr, to show it shares the pipe
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const struct {
	int sig;
	const char *name;
} sigs[] = {
	{SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"}, {SIGTERM, "TERM"},
	{SIGUSR1, "USR1"}, {SIGUSR2, "USR2"}, {SIGPIPE, "PIPE"}, {SIGCHLD, "CHLD"},
	{SIGALRM, "ALRM"}, {SIGTSTP, "TSTP"}, {SIGTTOU, "TTOU"}, {SIGWINCH, "WINCH"},
};

int main(void)
{
	struct stat st_in, st_null;
	sigset_t mask;
	int any = 0;
	char c;
	ssize_t n;
	DIR *d;

	for (char **e = environ; *e; e++)
		printf("ENV:%s\n", *e);

	d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		if (strtol(de->d_name, NULL, 10) == dirfd(d))
			continue;
		printf("FD:%s\n", de->d_name);
	}
	closedir(d);

	sigprocmask(SIG_SETMASK, NULL, &mask);
	printf("SIGMASK:");
	for (int s = 1; s < NSIG; s++) {
		if (sigismember(&mask, s) == 1) {
			printf("%s%d", any ? " " : "", s);
			any = 1;
		}
	}
	printf("%s\n", any ? "" : "empty");

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;

		sigaction(sigs[i].sig, NULL, &sa);
		printf("SIG:%s=%s\n", sigs[i].name,
		       sa.sa_handler == SIG_DFL	  ? "DFL"
		       : sa.sa_handler == SIG_IGN ? "IGN"
						  : "HANDLER");
	}

	if (fstat(0, &st_in) == 0 && stat("/dev/null", &st_null) == 0 && S_ISCHR(st_in.st_mode) &&
	    st_in.st_rdev == st_null.st_rdev)
		printf("STDIN:devnull\n");
	else
		printf("STDIN:other\n");
	n = read(0, &c, 1);
	printf("STDIN-READ:%s\n", n == 0 ? "eof" : n > 0 ? "data" : "error");

	printf("SESSION:%s\n", getpgrp() == getpid() && getsid(0) == getpid() ? "leader" : "other");
	fflush(stdout);
	fprintf(stderr, "STDERR:ok\n");
	return 0;
}
