/* SPDX-License-Identifier: MIT */
/*
 * healer builtin chmod-x PATH | drop-caches
 *
 * The in-process actions of the whitelist, run as a child of the daemon so
 * that the executor's timeout and kill apply to them too. The checks live in
 * the builtins themselves (an fd opened without following symlinks, ...), so
 * running this by hand is as safe as the daemon running it.
 */
#include <stdio.h>
#include <string.h>

#include "healer/builtins.h"
#include "healer/cli/cli.h"

int cli_builtin(int argc, char **argv)
{
	char reason[512] = "";
	int r;

	if (argc == 3 && strcmp(argv[1], "chmod-x") == 0)
		r = ex_builtin_chmod_x(argv[2], reason, sizeof reason);
	else if (argc == 2 && strcmp(argv[1], "drop-caches") == 0)
		r = ex_builtin_drop_caches(NULL, reason, sizeof reason);
	else {
		fprintf(stderr, "usage: healer builtin chmod-x PATH | drop-caches\n");
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "healer builtin %s: %s\n", argv[1],
			reason[0] ? reason : strerror(-r));
		return 1;
	}
	printf("%s\n", reason[0] ? reason : "done");
	return 0;
}
