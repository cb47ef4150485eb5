/* SPDX-License-Identifier: MIT */
/*
 * Test helper for test_executor: writes argv[1] bytes of 'x' to stdout
 * (50 MB without an argument) and exits 0, or 1 when a write fails.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[65536];
	unsigned long long left = argc > 1 ? strtoull(argv[1], NULL, 10) : 50ULL * 1000 * 1000;

	memset(buf, 'x', sizeof(buf));
	while (left > 0) {
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t w = write(1, buf, n);

		if (w <= 0)
			return 1;
		left -= (unsigned long long)w;
	}
	return 0;
}
