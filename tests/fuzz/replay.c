/* SPDX-License-Identifier: MIT */
/*
 * Replays a fuzz target's corpus under gcc and the sanitizers: every file of
 * the folders given (recursively) goes through LLVMFuzzerTestOneInput once.
 * A crash is a failed test; the closing line counts the inputs.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/fuzz/fuzz.h"

static unsigned n_inputs, n_unreadable;

static int replay_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char *buf = NULL;
	size_t len = 0;

	(void)st;
	(void)ftw;
	if (flag != FTW_F)
		return 0;
	if (util_read_file(path, 1 << 20, &buf, &len) < 0) {
		fprintf(stderr, "FAIL cannot read %s\n", path);
		n_unreadable++;
		return 0;
	}
	{
		/* An exact-size copy, as libFuzzer gives it: no NUL after the input. */
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact)
			abort();
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	n_inputs++;
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (nftw(argv[i], replay_one, 16, FTW_PHYS) < 0) {
			fprintf(stderr, "FAIL cannot walk %s\n", argv[i]);
			n_unreadable++;
		}
	if (n_inputs == 0)
		n_unreadable++;
	printf("replayed %u inputs\n%u passed, %u failed\n", n_inputs, n_inputs, n_unreadable);
	return n_unreadable ? 1 : 0;
}
