/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small helpers shared by every module: the cleanup attribute idiom, checked
 * number parsing and time spans. No module-specific knowledge lives here.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)	 __attribute__((cleanup(f)))
#define _cleanup_free_	 _cleanup_(freep)
#define _cleanup_close_	 _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _unused_	 __attribute__((unused))
#define _printf_(a, b)	 __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand a pointer out of a scope whose cleanup would otherwise free it. */
#define TAKE_PTR(p)                         \
	({                                  \
		__typeof__(p) _taken = (p); \
		(p) = NULL;                 \
		_taken;                     \
	})

#define TAKE_FD(fd)                   \
	({                            \
		int _taken_fd = (fd); \
		(fd) = -1;            \
		_taken_fd;            \
	})

#define USEC_PER_MSEC	1000ULL
#define USEC_PER_SEC	1000000ULL
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR	(60ULL * USEC_PER_MINUTE)
#define USEC_PER_DAY	(24ULL * USEC_PER_HOUR)

#include <stdio.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* Closes fd (keeping errno) and returns -1, for "fd = safe_close(fd);". */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

static inline void closep(int *fd)
{
	*fd = safe_close(*fd);
}

/* String arrays: NULL-terminated, each string and the array malloc'd. */
static inline size_t strv_length(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Frees v and its strings; takes NULL, returns NULL. */
static inline char **strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
	return NULL;
}

static inline void strv_freep(char ***v)
{
	*v = strv_free(*v);
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* Returns a value in [min, max] parsed from all of s, or -EINVAL / -ERANGE. */
int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/*
 * Parses a systemd-style time span ("30s", "5min", "1h 30min", "500ms", bare
 * number = seconds) into microseconds. Returns 0, -EINVAL or -ERANGE.
 */
int util_parse_timespan(const char *s, uint64_t *ret_usec);

/*
 * Parses an absolute time as journalctl --since/--until takes it:
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS[.ffffff]" ('T'
 * may stand for the space), in local time, or in UTC when followed by
 * " UTC" or "Z"; or "@SECONDS[.ffffff]" since the epoch. Relative words
 * ("today", "-1h") are refused. Returns 0 with microseconds since the
 * epoch, -EINVAL or -ERANGE.
 */
int util_parse_timestamp(const char *s, uint64_t *ret_usec);

/* Formats microseconds as the shortest exact span ("30s", "1h", "1min 30s"). */
void util_format_timespan(uint64_t usec, char *buf, size_t len);

/* Monotonic clock in microseconds. */
uint64_t util_now_usec(void);
/* Wall clock (CLOCK_REALTIME) in microseconds, as the journal stamps entries. */
uint64_t util_realtime_usec(void);

/* Reads all of a file up to max bytes; -E2BIG when it is larger. Caller frees. */
int util_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * Reads a file that decides what Healer does (config, whitelist, rules):
 * it must be a regular file owned by root or by us, and writable by nobody
 * else (group write only for group root). Checks and reads the same opened
 * fd. -EPERM with why filled in when refused; else as util_read_file().
 */
int util_read_trusted_file(const char *path, size_t max, char **ret, size_t *ret_len, char *why,
			   size_t why_len);

struct stat;
/*
 * Who besides the file's owner and root may write it, as "writable by
 * others", "... by a group other than root", "... by a user or group of its
 * ACL", or NULL when nobody. With
 * a POSIX access ACL the group bits show the ACL's mask, not the group's
 * rights, so the ACL itself is read and every named user and group with
 * write access (under the mask) counts; an ACL that cannot be read counts
 * too. fd is the open file, or -1 to read the ACL of path (a final symlink
 * is not followed).
 */
const char *util_foreign_writer(int fd, const char *path, const struct stat *st);

/*
 * Appends n bytes of p to a growing, NUL-terminated buffer (*buf of *len
 * bytes in *cap), never past max bytes: 0, -E2BIG (nothing appended) or
 * -ENOMEM. Response bodies read by curl grow this way.
 */
int util_buf_append(char **buf, size_t *len, size_t *cap, size_t max, const void *p, size_t n);

/* snprintf that never overflows and reports truncation as -ENOBUFS. */
int util_snprintf(char *buf, size_t len, const char *fmt, ...) _printf_(3, 4);

/* strdup that returns NULL only on OOM and accepts NULL. */
char *util_strndup(const char *s, size_t n);

/*
 * Whether JSON text holds the escape \u0000 (which decodes to a NUL that
 * cuts a C string short), as an escape: an escaped backslash followed by
 * "u0000" is plain text and does not count.
 */
bool util_json_has_nul_escape(const char *s, size_t n);
