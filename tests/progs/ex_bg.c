/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_executor: leaves a background grandchild behind and
 * exits 0 at once, printing "grandchild PID".
 *   ex_bg          the grandchild stays in the process group but points its
 *                  stdout/stderr at /dev/null, so the pipe does not keep it in
 *                  view: only the group kill catches it;
 *   ex_bg escape   the grandchild leaves with setsid() and keeps the pipe
 *                  open (the executor must not hang on it).
 * The grandchild sleeps 30 s either way.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int escape = argc > 1 && strcmp(argv[1], "escape") == 0;
	int sync_pipe[2];
	char byte = 0;
	pid_t pid;

	if (pipe(sync_pipe) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (escape) {
			if (setsid() < 0)
				_exit(1);
		} else {
			int null = open("/dev/null", O_WRONLY);

			if (null < 0)
				_exit(1);
			dup2(null, 1);
			dup2(null, 2);
			close(null);
		}
		if (write(sync_pipe[1], "x", 1) != 1)
			_exit(1);
		sleep(30);
		_exit(0);
	}
	/* Report the pid only once the grandchild is in the state we want. */
	if (read(sync_pipe[0], &byte, 1) != 1)
		return 1;
	printf("grandchild %d\n", (int)pid);
	return 0;
}
