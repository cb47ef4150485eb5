/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Actions the executor performs itself instead of spawning a program, because
 * doing them on an opened fd is safer than any command line could be. They
 * belong to the executor (ex_ prefix) and, like it, do not log: a refusal or
 * failure comes back as a negative errno plus a human-readable reason.
 */

#include <stddef.h>

/*
 * Adds the execute bit wherever the read bit is set (0644 -> 0755, 0600 ->
 * 0700) on canonical_path, an absolute path the whitelist has already
 * canonicalised. The file is opened with openat2(RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS, O_NOFOLLOW | O_NONBLOCK) and everything after that
 * uses the fd, so no symlink or swap can redirect the change; a FIFO does not
 * block the open.
 * Returns 0 when the mode was changed or already had the bits (reason then
 * describes what happened), -EPERM when refused (a symlink anywhere in the
 * path, not a regular file, more than one hard link, setuid or setgid,
 * writable by others), -EINVAL for a relative path, -ENOSYS on a kernel
 * without openat2 (fail closed), or another -errno (-ENOENT, -EROFS ...).
 * reason (may be NULL) always receives a NUL-terminated explanation.
 */
int ex_builtin_chmod_x(const char *canonical_path, char *reason, size_t reason_len);

/*
 * sync()s, then writes "3\n" to proc_path (NULL means /proc/sys/vm/drop_caches),
 * which must already exist and not be a symlink. Returns 0 or -errno, with
 * reason (may be NULL) explaining a failure.
 */
int ex_builtin_drop_caches(const char *proc_path, char *reason, size_t reason_len);

/*
 * Builtins can block (sync() behind a stuck mount, a slow file system), and
 * nothing may block the event loop: the daemon runs each in a child of its
 * own binary, `SELF builtin NAME [PATH]`, under the executor's timeout.
 * Builds that argv as a new NULL-terminated array (free each, then it), or
 * returns -EINVAL for an unknown name or a missing/extra path, -ENOMEM.
 */
int ex_builtin_argv(const char *self_exe, const char *name, const char *path, char ***ret);
