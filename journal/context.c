/* SPDX-License-Identifier: MIT */
/*
 * Context for the model: what the same unit said just before the error, at
 * any priority. Read through a second view of the journal so the reader's
 * own position is never disturbed.
 */
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "journal/internal.h"

static int add_unit_matches(sd_journal *j, const char *unit, const char *identifier)
{
	char m[JR_FIELD_MAX + 32];
	int r;

	if (!unit) {
		/* No trusted unit: the identifier is good enough to pick context lines. */
		(void)util_snprintf(m, sizeof m, "SYSLOG_IDENTIFIER=%s", identifier);
		return sd_journal_add_match(j, m, 0);
	}
	(void)util_snprintf(m, sizeof m, "_SYSTEMD_UNIT=%s", unit);
	r = sd_journal_add_match(j, m, 0);
	if (r >= 0)
		r = sd_journal_add_disjunction(j);
	if (r >= 0 && util_snprintf(m, sizeof m, "UNIT=%s", unit) >= 0)
		r = sd_journal_add_match(j, m, 0);
	if (r >= 0)
		r = sd_journal_add_match(j, "_PID=1", 0);
	if (r >= 0)
		r = sd_journal_add_disjunction(j);
	if (r >= 0 && util_snprintf(m, sizeof m, "USER_UNIT=%s", unit) >= 0)
		r = sd_journal_add_match(j, m, 0);
	if (r >= 0)
		r = sd_journal_add_match(j, "_UID=0", 0);
	return r;
}

/* "<3> nginx: message" from the current entry, or NULL when it has no message. */
static char *format_line(sd_journal *j)
{
	const void *d;
	size_t l, ml;
	const char *msg, *ident = "";
	char prio = '?', idbuf[64], *line;
	size_t idl = 0;

	if (sd_journal_get_data(j, "MESSAGE", &d, &l) < 0)
		return NULL;
	msg = (const char *)d + 8;
	ml = l - 8 > JR_MESSAGE_MAX ? JR_MESSAGE_MAX : l - 8;
	if (sd_journal_get_data(j, "PRIORITY", &d, &l) >= 0 && l == 10)
		prio = ((const char *)d)[9];
	if (sd_journal_get_data(j, "SYSLOG_IDENTIFIER", &d, &l) >= 0) {
		idl = l - 18 < sizeof idbuf - 1 ? l - 18 : sizeof idbuf - 1;
		memcpy(idbuf, (const char *)d + 18, idl);
		ident = idbuf;
	}
	idbuf[idl] = '\0';
	{
		_cleanup_free_ char *raw = malloc(idl + ml + 16);

		if (!raw)
			return NULL;
		snprintf(raw, idl + ml + 16, "<%c> %s: %.*s", prio, ident, (int)ml, msg);
		/* The same plain-text rule as messages. */
		line = text_clean(raw, strlen(raw), idl + ml + 16, 0, NULL, NULL);
	}
	return line;
}

int jr_context(JrReader *r, const JrEntry *e, size_t n, size_t max_bytes, char ***ret)
{
	sd_journal *j = NULL;
	char **lines = NULL;
	size_t got = 0, bytes = 0;
	int k;

	if (n > JR_CONTEXT_MAX)
		n = JR_CONTEXT_MAX;
	lines = calloc(n + 1, sizeof(char *));
	if (!lines)
		return -ENOMEM;
	if (n == 0 || (!e->cursor && !e->realtime_usec) || (!e->unit && !e->identifier))
		goto done;
	k = jr_open_journal_(r, &j);
	if (k >= 0)
		k = add_unit_matches(j, e->unit, e->identifier);
	/* No entry of its own (the manager's signal): the lines up to its time. */
	if (k >= 0)
		k = e->cursor ? sd_journal_seek_cursor(j, e->cursor)
			      : sd_journal_seek_realtime_usec(j, e->realtime_usec + 1);
	if (k < 0)
		goto fail;
	/* Entries without a message are skipped but counted: the walk is bounded. */
	for (size_t steps = 0; got < n && steps < JR_CONTEXT_MAX * 50; steps++) {
		char *line;
		size_t len;

		k = sd_journal_previous(j);
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		if (e->cursor && sd_journal_test_cursor(j, e->cursor) > 0)
			continue; /* the error itself */
		line = format_line(j);
		if (!line)
			continue;
		len = strlen(line) + 1;
		if (bytes + len > max_bytes) {
			free(line);
			break;
		}
		bytes += len;
		lines[got++] = line;
	}
	/* Collected newest first; the model reads oldest first. */
	for (size_t a = 0, b = got ? got - 1 : 0; a < b; a++, b--) {
		char *t = lines[a];

		lines[a] = lines[b];
		lines[b] = t;
	}
done:
	sd_journal_close(j);
	*ret = lines;
	return 0;
fail:
	sd_journal_close(j);
	strv_free(lines);
	return k;
}
