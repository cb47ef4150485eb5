/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A tiny test harness in the spirit of Redis' testhelp.h: every check prints
 * both sides on failure, each test binary ends with "N passed, N failed" and
 * exits non-zero when anything failed.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned harness_passed, harness_failed;
static const char *harness_current = "";

#define TEST(name) static void name(void)
#define RUN(name)                        \
	do {                             \
		harness_current = #name; \
		name();                  \
	} while (0)

#define CHECK_(cond, ...)                                                                          \
	do {                                                                                       \
		if (cond) {                                                                        \
			harness_passed++;                                                          \
		} else {                                                                           \
			harness_failed++;                                                          \
			fprintf(stderr, "FAIL %s (%s:%d): ", harness_current, __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

#define CHECK(cond) CHECK_((cond), "%s", #cond)

#define CHECK_INT(a, op, b)                                                      \
	do {                                                                     \
		long long _a = (long long)(a), _b = (long long)(b);              \
		CHECK_(_a op _b, "%s %s %s: %lld vs %lld", #a, #op, #b, _a, _b); \
	} while (0)

#define CHECK_STR(a, b)                                                                     \
	do {                                                                                \
		const char *_a = (a), *_b = (b);                                            \
		CHECK_(_a &&_b &&strcmp(_a, _b) == 0, "%s == %s: \"%s\" vs \"%s\"", #a, #b, \
		       _a ? _a : "(null)", _b ? _b : "(null)");                             \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                           \
	do {                                                                                  \
		const char *_h = (hay), *_n = (needle);                                       \
		CHECK_(_h &&_n &&strstr(_h, _n), "%s contains %s: \"%s\" lacks \"%s\"", #hay, \
		       #needle, _h ? _h : "(null)", _n ? _n : "(null)");                      \
	} while (0)

static inline int harness_finish(void)
{
	printf("%u passed, %u failed\n", harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}
