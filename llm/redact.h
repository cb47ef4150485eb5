/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Redaction: secrets in log text are replaced by LLM_REDACTED before the text
 * leaves the host. One table of rules (llm/redact-rules.c; each class is
 * documented with its cases in tests/data/redaction/): private key blocks,
 * URL userinfo, Authorization, Basic, Digest and SMTP AUTH credentials,
 * key=value and key: value pairs, passwords on command lines, credential
 * query parameters and session cookies, vendor token shapes, and a last rule
 * for long high-entropy tokens of vendors no rule knows.
 */

#include <stddef.h>

#define LLM_REDACTED   "[REDACTED]"
#define LLM_REDACT_MAX (1024 * 1024) /* bytes of text redacted in one call at most */

/*
 * A new, redacted copy of text in *ret; *ret_count (optional) tells how many
 * secrets were replaced. Every newline of text is kept, so many lines may be
 * redacted as one text (a secret split over two lines is then seen whole)
 * and split again afterwards. Redacting the result again changes nothing.
 * Returns 0, -ENOMEM, -E2BIG over LLM_REDACT_MAX, or -EINVAL if a pattern
 * failed (a match limit hit): the caller must then not send the text.
 */
int llm_redact(const char *text, char **ret, unsigned *ret_count);
