/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_executor: a grandchild the process group cannot
 * reach. The leader forks a child that calls setsid() and forks again; the
 * grandchild sleeps for ever with the output pipe open, the child exits at
 * once (so the grandchild belongs to no process of the command's group or
 * session). Prints "grandchild PID" once it runs.
 *   ex_escape        the leader then exits 0;
 *   ex_escape stay   the leader ignores SIGTERM and waits for ever too.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int stay = argc > 1 && strcmp(argv[1], "stay") == 0;
	int sync_pipe[2];
	pid_t child, grandchild = 0;

	if (pipe(sync_pipe) < 0)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		if (setsid() < 0)
			_exit(1);
		grandchild = fork();
		if (grandchild < 0)
			_exit(1);
		if (grandchild == 0) {
			for (;;)
				pause();
		}
		if (write(sync_pipe[1], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
			_exit(1);
		_exit(0);
	}
	if (read(sync_pipe[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
		return 1;
	waitpid(child, NULL, 0);
	printf("grandchild %d\n", (int)grandchild);
	fflush(stdout);
	if (!stay)
		return 0;
	signal(SIGTERM, SIG_IGN);
	for (;;)
		pause();
}
