/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "harness.h"
#include "common/ini.h"
#include "common/text.h"

static void clean(const char *in, size_t n, size_t cap, unsigned flags, const char *want,
		  bool want_replaced)
{
	bool replaced = !want_replaced;
	size_t len = 0;
	char *out = text_clean(in, n, cap, flags, &len, &replaced);

	CHECK_STR(out, want);
	CHECK_INT(len, ==, strlen(want));
	CHECK_(replaced == want_replaced, "'%s': replaced=%d", want, replaced);
	CHECK(text_utf8_valid(out, len));
	free(out);
}

TEST(test_utf8)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"plain ascii", true},
		{"caf\xc3\xa9", true},
		{"\xe2\x82\xac \xf0\x9f\x94\xa5", true},
		{"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
		{"caf\xc3", false},	     /* cut short */
		{"\xc0\xaf", false},	     /* overlong '/' */
		{"\xe0\x80\xaf", false},     /* overlong, 3 bytes */
		{"\xed\xa0\x80", false},     /* surrogate */
		{"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
		{"\x80", false},	     /* stray continuation */
		{"\xff", false},
		{"a\xc3\xa9\xc3(", false},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		CHECK_(text_utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, "case %zu",
		       i);
	CHECK_INT(text_utf8_len((const unsigned char *)"\xc3\xa9", 2), ==, 2);
	CHECK_INT(text_utf8_len((const unsigned char *)"\xc3\xa9", 1), ==, 0);
	CHECK_INT(text_utf8_len((const unsigned char *)"", 0), ==, 0);
	CHECK_INT(text_utf8_decode((const unsigned char *)"\xe2\x80\xae", 3), ==, 0x202e);
}

TEST(test_hidden)
{
	static const uint32_t hidden[] = {
		0x00,	 0x1b,	  0x7f,	   0x85,    0x9f,    0xad,    0x34f,   0x61c,
		0x115f,	 0x1160,  0x17b4,  0x180e,  0x200b,  0x200f,  0x2028,  0x2029,
		0x202a,	 0x202e,  0x2060,  0x2066,  0x2069,  0x206f,  0x3164,  0xfe00,
		0xfe0f,	 0xfeff,  0xffa0,  0xfff9,  0xfffb,  0x1bca0, 0x1d173, 0x1d17a,
		0xe0000, 0xe0001, 0xe0041, 0xe007f, 0xe0100, 0xe01ef,
	};
	static const uint32_t shown[] = {' ',	 'a',	  0xa0,	   0xe9,    0x2010,  0x2070,
					 0xfffd, 0x1f525, 0x1d17b, 0xe1000, 0x10ffff};

	for (size_t i = 0; i < ELEMENTSOF(hidden); i++)
		CHECK_(text_is_hidden(hidden[i]), "U+%04X should be hidden", hidden[i]);
	for (size_t i = 0; i < ELEMENTSOF(shown); i++)
		CHECK_(!text_is_hidden(shown[i]), "U+%04X should be shown", shown[i]);
}

TEST(test_clean)
{
	clean("plain", 5, 100, 0, "plain", false);
	clean("a\tb\r\nc", 6, 100, 0, "a b  c", false);
	clean("a\nb", 3, 100, TEXT_KEEP_NEWLINES, "a\nb", false);
	clean("esc\x1b[31m", 8, 100, 0, "esc?[31m", true);
	clean("del\x7f", 4, 100, 0, "del?", true);
	clean("nel\xc2\x85", 5, 100, 0, "nel?", true);
	clean("bad\xff\xc0\xaf!", 7, 100, 0,
	      "bad??"
	      "?!",
	      true);
	clean("nul\0x", 5, 100, 0, "nul?x", true);
	/* "restart nginx" shown, something else meant: each hidden one is a '?'. */
	clean("restart \xe2\x80\xaexnign", 16, 100, 0, "restart ?xnign", true);
	clean("zero\xe2\x80\x8bwidth", 12, 100, 0, "zero?width", true);
	clean("\xef\xbb\xbf"
	      "bom",
	      6, 100, 0, "?bom", true);
	clean("iso\xe2\x81\xa6late\xe2\x81\xa9", 13, 100, 0, "iso?late?", true);
	/* Tag characters spell text a reader never sees: "hi" in tags. */
	clean("ok\xf3\xa0\x81\xa8\xf3\xa0\x81\xa9", 10, 100, 0, "ok??", true);
	clean("caf\xc3\xa9 \xf0\x9f\x94\xa5", 10, 100, 0, "caf\xc3\xa9 \xf0\x9f\x94\xa5", false);
	/* A cut lands on a character boundary and is not a replacement. */
	clean("caf\xc3\xa9", 5, 4, 0, "caf", false);
	clean("ab\xf0\x9f\x94\xa5", 6, 5, 0, "ab", false);
	clean("abcdef", 6, 3, 0, "abc", false);
	clean("", 0, 10, 0, "", false);
	/* A truncated sequence at the very end is invalid, not cut. */
	clean("ab\xe2\x82", 4, 100, 0, "ab??", true);

	CHECK(text_clean_str(NULL, 0) == NULL);
}

static int on_line(char *line, void *userdata)
{
	(void)line;
	(*(unsigned *)userdata)++;
	return 0;
}

/* Configuration lines: what a reviewer reads must be what Healer reads. */
TEST(test_ini_lines)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{"key = caf\xc3\xa9\n", NULL},
		{"key = a\xff\n", "t:1: line is not valid UTF-8"},
		{"key = \xc0\xaf\n", "t:1: line is not valid UTF-8"},
		{"ok = 1\nkey = x\xe2\x80\xae"
		 "exe\n",
		 "t:2: invisible or bidirectional character"},
		{"key = a\xe2\x80\x8b"
		 "b\n",
		 "t:1: invisible or bidirectional character"},
		{"key = \xef\xbb\xbfx\n", "t:1: invisible or bidirectional character"},
		{"key = a\xc2\x85\n", "t:1: invisible or bidirectional character"},
		{"key = a\tb\n", NULL},
		{"key = a\x1b"
		 "b\n",
		 "t:1: control character in line"},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		IniErrors e = {0};
		unsigned line, n = 0;
		char *joined;

		CHECK_INT(ini_parse(cases[i].text, strlen(cases[i].text), 4096, 1024, &line, &e,
				    on_line, &n),
			  ==, 0);
		joined = ini_errors_join(&e, "t");
		if (cases[i].error) {
			CHECK_CONTAINS(joined, cases[i].error);
		} else {
			CHECK_(e.n == 0, "case %zu: %s", i, joined ? joined : "");
			CHECK_INT(n, ==, 1);
		}
		free(joined);
		ini_errors_free(&e);
	}
}

int main(void)
{
	RUN(test_utf8);
	RUN(test_hidden);
	RUN(test_clean);
	RUN(test_ini_lines);
	return harness_finish();
}
