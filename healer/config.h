/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * healer.conf: [healer] [journal] [llm] [api] [notify], one table row per key with
 * its type, bounds and default. Every section and key is optional: an empty
 * file, or one holding only [llm], is valid. HEALER_SECTION_KEY environment
 * variables override the file (HEALER_LLM_PROVIDER=gemini); API keys come
 * from a key file that only its owner may read, or from GEMINI_API_KEY /
 * OPENROUTER_API_KEY / HEALER_LLM_API_KEY, and are never printed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_DEFAULT_DIR	      "/etc/healer"
#define CFG_DEFAULT_PATH      "/etc/healer/healer.conf"
#define CFG_DEFAULT_WHITELIST "/etc/healer/whitelist.conf"
#define CFG_DEFAULT_RULES     "/etc/healer/rules.conf"
#define CFG_MAX_FILE_BYTES    (256 * 1024)
#define CFG_MAX_KEY_BYTES     4096

typedef enum CfgProvider {
	CFG_PROVIDER_RULES,
	CFG_PROVIDER_GEMINI,
	CFG_PROVIDER_OPENROUTER,
	CFG_PROVIDER_OPENAI,
} CfgProvider;

typedef struct Config {
	/* [healer] */
	char *whitelist;
	char *state_dir;
	bool enabled;
	unsigned act_on; /* POL_ACT_ON_* bits (healer/policy.h) */
	bool auto_execute;
	bool dry_run;
	uint64_t max_age_usec;
	uint64_t max_attempts;
	uint64_t attempt_window_usec;
	uint64_t cooldown_usec;
	uint64_t max_heals_per_hour;
	uint64_t max_concurrent_analyses;
	uint64_t max_queued; /* incidents waiting for an analysis slot; the oldest is dropped */
	uint64_t settle_usec;
	uint64_t verify_window_usec;
	uint64_t escalate_after;
	uint64_t escalate_window_usec;
	uint64_t approval_timeout_usec;
	uint64_t retention_usec;
	bool watch_units; /* the service manager's signals report failed services too */
	/* [journal] */
	int source;	  /* JrSource: system, directory or namespace */
	char *source_arg; /* the directory or namespace name, NULL for system */
	int min_priority;
	uint64_t lookback_usec;
	uint64_t window_usec; /* dedupe_window ("window" is read as an alias) */
	uint64_t context_lines;
	uint64_t context_bytes;
	/* [llm] */
	int provider; /* CfgProvider */
	char *model;
	char *base_url;
	char *api_key_file;
	char *rules;
	uint64_t timeout_usec;
	uint64_t max_retries;
	uint64_t max_output_tokens;
	uint64_t breaker_failures;
	uint64_t breaker_cooloff_usec;
	bool redact;
	char *referer;
	char *title;
	char *response_format; /* "json_object" or "json_schema" (openai only) */
	/* [api] */
	char *api_listen;     /* "127.0.0.1:8099", "[::1]:8099" or "unix:/path" */
	char *api_token_file; /* NULL: STATE_DIR/api.token */
	bool api_public_reads;
	/* [notify] */
	char *notify_webhook; /* http(s) URL; http only to loopback; NULL: none */

	/* Loaded by cfg_load_api_key(); never logged, never stored elsewhere. */
	char *api_key;
} Config;

/* A configuration with every default; NULL on OOM. */
Config *cfg_new(void);
Config *cfg_free(Config *c);
static inline void cfg_freep(Config **c)
{
	*c = cfg_free(*c);
}

/*
 * Reads path into c (missing keys keep their values). A missing file is
 * -ENOENT when required, else 0. Returns -EINVAL with *ret_errors (one
 * "path:line: message" per line, every error at once), -EPERM for a file
 * others may write, -E2BIG over the cap.
 */
int cfg_load(Config *c, const char *path, bool required, char **ret_errors);
int cfg_parse(Config *c, const char *name, const char *buf, size_t len, char **ret_errors);

/* Applies HEALER_* overrides from envp (NULL: the process environment). */
int cfg_apply_env(Config *c, char *const *envp, char **ret_errors);

/*
 * Cross-checks (openai needs base_url and model, http only to loopback...)
 * and fills the provider's default model and base_url.
 */
int cfg_finish(Config *c, char **ret_errors);

/*
 * Loads the API key: the key file (refused when group or others may read
 * it, or when it is not owned by us or root), else the provider's variable
 * in envp. Returns 1 with a key, 0 when none (fine for rules and openai),
 * -errno with *ret_error.
 */
int cfg_load_api_key(Config *c, char *const *envp, char **ret_error);

const char *cfg_provider_name(int provider);

/*
 * Whether a key may change on a reload (SIGHUP) without a restart; keys
 * that may not (state_dir, [api] listen, [journal] source) keep their old
 * value and the reload says so. -ENOENT for an unknown key.
 */
int cfg_key_reloadable(const char *section, const char *name);

/*
 * The keys whose values differ between a and b that cannot change on a
 * reload, as "section.key" separated by spaces, or NULL when none (or OOM).
 */
char *cfg_unreloadable_changes(const Config *a, const Config *b);

/* Prints every key with its value and help, as `healer run --check` shows it. */
void cfg_dump(const Config *c, void *file);
