/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "journal/journal.h"

int jr_socket_path(JrSource source, const char *namespace_name, char *buf, size_t len)
{
	int n;

	if (source == JR_SOURCE_SYSTEM)
		n = snprintf(buf, len, "/run/systemd/journal/socket");
	else if (source == JR_SOURCE_NAMESPACE && namespace_name && *namespace_name &&
		 !strchr(namespace_name, '/'))
		n = snprintf(buf, len, "/run/systemd/journal.%s/socket", namespace_name);
	else
		return -EOPNOTSUPP;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool field_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '_' || (s[0] >= '0' && s[0] <= '9'))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/*
 * NAME=value\n, or, for a value holding a newline, NAME\n, its length as a
 * little-endian 64-bit number, the value and \n: journald's native format.
 */
static int append(char *buf, size_t *at, const JrField *f)
{
	size_t nl = strlen(f->name), vl = strlen(f->value);
	bool binary = memchr(f->value, '\n', vl) != NULL;
	size_t need = nl + 1 + (binary ? 8 : 0) + vl + 1;

	if (need > JR_SEND_MAX - *at)
		return -E2BIG;
	memcpy(buf + *at, f->name, nl);
	*at += nl;
	if (binary) {
		uint64_t le = vl;

		buf[(*at)++] = '\n';
		for (int i = 0; i < 8; i++)
			buf[(*at)++] = (char)((le >> (8 * i)) & 0xff);
	} else {
		buf[(*at)++] = '=';
	}
	memcpy(buf + *at, f->value, vl);
	*at += vl;
	buf[(*at)++] = '\n';
	return 0;
}

int jr_send(const char *socket_path, const JrField *fields, size_t n)
{
	_cleanup_free_ char *buf = malloc(JR_SEND_MAX);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t at = 0;
	int fd, r = 0;

	if (!buf)
		return -ENOMEM;
	if (strlen(socket_path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1); /* length checked above */
	for (size_t i = 0; i < n; i++) {
		if (!field_name_ok(fields[i].name) || !fields[i].value)
			return -EINVAL;
		r = append(buf, &at, &fields[i]);
		if (r < 0)
			return r;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, buf, at, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof sa) < 0)
		r = -errno;
	close(fd);
	return r;
}
