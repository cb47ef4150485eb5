/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Subcommands of the healer binary: option parsing, one call into the core,
 * printing. Each returns the process exit code. Nothing here holds logic
 * that the daemon or the API also needs.
 */

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

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

/* healer replay --directory DIR ...: the daemon's pipeline over a journal, in dry run. */
int cli_replay(int argc, char **argv);

/* healer serve --db FILE ...: a store file, read-only, through the API and the dashboard. */
int cli_serve(int argc, char **argv);

/*
 * Commands that ask the running daemon over its REST API (cli/remote.c):
 * status, heal, inject, approve|reject ID, enable|disable.
 */
int cli_status(int argc, char **argv);
int cli_heal(int argc, char **argv);
int cli_decide(int argc, char **argv);
int cli_switch(int argc, char **argv);

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

/* healer history|stats: the daemon's records, from the API or, when it is down, the store. */
int cli_history(int argc, char **argv);

/* ---- the REST API client (cli/client.c) ---- */

/* Exit codes of the commands that talk to the daemon. */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_REFUSED = 1,	 /* the API answered with an error (or a local check failed) */
	CLI_EXIT_USAGE = 2,	 /* usage, healer.conf, a local file, the token file */
	CLI_EXIT_UNREACHABLE = 3 /* no daemon answered */
};

/* Where the daemon listens and the token it wants, from healer.conf. */
typedef struct CliApi CliApi;

typedef struct CliRequest {
	const char *method; /* "GET", "POST", "PUT" */
	const char *path;   /* "/api/...", with its query */
	const char *body;   /* NULL: none */
	size_t body_len;
	const char *content_type; /* of the body */
	const char *header; /* one more header line ("If-Match: ..."; no line break), or NULL */
	unsigned timeout_s; /* the whole request; 0: 30 s */
} CliRequest;

typedef struct CliReply {
	long status; /* the HTTP status */
	char *body;  /* as received, NUL-terminated (capped at 16 MiB) */
	size_t body_len;
	cJSON *json; /* the body parsed; NULL when it is not JSON */
	char *etag;  /* the ETag header, or NULL */
} CliReply;
void cli_reply_done(CliReply *r);

/*
 * Loads healer.conf (config NULL: the default) as the store's readers do
 * (SettingsOptions.config_only) and reads the token file; a token that
 * cannot be read is remembered, and explained if the daemon wants it.
 * Errors are printed under `what`; returns 0 or -errno.
 */
int cli_api_open(const char *what, const char *config, CliApi **ret);
CliApi *cli_api_free(CliApi *a);
static inline void cli_api_freep(CliApi **a)
{
	*a = cli_api_free(*a);
}
const char *cli_api_state_dir(const CliApi *a);
/* [api] listen as configured: "127.0.0.1:8099" or "unix:/run/healer/api.sock". */
const char *cli_api_listen(const CliApi *a);

/*
 * One request to the daemon (connect within 2 s, all of it within the
 * timeout; http only, no proxy, no redirect). Returns 0 when the daemon
 * answered, whatever the status (*ret filled; cli_reply_done() it), else
 * nothing is in *ret and: -ECONNREFUSED nothing listens (the daemon is not
 * running), -EACCES no permission to connect, -ETIMEDOUT no answer in
 * time, -ECONNRESET closed without an answer, -E2BIG the reply is over the
 * cap, -EPROTO another transport failure, -EINVAL a header with a line
 * break, -ENOMEM.
 */
int cli_api_request(CliApi *a, const CliRequest *q, CliReply *ret);

/*
 * Prints why a request failed: r from cli_api_request(), or (r = 0) the
 * HTTP error in rep: the token file on a 401, else the API's "error"
 * text. With json the reply's body goes to standard output as well.
 * Returns the exit code (CLI_EXIT_*).
 */
int cli_api_fail(const CliApi *a, const char *what, int r, const CliReply *rep, bool json);

/*
 * cli_api_request() that wants a 2xx JSON object: returns 0 with *ret, or
 * prints the failure (cli_api_fail) and returns its exit code, *ret empty.
 */
int cli_api_call(CliApi *a, const char *what, const CliRequest *q, bool json, CliReply *ret);

/* healer analyze ...: one analysis, vetted, nothing run. */
int cli_analyze(int argc, char **argv);

/* Printing shared by the commands (cli/print.c). */
void cli_print_plan(const Plan *p);
void cli_print_analysis(const Analysis *a);
/* A configuration fault, with what to fix, on stderr; nothing when there is none. */
void cli_print_fault(const Analysis *a);
/*
 * The members of a JSON object as "key: value" lines, nested objects
 * indented; strings as plain text (text_clean), booleans as yes/no.
 */
void cli_print_fields(const cJSON *o, int indent);
/* s on f with every hidden or control character as '?' ('\n' kept when lines). */
void cli_print_clean(FILE *f, const char *s, bool lines);
/* Prints and frees o (NULL: out of memory); returns 0 or -ENOMEM. */
int cli_print_json(cJSON *o, bool pretty);
/* Prints a core error list to stderr, or "what: strerror" when there is none. */
void cli_print_errors(const char *what, int r, const char *errors);
