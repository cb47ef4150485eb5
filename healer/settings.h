/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Everything Healer runs with, loaded in one place: healer.conf with its
 * HEALER_* overrides, the API key, the whitelist, the offline rules (the
 * shipped examples, built in, when the default files do not exist), the
 * catalogue the model is shown and the client options mapped from the
 * config. The CLI, the daemon and the API all load it here.
 *
 * Reference-counted: a reload builds a new Settings and swaps it in, while
 * each attempt in flight keeps the one it started with (the daemon's
 * attempts take the live one when they would act).
 */

#include <stdbool.h>
#include <stddef.h>

#include "healer/config.h"
#include "llm/client.h"
#include "llm/prompt.h"
#include "llm/rules.h"
#include "whitelist/whitelist.h"

typedef struct Settings Settings;

typedef struct SettingsOptions {
	const char *config_path;    /* NULL: CFG_DEFAULT_PATH, which may be missing */
	const char *whitelist_path; /* NULL: [healer] whitelist */
	char *const *envp;	    /* HEALER_* and API key variables; NULL: environ */
	/*
	 * Only healer.conf and its overrides, for tools that read the store
	 * (history, approve): no key, whitelist or rules, so that a broken
	 * whitelist never hides the record of what happened.
	 */
	bool config_only;
	/*
	 * healer replay: dry run whatever the files or HEALER_* say (also on a
	 * reload), and, with rules_only, the offline rules answer whatever
	 * provider the config names (no API key is read, nothing leaves the
	 * host).
	 */
	bool force_dry_run;
	bool rules_only;
} SettingsOptions;

/*
 * Loads everything. Returns 0 and a new *ret (one reference), or a negative
 * errno with *ret_errors (required; NULL on OOM): every problem found, one
 * per line, as "file:line: message" where a file is at fault.
 */
int settings_load(const SettingsOptions *o, Settings **ret, char **ret_errors);

Settings *settings_ref(Settings *s);
/* Drops one reference; frees on the last. Takes NULL, returns NULL. */
Settings *settings_unref(Settings *s);
static inline void settings_unrefp(Settings **s)
{
	*s = settings_unref(*s);
}

const Config *settings_config(const Settings *s);
const Whitelist *settings_whitelist(const Settings *s);
/* Where the whitelist came from: its path, or "(built-in examples/whitelist.conf)". */
const char *settings_whitelist_source(const Settings *s);
const LlmRules *settings_rules(const Settings *s);

/*
 * The provider the configuration names but cannot use (no API key), so
 * the rules answer instead: why, in one line; NULL when none is missing.
 */
const char *settings_key_missing(const Settings *s);

/* Client options for the effective provider (kind 0: rules only); strings borrowed from s. */
const LlmClientOptions *settings_client_options(const Settings *s);

/* The whitelist as the model sees it, and the union of its parameter names (NULL-terminated). */
const LlmCatalogEntry *settings_catalog(const Settings *s, size_t *ret_n);
const char *const *settings_arg_names(const Settings *s);

/*
 * The one whitelist loader: the file at path; or, on a fresh host (no
 * /etc/healer at all) when path is the default (CFG_DEFAULT_WHITELIST) and
 * nobody named it (named false), the shipped example built into the binary.
 * *ret_source (optional) tells which. Errors as settings_load().
 */
int settings_load_whitelist(const char *path, bool named, Whitelist **ret, char **ret_source,
			    char **ret_errors);
/* The same for the rules (CFG_DEFAULT_RULES). */
int settings_load_rules(const char *path, bool named, LlmRules **ret, char **ret_source,
			char **ret_errors);
