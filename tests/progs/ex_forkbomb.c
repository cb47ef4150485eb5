/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_executor: forks up to N (default 64, at most 1000)
 * children that wait for ever, and stops at the first fork that fails.
 * Prints "forked K" and, when a fork failed, "fork failed: REASON"; then
 * exits 0 and leaves the children behind for the executor to end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 64;
	long k;

	if (n < 1 || n > 1000)
		return 2;
	for (k = 0; k < n; k++) {
		pid_t pid = fork();

		if (pid < 0) {
			int err = errno;

			printf("forked %ld\nfork failed: %s\n", k, strerror(err));
			return 0;
		}
		if (pid == 0) {
			for (;;)
				pause();
		}
	}
	printf("forked %ld\n", k);
	return 0;
}
