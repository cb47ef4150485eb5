/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * For C tests that need a real service manager (shared/TESTING.md tier 1b):
 * main() calls sandbox_main() first. Outside a sandbox it writes the test's
 * units into a fresh temporary folder, runs this very binary again inside
 * tests/sandbox/sandbox.sh, removes the folder and returns the exit status
 * for main() to return. Inside (HEALER_SANDBOX=1) it returns -1 and main()
 * goes on with its tests; HEALER_SANDBOX_FIXTURE names the folder, which
 * stays visible there (/tmp is shared).
 *
 * A sandbox that cannot start is a failure with its reason, never a skip:
 * a test that passes without its manager proves nothing.
 */

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

extern char **environ;

static char sandbox_root[PATH_MAX];

/* Writes ROOT/rel (folders made as needed); fmt may use %1$s for ROOT. */
static _printf_(3, 4) void sandbox_file(const char *rel, mode_t mode, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	FILE *f;

	(void)util_snprintf(path, sizeof path, "%s/%s", sandbox_root, rel);
	for (char *s = strchr(path + strlen(sandbox_root) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		(void)mkdir(path, 0755);
		*s = '/';
	}
	f = fopen(path, "we");
	if (!f) {
		perror(path);
		exit(2);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0 || chmod(path, mode) < 0) {
		perror(path);
		exit(2);
	}
}

static void sandbox_symlink(const char *target, const char *rel)
{
	char path[PATH_MAX];

	(void)util_snprintf(path, sizeof path, "%s/%s", sandbox_root, rel);
	if (symlink(target, path) < 0) {
		perror(path);
		exit(2);
	}
}

/* Inside: the folder setup() wrote (HEALER_SANDBOX_FIXTURE). */
static const char *sandbox_fixture(void)
{
	const char *r = getenv("HEALER_SANDBOX_FIXTURE");

	return r ? r : "/nonexistent";
}

static int sandbox_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* sandbox.sh beside the test data (run.sh exports HEALER_TEST_DATA), else from the top. */
static int sandbox_script(char *buf)
{
	const char *data = getenv("HEALER_TEST_DATA");
	char p[PATH_MAX];

	(void)util_snprintf(p, sizeof p, "%s/../sandbox/sandbox.sh", data ? data : "tests/data");
	return realpath(p, buf) ? 0 : -errno;
}

/*
 * setup(root) writes the units into root/units (sandbox_file, sandbox_symlink);
 * start names units to start before the test (NULL-terminated, may be NULL).
 */
static int sandbox_main(void (*setup)(const char *root), const char *const *start)
{
	char script[PATH_MAX], self[PATH_MAX], units[PATH_MAX + 8], env_root[PATH_MAX + 32];
	const char *argv[64];
	char **envp;
	size_t n = 0, n_env = strv_length(environ);
	uint64_t t0 = util_now_usec();
	int status, r;
	ssize_t k;
	pid_t pid;

	if (getenv("HEALER_SANDBOX")) {
		/* sandbox_file() and sandbox_symlink() work inside too. */
		(void)util_snprintf(sandbox_root, sizeof sandbox_root, "%s", sandbox_fixture());
		return -1;
	}
	if (geteuid() != 0) {
		printf("FAIL sandbox: needs root (cgroups, namespaces, mounts)\n0 passed, 1 "
		       "failed\n");
		return 1;
	}
	k = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sandbox_script(script) < 0 || k < 0) {
		printf("FAIL sandbox: cannot find tests/sandbox/sandbox.sh or this test: %m\n"
		       "0 passed, 1 failed\n");
		return 1;
	}
	self[k] = '\0';
	(void)util_snprintf(sandbox_root, sizeof sandbox_root, "/tmp/healer-sandbox-units-XXXXXX");
	if (!mkdtemp(sandbox_root)) {
		perror("mkdtemp");
		return 2;
	}
	setup(sandbox_root);
	(void)util_snprintf(units, sizeof units, "%s/units", sandbox_root);
	(void)mkdir(units, 0755);

	argv[n++] = script;
	argv[n++] = "--units";
	argv[n++] = units;
	for (size_t i = 0; start && start[i] && n < ELEMENTSOF(argv) - 4; i++) {
		argv[n++] = "--start";
		argv[n++] = start[i];
	}
	argv[n++] = "--";
	argv[n++] = self;
	argv[n] = NULL;
	envp = calloc(n_env + 2, sizeof(char *));
	if (!envp)
		return 2;
	memcpy(envp, environ, n_env * sizeof(char *));
	(void)util_snprintf(env_root, sizeof env_root, "HEALER_SANDBOX_FIXTURE=%s", sandbox_root);
	envp[n_env] = env_root;

	fflush(stdout);
	r = posix_spawn(&pid, script, NULL, NULL, (char *const *)argv, envp);
	free(envp);
	if (r != 0) {
		printf("FAIL sandbox: cannot run %s: %s\n0 passed, 1 failed\n", script,
		       strerror(r));
		status = 1 << 8;
	} else {
		while (waitpid(pid, &status, 0) < 0)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 125)
			printf("FAIL sandbox: %s could not start (exit 125; reason above)\n"
			       "0 passed, 1 failed\n",
			       script);
		else
			printf("info: %s in its sandbox took %llu ms\n", strrchr(self, '/') + 1,
			       (unsigned long long)((util_now_usec() - t0) / USEC_PER_MSEC));
	}
	nftw(sandbox_root, sandbox_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
