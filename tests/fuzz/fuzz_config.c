/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes healer.conf's parser and cross-checks: any input is taken, or
 * refused with "name:line: message" errors; never both, never neither, and
 * a refused file leaves the defaults a caller can still dump.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "healer/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Config *c = cfg_new();
	char *errors = NULL;
	int r;

	if (!c)
		abort();
	r = cfg_parse(c, "fuzz.conf", (const char *)data, size, &errors);
	if (r == 0 && errors)
		abort();
	if (r < 0 && r != -ENOMEM && (!errors || strncmp(errors, "fuzz.conf", 9) != 0))
		abort();
	free(errors);
	errors = NULL;
	if (r == 0) {
		r = cfg_finish(c, &errors);
		if ((r == 0) != !errors)
			abort();
		free(errors);
	}
	cfg_free(c);
	return 0;
}
