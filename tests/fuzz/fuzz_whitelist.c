/* SPDX-License-Identifier: MIT */
/* Fuzzes the whitelist parser: any input is parsed or refused with messages. */
#include <errno.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"
#include "whitelist/whitelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Whitelist *wl = NULL;
	char *errors = NULL;
	int r = wl_parse("fuzz", (const char *)data, size, &wl, &errors);

	if (r == 0 && (!wl || errors))
		abort();
	if (r < 0 && r != -ENOMEM && (wl || !errors))
		abort();
	if (wl) {
		char **words = NULL;
		size_t n = 0;

		if (wl_command_words(wl, &words, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				free(words[i]);
			free(words);
		}
	}
	wl_free(wl);
	free(errors);
	return 0;
}
