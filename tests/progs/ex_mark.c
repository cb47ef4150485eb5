/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the daemon tests: a command whose run can be seen from
 * outside. ex_mark FILE MS LABEL [STATUS] appends "LABEL start NS" to FILE,
 * sleeps MS milliseconds, appends "LABEL end NS" and exits with STATUS
 * (default 0). NS is CLOCK_REALTIME in nanoseconds, so that the runs of
 * two commands can be compared for overlap.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int mark(const char *path, const char *label, const char *what)
{
	struct timespec ts;
	char line[256];
	int fd, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof line, "%s %s %lld\n", label, what,
		     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	if (n < 0 || (size_t)n >= sizeof line)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	/* One write of a short line to an O_APPEND file: two writers never interleave. */
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	unsigned long long ms;
	struct timespec ts;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: ex_mark FILE MS LABEL [STATUS]\n");
		return 2;
	}
	ms = strtoull(argv[2], NULL, 10);
	if (mark(argv[1], argv[3], "start") < 0)
		return 3;
	ts = (struct timespec){.tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
	if (mark(argv[1], argv[3], "end") < 0)
		return 3;
	printf("%s done\n", argv[3]);
	return argc == 5 ? (int)strtol(argv[4], NULL, 10) : 0;
}
