/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"
#include "acl.h"
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

static void stamp(const char *s, long long want)
{
	uint64_t v = 0;
	int r = util_parse_timestamp(s, &v);

	if (want < 0)
		CHECK_(r < 0, "'%s' parsed as %llu", s, (unsigned long long)v);
	else
		CHECK_(r == 0 && v == (uint64_t)want, "'%s': r=%d v=%llu want %lld", s, r,
		       (unsigned long long)v, want);
}

/* What journalctl --since takes as an absolute time; relative words are refused. */
TEST(test_timestamp)
{
	/* 2026-11-30 12:00:00 UTC is 1796040000. */
	stamp("@1796040000", 1796040000000000LL);
	stamp("@1796040000.25", 1796040000250000LL);
	stamp("@0", 0);
	stamp("2026-11-30 12:00:00 UTC", 1796040000000000LL);
	stamp("2026-11-30T12:00:00Z", 1796040000000000LL);
	stamp("2026-11-30 12:00 UTC", 1796040000000000LL);
	stamp("2026-11-30 12:00:00.000001 UTC", 1796040000000001LL);
	stamp("2026-11-30 UTC", 1796040000000000LL - 12 * 3600 * 1000000LL);
	/* Local time: TZ is set to UTC for this test. */
	stamp("2026-11-30 12:00:00", 1796040000000000LL);
	stamp("2026-11-30", 1796040000000000LL - 12 * 3600 * 1000000LL);
	stamp("today", -1);
	stamp("yesterday", -1);
	stamp("-1h", -1);
	stamp("5min", -1);
	stamp("now", -1);
	stamp("", -1);
	stamp("@", -1);
	stamp("@-5", -1);
	stamp("@12x", -1);
	stamp("@1.1234567", -1);
	stamp("2026-02-30 12:00:00", -1);
	stamp("2026-11-30 25:00:00", -1);
	stamp("2026-13-01", -1);
	stamp("2026-11-30 12", -1);
	stamp("2026-11-30 12:00:00 CEST", -1);
	stamp("2026-11-30  12:00", -1);
	stamp("26-11-30", -1);
	stamp("2026-11-30 12:00:00.", -1);
	stamp("@99999999999999999999", -1);
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

/*
 * Who may write a trusted file: the mode bits, and an ACL's named users and
 * groups under its mask (the group bits then show the mask, not the group).
 */
TEST(test_foreign_writer)
{
	static const struct {
		mode_t mode;
		gid_t gid;
		unsigned tag;
		uint32_t id;
		unsigned perm, mask;
		const char *want;
	} cases[] = {
		{0644, 0, 0, 0, 0, 0, NULL},
		{0646, 0, 0, 0, 0, 0, "writable by others"},
		{0664, 0, 0, 0, 0, 0, NULL},
		{0664, 4242, 0, 0, 0, 0, "writable by a group other than root"},
		{0, 0, TEST_ACL_USER, 65534, 6, 6, "writable by a user or group of its ACL"},
		{0, 0, TEST_ACL_GROUP, 4242, 6, 6, "writable by a user or group of its ACL"},
		{0, 0, TEST_ACL_USER, 65534, 6, 4, NULL}, /* the mask takes write away */
		{0, 0, TEST_ACL_USER, 65534, 4, 6, NULL}, /* read only */
		{0, 0, TEST_ACL_USER, 0, 6, 6, NULL},	  /* root */
		{0, 0, TEST_ACL_GROUP, 0, 6, 6, NULL},	  /* root's group */
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char path[] = "/tmp/healer-acl-XXXXXX";
		int fd = mkstemp(path);
		struct stat st;
		const char *w;

		CHECK(fd >= 0);
		if (fd < 0)
			continue;
		if (cases[i].tag)
			CHECK_(test_set_acl(path, cases[i].tag, cases[i].id, cases[i].perm,
					    cases[i].mask) == 0,
			       "setxattr: %s", strerror(errno));
		else
			CHECK_INT(fchown(fd, 0, cases[i].gid) | fchmod(fd, cases[i].mode), ==, 0);
		CHECK_INT(fstat(fd, &st), ==, 0);
		/* The same verdict through the fd and through the path. */
		w = util_foreign_writer(fd, path, &st);
		CHECK_(cases[i].want ? w && strcmp(w, cases[i].want) == 0 : !w,
		       "case %zu: %s, want %s", i, w ? w : "(none)",
		       cases[i].want ? cases[i].want : "(none)");
		w = util_foreign_writer(-1, path, &st);
		CHECK_(cases[i].want ? w && strcmp(w, cases[i].want) == 0 : !w,
		       "case %zu by path: %s", i, w ? w : "(none)");
		if (cases[i].want) {
			char *buf = NULL, why[256];
			size_t len;

			CHECK_INT(util_read_trusted_file(path, 100, &buf, &len, why, sizeof why),
				  ==, -EPERM);
			CHECK_CONTAINS(why, cases[i].want);
		}
		close(fd);
		unlink(path);
	}
}

TEST(test_buf_append)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	CHECK_INT(util_buf_append(&buf, &len, &cap, 10, "hello", 5), ==, 0);
	CHECK(buf && len == 5 && strcmp(buf, "hello") == 0 && cap >= 6);
	CHECK_INT(util_buf_append(&buf, &len, &cap, 10, "world", 5), ==, 0); /* exactly max */
	CHECK(len == 10 && strcmp(buf, "helloworld") == 0);
	CHECK_INT(util_buf_append(&buf, &len, &cap, 10, "!", 1), ==, -E2BIG); /* nothing added */
	CHECK(len == 10 && strcmp(buf, "helloworld") == 0);
	CHECK_INT(util_buf_append(&buf, &len, &cap, SIZE_MAX, "x", SIZE_MAX), ==, -E2BIG);
	free(buf);
	buf = NULL, len = 0, cap = 0;
	for (int i = 0; i < 10000; i++) /* grows past its first 4 KiB */
		CHECK_INT(util_buf_append(&buf, &len, &cap, 1 << 20, "abc", 3), ==, 0);
	CHECK(len == 30000 && cap >= 30001 && buf[29999] == 'c' && buf[30000] == '\0');
	free(buf);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	RUN(test_timespan);
	RUN(test_timestamp);
	RUN(test_u64);
	RUN(test_read_file);
	RUN(test_json_nul_escape);
	RUN(test_foreign_writer);
	RUN(test_buf_append);
	return harness_finish();
}
