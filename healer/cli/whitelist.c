/* SPDX-License-Identifier: MIT */
/*
 * healer whitelist check [FILE]
 * healer whitelist test [-w FILE] (--reply FILE | --command TEXT) [--unit UNIT] [--json]
 * healer whitelist show [-c CONFIG] [--json]        the live one, from the daemon's API
 * healer whitelist show --local [FILE] | -w FILE   a file's actions
 * healer whitelist put [-c CONFIG] [--etag ETAG] [--json] FILE
 *
 * `test` runs nothing: it shows what a reply would be allowed to run.
 * check, test and show --local read files; show and put ask the daemon,
 * which checks a new whitelist as `check` does and writes it atomically.
 * Exit codes: 0 OK/accept, 1 errors/reject/refused, 2 usage or unreadable
 * whitelist, 3 no daemon answered.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "common/util.h"
#include "healer/cli/cli.h"
#include "healer/plan.h"
#include "healer/settings.h"
#include "healer/view.h"

/*
 * The core's one loader: the file (path NULL: the default one), or on a
 * fresh host the built-in example, which standard error then names.
 */
static int load(const char *named, Whitelist **ret)
{
	_cleanup_free_ char *errors = NULL, *source = NULL;
	const char *path = named ? named : CFG_DEFAULT_WHITELIST;
	int r = settings_load_whitelist(path, !!named, ret, &source, &errors);

	if (r < 0)
		cli_print_errors(path, r, errors);
	else if (strcmp(source, path) != 0)
		fprintf(stderr, "healer: no %s on this host; using the %s\n", CFG_DEFAULT_DIR,
			source);
	return r;
}

static int cmd_check(int argc, char **argv)
{
	_cleanup_(wl_freep) Whitelist *wl = NULL;
	const char *path = argc > 1 ? argv[1] : NULL;

	if (argc > 2) {
		fprintf(stderr, "usage: healer whitelist check [FILE]\n");
		return 2;
	}
	if (load(path, &wl) < 0)
		return 1;
	printf("OK\n");
	return 0;
}

static int cmd_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{"whitelist", required_argument, NULL, 'w'},
		{"reply", required_argument, NULL, 'r'},
		{"command", required_argument, NULL, 'c'},
		{"unit", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	const char *path = NULL, *reply_path = NULL, *command = NULL;
	_cleanup_(wl_freep) Whitelist *wl = NULL;
	_cleanup_(plan_freep) Plan *plan = NULL;
	WlVetOptions vo = {0};
	bool json = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "w:r:c:u:j", opts, NULL)) >= 0) {
		switch (c) {
		case 'w':
			path = optarg;
			break;
		case 'r':
			reply_path = optarg;
			break;
		case 'c':
			command = optarg;
			break;
		case 'u':
			vo.evidence_unit = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || !!reply_path == !!command)
		goto usage;
	if (load(path, &wl) < 0)
		return 2;
	/* Without --unit this is the administrator testing the whitelist itself. */
	vo.allow_any_unit = !vo.evidence_unit;
	if (command) {
		r = plan_vet_command(wl, command, &vo, &plan);
	} else {
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		char reason[256];

		r = util_read_file(reply_path, LLM_REPLY_MAX_BYTES, &buf, &len);
		if (r == -E2BIG) {
			(void)util_snprintf(reason, sizeof reason, "reply is over the %d-byte cap",
					    LLM_REPLY_MAX_BYTES);
			r = plan_new_refused(reason, &plan);
		} else if (r < 0) {
			fprintf(stderr, "%s: %s\n", reply_path, strerror(-r));
			return 2;
		} else {
			r = plan_vet_reply(wl, buf, len, &vo, &plan);
		}
	}
	if (r < 0) {
		fprintf(stderr, "whitelist test: %s\n", strerror(-r));
		return 2;
	}
	if (json) {
		if (cli_print_json(view_plan(plan), false) < 0) {
			fprintf(stderr, "whitelist test: out of memory\n");
			return 2;
		}
	} else {
		cli_print_plan(plan);
	}
	return plan->accepted ? 0 : 1;
usage:
	fprintf(stderr, "usage: healer whitelist test [-w FILE] (--reply FILE | --command TEXT) "
			"[--unit UNIT] [--json]\n");
	return 2;
}

/* A whitelist file's actions: what `whitelist show` printed before the API. */
static int show_local(const char *path)
{
	_cleanup_(wl_freep) Whitelist *wl = NULL;

	if (load(path, &wl) < 0)
		return 1;
	printf("max_commands: %zu\n", wl_max_commands(wl));
	for (size_t i = 0; i < wl_n_actions(wl); i++) {
		const char *d = wl_action_description(wl, i);

		printf("%s%s%s\n", wl_action_name(wl, i), d ? ": " : "", d ? d : "");
		for (size_t k = 0; k < wl_action_n_params(wl, i); k++)
			printf("  {%s} = %s\n", wl_action_param_name(wl, i, k),
			       wl_action_param_pattern(wl, i, k));
	}
	return 0;
}

/*
 * The live whitelist's text opens with this comment line, which `whitelist
 * put` reads back: `show > FILE`, an edit, `put FILE` then fails (412) if
 * someone else changed the whitelist in between, instead of undoing it.
 */
#define ETAG_LINE "# healer etag: "

static int show_live(const char *config, bool json)
{
	_cleanup_(cli_api_freep) CliApi *a = NULL;
	const cJSON *text, *src;
	CliReply rep;
	size_t len;
	int r;

	if (cli_api_open("whitelist show", config, &a) < 0)
		return CLI_EXIT_USAGE;
	r = cli_api_call(a, "whitelist show",
			 &(CliRequest){.method = "GET", .path = "/api/whitelist"}, json, &rep);
	if (r)
		return r;
	text = cJSON_GetObjectItemCaseSensitive(rep.json, "text");
	src = cJSON_GetObjectItemCaseSensitive(rep.json, "source");
	if (json) {
		printf("%s\n", rep.body);
	} else if (!cJSON_IsString(text) || !rep.etag) {
		fprintf(stderr, "healer whitelist show: the reply holds no text or etag\n");
		r = CLI_EXIT_REFUSED;
	} else {
		/* The file as root wrote it, like cat: put must get back what it was. */
		fputs(ETAG_LINE, stdout);
		cli_print_clean(stdout, rep.etag, false);
		fputs(" (live whitelist: ", stdout);
		cli_print_clean(stdout, cJSON_IsString(src) ? src->valuestring : "?", false);
		printf(")\n%s", text->valuestring);
		len = strlen(text->valuestring);
		if (len > 0 && text->valuestring[len - 1] != '\n')
			putchar('\n');
	}
	cli_reply_done(&rep);
	return r;
}

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"whitelist", required_argument, NULL, 'w'},
		{"local", no_argument, NULL, 'L'},
		{},
	};
	const char *config = NULL, *path = NULL;
	bool json = false, local = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:w:", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			path = optarg;
			local = true;
			break;
		case 'L':
			local = true;
			break;
		default:
			goto usage;
		}
	}
	/* A file named without -w: the local form, as before the API. */
	if (optind + 1 == argc && !path) {
		path = argv[optind++];
		local = true;
	}
	if (optind != argc || (local && (config || json)))
		goto usage;
	return local ? show_local(path) : show_live(config, json);
usage:
	fprintf(stderr, "usage: healer whitelist show [-c CONFIG] [--json]\n"
			"       healer whitelist show --local [FILE] | -w FILE\n");
	return 2;
}

/* "ETAG_LINE"etag" ..." at the top of text: the etag (quoted) and the text after that line. */
static char *etag_line(const char *text, const char **ret_rest)
{
	const char *e = text + strlen(ETAG_LINE), *end;

	if (strncmp(text, ETAG_LINE, strlen(ETAG_LINE)) != 0 || *e != '"' ||
	    !(end = strchr(e + 1, '"')) || !strchr(end, '\n'))
		return NULL;
	*ret_rest = strchr(end, '\n') + 1;
	return strndup(e, (size_t)(end + 1 - e));
}

/* An etag fit for a header line: visible ASCII only (no line break to smuggle a header). */
static bool etag_ok(const char *e)
{
	size_t n = strlen(e);

	if (n == 0 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if (e[i] <= ' ' || e[i] > '~')
			return false;
	return true;
}

/* The etag of the live whitelist, asked of the API. */
static int live_etag(CliApi *a, bool json, char **ret)
{
	CliReply rep;
	int r = cli_api_call(a, "whitelist put",
			     &(CliRequest){.method = "GET", .path = "/api/whitelist"}, json, &rep);

	if (r)
		return r;
	*ret = TAKE_PTR(rep.etag);
	cli_reply_done(&rep);
	if (!*ret) {
		fprintf(stderr, "healer whitelist put: the daemon sent no etag\n");
		return CLI_EXIT_REFUSED;
	}
	return 0;
}

/* The API's {"errors": [{"line", "message"}]} as path:line: message, lines counted in the file. */
static void print_line_errors(const cJSON *o, const char *path, unsigned skipped)
{
	const cJSON *it, *errors = cJSON_GetObjectItemCaseSensitive(o, "errors");

	cJSON_ArrayForEach(it, errors)
	{
		const cJSON *line = cJSON_GetObjectItemCaseSensitive(it, "line");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(it, "message");

		if (cJSON_IsNumber(line))
			fprintf(stderr, "%s:%lld: ", path, (long long)line->valuedouble + skipped);
		else
			fprintf(stderr, "%s: ", path);
		cli_print_clean(stderr, cJSON_IsString(msg) ? msg->valuestring : "?", false);
		fputc('\n', stderr);
	}
}

static int put_reply(CliApi *a, const char *path, unsigned skipped, const char *etag, bool json,
		     int r, CliReply *rep)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(rep->json, "error");

	if (r == 0 && rep->status == 200 && rep->json) {
		if (json) {
			printf("%s\n", rep->body);
		} else {
			printf("whitelist replaced from %s; etag ", path);
			cli_print_clean(stdout, rep->etag ? rep->etag : "?", false);
			putchar('\n');
		}
		return 0;
	}
	if (r == 0 && rep->status == 412) {
		if (json)
			printf("%s\n", rep->body);
		fprintf(stderr,
			"healer whitelist put: someone else changed the whitelist since etag %s "
			"was read; nothing was changed. Run `healer whitelist show`, redo the edit "
			"and put it again\n",
			etag);
		return CLI_EXIT_REFUSED;
	}
	if (r == 0 && cJSON_IsString(e) && cJSON_GetObjectItemCaseSensitive(rep->json, "errors")) {
		if (json)
			printf("%s\n", rep->body);
		fprintf(stderr, "healer whitelist put: ");
		cli_print_clean(stderr, e->valuestring, false);
		fputc('\n', stderr);
		print_line_errors(rep->json, path, skipped);
		return CLI_EXIT_REFUSED;
	}
	return cli_api_fail(a, "whitelist put", r, rep, json);
}

static int cmd_put(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"etag", required_argument, NULL, 'e'},
		{},
	};
	_cleanup_free_ char *buf = NULL, *etag = NULL, *if_match = NULL;
	_cleanup_(cli_api_freep) CliApi *a = NULL;
	const char *config = NULL, *given = NULL, *path, *body;
	unsigned skipped = 0;
	bool json = false;
	CliReply rep;
	size_t len;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0) {
		if (c == 'c')
			config = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'e')
			given = optarg;
		else
			goto usage;
	}
	if (optind + 1 != argc)
		goto usage;
	path = argv[optind];
	/* Room for the etag line on top of what the API takes. */
	r = util_read_file(path, API_BODY_MAX + 512, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "healer whitelist put: %s: %s\n", path,
			r == -E2BIG ? "over the 64 KiB the API takes" : strerror(-r));
		return CLI_EXIT_USAGE;
	}
	body = buf;
	if ((etag = etag_line(buf, &body)))
		skipped = 1;
	len -= (size_t)(body - buf);
	if (len > API_BODY_MAX) {
		fprintf(stderr, "healer whitelist put: %s: over the 64 KiB the API takes\n", path);
		return CLI_EXIT_USAGE;
	}
	if (given) {
		free(etag);
		if (!(etag = strdup(given)))
			return CLI_EXIT_REFUSED;
	}
	if (etag && !etag_ok(etag)) {
		fprintf(stderr, "healer whitelist put: the etag must be visible ASCII, as "
				"`healer whitelist show` prints it\n");
		return CLI_EXIT_USAGE;
	}
	if (cli_api_open("whitelist put", config, &a) < 0)
		return CLI_EXIT_USAGE;
	if (!etag && (r = live_etag(a, json, &etag)))
		return r;
	if (asprintf(&if_match, "If-Match: %s", etag) < 0)
		return CLI_EXIT_REFUSED;
	r = cli_api_request(a,
			    &(CliRequest){.method = "PUT",
					  .path = "/api/whitelist",
					  .body = body,
					  .body_len = len,
					  .content_type = "text/plain; charset=utf-8",
					  .header = if_match},
			    &rep);
	r = put_reply(a, path, skipped, etag, json, r, &rep);
	cli_reply_done(&rep);
	return r;
usage:
	fprintf(stderr, "usage: healer whitelist put [-c CONFIG] [--etag ETAG] [--json] FILE\n");
	return CLI_EXIT_USAGE;
}

int cli_whitelist(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return cmd_test(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "put") == 0)
		return cmd_put(argc - 1, argv + 1);
	fprintf(stderr, "usage: healer whitelist check|test|show|put ...\n");
	return 2;
}
