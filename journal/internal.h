/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the journal module's files; not public. */

#include <systemd/sd-journal.h>

#include "journal/journal.h"

/* Opens another view of the same journal as r (no matches). */
int jr_open_journal_(const JrReader *r, sd_journal **ret);
