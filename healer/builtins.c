/* SPDX-License-Identifier: MIT */
#include "healer/builtins.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/util.h"
#include "whitelist/whitelist.h"

#define DROP_CACHES_PATH "/proc/sys/vm/drop_caches"

static int fail(int r, char *reason, size_t reason_len, const char *what, const char *path)
{
	if (reason && reason_len > 0)
		(void)util_snprintf(reason, reason_len, "%s: %s: %s", path, what, strerror(-r));
	return r;
}

static int refuse(char *reason, size_t reason_len, const char *what, const char *path)
{
	if (reason && reason_len > 0)
		(void)util_snprintf(reason, reason_len, "%s: refused: %s", path, what);
	return -EPERM;
}

static int open_beneath_no_links(const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int ex_builtin_chmod_x(const char *canonical_path, char *reason, size_t reason_len)
{
	_cleanup_close_ int fd = -1;
	const char *why;
	struct stat st;
	mode_t mode, want;

	if (reason && reason_len > 0)
		reason[0] = '\0';
	if (!canonical_path || canonical_path[0] != '/')
		return fail(-EINVAL, reason, reason_len, "not an absolute path",
			    canonical_path ? canonical_path : "(null)");
	fd = open_beneath_no_links(canonical_path);
	if (fd == -ELOOP)
		return refuse(reason, reason_len, "path is or passes through a symlink",
			      canonical_path);
	if (fd == -EXDEV)
		return refuse(reason, reason_len, "path crosses a magic link", canonical_path);
	if (fd < 0)
		return fail(fd, reason, reason_len, "cannot open", canonical_path);
	if (fstat(fd, &st) < 0)
		return fail(-errno, reason, reason_len, "cannot stat", canonical_path);
	why = wl_file_refusal(fd, canonical_path, &st);
	if (why)
		return refuse(reason, reason_len, why, canonical_path);

	mode = st.st_mode & 07777;
	/* x exactly where r is set: nobody gains access beyond what reading gave. */
	want = mode | ((mode & 0444) >> 2);
	if (want == mode) {
		if (reason && reason_len > 0)
			(void)util_snprintf(reason, reason_len, "%s: mode %04o, nothing to do",
					    canonical_path, (unsigned)mode);
		return 0;
	}
	if (fchmod(fd, want) < 0)
		return fail(-errno, reason, reason_len, "cannot chmod", canonical_path);
	if (reason && reason_len > 0)
		(void)util_snprintf(reason, reason_len, "%s: mode %04o -> %04o", canonical_path,
				    (unsigned)mode, (unsigned)want);
	return 0;
}

int ex_builtin_drop_caches(const char *proc_path, char *reason, size_t reason_len)
{
	_cleanup_close_ int fd = -1;
	static const char data[] = "3\n";
	size_t done = 0;
	const char *path = proc_path ? proc_path : DROP_CACHES_PATH;

	if (reason && reason_len > 0)
		reason[0] = '\0';
	/* Dirty pages cannot be dropped; write them back first. */
	sync();
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return fail(-errno, reason, reason_len, "cannot open", path);
	while (done < sizeof(data) - 1) {
		ssize_t n = write(fd, data + done, sizeof(data) - 1 - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(-errno, reason, reason_len, "cannot write", path);
		if (n == 0)
			return fail(-EIO, reason, reason_len, "short write", path);
		done += (size_t)n;
	}
	if (close(TAKE_FD(fd)) < 0)
		return fail(-errno, reason, reason_len, "cannot close", path);
	return 0;
}

int ex_builtin_argv(const char *self_exe, const char *name, const char *path, char ***ret)
{
	bool chmod_x = name && strcmp(name, "chmod-x") == 0;
	bool drop = name && strcmp(name, "drop-caches") == 0;
	char **v;

	if (!self_exe || self_exe[0] != '/' || !(chmod_x || drop) || chmod_x != !!path)
		return -EINVAL;
	v = calloc(5, sizeof(char *));
	if (!v)
		return -ENOMEM;
	v[0] = strdup(self_exe);
	v[1] = strdup("builtin");
	v[2] = strdup(name);
	v[3] = path ? strdup(path) : NULL;
	if (!v[0] || !v[1] || !v[2] || (path && !v[3])) {
		for (int i = 0; i < 4; i++)
			free(v[i]);
		free(v);
		return -ENOMEM;
	}
	*ret = v;
	return 0;
}
