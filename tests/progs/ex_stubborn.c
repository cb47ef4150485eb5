/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_executor: ignores SIGTERM, forks a grandchild that
 * ignores it too (the disposition is inherited), prints "leader PID" and
 * "grandchild PID" and then both wait for ever. Only SIGKILL ends them.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	pid_t pid;

	signal(SIGTERM, SIG_IGN);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		for (;;)
			pause();
	}
	printf("leader %d\ngrandchild %d\n", (int)getpid(), (int)pid);
	fflush(stdout);
	for (;;)
		pause();
}
