/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_check: prints argv[2] (when given) and exits at once
 * with status argv[1]. As a service with Restart=always it is a unit that
 * fails and restarts in a loop.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc > 2)
		printf("%s\n", argv[2]);
	return argc > 1 ? (int)strtol(argv[1], NULL, 10) : 1;
}
