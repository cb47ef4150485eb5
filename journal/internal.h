/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the journal module's files; not public. */

#include <systemd/sd-journal.h>

#include "journal/journal.h"

/* Opens another view of the same journal as r (no matches). */
int jr_open_journal_(const JrReader *r, sd_journal **ret);

/* Plain text of a field: see reader.c plain_copy(). A new string, NULL on OOM. */
char *jr_plain_text(const char *v, size_t n, size_t cap);
/* Length of the strict UTF-8 sequence at s, or 0 when it is not one. */
size_t jr_utf8_len(const unsigned char *s, size_t n);
uint32_t jr_utf8_decode(const unsigned char *s, size_t len);
