/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Subcommands of the healer binary: option parsing, one call into the core,
 * printing. Each returns the process exit code. Nothing here holds logic
 * that the daemon or the API also needs.
 */

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "healer/analyze.h"
#include "healer/plan.h"

#include "healer/version.h"

/* healer whitelist check|test|show ... */
int cli_whitelist(int argc, char **argv);

/* healer journal scan ... */
int cli_journal(int argc, char **argv);

/* healer builtin chmod-x PATH | drop-caches: a builtin in a child of the daemon. */
int cli_builtin(int argc, char **argv);

/* healer run [--check]: the daemon. */
int cli_run(int argc, char **argv);

/* healer approve|reject ID: a decision on an attempt awaiting approval. */
int cli_decide(int argc, char **argv);

/* healer escalations | clear ID: what waits for an administrator. */
int cli_escalations(int argc, char **argv);

/*
 * Opens the store named by healer.conf (config NULL: the default) for the
 * commands that read or record there; errors are printed under `what`.
 * *ret_state_dir (optional) gets the state folder.
 */
typedef struct Store Store;
int cli_open_store(const char *what, const char *config, bool readonly, Store **ret,
		   char **ret_state_dir);

/* healer history|stats: the store's records, read-only. */
int cli_history(int argc, char **argv);

/* healer analyze ...: one analysis, vetted, nothing run. */
int cli_analyze(int argc, char **argv);

/* Printing shared by the commands (cli/print.c). */
void cli_print_plan(const Plan *p);
void cli_print_analysis(const Analysis *a);
/* A configuration fault, with what to fix, on stderr; nothing when there is none. */
void cli_print_fault(const Analysis *a);
/* Prints and frees o (NULL: out of memory); returns 0 or -ENOMEM. */
int cli_print_json(cJSON *o, bool pretty);
/* Prints a core error list to stderr, or "what: strerror" when there is none. */
void cli_print_errors(const char *what, int r, const char *errors);
