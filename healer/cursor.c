/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "healer/cursor.h"

typedef struct FileStore {
	CursorStore base;
	char *path;
} FileStore;

static int file_load(CursorStore *s, char **ret)
{
	FileStore *f = (FileStore *)s;
	char *buf = NULL;
	size_t len = 0;
	int r = util_read_file(f->path, CUR_MAX_BYTES, &buf, &len);

	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x21 || (unsigned char)buf[i] > 0x7e) {
			free(buf);
			return -EBADMSG; /* not a cursor: refuse rather than seek somewhere */
		}
	if (len == 0) {
		free(buf);
		buf = NULL;
	}
	*ret = buf;
	return 0;
}

/* Write to PATH.tmp, then rename over PATH: a reader never sees half a cursor. */
static int file_save(CursorStore *s, const char *cursor, int durable)
{
	FileStore *f = (FileStore *)s;
	size_t n = strlen(cursor), plen = strlen(f->path);
	_cleanup_free_ char *tmp = malloc(plen + 5);
	_cleanup_close_ int fd = -1;

	if (n == 0 || n > CUR_MAX_BYTES)
		return -EINVAL;
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, f->path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	/*
	 * A fresh file: whatever stood at PATH.tmp (a link to another file,
	 * a FIFO) is removed, never written through or waited on.
	 */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, cursor, n) != (ssize_t)n || write(fd, "\n", 1) != 1 ||
	    (durable && fsync(fd) < 0)) {
		int r = errno ? -errno : -EIO;

		(void)unlink(tmp);
		return r;
	}
	if (rename(tmp, f->path) < 0) {
		int r = -errno;

		(void)unlink(tmp);
		return r;
	}
	return 0;
}

static void file_free(CursorStore *s)
{
	FileStore *f = (FileStore *)s;

	free(f->path);
	free(f);
}

CursorStore *cur_file_new(const char *path)
{
	FileStore *f = calloc(1, sizeof *f);

	if (!f)
		return NULL;
	f->path = strdup(path);
	if (!f->path) {
		free(f);
		return NULL;
	}
	f->base = (CursorStore){.load = file_load, .save = file_save, .free = file_free};
	return &f->base;
}
