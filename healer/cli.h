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
