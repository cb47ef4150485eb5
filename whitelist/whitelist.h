/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The administrator's whitelist: the only commands Healer may run.
 *
 * The file is unit-file style ([healer] and [action NAME] sections). An action
 * is an argv template with an absolute program path (exec =) or an in-process
 * builtin (builtin =), the shapes a model may write it in (match =), and typed
 * parameters whose values must match a pcre2 pattern as a whole.
 *
 * This module parses and vets; it never runs anything and never logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Whitelist Whitelist;

#define WL_MAX_FILE_BYTES   (1024 * 1024)
#define WL_MAX_LINE	    4096
#define WL_MAX_ACTIONS	    256
#define WL_MAX_PARAMS	    8
#define WL_MAX_MATCHES	    8
#define WL_MAX_ARGV	    32
#define WL_MAX_PROTECT	    256
#define WL_MAX_VALUE	    512
#define WL_MAX_COMMANDS_CAP 20

typedef enum WlBuiltin {
	WL_BUILTIN_NONE = 0,
	WL_BUILTIN_CHMOD_X,
	WL_BUILTIN_DROP_CACHES,
} WlBuiltin;

typedef enum WlParamType {
	WL_PARAM_TEXT,
	WL_PARAM_UNIT,
	WL_PARAM_PATH,
} WlParamType;

/* One NAME=VALUE argument as proposed by a reply (untrusted). */
typedef struct WlArg {
	const char *name;
	const char *value;
} WlArg;

/*
 * A check Healer evaluates itself, on the host, never from the evidence
 * text: `require = KIND ARGS...` lines must all hold before an action runs
 * (the symptom is real), `verify = KIND ARGS...` lines must all hold after
 * it ran (the fix worked). The whitelist only parses them; healer/check.c
 * evaluates them.
 */
#define WL_MAX_CHECKS 8 /* require or verify lines per action */

typedef enum WlCheckKind {
	WL_CHECK_UNIT_FAILED, /* unit-failed UNIT: failed, or activating with rising NRestarts */
	WL_CHECK_UNIT_NOT_ACTIVE, /* unit-not-active UNIT */
	WL_CHECK_UNIT_ACTIVE,	  /* unit-active UNIT */
	WL_CHECK_DISK_ABOVE,	  /* disk-above PATH PERCENT: the file system holding PATH */
	WL_CHECK_MEMORY_BELOW,	  /* memory-below PERCENT: MemAvailable of MemTotal */
	WL_CHECK_FILE_LACKS_X,	  /* file-lacks-x PATH: a regular file without any x bit */
	WL_CHECK_FILE_EXECUTABLE, /* file-executable PATH */
	WL_CHECK_UNIT_RUNS, /* unit-runs PATH: the evidence unit's Exec lines or WorkingDirectory */
	WL_CHECK_COMMAND,   /* command /ABS/PATH ARGS...: exits 0 */
	WL_CHECK_HTTP,	    /* http URL: answers 2xx; loopback only */
	_WL_CHECK_KIND_MAX,
} WlCheckKind;

/* A check with every placeholder filled with its vetted value. */
typedef struct WlCheck {
	WlCheckKind kind;
	char **argv; /* operands only (not the kind), NULL-terminated */
	size_t argc;
	char *text; /* "unit-failed nginx.service", for reports and history */
} WlCheck;

/* "unit-failed" ...; NULL for a bad kind. */
const char *wl_check_kind_name(WlCheckKind k);
/*
 * Whether a check names a symptom (unit-failed, disk-above, ...) that a fix
 * should make go away, as opposed to a binding (unit-runs) that stays true.
 * A heal is proven only when every symptom precondition no longer holds.
 */
bool wl_check_is_symptom(WlCheckKind k);

/* A vetted command: everything here was checked and built by the whitelist. */
typedef struct WlCommand {
	char *action;
	size_t n_args;
	char **arg_names;  /* parameter names, in declaration order */
	char **arg_values; /* normalised values (unit with suffix, canonical path) */
	char **argv;	   /* NULL-terminated; argv[0] is absolute. NULL for builtins */
	WlBuiltin builtin;
	char *builtin_path; /* canonical path for chmod-x, else NULL */
	uint64_t timeout_usec;
	uint64_t cooldown_usec;
	char *verify_unit; /* unit for "verify = unit-active {unit}", else NULL */
	char *unit;	   /* the value of the action's unit-typed parameter, else NULL */
	size_t n_requires;
	WlCheck *requires; /* preconditions, all must hold before running */
	size_t n_verifies;
	WlCheck *verifies;   /* all must hold after running */
	uint64_t memory_max; /* bytes for the command's cgroup (memory_max =), 0: none */
	uint64_t tasks_max;  /* processes in the command's cgroup (tasks_max =), 0: none */
} WlCommand;

/* What the caller knows about the evidence, for checks beyond the patterns. */
typedef struct WlVetOptions {
	/* A unit parameter must name this unit (the trusted unit of the evidence). */
	const char *evidence_unit;
	/*
	 * Without an evidence unit, unit parameters are refused: a healer acts
	 * on the unit that failed, never on one a reply picked. Only an
	 * administrator's own request (a manual heal, `whitelist test`) sets
	 * this to allow any unit that is not protected.
	 */
	bool allow_any_unit;
} WlVetOptions;

/*
 * Parses a whitelist from a buffer; `name` is used in messages. On success
 * returns 0 and *ret owns the result. On failure returns -EINVAL (or -E2BIG,
 * -ENOMEM) and, when ret_errors is given, *ret_errors is a malloc'd text of
 * every error, one "name:line: message" per line.
 */
int wl_parse(const char *name, const char *buf, size_t len, Whitelist **ret, char **ret_errors);

/* Reads and parses a file; errors as wl_parse(), plus "path: <errno text>". */
int wl_load(const char *path, Whitelist **ret, char **ret_errors);

Whitelist *wl_free(Whitelist *wl);
static inline void wl_freep(Whitelist **wl)
{
	*wl = wl_free(*wl);
}

/* Overrides where unit files are looked up to resolve aliases (tests, chroots). */
int wl_set_unit_dirs(Whitelist *wl, const char *const *dirs, size_t n);

/* The [healer] max_commands value: how many commands one reply may hold. */
size_t wl_max_commands(const Whitelist *wl);

size_t wl_n_actions(const Whitelist *wl);
const char *wl_action_name(const Whitelist *wl, size_t i);
const char *wl_action_description(const Whitelist *wl, size_t i);

/*
 * Vets a structured proposal: action by name, arguments by parameter name.
 * The arguments must be exactly the action's parameters. Returns 0 and a new
 * *ret, -ENOENT for an unknown action, -EPERM for a refusal, -ENOMEM; reason
 * is always written on failure.
 */
int wl_vet(const Whitelist *wl, const char *action, const WlArg *args, size_t n_args,
	   const WlVetOptions *opts, WlCommand **ret, char *reason, size_t reason_len);

/*
 * Vets a tokenised free-text command against the match templates, in file
 * order; the first template that fits decides. Same returns as wl_vet().
 */
int wl_vet_tokens(const Whitelist *wl, char *const *tokens, size_t n_tokens,
		  const WlVetOptions *opts, WlCommand **ret, char *reason, size_t reason_len);

WlCommand *wl_command_free(WlCommand *c);
static inline void wl_command_freep(WlCommand **c)
{
	*c = wl_command_free(*c);
}

/* Applies systemctl's rule: no known type suffix means ".service". Caller frees; NULL on OOM. */
char *wl_unit_mangle(const char *name);

/*
 * Whether a unit name, or any alias or template it resolves to, is
 * protected by the whitelist (by name or by the always-protected families).
 * The daemon asks it again for every name sd-bus reports for the unit.
 */
bool wl_unit_is_protected(const Whitelist *wl, const char *unit);

/* "chmod-x" / "drop-caches" / NULL. */
const char *wl_builtin_name(WlBuiltin b);

struct stat;
/*
 * Why a file that a path parameter names must not be acted on, or NULL when
 * it may: not a regular file, hard-linked (another name could be swapped in),
 * setuid/setgid, or writable by anyone but its owner and root: others, a
 * group other than root's, a user or group of its ACL (util_foreign_writer:
 * they could have written what root is about to make runnable). The
 * whitelist checks the path with it (fd -1) and the builtin checks its
 * opened fd with it again: one rule, two moments.
 */
const char *wl_file_refusal(int fd, const char *path, const struct stat *st);

/*
 * The program names of all match templates ("systemctl", "chmod", ...),
 * unique, as a new NULL-terminated array the caller frees. A reply parser
 * uses them to tell a command in a list item from prose.
 */
int wl_command_words(const Whitelist *wl, char ***ret, size_t *ret_n);

/* Accessors for reports and prompts (borrowed strings). */
size_t wl_action_n_params(const Whitelist *wl, size_t i);
const char *wl_action_param_name(const Whitelist *wl, size_t i, size_t p);
const char *wl_action_param_pattern(const Whitelist *wl, size_t i, size_t p);
