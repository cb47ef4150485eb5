/* SPDX-License-Identifier: MIT */
#include "harness.h"
#include "common/util.h"

static void span(const char *s, long long want)
{
	uint64_t v = 0;
	int r = util_parse_timespan(s, &v);

	if (want < 0)
		CHECK_(r < 0, "'%s' parsed as %llu", s, (unsigned long long)v);
	else
		CHECK_(r == 0 && v == (uint64_t)want, "'%s': r=%d v=%llu want %lld", s, r,
		       (unsigned long long)v, want);
}

TEST(test_timespan)
{
	char buf[64];

	span("30s", 30000000LL);
	span("30", 30000000LL);
	span("5min", 300000000LL);
	span("1h", 3600000000LL);
	span("1h 30min", 5400000000LL);
	span("500ms", 500000LL);
	span("2d", 172800000000LL);
	span("1 minute", 60000000LL);
	span("", -1);
	span("abc", -1);
	span("5 parsecs", -1);
	span("-5s", -1);
	span("1.5s", -1);
	span("99999999999999999999s", -1);
	span("18446744073709551615h", -1);
	util_format_timespan(5400000000ULL, buf, sizeof buf);
	CHECK_STR(buf, "1h 30min");
	util_format_timespan(0, buf, sizeof buf);
	CHECK_STR(buf, "0");
}

TEST(test_u64)
{
	uint64_t v = 7;

	CHECK_INT(util_parse_u64("5", 1, 20, &v), ==, 0);
	CHECK_INT(v, ==, 5);
	CHECK_INT(util_parse_u64("21", 1, 20, &v), ==, -ERANGE);
	CHECK_INT(util_parse_u64("0", 1, 20, &v), ==, -ERANGE);
	CHECK_INT(util_parse_u64("5x", 1, 20, &v), ==, -EINVAL);
	CHECK_INT(util_parse_u64(" 5", 1, 20, &v), ==, -EINVAL);
	CHECK_INT(util_parse_u64("-1", 0, 20, &v), ==, -EINVAL);
	CHECK_INT(util_parse_u64("", 0, 20, &v), ==, -EINVAL);
	CHECK_INT(util_parse_u64("99999999999999999999", 0, UINT64_MAX, &v), ==, -ERANGE);
	CHECK_INT(v, ==, 5);
}

TEST(test_read_file)
{
	char path[] = "/tmp/healer-util-XXXXXX", *buf = NULL;
	size_t len = 0;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK_INT(write(fd, "hello", 5), ==, 5);
	close(fd);
	CHECK_INT(util_read_file(path, 5, &buf, &len), ==, 0);
	CHECK_STR(buf, "hello");
	CHECK_INT(len, ==, 5);
	free(buf);
	buf = NULL;
	CHECK_INT(util_read_file(path, 4, &buf, &len), ==, -E2BIG);
	CHECK(buf == NULL);
	CHECK_INT(util_read_file("/tmp", 4, &buf, &len), ==, -EISDIR);
	unlink(path);
	CHECK_INT(util_read_file(path, 4, &buf, &len), ==, -ENOENT);
}

TEST(test_json_nul_escape)
{
	static const struct {
		const char *s;
		bool nul;
	} cases[] = {
		{"{\"a\":\"x\\u0000y\"}", true},
		{"{\"a\":\"x\\\\u0000y\"}", false},
		{"{\"a\":\"\\\\\\u0000\"}", true},
		{"\\u000", false},
		{"\\u0001", false},
		{"", false},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		CHECK_(util_json_has_nul_escape(cases[i].s, strlen(cases[i].s)) == cases[i].nul,
		       "%s", cases[i].s);
}

int main(void)
{
	RUN(test_timespan);
	RUN(test_u64);
	RUN(test_read_file);
	RUN(test_json_nul_escape);
	return harness_finish();
}
