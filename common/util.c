/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno != 0 || !end || *end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static const struct {
	const char *suffix;
	uint64_t usec;
} span_units[] = {
	/* Longest first so that "min" wins over "m" and "ms" over "m". */
	{"minutes", USEC_PER_MINUTE},
	{"minute", USEC_PER_MINUTE},
	{"seconds", USEC_PER_SEC},
	{"second", USEC_PER_SEC},
	{"hours", USEC_PER_HOUR},
	{"hour", USEC_PER_HOUR},
	{"days", USEC_PER_DAY},
	{"day", USEC_PER_DAY},
	{"msec", USEC_PER_MSEC},
	{"usec", 1},
	{"sec", USEC_PER_SEC},
	{"min", USEC_PER_MINUTE},
	{"hr", USEC_PER_HOUR},
	{"ms", USEC_PER_MSEC},
	{"us", 1},
	{"s", USEC_PER_SEC},
	{"m", USEC_PER_MINUTE},
	{"h", USEC_PER_HOUR},
	{"d", USEC_PER_DAY},
};

int util_parse_timespan(const char *s, uint64_t *ret_usec)
{
	uint64_t total = 0;
	bool any = false;

	if (!s)
		return -EINVAL;
	for (const char *p = s;;) {
		uint64_t n = 0, mult = USEC_PER_SEC;
		size_t digits = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		while (isdigit((unsigned char)*p)) {
			if (n > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			n = n * 10 + (uint64_t)(*p - '0');
			p++;
			digits++;
		}
		if (digits == 0)
			return -EINVAL;
		while (*p == ' ' || *p == '\t')
			p++;
		if (isalpha((unsigned char)*p)) {
			size_t i, k = 0;

			while (isalpha((unsigned char)p[k]))
				k++;
			for (i = 0; i < ELEMENTSOF(span_units); i++)
				if (strlen(span_units[i].suffix) == k &&
				    strncmp(p, span_units[i].suffix, k) == 0)
					break;
			if (i == ELEMENTSOF(span_units))
				return -EINVAL;
			mult = span_units[i].usec;
			p += k;
		}
		if (n != 0 && mult > UINT64_MAX / n)
			return -ERANGE;
		if (total > UINT64_MAX - n * mult)
			return -ERANGE;
		total += n * mult;
		any = true;
	}
	if (!any)
		return -EINVAL;
	*ret_usec = total;
	return 0;
}

/* Exactly n digits at *p (advanced past them) into *ret; false otherwise. */
static bool fixed_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

/* ".ffffff" (1 to 6 digits) into microseconds; nothing there is 0. */
static bool fraction_usec(const char **p, uint64_t *ret)
{
	uint64_t v = 0;
	int n = 0;

	*ret = 0;
	if (**p != '.')
		return true;
	(*p)++;
	while (isdigit((unsigned char)**p) && n < 6) {
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || isdigit((unsigned char)**p))
		return false;
	while (n++ < 6)
		v *= 10;
	*ret = v;
	return true;
}

static int parse_epoch(const char *p, uint64_t *ret_usec)
{
	uint64_t sec = 0, frac;
	size_t digits = 0;

	while (isdigit((unsigned char)*p)) {
		if (sec > (UINT64_MAX / USEC_PER_SEC - 10) / 10)
			return -ERANGE;
		sec = sec * 10 + (uint64_t)(*p++ - '0');
		digits++;
	}
	if (digits == 0 || !fraction_usec(&p, &frac) || *p)
		return -EINVAL;
	*ret_usec = sec * USEC_PER_SEC + frac;
	return 0;
}

int util_parse_timestamp(const char *s, uint64_t *ret_usec)
{
	struct tm tm = {0}, want;
	const char *p = s;
	uint64_t frac = 0;
	bool utc = false;
	time_t t;

	if (!s)
		return -EINVAL;
	if (*p == '@')
		return parse_epoch(p + 1, ret_usec);
	if (!fixed_digits(&p, 4, &tm.tm_year) || *p++ != '-' || !fixed_digits(&p, 2, &tm.tm_mon) ||
	    *p++ != '-' || !fixed_digits(&p, 2, &tm.tm_mday))
		return -EINVAL;
	if (*p == ' ' || *p == 'T') {
		if (strcmp(p, " UTC") != 0) {
			p++;
			if (!fixed_digits(&p, 2, &tm.tm_hour) || *p++ != ':' ||
			    !fixed_digits(&p, 2, &tm.tm_min))
				return -EINVAL;
			if (*p == ':' && (p++, !fixed_digits(&p, 2, &tm.tm_sec)))
				return -EINVAL;
			if (!fraction_usec(&p, &frac))
				return -EINVAL;
		}
	}
	if (strcmp(p, " UTC") == 0 || strcmp(p, "Z") == 0)
		utc = true;
	else if (*p)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	want = tm;
	t = utc ? timegm(&tm) : mktime(&tm);
	/* A date that does not exist (February 30th, 25:00) comes back moved: refused. */
	if (t == (time_t)-1 || tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon ||
	    tm.tm_mday != want.tm_mday || tm.tm_hour != want.tm_hour || tm.tm_min != want.tm_min ||
	    tm.tm_sec != want.tm_sec)
		return -EINVAL;
	if (t < 0)
		return -ERANGE;
	*ret_usec = (uint64_t)t * USEC_PER_SEC + frac;
	return 0;
}

void util_format_timespan(uint64_t usec, char *buf, size_t len)
{
	static const struct {
		const char *suffix;
		uint64_t usec;
	} parts[] = {
		{"d", USEC_PER_DAY}, {"h", USEC_PER_HOUR},  {"min", USEC_PER_MINUTE},
		{"s", USEC_PER_SEC}, {"ms", USEC_PER_MSEC}, {"us", 1},
	};
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (usec == 0) {
		(void)util_snprintf(buf, len, "0");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(parts) && usec > 0; i++) {
		uint64_t n = usec / parts[i].usec;
		int w;

		if (n == 0)
			continue;
		usec -= n * parts[i].usec;
		w = snprintf(buf + used, len - used, "%s%" PRIu64 "%s", used ? " " : "", n,
			     parts[i].suffix);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

uint64_t util_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t util_realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static int read_fd(int fd, size_t max, char **ret, size_t *ret_len);

int util_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return read_fd(fd, max, ret, ret_len);
}

/* The on-disk form of a POSIX access ACL (linux/posix_acl_xattr.h). */
#define ACL_XATTR_VERSION 2
#define ACL_TAG_USER	  0x02
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_GROUP	  0x08
#define ACL_TAG_MASK	  0x10
#define ACL_PERM_WRITE	  0x02

const char *util_foreign_writer(int fd, const char *path, const struct stat *st)
{
	unsigned char acl[4 + 8 * 64];
	ssize_t n;
	unsigned mask = 0x07;
	bool writer = false;

	if (st->st_mode & S_IWOTH)
		return "writable by others";
	n = fd >= 0 ? fgetxattr(fd, "system.posix_acl_access", acl, sizeof acl)
		    : lgetxattr(path, "system.posix_acl_access", acl, sizeof acl);
	if (n < 0 && (errno == ENODATA || errno == EOPNOTSUPP))
		return (st->st_mode & S_IWGRP) && st->st_gid != 0
			       ? "writable by a group other than root"
			       : NULL;
	if (n < 4 || (n - 4) % 8 != 0 ||
	    (acl[0] | acl[1] << 8 | acl[2] << 16 | (uint32_t)acl[3] << 24) != ACL_XATTR_VERSION)
		return "writable by an ACL that cannot be read";
	for (ssize_t i = 4; i < n; i += 8)
		if ((acl[i] | acl[i + 1] << 8) == ACL_TAG_MASK)
			mask = acl[i + 2];
	for (ssize_t i = 4; i < n; i += 8) {
		unsigned tag = acl[i] | acl[i + 1] << 8, perm = acl[i + 2];
		uint32_t id = acl[i + 4] | acl[i + 5] << 8 | acl[i + 6] << 16 |
			      (uint32_t)acl[i + 7] << 24;

		if (!(perm & mask & ACL_PERM_WRITE))
			continue;
		if (tag == ACL_TAG_USER && id != 0 && id != st->st_uid)
			writer = true;
		if (tag == ACL_TAG_GROUP && id != 0)
			writer = true;
		if (tag == ACL_TAG_GROUP_OBJ && st->st_gid != 0)
			writer = true;
	}
	return writer ? "writable by a user or group of its ACL" : NULL;
}

int util_read_trusted_file(const char *path, size_t max, char **ret, size_t *ret_len, char *why,
			   size_t why_len)
{
	_cleanup_close_ int fd = -1;
	const char *writer;
	struct stat st;

	if (why_len)
		why[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode)) {
		(void)util_snprintf(why, why_len, "not a regular file; refusing it");
		return -EPERM;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		(void)util_snprintf(why, why_len,
				    "owned by uid %u, not root; refusing it (chown root)",
				    (unsigned)st.st_uid);
		return -EPERM;
	}
	writer = util_foreign_writer(fd, path, &st);
	if (writer) {
		(void)util_snprintf(why, why_len, "%s; refusing it (%s)", writer,
				    strstr(writer, "ACL") ? "setfacl -b" : "chmod go-w");
		return -EPERM;
	}
	return read_fd(fd, max, ret, ret_len);
}

static int read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t used = 0, cap;

	cap = 4096;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (used == cap) {
			char *nbuf;

			if (cap > max)
				return -E2BIG;
			cap *= 2;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max)
			return -E2BIG;
	}
	buf[used] = '\0';
	if (ret_len)
		*ret_len = used;
	*ret = TAKE_PTR(buf);
	return 0;
}

int util_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (len == 0)
		return -ENOBUFS;
	va_start(ap, fmt);
	w = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (w < 0)
		return -EINVAL;
	if ((size_t)w >= len)
		return -ENOBUFS;
	return w;
}

char *util_strndup(const char *s, size_t n)
{
	char *d;

	if (!s)
		return NULL;
	d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

bool util_json_has_nul_escape(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && i + 6 <= n && memcmp(s + i + 2, "0000", 4) == 0)
			return true;
		i++; /* skip the escaped character, a backslash included */
	}
	return false;
}

int util_buf_append(char **buf, size_t *len, size_t *cap, size_t max, const void *p, size_t n)
{
	if (n > max || *len > max - n)
		return -E2BIG;
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;
		char *b;

		while (c < *len + n + 1)
			c *= 2;
		b = realloc(*buf, c);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}
