/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "common/util.h"
#include "healer/executor-internal.h"
#include "healer/executor.h"

/*
 * Why a cgroup and not only the process group: a process group is a
 * promise the child keeps, not a fence. One setsid() (or a double fork
 * followed by setsid(), as every daemonising tool does) and a process is
 * out of reach of kill(-pgid), free to run on after its command "finished"
 * and after its timeout. A cgroup cannot be left without write access to
 * another cgroup's cgroup.procs, and cgroup.kill reaches everything in it at
 * once, forks in flight included.
 *
 * Why clone3(CLONE_INTO_CGROUP) and not fork-then-move: the child is born
 * inside its cgroup, so not one instruction of it runs outside, and there is
 * no window in which it could fork a process that stays behind in ours.
 * Where a seccomp filter refuses clone3(), clone_gated() keeps that promise
 * with a gate.
 */

#define SMALL_FILE_MAX	  ((size_t)4096)
#define PROC_FILE_MAX	  ((size_t)4 * 1024 * 1024)
#define CGROUP_NAME_TRIES 16

static unsigned cgroup_counter;

static int write_at(int dir_fd, const char *name, const char *value)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Reads a small cgroup file into buf, NUL-terminated; returns its length or -errno. */
static ssize_t read_at(int dir_fd, const char *name, char *buf, size_t len)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* Whether a blank-separated list ("cpu memory pids\n") holds word. */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* Writes the limits whose controller the parent hands down; see ex_cgroup_new(). */
static int limits_write(int parent_fd, int dir_fd, uint64_t memory_max, uint64_t tasks_max,
			bool *ret_applied)
{
	char enabled[SMALL_FILE_MAX], num[32];
	bool all = true;
	ssize_t n;
	int r;

	*ret_applied = false;
	if (memory_max == 0 && tasks_max == 0)
		return 0;
	n = read_at(parent_fd, "cgroup.subtree_control", enabled, sizeof(enabled));
	if (n < 0)
		return (int)n;
	if (memory_max > 0) {
		if (list_has(enabled, "memory")) {
			(void)util_snprintf(num, sizeof(num), "%llu",
					    (unsigned long long)memory_max);
			r = write_at(dir_fd, "memory.max", num);
			if (r < 0)
				return r;
		} else {
			all = false;
		}
	}
	if (tasks_max > 0) {
		if (list_has(enabled, "pids")) {
			(void)util_snprintf(num, sizeof(num), "%llu",
					    (unsigned long long)tasks_max);
			r = write_at(dir_fd, "pids.max", num);
			if (r < 0)
				return r;
		} else {
			all = false;
		}
	}
	*ret_applied = all;
	return 0;
}

/* mkdir of a name nobody uses: cmd-<our pid>-<counter>, skipping leftovers of an earlier run. */
static int cgroup_mkdir(const char *parent, char **ret_path)
{
	for (unsigned i = 0; i < CGROUP_NAME_TRIES; i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/cmd-%d-%u", parent, (int)getpid(), cgroup_counter++) < 0)
			return -ENOMEM;
		if (mkdir(path, 0755) == 0) {
			*ret_path = TAKE_PTR(path);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int ex_cgroup_new(const char *parent, uint64_t memory_max, uint64_t tasks_max, ExCgroup **ret,
		  bool *ret_limits_applied)
{
	_cleanup_close_ int parent_fd = -1;
	_cleanup_free_ char *events = NULL;
	ExCgroup *cg;
	bool applied = false;
	int r;

	if (!parent || parent[0] != '/')
		return -EINVAL;
	parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent_fd < 0)
		return -errno;
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return -ENOMEM;
	cg->dir_fd = cg->events_fd = -1;
	r = cgroup_mkdir(parent, &cg->path);
	if (r < 0) {
		free(cg);
		return r;
	}
	cg->dir_fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dir_fd < 0)
		r = -errno;
	if (r >= 0)
		r = limits_write(parent_fd, cg->dir_fd, memory_max, tasks_max, &applied);
	if (r >= 0 && asprintf(&events, "%s/cgroup.events", cg->path) < 0)
		r = -ENOMEM;
	if (r >= 0) {
		cg->events_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (cg->events_fd < 0 || inotify_add_watch(cg->events_fd, events, IN_MODIFY) < 0)
			r = -errno;
	}
	if (r < 0) {
		ex_cgroup_free(cg);
		return r;
	}
	*ret = cg;
	*ret_limits_applied = applied;
	return 0;
}

/*
 * The child between clone3() and execve(). The parent may have threads (a
 * resolver of libcurl's), so only async-signal-safe calls, no allocation.
 * All signals arrive blocked: handlers go back to default first, so that
 * none of the daemon's runs in here, then the mask is emptied.
 */
static _Noreturn void child_exec(char *const argv[], char **envp, int out_fd, int err_fd)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int null_fd, err;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0 || chdir("/") < 0)
		goto fail;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0)
		goto fail;
	/* Everything but 0..2 and err_fd (close-on-exec: it tells the parent exec worked). */
	if (err_fd > STDERR_FILENO + 1 &&
	    close_range(STDERR_FILENO + 1, (unsigned)err_fd - 1, 0) < 0)
		goto fail;
	if (close_range((unsigned)err_fd + 1, ~0U, 0) < 0)
		goto fail;
	execve(argv[0], argv, envp);
fail:
	err = errno;
	(void)!write(err_fd, &err, sizeof(err));
	_exit(127);
}

/* Reads the exec report: 0 when execve() worked (EOF), else the child's -errno. */
static int exec_report(int err_fd)
{
	int err = 0;
	ssize_t n;

	do
		n = read(err_fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	return n == (ssize_t)sizeof(err) && err > 0 ? -err : -EIO;
}

/* Kills and reaps a child that must never run its command; closes its pidfd. */
static void child_abort(long pid, int pidfd)
{
	siginfo_t si;

	(void)kill((pid_t)pid, SIGKILL);
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	(void)close(pidfd);
}

/*
 * When clone3() itself is refused with ENOSYS. Not an old kernel: setup
 * found cgroup.kill (5.14), and clone3 came with 5.3. A seccomp filter
 * cannot read the flags clone3() takes inside a structure, so filters that
 * restrict flags refuse the whole call with ENOSYS and expect a fall back to
 * clone(): systemd's RestrictNamespaces= does this. clone() has no
 * CLONE_INTO_CGROUP, so the child is born in our cgroup and waits at a gate
 * (a pipe) before anything else: we move it into cg, then open the gate. Not
 * one instruction of the command runs outside cg here either; a child whose
 * move failed is killed at the gate. Returns the pid with *ret_pidfd, or -1
 * with errno set, nothing left behind.
 */
static long clone_gated(ExCgroup *cg, char *const argv[], char **envp, int out_fd, int err_fd,
			int *ret_pidfd)
{
#if defined(__s390__) || defined(__CRIS__) || defined(__microblaze__)
	/* clone()'s arguments come in another order there; no fallback. */
	(void)cg, (void)argv, (void)envp, (void)out_fd, (void)err_fd, (void)ret_pidfd;
	errno = ENOSYS;
	return -1;
#else
	_cleanup_close_ int gate_w = -1;
	int gate[2], pidfd = -1, r;
	char num[32], go;
	ssize_t n;
	long pid;

	if (pipe2(gate, O_CLOEXEC) < 0)
		return -1;
	gate_w = gate[1];
	/* A plain fork, as with clone3(): flags, stack, parent_tid (the pidfd), child_tid, tls. */
	pid = syscall(SYS_clone, (unsigned long)(CLONE_PIDFD | SIGCHLD), 0UL, &pidfd, 0UL, 0UL);
	if (pid == 0) {
		(void)close(gate[1]);
		do
			n = read(gate[0], &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1) {
			int err = ECANCELED;

			(void)!write(err_fd, &err, sizeof(err));
			_exit(127);
		}
		child_exec(argv, envp, out_fd, err_fd);
	}
	r = errno;
	(void)close(gate[0]);
	if (pid < 0) {
		errno = r;
		return -1;
	}
	(void)util_snprintf(num, sizeof(num), "%ld", pid);
	r = write_at(cg->dir_fd, "cgroup.procs", num);
	if (r >= 0 && write(gate_w, "1", 1) != 1)
		r = -errno;
	if (r < 0) {
		child_abort(pid, pidfd);
		errno = -r;
		return -1;
	}
	*ret_pidfd = pidfd;
	return pid;
#endif
}

int ex_cgroup_spawn(ExCgroup *cg, char *const argv[], char **envp, int out_fd, pid_t *ret_pid,
		    int *ret_pidfd)
{
	_cleanup_close_ int rfd = -1, wfd = -1;
	int fds[2], pidfd = -1, r;
	struct clone_args args = {0};
	sigset_t all, saved;
	long pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	rfd = fds[0];
	wfd = fds[1];
	/* Above 0..2, so that the child's dup2()s cannot land on it. */
	if (wfd <= STDERR_FILENO) {
		int moved = fcntl(wfd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

		if (moved < 0)
			return -errno;
		wfd = safe_close(wfd);
		wfd = moved;
	}
	args.flags = CLONE_INTO_CGROUP | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)cg->dir_fd;
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &saved);
	/* No CLONE_VM: a plain fork into the cgroup, which sanitizers handle. */
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		child_exec(argv, envp, out_fd, wfd);
	if (pid < 0 && errno == ENOSYS)
		pid = clone_gated(cg, argv, envp, out_fd, wfd, &pidfd);
	r = pid < 0 ? -errno : 0;
	(void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r < 0)
		return r;
	wfd = safe_close(wfd);
	r = exec_report(rfd);
	if (r < 0) {
		/* Never exec'd, or we cannot tell: end it; nothing is left behind. */
		child_abort(pid, pidfd);
		return r;
	}
	*ret_pid = (pid_t)pid;
	*ret_pidfd = pidfd;
	return 0;
}

int ex_cgroup_populated(ExCgroup *cg)
{
	char buf[SMALL_FILE_MAX];
	ssize_t n;

	/* Drained first: a change after this read then wakes the loop again. */
	while (read(cg->events_fd, buf, sizeof(buf)) > 0)
		;
	n = read_at(cg->dir_fd, "cgroup.events", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (strstr(buf, "populated 1\n"))
		return 1;
	return strstr(buf, "populated 0\n") ? 0 : -EBADMSG;
}

int ex_cgroup_kill(ExCgroup *cg)
{
	int r = write_at(cg->dir_fd, "cgroup.kill", "1");

	if (r >= 0)
		cg->killed = true;
	return r;
}

int ex_cgroup_wait_empty(ExCgroup *cg, uint64_t usec)
{
	uint64_t deadline = util_now_usec() + usec;

	for (;;) {
		struct pollfd p = {.fd = cg->events_fd, .events = POLLIN};
		uint64_t now;
		int r = ex_cgroup_populated(cg);

		if (r <= 0)
			return r;
		now = util_now_usec();
		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int ex_cgroup_remove(ExCgroup *cg)
{
	if (cg->removed)
		return 0;
	if (rmdir(cg->path) < 0)
		return -errno;
	cg->removed = true;
	return 0;
}

ExCgroup *ex_cgroup_free(ExCgroup *cg)
{
	if (!cg)
		return NULL;
	if (cg->path)
		(void)ex_cgroup_remove(cg);
	cg->dir_fd = safe_close(cg->dir_fd);
	cg->events_fd = safe_close(cg->events_fd);
	free(cg->path);
	free(cg);
	return NULL;
}

/* Sets *ret_why (when asked for) to one line and returns r. */
_printf_(3, 4) static int why(char **ret_why, int r, const char *fmt, ...)
{
	va_list ap;

	if (!ret_why)
		return r;
	va_start(ap, fmt);
	if (vasprintf(ret_why, fmt, ap) < 0)
		*ret_why = NULL;
	va_end(ap);
	return r;
}

/* Whether commands can get cgroups under dir: one made, checked for cgroup.kill, removed. */
static int probe_leaf(const char *dir, char **ret_why)
{
	_cleanup_free_ char *probe = NULL;
	_cleanup_close_ int fd = -1;
	int r = 0;

	if (asprintf(&probe, "%s/healer-probe-%d", dir, (int)getpid()) < 0)
		return -ENOMEM;
	if (mkdir(probe, 0755) < 0 && errno != EEXIST)
		return why(ret_why, -errno, "cannot create a cgroup under %s: %s", dir,
			   strerror(errno));
	fd = open(probe, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = why(ret_why, -errno, "cannot open %s: %s", probe, strerror(errno));
	else if (faccessat(fd, "cgroup.kill", W_OK, 0) < 0)
		r = why(ret_why, -ENOSYS,
			"%s has no writable cgroup.kill (kernel older than 5.14?)", probe);
	(void)rmdir(probe);
	return r;
}

static int setup_override(const char *dir, char **ret_parent, char **ret_why)
{
	struct statfs sf;
	char *copy;
	int r;

	if (dir[0] != '/')
		return why(ret_why, -EINVAL, "cgroup %s is not an absolute path", dir);
	if (statfs(dir, &sf) < 0)
		return why(ret_why, -errno, "cgroup %s: %s", dir, strerror(errno));
	if (sf.f_type != CGROUP2_SUPER_MAGIC)
		return why(ret_why, -EINVAL, "%s is not in a cgroup v2 file system", dir);
	r = probe_leaf(dir, ret_why);
	if (r < 0)
		return r;
	copy = strdup(dir);
	if (!copy)
		return -ENOMEM;
	*ret_parent = copy;
	return 0;
}

/* Our cgroup v2 path from the "0::" line of /proc/self/cgroup. */
static int own_cgroup(char **ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = util_read_file("/proc/self/cgroup", PROC_FILE_MAX, &text, &len);

	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "0::/", 4) == 0) {
			*ret = strdup(line + 3);
			return *ret ? 0 : -ENOMEM;
		}
	}
	return -ENOENT;
}

/*
 * Where the whole cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or
 * /sys/fs/cgroup/unified on a hybrid system), from /proc/self/mountinfo:
 * "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE ...".
 * Only a mount of the hierarchy's root, so that our path maps onto it.
 */
static int cgroup2_mount(char **ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = util_read_file("/proc/self/mountinfo", PROC_FILE_MAX, &text, &len);

	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		char root[PATH_MAX], mnt[PATH_MAX], *sep;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		/* The kernel escapes blanks in paths as \040: no such mount is ours. */
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    strcmp(root, "/") != 0 || strchr(mnt, '\\') || mnt[0] != '/')
			continue;
		*ret = strdup(mnt);
		return *ret ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

/* Under systemd, a cgroup is ours to divide only with Delegate=yes, which it marks so. */
static bool delegated(const char *path)
{
	static const char *const names[] = {"trusted.delegate", "user.delegate"};

	if (access("/run/systemd/system", F_OK) < 0)
		return true; /* no systemd: nobody else manages the tree below us */
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		char v[8];
		ssize_t n = getxattr(path, names[i], v, sizeof(v));

		if (n == 1 && v[0] == '1')
			return true;
	}
	return false;
}

/* Enables memory and pids below dir where dir's parent offers them; the rest is ignored. */
static void controllers_enable(const char *dir)
{
	static const char *const wanted[] = {"memory", "pids"};
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char offered[SMALL_FILE_MAX], add[16];

	if (fd < 0 || read_at(fd, "cgroup.controllers", offered, sizeof(offered)) < 0)
		return;
	for (size_t i = 0; i < ELEMENTSOF(wanted); i++) {
		if (!list_has(offered, wanted[i]))
			continue;
		(void)util_snprintf(add, sizeof(add), "+%s", wanted[i]);
		(void)write_at(fd, "cgroup.subtree_control", add);
	}
}

/* Moves the whole process into <dir>/daemon, a leaf (cgroup v2 keeps processes in leaves). */
static int move_into_leaf(const char *dir, char **ret_why)
{
	_cleanup_free_ char *leaf = NULL;
	_cleanup_close_ int fd = -1;
	char pid[32];
	int r;

	if (asprintf(&leaf, "%s/daemon", dir) < 0)
		return -ENOMEM;
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return why(ret_why, -errno, "cannot create %s: %s", leaf, strerror(errno));
	fd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return why(ret_why, -errno, "cannot open %s: %s", leaf, strerror(errno));
	(void)util_snprintf(pid, sizeof(pid), "%d", (int)getpid());
	r = write_at(fd, "cgroup.procs", pid);
	if (r < 0)
		return why(ret_why, r, "cannot move into %s: %s", leaf, strerror(-r));
	return 0;
}

static int setup_own(char **ret_parent, char **ret_why)
{
	_cleanup_free_ char *own = NULL, *mnt = NULL, *dir = NULL;
	size_t len;
	int r;

	r = own_cgroup(&own);
	if (r < 0)
		return why(ret_why, r, "no cgroup v2 entry in /proc/self/cgroup: %s", strerror(-r));
	r = cgroup2_mount(&mnt);
	if (r < 0)
		return why(ret_why, r, "no cgroup v2 file system mounted: %s", strerror(-r));
	/* Already in our leaf (a second call): the delegated cgroup is its parent. */
	len = strlen(own);
	if (len > 7 && strcmp(own + len - 7, "/daemon") == 0)
		own[len - 7] = '\0';
	if (strcmp(own, "/") == 0)
		return why(ret_why, -EPERM,
			   "runs in the root cgroup, which is nobody's to divide (no delegation)");
	if (asprintf(&dir, "%s%s", mnt, own) < 0)
		return -ENOMEM;
	if (!delegated(dir))
		return why(ret_why, -EPERM, "cgroup %s is not delegated to us (Delegate=yes)", dir);
	if (access(dir, W_OK) < 0)
		return why(ret_why, -EPERM, "cgroup %s is not writable: %s", dir, strerror(errno));
	r = probe_leaf(dir, ret_why);
	if (r < 0)
		return r;
	r = move_into_leaf(dir, ret_why);
	if (r < 0)
		return r;
	controllers_enable(dir);
	*ret_parent = TAKE_PTR(dir);
	return 0;
}

int ex_cgroup_setup(const char *override, char **ret_parent, char **ret_why)
{
	if (!ret_parent)
		return -EINVAL;
	if (override)
		return setup_override(override, ret_parent, ret_why);
	return setup_own(ret_parent, ret_why);
}
