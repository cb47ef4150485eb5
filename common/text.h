/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Text hygiene, once for every module: strict UTF-8, and plain text for
 * whatever reaches prompts, JSON, terminals and the database. Journal lines,
 * model replies, command-line arguments and context files are attacker
 * text; all of it goes through text_clean() before it is shown or stored.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length of the strict UTF-8 sequence at s (1 for ASCII), or 0 when it is
 * not one: a stray continuation byte, an overlong form, a surrogate, a code
 * point past U+10FFFF, or a sequence cut short by n.
 */
size_t text_utf8_len(const unsigned char *s, size_t n);

/* The code point of a sequence text_utf8_len() accepted, len its length. */
uint32_t text_utf8_decode(const unsigned char *s, size_t len);

/* Whether all of [s, s+n) is strict UTF-8 (a NUL byte is valid here). */
bool text_utf8_valid(const char *s, size_t n);

/*
 * Whether a code point must never reach a reader as itself: C0 controls,
 * DEL, C1 controls (8-bit CSI...), Unicode's Bidi_Control characters
 * (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) and its
 * Default_Ignorable_Code_Points (zero-width characters, joiners, soft
 * hyphen, variation selectors, fillers, U+FEFF, the tag characters
 * U+E0000-U+E0FFF that can spell hidden instructions to a model), and the
 * line and paragraph separators U+2028-U+2029. These hide text or reorder
 * what a terminal shows ("restart nginx" that is not).
 */
bool text_is_hidden(uint32_t cp);

typedef enum TextFlags {
	TEXT_KEEP_NEWLINES = 1 << 0, /* '\n' stays; else it becomes a space like '\t' and '\r' */
} TextFlags;

/*
 * A plain-text copy of [s, s+n): strict UTF-8 with each invalid byte as
 * '?', tabs and line ends as a space ('\n' kept with TEXT_KEEP_NEWLINES),
 * every other hidden character (text_is_hidden) as '?'. At most cap bytes
 * are written, cut at a character boundary. The result is never longer
 * than the input. *ret_replaced (optional) tells whether anything but a
 * blank was replaced (a cut does not count); *ret_len (optional) the length.
 * Returns a new string, or NULL on OOM.
 */
char *text_clean(const char *s, size_t n, size_t cap, unsigned flags, size_t *ret_len,
		 bool *ret_replaced);

/* text_clean() of a NUL-terminated string (NULL gives NULL), no cap. */
char *text_clean_str(const char *s, unsigned flags);
