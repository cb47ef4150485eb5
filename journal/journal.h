/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The journal reader: opens a journal the way the administrator chose, selects
 * entries by PRIORITY through the journal's own index, and turns each entry
 * into a JrEntry whose trusted fields (set by journald or PID 1) are kept
 * apart from the fields any local user can write. Also the fingerprint that
 * folds a storm of identical lines into one incident. Decides nothing and
 * never logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Bytes of MESSAGE kept; longer ones are cut and flagged. Well above what a
 * prompt shows (2 KiB): secrets are redacted before that cut, and one cut
 * here could split a token into a piece no pattern knows.
 */
#define JR_MESSAGE_MAX (16 * 1024)
/* PID 1's messages are read down to warning whatever max_priority is (see reader.c). */
#define JR_PID1_PRIORITY 4
#define JR_FIELD_MAX	 256 /* bytes of any other field kept */
#define JR_MAX_FILES	 64
#define JR_CONTEXT_MAX	 200 /* context lines at most */

typedef struct JrReader JrReader;

typedef enum JrSource {
	JR_SOURCE_SYSTEM,    /* the local system journal (default) */
	JR_SOURCE_DIRECTORY, /* a folder of journal files, e.g. from systemd-journal-remote */
	JR_SOURCE_FILES,     /* explicit journal files */
	JR_SOURCE_NAMESPACE, /* a journal namespace (LogNamespace=) */
} JrSource;

typedef struct JrOpenOptions {
	JrSource source;
	const char *directory;
	const char *const *files; /* NULL-terminated */
	const char *namespace_name;
	int max_priority; /* entries with PRIORITY <= this are read: 3 = err and worse */
} JrOpenOptions;

typedef struct JrEntry {
	/* Untrusted: any local process can write these. */
	char *message; /* NUL-free text; binary bytes replaced, cut at JR_MESSAGE_MAX */
	size_t message_len;
	bool message_truncated;
	bool message_binary; /* held bytes that are not text (replaced by '?') */
	char *identifier;    /* SYSLOG_IDENTIFIER, may be NULL */
	int priority;	     /* 0..7; an entry without a valid PRIORITY is not read */

	/* Set by the journal itself. */
	uint64_t realtime_usec;
	uint64_t monotonic_usec;
	char *cursor;
	char boot_id[33];
	char *hostname;

	/* Trusted: attached by journald from the kernel's view of the sender. */
	char *systemd_unit; /* _SYSTEMD_UNIT */
	pid_t pid;	    /* _PID, 0 when absent */
	uid_t uid;	    /* _UID, (uid_t)-1 when absent */
	char *comm;	    /* _COMM */
	char *exe;	    /* _EXE */
	/*
	 * How the entry reached journald (_TRANSPORT: kernel, journal,
	 * syslog, stdout, audit, driver), and where the sender runs when it
	 * is inside a user's service manager (_SYSTEMD_USER_UNIT) or a login
	 * session (_SYSTEMD_SESSION). NULL when absent. journald sets them
	 * and drops any client field whose name begins with '_'.
	 */
	char *transport;
	char *systemd_user_unit;
	char *systemd_session;
	/*
	 * The unit the entry is about, from trusted sources only: UNIT= when
	 * the sender is PID 1 (running as root), USER_UNIT= when the sender is a
	 * root-owned systemd service manager, else _SYSTEMD_UNIT. NULL when
	 * none: a SYSLOG_IDENTIFIER never names a unit.
	 */
	char *unit;
	/*
	 * A test error the API injected (HEALER_INJECT_ID, HEALER_CLAIMED_UNIT):
	 * untrusted like any client field; the daemon believes them only on its
	 * own entries (_PID is this process) carrying an id it is waiting for.
	 */
	char *inject_id;
	char *claimed_unit;
} JrEntry;

/*
 * Opens a journal. Returns 0 and a new reader, -ENOENT when a directory or
 * file does not exist, -EINVAL for bad options, or another -errno from
 * sd-journal.
 */
int jr_open(const JrOpenOptions *opts, JrReader **ret);
JrReader *jr_free(JrReader *r);
static inline void jr_freep(JrReader **r)
{
	*r = jr_free(*r);
}

/*
 * Positions the reader so that jr_next() returns the first entry after
 * cursor. Returns 1 when the cursor's entry is in this journal, 0 when it
 * is not (another machine's cursor, a vacuumed position: the reader is then
 * near it, but not reliably after it), or -errno.
 */
int jr_seek_cursor(JrReader *r, const char *cursor);
/* ... the first entry at or after realtime (µs since the epoch). */
int jr_seek_realtime(JrReader *r, uint64_t realtime_usec);
/* ... the oldest entry. */
int jr_seek_head(JrReader *r);
/* ... the end: only entries written from now on. */
int jr_seek_tail(JrReader *r);

/*
 * Reads the next selected entry into *ret (which the caller clears with
 * jr_entry_done()). Returns 1 with an entry, 0 at the end, or -errno.
 */
int jr_next(JrReader *r, JrEntry *ret);
void jr_entry_done(JrEntry *e);

/*
 * For an event loop: the fd to poll, the events and a timeout to use
 * (sd_journal_get_fd/get_events/get_timeout), and the call to make on
 * wake-up. jr_process() returns 0 (nothing new), 1 (new entries), 2 (files
 * were added or removed; reading simply goes on), or -errno.
 */
int jr_get_fd(JrReader *r);
int jr_get_events(JrReader *r);
int jr_get_timeout(JrReader *r, uint64_t *ret_usec);
int jr_process(JrReader *r);

/*
 * sd-journal watches the folders that exist when it opens; one that appears
 * later (a namespace whose journald starts after us, a host whose journal
 * was never written) is not noticed. jr_has_files() tells whether any
 * journal file is open (1, 0 or -errno); jr_reopen() opens again with the
 * same options and matches (the fd changes; the position must be set anew).
 */
int jr_has_files(JrReader *r);
int jr_reopen(JrReader *r);

/* The cursor of the last entry jr_next() returned, or NULL. */
const char *jr_last_cursor(const JrReader *r);

/*
 * The last n lines of the same unit before entry e, at any priority, oldest
 * first, capped at max_bytes in all (a line that does not fit ends the list).
 * Without a cursor (an incident the manager's signal opened), the lines up
 * to e->realtime_usec.
 * Opens its own view of the journal so the reader's position is untouched.
 * *ret is a NULL-terminated array the caller frees with strv_free().
 */
int jr_context(JrReader *r, const JrEntry *e, size_t n, size_t max_bytes, char ***ret);

/*
 * 64-bit fingerprint of unit + identifier + message with the variable parts
 * (numbers, hex ids, UUIDs, IPv4/IPv6 addresses, PIDs in "[123]") normalised
 * away, so that "worker 17 died" and "worker 18 died" fold together.
 */
uint64_t jr_fingerprint(const char *unit, const char *identifier, const char *message);

/*
 * Writes the normalised form of message (what the fingerprint hashes) into
 * buf; for tests and for showing an incident's pattern.
 */
void jr_normalise(const char *message, char *buf, size_t len);

/* "err" -> 3, "warning" -> 4, "3" -> 3 ...; -EINVAL otherwise. */
int jr_priority_from_string(const char *s);

/*
 * Writing an entry (the API's test-error injection): fields in journald's
 * native protocol as one datagram to the socket of the journal Healer reads,
 * "/run/systemd/journal/socket" for the system, ".../journal.NAME/socket" for
 * a namespace. journald attaches the trusted fields (_PID, _UID, ...) itself.
 */
typedef struct JrField {
	const char *name; /* A-Z, 0-9 and _, not beginning with _ */
	const char *value;
} JrField;

#define JR_SEND_MAX (64 * 1024) /* bytes of one datagram */

/* The socket path for a source (system or namespace); -EOPNOTSUPP for files and folders. */
int jr_socket_path(JrSource source, const char *namespace_name, char *buf, size_t len);
/* Sends one entry; -EINVAL for a bad field name, -E2BIG past JR_SEND_MAX, or -errno. */
int jr_send(const char *socket_path, const JrField *fields, size_t n);
