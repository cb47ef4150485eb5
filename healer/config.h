/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * healer.conf: [healer] [journal] [llm] [api], one table row per key with
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
	/* [journal] */
	int min_priority;
	uint64_t lookback_usec;
	uint64_t window_usec;
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
	char *api_address;
	uint64_t api_port;

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

/* Prints every key with its value and help, as `healer run --check` shows it. */
void cfg_dump(const Config *c, void *file);
