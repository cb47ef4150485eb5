/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by executor.c (a child's life on the loop) and executor-cgroup.c
 * (the cgroup v2 side: a command's own cgroup, clone3() into it,
 * cgroup.kill, cgroup.events). Not part of the executor's public header.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ExCgroup {
	char *path;    /* <parent>/cmd-<daemon pid>-<n> */
	int dir_fd;    /* the directory: CLONE_INTO_CGROUP, and its files by openat() */
	int events_fd; /* inotify, IN_MODIFY on cgroup.events: "populated" changed */
	bool killed;   /* cgroup.kill was written */
	bool removed;  /* rmdir() succeeded */
} ExCgroup;

/*
 * Creates a fresh cgroup under parent (mode 0755) and writes memory.max and
 * pids.max where asked for (0: not asked) and the parent has the controller
 * enabled. *ret_limits_applied is true when at least one limit was asked for
 * and every one asked for was written. Returns 0 and a new *ret, or -errno.
 */
int ex_cgroup_new(const char *parent, uint64_t memory_max, uint64_t tasks_max, ExCgroup **ret,
		  bool *ret_limits_applied);

/*
 * Starts argv in cg with clone3(CLONE_INTO_CGROUP | CLONE_PIDFD) (where a
 * seccomp filter refuses clone3(), with clone() and a gate it waits at until
 * it has been moved into cg; see clone_gated()): its own
 * session, stdin /dev/null, stdout and stderr on out_fd, every other fd
 * closed, envp, working directory /. An exec failure comes back as its
 * -errno with the child already reaped. Returns 0 with *ret_pid and
 * *ret_pidfd, or -errno.
 */
int ex_cgroup_spawn(ExCgroup *cg, char *const argv[], char **envp, int out_fd, pid_t *ret_pid,
		    int *ret_pidfd);

/* Drains pending inotify events and reads cgroup.events: 1 populated, 0 empty, -errno. */
int ex_cgroup_populated(ExCgroup *cg);

/* SIGKILLs every process in cg (cgroup.kill). Returns 0 or -errno. */
int ex_cgroup_kill(ExCgroup *cg);

/* Blocks up to usec for cg to be empty; 0 once it is, -ETIMEDOUT, -errno. */
int ex_cgroup_wait_empty(ExCgroup *cg, uint64_t usec);

/* Removes the directory (it must be empty). Returns 0, -EBUSY, -errno. */
int ex_cgroup_remove(ExCgroup *cg);

/* Tries once more to remove it, closes the fds, frees. Takes NULL, returns NULL. */
ExCgroup *ex_cgroup_free(ExCgroup *cg);
