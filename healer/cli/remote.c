/* SPDX-License-Identifier: MIT */
/*
 * healer status [-c CONFIG] [--json]
 * healer heal [-c CONFIG] --message TEXT [--service UNIT] [--level LEVEL] [--wait SECONDS] [--json]
 * healer inject [-c CONFIG] --message TEXT [--service UNIT] [--level LEVEL]
 *              [--source journal|direct] [--json]
 * healer approve|reject [-c CONFIG] [--json] ID
 * healer enable|disable [-c CONFIG] [--json]
 *
 * Each is one request to the running daemon's REST API (cli/client.c): the
 * daemon checks, decides, records and audits, exactly as for a script's
 * request. --json prints the API's reply as it came. Exit codes: 0 done,
 * 1 the API refused, 2 usage or configuration, 3 no daemon answered.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "common/util.h"
#include "healer/cli/cli.h"

#define INJECT_TIMEOUT_S 40

/* The options every command here takes; returns the option char when it is another one. */
static int common_option(int c, const char **config, bool *json)
{
	if (c == 'c')
		*config = optarg;
	else if (c == 'j')
		*json = true;
	else
		return c;
	return 0;
}

/* The reply's body as it came, for --json. */
static void print_body(const CliReply *rep)
{
	fwrite(rep->body, 1, rep->body_len, stdout);
	if (rep->body_len == 0 || rep->body[rep->body_len - 1] != '\n')
		putchar('\n');
}

/* "label: value" for a string or number member of o; nothing when it is absent. */
static void field(const cJSON *o, const char *key, const char *label)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v)) {
		printf("%s: ", label);
		cli_print_clean(stdout, v->valuestring, false);
		putchar('\n');
	} else if (cJSON_IsNumber(v)) {
		printf("%s: %lld\n", label, (long long)v->valuedouble);
	}
}

int cli_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	const CliRequest q = {.method = "GET", .path = "/api/auto-healer/status"};
	_cleanup_(cli_api_freep) CliApi *a = NULL;
	const char *config = NULL;
	bool json = false;
	CliReply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0)
		if (common_option(c, &config, &json))
			return CLI_EXIT_USAGE;
	if (optind != argc) {
		fprintf(stderr, "usage: healer status [-c CONFIG] [--json]\n");
		return CLI_EXIT_USAGE;
	}
	if (cli_api_open("status", config, &a) < 0)
		return CLI_EXIT_USAGE;
	r = cli_api_call(a, "status", &q, json, &rep);
	if (r)
		return r;
	if (json)
		print_body(&rep);
	else
		cli_print_fields(cJSON_GetObjectItemCaseSensitive(rep.json, "auto_healer"), 0);
	cli_reply_done(&rep);
	return 0;
}

/* ---- heal and inject ---- */

/* What came of a report: the incident, its attempt and, when waited for, the outcome. */
static void print_outcome(const cJSON *o)
{
	const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(o, "attempt_id");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(o, "healing_result");

	field(o, "incident_id", "incident");
	if (cJSON_IsNull(attempt))
		printf("attempt: none (the report joined an incident already being handled)\n");
	else
		field(o, "attempt_id", "attempt");
	field(o, "via", "via");
	if (cJSON_IsObject(result)) {
		field(result, "status", "status");
		field(result, "reason", "reason");
		field(result, "diagnosis", "diagnosis");
	}
	field(o, "note", "note");
}

/* The report's body: {"service", "message", "level", "source"}; NULL on OOM. */
static char *report_body(const char *service, const char *message, const char *level,
			 const char *source)
{
	cJSON *o = cJSON_CreateObject();
	uint64_t n;
	bool ok = o && (!service || cJSON_AddStringToObject(o, "service", service)) &&
		  cJSON_AddStringToObject(o, "message", message) &&
		  (!source || cJSON_AddStringToObject(o, "source", source));
	char *s;

	/* A number stays one: the API takes 0..7 or a name. */
	if (ok && level)
		ok = util_parse_u64(level, 0, 7, &n) >= 0
			     ? !!cJSON_AddNumberToObject(o, "level", (double)n)
			     : !!cJSON_AddStringToObject(o, "level", level);
	s = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

int cli_heal(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"service", required_argument, NULL, 's'},
		{"message", required_argument, NULL, 'm'},
		{"level", required_argument, NULL, 'l'},
		{"wait", required_argument, NULL, 'w'},
		{"source", required_argument, NULL, 'S'},
		{},
	};
	bool inject = strcmp(argv[0], "inject") == 0, json = false;
	const char *config = NULL, *service = NULL, *message = NULL, *level = NULL, *source = NULL;
	_cleanup_(cli_api_freep) CliApi *a = NULL;
	_cleanup_free_ char *body = NULL, *path = NULL;
	uint64_t wait = 0;
	unsigned timeout_s = 0; /* the default, 30 s */
	CliReply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0) {
		switch (common_option(c, &config, &json)) {
		case 0:
			break;
		case 's':
			service = optarg;
			break;
		case 'm':
			message = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'w':
			if (inject || util_parse_u64(optarg, 0, API_WAIT_MAX, &wait) < 0) {
				fprintf(stderr, "healer %s: --wait %s\n", argv[0],
					inject ? "is for heal" : "must be 0..120 seconds");
				return CLI_EXIT_USAGE;
			}
			break;
		case 'S':
			if (!inject ||
			    (strcmp(optarg, "journal") != 0 && strcmp(optarg, "direct") != 0)) {
				fprintf(stderr, "healer %s: --source %s\n", argv[0],
					inject ? "must be journal or direct" : "is for inject");
				return CLI_EXIT_USAGE;
			}
			source = optarg;
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc || !message) {
		fprintf(stderr,
			"usage: healer %s [-c CONFIG] --message TEXT [--service UNIT] "
			"[--level LEVEL] %s[--json]\n",
			argv[0], inject ? "[--source journal|direct] " : "[--wait SECONDS] ");
		return CLI_EXIT_USAGE;
	}
	if (inject)
		path = strdup("/api/test/inject-error");
	else if (asprintf(&path, "/api/auto-healer/heal?wait=%llu", (unsigned long long)wait) < 0)
		path = NULL;
	if (!path || !(body = report_body(service, message, level, source))) {
		fprintf(stderr, "healer %s: out of memory\n", argv[0]);
		return CLI_EXIT_REFUSED;
	}
	/* The daemon holds a waited heal that long, and answers an injection within 30 s. */
	if (inject)
		timeout_s = INJECT_TIMEOUT_S;
	else if (wait)
		timeout_s = (unsigned)wait + 10;
	if (cli_api_open(argv[0], config, &a) < 0)
		return CLI_EXIT_USAGE;
	r = cli_api_call(a, argv[0],
			 &(CliRequest){.method = "POST",
				       .path = path,
				       .body = body,
				       .body_len = strlen(body),
				       .content_type = "application/json",
				       .timeout_s = timeout_s},
			 json, &rep);
	if (r)
		return r;
	if (json)
		print_body(&rep);
	else
		print_outcome(rep.json);
	cli_reply_done(&rep);
	return 0;
}

/* ---- decisions and the switch ---- */

/* Why an attempt takes no decision: its state, asked of the API; false when that fails too. */
static bool explain_busy(CliApi *a, const char *what, const char *id)
{
	_cleanup_free_ char *path = NULL;
	const cJSON *st;
	CliReply rep;
	bool said = false;

	if (asprintf(&path, "/api/auto-healer/attempts/%s", id) < 0 ||
	    cli_api_request(a, &(CliRequest){.method = "GET", .path = path}, &rep) < 0)
		return false;
	st = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rep.json, "attempt"),
					      "status");
	if (rep.status == 200 && cJSON_IsString(st)) {
		fprintf(stderr, "healer %s: attempt %s is ", what, id);
		cli_print_clean(stderr, st->valuestring, false);
		fprintf(stderr, ", not awaiting approval\n");
		said = true;
	}
	cli_reply_done(&rep);
	return said;
}

int cli_decide(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	bool approve = strcmp(argv[0], "approve") == 0, json = false;
	_cleanup_(cli_api_freep) CliApi *a = NULL;
	_cleanup_free_ char *path = NULL;
	const char *config = NULL;
	CliReply rep;
	uint64_t id;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0)
		if (common_option(c, &config, &json))
			return CLI_EXIT_USAGE;
	if (optind + 1 != argc || util_parse_u64(argv[optind], 1, INT64_MAX, &id) < 0) {
		fprintf(stderr, "usage: healer %s [-c CONFIG] [--json] ATTEMPT-ID\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	if (asprintf(&path, "/api/auto-healer/attempts/%llu/%s", (unsigned long long)id, argv[0]) <
	    0)
		return CLI_EXIT_REFUSED;
	if (cli_api_open(argv[0], config, &a) < 0)
		return CLI_EXIT_USAGE;
	r = cli_api_request(a, &(CliRequest){.method = "POST", .path = path}, &rep);
	if (r == 0 && rep.status == 409 && !json && explain_busy(a, argv[0], argv[optind])) {
		cli_reply_done(&rep);
		return CLI_EXIT_REFUSED;
	}
	if (r < 0 || rep.status != 200 || !rep.json) {
		r = cli_api_fail(a, argv[0], r, &rep, json);
		cli_reply_done(&rep);
		return r;
	}
	if (json)
		print_body(&rep);
	else
		printf("attempt %llu %s\n", (unsigned long long)id,
		       approve ? "approved" : "rejected");
	cli_reply_done(&rep);
	return 0;
}

int cli_switch(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	bool enable = strcmp(argv[0], "enable") == 0, json = false;
	_cleanup_(cli_api_freep) CliApi *a = NULL;
	const char *config = NULL;
	CliReply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0)
		if (common_option(c, &config, &json))
			return CLI_EXIT_USAGE;
	if (optind != argc) {
		fprintf(stderr, "usage: healer %s [-c CONFIG] [--json]\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	if (cli_api_open(argv[0], config, &a) < 0)
		return CLI_EXIT_USAGE;
	r = cli_api_call(a, argv[0],
			 &(CliRequest){.method = "POST",
				       .path = enable ? "/api/auto-healer/enable"
						      : "/api/auto-healer/disable"},
			 json, &rep);
	if (r)
		return r;
	if (json)
		print_body(&rep);
	else
		printf("automatic healing %s\n", enable ? "enabled" : "disabled");
	cli_reply_done(&rep);
	return 0;
}
