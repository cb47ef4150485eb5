/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Redaction: secrets in log text are replaced by LLM_REDACTED before the text
 * leaves the host. URL userinfo, Authorization and Bearer values,
 * password=/token=/secret=-style pairs, AWS keys, PEM private key blocks,
 * JWTs, GitHub, Slack and Google API tokens.
 */

#include <stddef.h>

#define LLM_REDACTED "[REDACTED]"

/*
 * A new, redacted copy of text in *ret; *ret_count (optional) tells how many
 * secrets were replaced. Returns 0, -ENOMEM, or -EINVAL if the patterns
 * failed (the caller must then not send the text).
 */
int llm_redact(const char *text, char **ret, unsigned *ret_count);
