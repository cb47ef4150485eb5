/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The executor runs one already-vetted argv as a child process on an sd_event
 * loop: posix_spawn of an absolute path, its own session and process group,
 * stdin /dev/null, stdout and stderr into one capped pipe, a fixed
 * environment, a timeout followed by SIGTERM, a grace period and SIGKILL to
 * the whole process group, and always a reap. It decides nothing and logs
 * nothing; the caller vets the argv (whitelist/) and logs the outcome.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

typedef struct ExChild ExChild;

#define EX_TIMEOUT_USEC_DEFAULT (30ULL * 1000000ULL)
#define EX_GRACE_USEC_DEFAULT	(3ULL * 1000000ULL)
#define EX_OUTPUT_MAX_DEFAULT	((size_t)64 * 1024)
/* At most this many extra environment entries; more is -E2BIG. */
#define EX_EXTRA_ENV_MAX 32

/* Every field left 0 / NULL takes its default; a NULL ExOptions means all defaults. */
typedef struct ExOptions {
	uint64_t timeout_usec; /* wall time before SIGTERM to the group (30 s) */
	uint64_t grace_usec;   /* SIGTERM to SIGKILL (3 s) */
	size_t output_max;     /* bytes of output kept; the rest is read and dropped (64 KiB) */
	/* NULL-terminated "NAME=value" entries added to the fixed environment.
	 * Each must contain '=' after a non-empty name and must not redefine
	 * one of the fixed variables (PATH LC_ALL HOME SYSTEMD_PAGER SYSTEMD_COLORS). */
	const char *const *extra_env;
	/*
	 * A delegated cgroup v2 directory (from ex_cgroup_setup()). The child is
	 * born in a sub-cgroup of its own (clone3 with CLONE_INTO_CGROUP, so not
	 * one instruction runs outside it) and the timeout ends with cgroup.kill:
	 * a child that calls setsid() or double-forks cannot outlive it. The
	 * sub-cgroup is removed once empty. NULL: the process group only.
	 */
	const char *cgroup_parent;
	uint64_t memory_max; /* memory.max of the child's cgroup, 0: none */
	uint64_t tasks_max;  /* pids.max of the child's cgroup, 0: none */
} ExOptions;

typedef struct ExResult {
	int exit_status;	/* 0..255 when the leader exited, -1 when a signal killed it */
	int term_signal;	/* the signal that killed the leader, 0 when it exited */
	bool timed_out;		/* the timeout fired and the group was sent SIGTERM */
	bool output_truncated;	/* the child wrote more than output_max bytes */
	uint64_t duration_usec; /* from spawn until the leader's exit was seen */
	char *output;		/* stdout and stderr interleaved, NUL-terminated, never NULL */
	size_t output_len;	/* bytes in output, at most output_max */
	bool contained;		/* ran in a cgroup of its own */
	bool limits_applied;	/* memory_max / tasks_max were written (controllers present) */
	bool leftovers_killed;	/* the leader exited with others still in its cgroup: killed */
} ExResult;

/*
 * Called exactly once per child, from the loop, when the leader has been
 * reaped and its output pipe is at EOF (or its drain deadline passed). r and
 * r->output belong to c and stay valid until ex_child_free(c), which the
 * callback itself may call.
 */
typedef void (*ex_done_fn)(ExChild *c, const ExResult *r, void *userdata);

/*
 * Starts argv (argv[0] an absolute path) as a child driven by e. On success
 * *ret is a new child owned by the caller, to be freed with ex_child_free()
 * after done has run (or earlier, which kills it). Never calls done before
 * returning. Returns 0, -EINVAL for a bad argument (relative argv[0], bad
 * extra_env entry), -E2BIG for too many extra_env entries, -ENOENT / -EACCES /
 * -ENOEXEC ... when the program cannot be executed (no child is left
 * behind), -ENOMEM, or another -errno from the kernel or sd-event. With
 * cgroup_parent, a cgroup that cannot be made is an error too (-ENOENT for a
 * parent that is gone), never a silent fallback to the process group.
 */
int ex_spawn(sd_event *e, char *const argv[], const ExOptions *opts, ex_done_fn done,
	     void *userdata, ExChild **ret);

/*
 * Frees c. On a child that is still running, SIGKILLs its process group (and
 * its cgroup) and reaps the leader first (blocking only for the kill to land:
 * at most about a second for a cgroup to empty); done is then never called.
 * Removes the child's cgroup if done could not. Accepts NULL; returns NULL.
 */
ExChild *ex_child_free(ExChild *c);

static inline void ex_child_freep(ExChild **c)
{
	if (*c)
		*c = ex_child_free(*c);
}

/* The leader's pid (also its process group and session id). */
pid_t ex_child_pid(const ExChild *c);

/*
 * Blocking convenience: runs argv on a private sd_event loop until done.
 * On success fills *ret, whose output the caller frees with
 * ex_result_done(). Returns 0 (whatever the child's exit status) or a
 * negative errno as ex_spawn() does.
 */
int ex_run(char *const argv[], const ExOptions *opts, ExResult *ret);

/*
 * Finds where commands can get cgroups of their own: the process's own
 * cgroup v2 (the unified hierarchy; under systemd with Delegate=yes) when it
 * is writable. The daemon moves itself into a leaf "<own>/daemon" (cgroup
 * v2 allows processes only in leaves) and enables the memory and pids
 * controllers where offered. override (tests) names the parent directly.
 * Returns 0 and *ret_parent, or -errno and *ret_why (one line for the
 * status: why commands fall back to process groups).
 */
int ex_cgroup_setup(const char *override, char **ret_parent, char **ret_why);

/* Frees r->output and clears r. Accepts NULL. */
void ex_result_done(ExResult *r);
