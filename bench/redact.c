/* SPDX-License-Identifier: MIT */
/*
 * Redaction cost: the mean time llm_redact() takes per line over the lines
 * of the files given (a case file's INPUT side; comments skipped), after one
 * warm-up round. A figure, not an assertion. `make bench-redact` builds it
 * against the optimised library and runs it over tests/data/redaction/clean.txt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "llm/redact.h"

#define ROUNDS	  200
#define MAX_LINES 4096

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t load(const char *path, char **lines, size_t n)
{
	char *buf = NULL;
	size_t len;

	if (util_read_file(path, 1 << 22, &buf, &len) < 0) {
		fprintf(stderr, "%s: cannot read\n", path);
		exit(2);
	}
	for (char *l = buf, *nl; l && *l && n < MAX_LINES; l = nl) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = '\0';
		if (!*l || *l == '#')
			continue;
		l[strcspn(l, "\t")] = '\0';
		lines[n++] = strdup(l);
	}
	free(buf);
	return n;
}

int main(int argc, char **argv)
{
	static char *lines[MAX_LINES];
	size_t n = 0, changed = 0;
	double t0 = 0;

	for (int i = 1; i < argc; i++)
		n = load(argv[i], lines, n);
	if (n == 0) {
		fprintf(stderr, "usage: %s FILE...\n", argv[0]);
		return 2;
	}
	for (int r = 0; r <= ROUNDS; r++) {
		if (r == 1)
			t0 = now();
		for (size_t i = 0; i < n; i++) {
			char *out = NULL;

			if (llm_redact(lines[i], &out, NULL) < 0)
				return 1;
			changed += r == 0 && strcmp(out, lines[i]) != 0;
			free(out);
		}
	}
	printf("%zu lines, %zu changed, %.0f ns per line\n", n, changed,
	       (now() - t0) * 1e9 / (double)(ROUNDS * n));
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	return 0;
}
