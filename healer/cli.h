/* SPDX-License-Identifier: MIT */
#pragma once

/* Subcommands of the healer binary. Each returns the process exit code. */

#define HEALER_VERSION		 "0.1.0"
#define HEALER_DEFAULT_WHITELIST "/etc/healer/whitelist.conf"

/* healer whitelist check|test|show ... */
int cli_whitelist(int argc, char **argv);

/* healer journal scan ... */
int cli_journal(int argc, char **argv);

/* healer builtin chmod-x PATH | drop-caches: a builtin in a child of the daemon. */
int cli_builtin(int argc, char **argv);

/* healer analyze ...: one analysis, vetted, nothing run. */
int cli_analyze(int argc, char **argv);

typedef struct Whitelist Whitelist;
typedef struct LlmRules LlmRules;
/* The configured file, or the built-in example when the default path is absent. */
int cli_load_whitelist(const char *path, Whitelist **ret);
int cli_load_rules(const char *path, LlmRules **ret);
