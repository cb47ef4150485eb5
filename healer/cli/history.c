/* SPDX-License-Identifier: MIT */
/*
 * healer history [-c CONFIG] [--state STATE] [--limit N] [--offset N] [--json]
 * healer stats [-c CONFIG]
 *
 * Reads the store read-only, beside a running daemon (WAL lets both work);
 * the shapes are the store's JSON views, which the REST API serves too.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "healer/cli/cli.h"
#include "healer/settings.h"
#include "healer/store.h"

int cli_open_store(const char *what, const char *config, bool readonly, Store **ret,
		   char **ret_state_dir)
{
	SettingsOptions so = {.config_path = config, .config_only = true};
	_cleanup_(settings_unrefp) Settings *s = NULL;
	_cleanup_free_ char *errors = NULL, *db = NULL;
	int r = settings_load(&so, &s, &errors);

	if (r < 0) {
		cli_print_errors(what, r, errors);
		return r;
	}
	if (asprintf(&db, "%s/healer.db", settings_config(s)->state_dir) < 0)
		return -ENOMEM;
	free(errors);
	errors = NULL;
	r = readonly ? st_open_readonly(db, ret, &errors) : st_open(db, ret, &errors);
	if (r < 0) {
		fprintf(stderr, "healer %s: %s: %s\n", what, db, errors ? errors : strerror(-r));
		return r;
	}
	if (ret_state_dir && !(*ret_state_dir = strdup(settings_config(s)->state_dir))) {
		*ret = st_close(*ret);
		return -ENOMEM;
	}
	return 0;
}

static void print_human(const cJSON *h)
{
	const cJSON *it, *list = cJSON_GetObjectItemCaseSensitive(h, "history");

	cJSON_ArrayForEach(it, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(it, "timestamp");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
		const cJSON *rs = cJSON_GetObjectItemCaseSensitive(it, "reason");
		const cJSON *er = cJSON_GetObjectItemCaseSensitive(it, "error");
		const cJSON *sv = cJSON_GetObjectItemCaseSensitive(er, "service");

		printf("%6.0f  %s  %-17s %-24s %s\n", cJSON_IsNumber(id) ? id->valuedouble : 0,
		       cJSON_IsString(ts) ? ts->valuestring : "?",
		       cJSON_IsString(st) ? st->valuestring : "?",
		       cJSON_IsString(sv) ? sv->valuestring : "-",
		       cJSON_IsString(rs) ? rs->valuestring : "");
	}
}

int cli_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"state", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},  {"offset", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},	  {},
	};
	const char *config = NULL, *state = NULL;
	uint64_t limit = 50, offset = 0;
	bool json = false, stats = strcmp(argv[0], "stats") == 0;
	_cleanup_(st_closep) Store *st = NULL;
	cJSON *o = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			if (at_state_from_name(optarg) < 0) {
				fprintf(stderr, "healer history: unknown state '%s'\n", optarg);
				return 2;
			}
			state = optarg;
			break;
		case 'l':
		case 'o':
			if (util_parse_u64(optarg, c == 'l' ? 1 : 0,
					   c == 'l' ? ST_HISTORY_MAX : INT32_MAX,
					   c == 'l' ? &limit : &offset) < 0) {
				fprintf(stderr, "healer history: --%s must be %s\n",
					c == 'l' ? "limit" : "offset",
					c == 'l' ? "1..500" : "a number");
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "healer %s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return 2;
	}
	if (cli_open_store(argv[0], config, true, &st, NULL) < 0)
		return 1;
	r = stats ? st_statistics_json(st, &o)
		  : st_history_json(st, state, (size_t)limit, (size_t)offset, &o);
	if (r < 0) {
		fprintf(stderr, "healer %s: %s\n", argv[0], st_errmsg(st));
		return 1;
	}
	if (json || stats)
		return cli_print_json(o, true) < 0 ? 1 : 0;
	print_human(o);
	cJSON_Delete(o);
	return 0;
}
