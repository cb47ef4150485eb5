/* SPDX-License-Identifier: MIT */
/*
 * healer history [-c CONFIG | --db FILE] [--state STATE] [--limit N] [--offset N] [--json]
 * healer stats [-c CONFIG | --db FILE] [--json]
 *
 * Asks the running daemon's REST API. When no daemon is running, reads the
 * store read-only instead (said on standard error), through the same core
 * views the API serves, in the same JSON shape. --db reads a store file
 * read-only and asks no daemon (a replay's record, a copied database).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/cli/cli.h"
#include "healer/settings.h"
#include "healer/store.h"

/* The store in state_dir, or the file db_file; errors printed under `what`. */
static int store_open_at(const char *what, const char *state_dir, const char *db_file,
			 bool readonly, Store **ret)
{
	_cleanup_free_ char *errors = NULL, *db = NULL;
	int r;

	if (db_file ? !(db = strdup(db_file)) : asprintf(&db, "%s/healer.db", state_dir) < 0)
		return -ENOMEM;
	r = readonly ? st_open_readonly(db, ret, &errors) : st_open(db, ret, &errors);
	if (r < 0 && errors) /* the store's message names the file */
		fprintf(stderr, "healer %s: %s\n", what, errors);
	else if (r < 0)
		fprintf(stderr, "healer %s: %s: %s\n", what, db, strerror(-r));
	return r;
}

int cli_open_store(const char *what, const char *config, bool readonly, Store **ret,
		   char **ret_state_dir)
{
	SettingsOptions so = {.config_path = config, .config_only = true};
	_cleanup_(settings_unrefp) Settings *s = NULL;
	_cleanup_free_ char *errors = NULL;
	int r = settings_load(&so, &s, &errors);

	if (r < 0) {
		cli_print_errors(what, r, errors);
		return r;
	}
	r = store_open_at(what, settings_config(s)->state_dir, NULL, readonly, ret);
	if (r < 0)
		return r;
	if (ret_state_dir && !(*ret_state_dir = strdup(settings_config(s)->state_dir))) {
		*ret = st_close(*ret);
		return -ENOMEM;
	}
	return 0;
}

/* A string member of o, printed plain, padded to width (0: none). */
static void column(const cJSON *o, const char *key, int width, const char *none)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	_cleanup_free_ char *c = cJSON_IsString(v) ? text_clean_str(v->valuestring, 0) : NULL;

	printf("%-*s", width, c ? c : none);
}

static void print_human(const cJSON *h)
{
	const cJSON *it, *list = cJSON_GetObjectItemCaseSensitive(h, "history");

	cJSON_ArrayForEach(it, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");

		printf("%6lld  ", cJSON_IsNumber(id) ? (long long)id->valuedouble : 0LL);
		column(it, "timestamp", 0, "?");
		fputs("  ", stdout);
		column(it, "status", 17, "?");
		putchar(' ');
		column(cJSON_GetObjectItemCaseSensitive(it, "error"), "service", 24, "-");
		putchar(' ');
		column(it, "reason", 0, "");
		putchar('\n');
	}
}

/* The store's view in the API's shape: {"status": "success", ...o} or {..., under: o}. */
static cJSON *as_api_reply(cJSON *o, const char *under)
{
	cJSON *top = cJSON_CreateObject(), *c;

	if (!top || !cJSON_AddStringToObject(top, "status", "success")) {
		cJSON_Delete(top);
		cJSON_Delete(o);
		return NULL;
	}
	if (under) {
		cJSON_AddItemToObject(top, under, o);
		return top;
	}
	while ((c = o->child)) {
		cJSON_DetachItemViaPointer(o, c);
		cJSON_AddItemToObject(top, c->string, c);
	}
	cJSON_Delete(o);
	return top;
}

typedef struct HistoryArgs {
	const char *what; /* "history" or "stats" */
	const char *state;
	const char *db; /* --db: this file, read-only, and no daemon asked */
	uint64_t limit, offset;
	bool json;
} HistoryArgs;

static void print_view(const HistoryArgs *h, const cJSON *o)
{
	if (strcmp(h->what, "stats") == 0)
		cli_print_fields(cJSON_GetObjectItemCaseSensitive(o, "statistics"), 0);
	else
		print_human(o);
}

/*
 * The daemon is not running: the same core views, read from the store
 * read-only, so that the record stays at hand when it is most wanted.
 */
static int from_store(const HistoryArgs *h, const CliApi *a)
{
	_cleanup_(st_closep) Store *st = NULL;
	cJSON *o = NULL;
	int r;

	if (!h->db)
		fprintf(stderr,
			"healer %s: the daemon is not running (nothing listens on %s); read from "
			"the store\n",
			h->what, cli_api_listen(a));
	if (store_open_at(h->what, a ? cli_api_state_dir(a) : NULL, h->db, true, &st) < 0)
		return CLI_EXIT_REFUSED;
	r = strcmp(h->what, "stats") == 0
		    ? st_statistics_json(st, &o)
		    : st_history_json(st, h->state, (size_t)h->limit, (size_t)h->offset, &o);
	if (r < 0) {
		fprintf(stderr, "healer %s: %s\n", h->what, st_errmsg(st));
		return CLI_EXIT_REFUSED;
	}
	o = as_api_reply(o, strcmp(h->what, "stats") == 0 ? "statistics" : NULL);
	if (!o) {
		fprintf(stderr, "healer %s: out of memory\n", h->what);
		return CLI_EXIT_REFUSED;
	}
	if (h->json)
		return cli_print_json(o, false) < 0 ? CLI_EXIT_REFUSED : 0;
	print_view(h, o);
	cJSON_Delete(o);
	return 0;
}

int cli_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"state", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},
		{"offset", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"db", required_argument, NULL, 'd'},
		{},
	};
	HistoryArgs h = {.what = strcmp(argv[0], "stats") == 0 ? "stats" : "history", .limit = 50};
	_cleanup_(cli_api_freep) CliApi *a = NULL;
	_cleanup_free_ char *path = NULL;
	const char *config = NULL;
	CliReply rep;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0) {
		if (c != 'c' && c != 'j' && c != 'd' && strcmp(h.what, "stats") == 0)
			c = '?'; /* the history's options */
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			if (at_state_from_name(optarg) < 0) {
				fprintf(stderr, "healer history: unknown state '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			h.state = optarg;
			break;
		case 'l':
		case 'o':
			if (util_parse_u64(optarg, c == 'l' ? 1 : 0,
					   c == 'l' ? ST_HISTORY_MAX : INT32_MAX,
					   c == 'l' ? &h.limit : &h.offset) < 0) {
				fprintf(stderr, "healer history: --%s must be %s\n",
					c == 'l' ? "limit" : "offset",
					c == 'l' ? "1..500" : "a number");
				return CLI_EXIT_USAGE;
			}
			break;
		case 'j':
			h.json = true;
			break;
		case 'd':
			h.db = optarg;
			break;
		default:
			fprintf(stderr, "usage: healer %s\n",
				strcmp(h.what, "stats") == 0
					? "stats [-c CONFIG | --db FILE] [--json]"
					: "history [-c CONFIG | --db FILE] [--state STATE] "
					  "[--limit N] [--offset N] [--json]");
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "healer %s: unexpected argument '%s'\n", h.what, argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (h.db && config) {
		fprintf(stderr, "healer %s: -c and --db exclude each other\n", h.what);
		return CLI_EXIT_USAGE;
	}
	if (h.db)
		return from_store(&h, NULL);
	if (strcmp(h.what, "stats") == 0)
		path = strdup("/api/auto-healer/statistics");
	else if (asprintf(&path, "/api/auto-healer/history?limit=%llu&offset=%llu%s%s",
			  (unsigned long long)h.limit, (unsigned long long)h.offset,
			  h.state ? "&state=" : "", h.state ? h.state : "") < 0)
		path = NULL;
	if (!path)
		return CLI_EXIT_REFUSED;
	if (cli_api_open(h.what, config, &a) < 0)
		return CLI_EXIT_USAGE;
	r = cli_api_request(a, &(CliRequest){.method = "GET", .path = path}, &rep);
	if (r == -ECONNREFUSED)
		return from_store(&h, a);
	if (r < 0 || rep.status != 200 || !cJSON_IsObject(rep.json)) {
		r = cli_api_fail(a, h.what, r, &rep, h.json);
		cli_reply_done(&rep);
		return r;
	}
	if (h.json) {
		fwrite(rep.body, 1, rep.body_len, stdout);
		putchar('\n');
	} else {
		print_view(&h, rep.json);
	}
	cli_reply_done(&rep);
	return 0;
}
