/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Incidents: journal entries folded by fingerprint. Lines with the same
 * fingerprint within `window` of the incident's first line are one incident
 * with a count; a later line opens a new incident.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"

typedef struct Incident {
	uint64_t fingerprint;
	char *unit;	  /* trusted unit, may be NULL */
	char *identifier; /* untrusted SYSLOG_IDENTIFIER, may be NULL */
	int priority;	  /* the most severe seen */
	char *message;	  /* the first line's message */
	bool message_truncated;
	uint64_t first_seen; /* realtime µs */
	uint64_t last_seen;
	uint64_t count;
	char *first_cursor;
	char *last_cursor;
} Incident;

typedef struct IncidentTable IncidentTable;

/* max_incidents caps memory against a flood of distinct lines. NULL on OOM. */
IncidentTable *inc_table_new(uint64_t window_usec, size_t max_incidents);
IncidentTable *inc_table_free(IncidentTable *t);
static inline void inc_table_freep(IncidentTable **t)
{
	*t = inc_table_free(*t);
}

/*
 * Folds e in. Returns 1 when e opened a new incident, 0 when it was counted
 * into an open one, -E2BIG when a new incident would pass the cap (e is
 * counted as dropped), -ENOMEM. *ret (optional) points at the incident,
 * valid until the next call.
 */
int inc_table_add(IncidentTable *t, const JrEntry *e, Incident **ret);

/* Incidents in the order they were opened. */
size_t inc_table_size(const IncidentTable *t);
const Incident *inc_table_get(const IncidentTable *t, size_t i);
uint64_t inc_table_dropped(const IncidentTable *t);
