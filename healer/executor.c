/* SPDX-License-Identifier: MIT */
#include "healer/executor.h"

#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "common/util.h"
#include "healer/executor-internal.h"

/*
 * How the loop sees the child.
 *
 * Exit: an I/O source on a pidfd (readable once the leader has exited), then
 * waitid(P_PIDFD). We deliberately do not use sd_event_add_child_pidfd():
 * sd-event insists that SIGCHLD is blocked in the calling thread for child
 * sources, which would force ex_run() to fiddle with the caller's signal mask
 * and would make every user of the module depend on that global state. The
 * pidfd alone needs nothing of the kind.
 *
 * Strays: when the leader exits we first look at its status with WNOWAIT,
 * SIGKILL its process group while the unreaped zombie still pins the pid
 * (so the pgid cannot have been reused by anybody), and only then reap.
 *
 * Done = leader reaped and output pipe at EOF. A grandchild that left the
 * group with setsid() could hold the pipe open for ever, so after the reap
 * the pipe gets a short drain deadline; what has arrived by then is the
 * output.
 *
 * With a cgroup of its own (executor-cgroup.c) the group is the fence and
 * the process group a courtesy: SIGTERM still goes to the process group
 * first, but the end of the grace period is cgroup.kill, and so is a leader
 * that exits while anything else of its command still runs (reported as
 * leftovers_killed: a command must not leave processes behind). Done then
 * also waits for cgroup.events to say "populated 0" (an inotify source),
 * bounded by EMPTY_USEC for a process stuck in the kernel, and the cgroup is
 * removed before the callback runs.
 */

#define DRAIN_USEC	   (200 * USEC_PER_MSEC)
#define EMPTY_USEC	   (2 * USEC_PER_SEC)
#define FREE_EMPTY_USEC	   (1 * USEC_PER_SEC)
#define TIMER_ACCURACY	   USEC_PER_MSEC
#define READ_CHUNK	   ((size_t)64 * 1024)
#define READS_PER_DISPATCH 16
#define OUTPUT_INITIAL	   ((size_t)4096)

typedef enum Phase {
	PHASE_RUNNING,	/* timer = timeout */
	PHASE_TERM,	/* SIGTERM sent, timer = grace */
	PHASE_KILLED,	/* SIGKILL sent, timer off, waiting for the exit */
	PHASE_DRAINING, /* leader reaped, timer = drain deadline */
	PHASE_EMPTYING, /* output done, cgroup not yet empty, timer = EMPTY_USEC */
	PHASE_DONE,
} Phase;

struct ExChild {
	pid_t pid;
	bool reaped;
	int pidfd;
	int out_fd;
	sd_event_source *pid_source;
	sd_event_source *out_source;
	sd_event_source *timer_source;
	ExCgroup *cg;		    /* NULL: process group only */
	sd_event_source *cg_source; /* cgroup.events changed */
	bool cg_populated;	    /* as last read, once the leader is reaped */
	bool cg_gave_up;	    /* EMPTY_USEC passed with processes still in it */
	Phase phase;
	uint64_t start_usec;
	uint64_t grace_usec;
	size_t output_max;
	size_t output_alloc;
	ExResult result;
	ex_done_fn done;
	void *userdata;
};

static char *const fixed_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"LC_ALL=C",
	"HOME=/",
	"SYSTEMD_PAGER=cat",
	"SYSTEMD_COLORS=0",
};

static bool env_entry_valid(const char *entry)
{
	const char *eq;

	if (!entry)
		return false;
	eq = strchr(entry, '=');
	if (!eq || eq == entry)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(fixed_env); i++) {
		size_t name_len = (size_t)(strchr(fixed_env[i], '=') - fixed_env[i]);

		if ((size_t)(eq - entry) == name_len && strncmp(entry, fixed_env[i], name_len) == 0)
			return false;
	}
	return true;
}

/* Builds the child's environment; the strings are borrowed, the array is the caller's. */
static int build_env(const char *const *extra, char ***ret)
{
	size_t n_extra = 0, n = 0;
	char **env;

	for (; extra && extra[n_extra]; n_extra++) {
		if (n_extra >= EX_EXTRA_ENV_MAX)
			return -E2BIG;
		if (!env_entry_valid(extra[n_extra]))
			return -EINVAL;
	}
	env = calloc(ELEMENTSOF(fixed_env) + n_extra + 1, sizeof(char *));
	if (!env)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(fixed_env); i++)
		env[n++] = fixed_env[i];
	for (size_t i = 0; i < n_extra; i++)
		env[n++] = (char *)extra[i];
	env[n] = NULL;
	*ret = env;
	return 0;
}

/* Keeps pipe ends off 0..2 so that the child's dup2()s never collide with them. */
static int fd_above_stdio(int fd)
{
	int moved;

	if (fd > STDERR_FILENO)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (moved < 0)
		moved = -errno;
	close(fd);
	return moved;
}

static void group_kill(ExChild *c, int sig)
{
	/* Only while the leader is unreaped: then its pid, and so the pgid, is ours. */
	if (c->pid > 0 && !c->reaped)
		(void)kill(-c->pid, sig);
}

static void cgroup_kill(ExChild *c)
{
	if (c->cg && !c->cg->removed)
		(void)ex_cgroup_kill(c->cg);
}

static bool cgroup_busy(const ExChild *c)
{
	return c->cg && c->cg_populated && !c->cg_gave_up;
}

static void child_finish_maybe(ExChild *c)
{
	if (c->phase == PHASE_DONE || !c->reaped || c->out_fd >= 0 || cgroup_busy(c))
		return;
	c->phase = PHASE_DONE;
	(void)sd_event_source_set_enabled(c->timer_source, SD_EVENT_OFF);
	if (c->cg) {
		c->cg_source = sd_event_source_disable_unref(c->cg_source);
		/* A cgroup that would not empty stays; ex_child_free() tries again. */
		if (!c->cg_populated)
			(void)ex_cgroup_remove(c->cg);
	}
	/* Last statement: the callback may free c. */
	c->done(c, &c->result, c->userdata);
}

static void output_close(ExChild *c)
{
	c->out_source = sd_event_source_disable_unref(c->out_source);
	c->out_fd = safe_close(c->out_fd);
	c->out_fd = -1;
}

/*
 * Reads what is available, keeping up to output_max bytes and dropping the
 * rest so that the child never blocks on a full pipe (also when memory runs
 * out). Returns 1 at EOF, 0 when the pipe is empty or the per-call budget is
 * spent, -errno on a read error.
 */
static int output_read(ExChild *c, unsigned budget)
{
	char scratch[READ_CHUNK];

	while (budget-- > 0) {
		ExResult *r = &c->result;
		size_t room = c->output_max - r->output_len;
		char *dst = scratch;
		size_t want = sizeof(scratch);
		ssize_t n;

		if (room > 0) {
			if (r->output_len + 1 == c->output_alloc) {
				size_t alloc = c->output_alloc * 2;
				char *p;

				if (alloc > c->output_max + 1)
					alloc = c->output_max + 1;
				p = realloc(r->output, alloc);
				if (p) {
					r->output = p;
					c->output_alloc = alloc;
				} else {
					/* Keep what we have and drain the rest as over the cap. */
					c->output_max = r->output_len;
					room = 0;
				}
			}
		}
		if (room > 0) {
			dst = r->output + r->output_len;
			want = c->output_alloc - 1 - r->output_len;
		}
		n = read(c->out_fd, dst, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		if (n == 0)
			return 1;
		if (dst == scratch) {
			r->output_truncated = true;
		} else {
			r->output_len += (size_t)n;
			r->output[r->output_len] = '\0';
		}
	}
	return 0;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ExChild *c = userdata;
	int r;

	(void)s;
	(void)fd;
	(void)revents;
	r = output_read(c, READS_PER_DISPATCH);
	if (r == 0)
		return 0;
	/* EOF, or an error we cannot do better with than treating it as EOF. */
	output_close(c);
	child_finish_maybe(c);
	return 0;
}

static uint64_t usec_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - 1 - b ? UINT64_MAX - 1 : a + b;
}

/*
 * Deadlines are taken from the clock now rather than from sd_event_now(),
 * which is the start of the current loop iteration and may lag behind.
 */
static int timer_arm(ExChild *c, uint64_t usec)
{
	int r = sd_event_source_set_time(c->timer_source, usec_add(util_now_usec(), usec));

	if (r >= 0)
		r = sd_event_source_set_enabled(c->timer_source, SD_EVENT_ONESHOT);
	return r;
}

static void result_set_status(ExResult *r, const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED) {
		r->exit_status = si->si_status;
		r->term_signal = 0;
	} else {
		r->exit_status = -1;
		r->term_signal = si->si_status;
	}
}

/*
 * The leader has exited. Its zombie no longer counts as "populated", so
 * whatever the cgroup still holds is left over: killed, and reported unless
 * the timeout's cgroup.kill had already been sent.
 */
static void leftovers_kill(ExChild *c)
{
	int r;

	if (!c->cg || c->cg->removed)
		return;
	r = ex_cgroup_populated(c->cg);
	if (r == 0)
		return;
	if (r > 0 && !c->cg->killed)
		c->result.leftovers_killed = true;
	(void)ex_cgroup_kill(c->cg);
}

static int on_leader_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ExChild *c = userdata;
	siginfo_t si = {0};

	(void)s;
	(void)fd;
	(void)revents;
	if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOWAIT | WNOHANG) < 0) {
		if (errno == EINTR)
			return 0;
		/* ECHILD: somebody else reaped it (SIGCHLD ignored?); status unknown. */
		c->result.exit_status = -1;
		c->reaped = true;
		leftovers_kill(c);
	} else if (si.si_pid == 0) {
		return 0; /* spurious wakeup, not exited yet */
	} else {
		result_set_status(&c->result, &si);
		leftovers_kill(c);
		group_kill(c, SIGKILL);
		while (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		c->reaped = true;
	}
	c->result.duration_usec = util_now_usec() - c->start_usec;
	c->pid_source = sd_event_source_disable_unref(c->pid_source);
	c->pidfd = safe_close(c->pidfd);
	c->pidfd = -1;

	if (c->cg)
		c->cg_populated = ex_cgroup_populated(c->cg) != 0;
	if (c->out_fd >= 0 || cgroup_busy(c)) {
		c->phase = PHASE_DRAINING;
		if (timer_arm(c, DRAIN_USEC) < 0) {
			output_close(c);
			c->cg_gave_up = true;
		}
	}
	child_finish_maybe(c);
	return 0;
}

static int on_cgroup_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	ExChild *c = userdata;
	int r;

	(void)s;
	(void)fd;
	(void)revents;
	/* Read (and the inotify queue drained) even when we do not act on it. */
	r = ex_cgroup_populated(c->cg);
	/* Until the leader is reaped on_leader_exit() has the say. */
	if (!c->reaped)
		return 0;
	c->cg_populated = r != 0;
	child_finish_maybe(c);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	ExChild *c = userdata;

	(void)s;
	(void)usec;
	switch (c->phase) {
	case PHASE_RUNNING:
		c->result.timed_out = true;
		group_kill(c, SIGTERM);
		/* A stopped process only acts on SIGTERM once continued. */
		group_kill(c, SIGCONT);
		c->phase = PHASE_TERM;
		if (timer_arm(c, c->grace_usec) < 0) {
			/* Cannot wait for the grace period: go straight to the end. */
			group_kill(c, SIGKILL);
			cgroup_kill(c);
			c->phase = PHASE_KILLED;
		}
		break;
	case PHASE_TERM:
		group_kill(c, SIGKILL);
		cgroup_kill(c);
		c->phase = PHASE_KILLED;
		break;
	case PHASE_DRAINING:
		/* An escaped writer holds the pipe: keep what is already there. */
		(void)output_read(c, READS_PER_DISPATCH);
		output_close(c);
		if (cgroup_busy(c)) {
			c->phase = PHASE_EMPTYING;
			if (timer_arm(c, EMPTY_USEC) < 0)
				c->cg_gave_up = true;
		}
		child_finish_maybe(c);
		break;
	case PHASE_EMPTYING:
		/* Killed yet still there: stuck in the kernel. Report; free() tries again. */
		c->cg_gave_up = true;
		child_finish_maybe(c);
		break;
	case PHASE_KILLED:
	case PHASE_DONE:
		break;
	}
	return 0;
}

static int spawn_setup(posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa, int out_fd)
{
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						   POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setsigmask(attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(attr, &all);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(fa, out_fd, STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(fa, out_fd, STDERR_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(fa, STDERR_FILENO + 1);
	/* Not the daemon's working directory: nothing relative may depend on it. */
	if (r == 0)
		r = posix_spawn_file_actions_addchdir_np(fa, "/");
	return -r;
}

/* Spawns argv writing into out_fd; on success the child's pid is in c->pid. */
static int child_spawn(ExChild *c, char *const argv[], char **envp, int out_fd)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	int r;

	r = posix_spawnattr_init(&attr);
	if (r != 0)
		return -r;
	r = posix_spawn_file_actions_init(&fa);
	if (r != 0) {
		posix_spawnattr_destroy(&attr);
		return -r;
	}
	r = spawn_setup(&attr, &fa, out_fd);
	c->start_usec = util_now_usec();
	/* glibc reports exec failures here and has already reaped that child. */
	if (r == 0)
		r = -posix_spawn(&c->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r < 0)
		c->pid = 0;
	return r;
}

/*
 * Starts the child, in a cgroup of its own when opts ask for one, and sets
 * c->pid and c->pidfd.
 */
static int child_start(sd_event *e, ExChild *c, char *const argv[], char **envp,
		       const ExOptions *opts, int out_fd)
{
	int r;

	if (!opts || !opts->cgroup_parent) {
		r = child_spawn(c, argv, envp, out_fd);
		if (r < 0)
			return r;
		c->pidfd = pidfd_open(c->pid, 0);
		return c->pidfd < 0 ? -errno : 0;
	}
	r = ex_cgroup_new(opts->cgroup_parent, opts->memory_max, opts->tasks_max, &c->cg,
			  &c->result.limits_applied);
	if (r < 0)
		return r;
	c->result.contained = true;
	r = sd_event_add_io(e, &c->cg_source, c->cg->events_fd, EPOLLIN, on_cgroup_event, c);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(c->cg_source, "child-cgroup");
	c->start_usec = util_now_usec();
	return ex_cgroup_spawn(c->cg, argv, envp, out_fd, &c->pid, &c->pidfd);
}

static int child_new(const ExOptions *opts, ex_done_fn done, void *userdata, ExChild **ret)
{
	ExChild *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->pidfd = c->out_fd = -1;
	c->done = done;
	c->userdata = userdata;
	c->grace_usec = opts && opts->grace_usec ? opts->grace_usec : EX_GRACE_USEC_DEFAULT;
	c->output_max = opts && opts->output_max ? opts->output_max : EX_OUTPUT_MAX_DEFAULT;
	c->output_alloc = c->output_max < OUTPUT_INITIAL ? c->output_max + 1 : OUTPUT_INITIAL;
	c->result.output = calloc(1, c->output_alloc);
	if (!c->result.output) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

int ex_spawn(sd_event *e, char *const argv[], const ExOptions *opts, ex_done_fn done,
	     void *userdata, ExChild **ret)
{
	_cleanup_(ex_child_freep) ExChild *c = NULL;
	_cleanup_free_ char **envp = NULL;
	_cleanup_close_ int wfd = -1;
	uint64_t timeout;
	int fds[2], r;

	if (!e || !argv || !argv[0] || argv[0][0] != '/' || !done || !ret)
		return -EINVAL;
	timeout = opts && opts->timeout_usec ? opts->timeout_usec : EX_TIMEOUT_USEC_DEFAULT;
	r = build_env(opts ? opts->extra_env : NULL, &envp);
	if (r < 0)
		return r;
	r = child_new(opts, done, userdata, &c);
	if (r < 0)
		return r;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	c->out_fd = fd_above_stdio(fds[0]);
	wfd = fd_above_stdio(fds[1]);
	if (c->out_fd < 0 || wfd < 0)
		return c->out_fd < 0 ? c->out_fd : wfd;
	if (fcntl(c->out_fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	r = sd_event_add_io(e, &c->out_source, c->out_fd, EPOLLIN, on_output, c);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(c->out_source, "child-output");
	/* From here on a failure frees c, which kills and reaps the child. */
	r = child_start(e, c, argv, envp, opts, wfd);
	if (r < 0)
		return r;
	wfd = safe_close(wfd);
	r = sd_event_add_io(e, &c->pid_source, c->pidfd, EPOLLIN, on_leader_exit, c);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(c->pid_source, "child-exit");
	r = sd_event_add_time(e, &c->timer_source, CLOCK_MONOTONIC,
			      usec_add(c->start_usec, timeout), TIMER_ACCURACY, on_timer, c);
	if (r < 0)
		return r;
	(void)sd_event_source_set_description(c->timer_source, "child-timeout");
	*ret = TAKE_PTR(c);
	return 0;
}

ExChild *ex_child_free(ExChild *c)
{
	if (!c)
		return NULL;
	c->pid_source = sd_event_source_disable_unref(c->pid_source);
	c->out_source = sd_event_source_disable_unref(c->out_source);
	c->timer_source = sd_event_source_disable_unref(c->timer_source);
	c->cg_source = sd_event_source_disable_unref(c->cg_source);
	if (c->pid > 0 && !c->reaped) {
		group_kill(c, SIGKILL);
		cgroup_kill(c);
		if (c->pidfd >= 0) {
			siginfo_t si;

			while (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED) < 0 && errno == EINTR)
				;
		} else {
			while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		c->reaped = true;
	}
	/* Blocking, but only for a kill to land: the caller wants it gone now. */
	if (c->cg && !c->cg->removed && ex_cgroup_populated(c->cg) != 0) {
		cgroup_kill(c);
		(void)ex_cgroup_wait_empty(c->cg, FREE_EMPTY_USEC);
	}
	c->cg = ex_cgroup_free(c->cg);
	c->pidfd = safe_close(c->pidfd);
	c->out_fd = safe_close(c->out_fd);
	free(c->result.output);
	free(c);
	return NULL;
}

pid_t ex_child_pid(const ExChild *c)
{
	assert(c);
	return c->pid;
}

typedef struct RunState {
	bool done;
} RunState;

static void run_done(ExChild *c, const ExResult *r, void *userdata)
{
	RunState *st = userdata;

	(void)c;
	(void)r;
	st->done = true;
}

int ex_run(char *const argv[], const ExOptions *opts, ExResult *ret)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	_cleanup_(ex_child_freep) ExChild *c = NULL;
	RunState st = {false};
	int r;

	if (!ret)
		return -EINVAL;
	r = sd_event_new(&e);
	if (r < 0)
		return r;
	r = ex_spawn(e, argv, opts, run_done, &st, &c);
	if (r < 0)
		return r;
	while (!st.done) {
		r = sd_event_run(e, UINT64_MAX);
		if (r < 0)
			return r; /* c's cleanup kills and reaps the child */
	}
	*ret = c->result;
	c->result.output = NULL; /* ownership moves to *ret */
	return 0;
}

void ex_result_done(ExResult *r)
{
	if (!r)
		return;
	free(r->output);
	*r = (ExResult){0};
}
