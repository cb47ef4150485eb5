/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_executor: a well-behaved sleeper. Prints "sleeping",
 * then sleeps argv[1] milliseconds (for ever without an argument) and prints
 * "woke". Default signal dispositions, so SIGTERM ends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long long ms = 0;

	if (argc > 1)
		ms = strtoull(argv[1], NULL, 10);
	printf("sleeping\n");
	fflush(stdout);
	if (argc <= 1) {
		for (;;)
			pause();
	}
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
	printf("woke\n");
	return 0;
}
