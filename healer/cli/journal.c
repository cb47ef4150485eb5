/* SPDX-License-Identifier: MIT */
/*
 * healer journal scan [--directory DIR | --file FILE... | --namespace NAME]
 *                     [--since SPAN | --all] [--priority PRIO] [--window SPAN] [--json]
 *
 * Reads what the journal holds now (no follow) and prints the incidents the
 * daemon would open from it.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "healer/cli/cli.h"
#include "healer/follow.h"
#include "healer/incident.h"
#include "journal/journal.h"

#define SCAN_MAX_INCIDENTS 100000

static void rfc3339(uint64_t usec, char *buf, size_t len)
{
	time_t s = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	gmtime_r(&s, &tm);
	(void)util_snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRIu64 "Z",
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			    tm.tm_sec, (uint64_t)(usec % USEC_PER_SEC));
}

static int print_json(const Incident *i)
{
	cJSON *o = cJSON_CreateObject();
	char fp[17], first[40], last[40];
	char *s;

	if (!o)
		return -ENOMEM;
	(void)util_snprintf(fp, sizeof fp, "%016" PRIx64, i->fingerprint);
	rfc3339(i->first_seen, first, sizeof first);
	rfc3339(i->last_seen, last, sizeof last);
	cJSON_AddStringToObject(o, "fingerprint", fp);
	if (i->unit)
		cJSON_AddStringToObject(o, "unit", i->unit);
	else
		cJSON_AddNullToObject(o, "unit");
	if (i->identifier)
		cJSON_AddStringToObject(o, "identifier", i->identifier);
	else
		cJSON_AddNullToObject(o, "identifier");
	cJSON_AddNumberToObject(o, "priority", i->priority);
	cJSON_AddStringToObject(o, "message", i->message);
	cJSON_AddBoolToObject(o, "message_truncated", i->message_truncated);
	cJSON_AddStringToObject(o, "first_seen", first);
	cJSON_AddStringToObject(o, "last_seen", last);
	cJSON_AddNumberToObject(o, "count", (double)i->count);
	cJSON_AddStringToObject(o, "cursor", i->last_cursor ? i->last_cursor : "");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		return -ENOMEM;
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
	return 0;
}

/* Identifier and unit are untrusted or at least foreign: keep them printable. */
static void print_text(const Incident *i)
{
	char first[40];

	rfc3339(i->first_seen, first, sizeof first);
	printf("%016" PRIx64 " %s x%" PRIu64 " <%d> %s %s: %s\n", i->fingerprint, first, i->count,
	       i->priority, i->unit ? i->unit : "-", i->identifier ? i->identifier : "-",
	       i->message);
}

static void open_hint(const JrOpenOptions *o, int r)
{
	switch (o->source) {
	case JR_SOURCE_DIRECTORY:
		fprintf(stderr,
			"healer: cannot open journal directory '%s': %s (check --directory)\n",
			o->directory, strerror(-r));
		break;
	case JR_SOURCE_FILES:
		fprintf(stderr, "healer: cannot open journal files: %s (check each --file)\n",
			strerror(-r));
		break;
	case JR_SOURCE_NAMESPACE:
		fprintf(stderr, "healer: cannot open journal namespace '%s': %s\n",
			o->namespace_name, strerror(-r));
		break;
	default:
		fprintf(stderr,
			"healer: cannot open the system journal: %s (run as root or as a "
			"member of the systemd-journal group)\n",
			strerror(-r));
	}
}

static int scan(const JrOpenOptions *o, bool all, uint64_t since, uint64_t window, bool json)
{
	_cleanup_(jr_freep) JrReader *r = NULL;
	_cleanup_(inc_table_freep) IncidentTable *t = inc_table_new(window, SCAN_MAX_INCIDENTS);
	uint64_t t0 = util_now_usec(), entries = 0, own = 0;
	int k;

	if (!t)
		return -ENOMEM;
	k = jr_open(o, &r);
	if (k < 0) {
		open_hint(o, k);
		return 1;
	}
	if (all) {
		k = jr_seek_head(r);
	} else {
		uint64_t now = util_realtime_usec();

		k = jr_seek_realtime(r, now > since ? now - since : 0);
	}
	while (k >= 0) {
		JrEntry e;

		k = jr_next(r, &e);
		if (k <= 0)
			break;
		entries++;
		if (fl_is_own_line(&e, NULL, NULL))
			own++;
		else
			k = inc_table_add(t, &e, NULL);
		jr_entry_done(&e);
		if (k == -E2BIG)
			k = 0;
	}
	if (k < 0) {
		fprintf(stderr, "healer: reading the journal failed: %s\n", strerror(-k));
		return 1;
	}
	for (size_t i = 0; i < inc_table_size(t); i++) {
		if (json) {
			if (print_json(inc_table_get(t, i)) < 0)
				return -ENOMEM;
		} else {
			print_text(inc_table_get(t, i));
		}
	}
	fflush(stdout);
	fprintf(stderr,
		"journal scan: %" PRIu64 " entries read, %zu incidents, %" PRIu64
		" own lines skipped, %.3f s\n",
		entries, inc_table_size(t), own, (double)(util_now_usec() - t0) / 1e6);
	if (inc_table_dropped(t) > 0)
		fprintf(stderr,
			"journal scan: %" PRIu64 " entries dropped: more than %d incidents\n",
			inc_table_dropped(t), SCAN_MAX_INCIDENTS);
	return 0;
}

static int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"directory", required_argument, NULL, 'D'},
		{"file", required_argument, NULL, 'f'},
		{"namespace", required_argument, NULL, 'N'},
		{"since", required_argument, NULL, 'S'},
		{"all", no_argument, NULL, 'a'},
		{"priority", required_argument, NULL, 'p'},
		{"window", required_argument, NULL, 'W'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	const char *files[JR_MAX_FILES + 1] = {0};
	JrOpenOptions o = {.source = JR_SOURCE_SYSTEM, .max_priority = 3};
	uint64_t since = 5 * USEC_PER_MINUTE, window = 10 * USEC_PER_MINUTE;
	size_t n_files = 0;
	bool all = false, json = false, since_set = false;
	int c, sources = 0, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "D:f:N:S:ap:W:j", opts, NULL)) >= 0) {
		switch (c) {
		case 'D':
			o.source = JR_SOURCE_DIRECTORY;
			o.directory = optarg;
			sources++;
			break;
		case 'f':
			if (n_files == JR_MAX_FILES) {
				fprintf(stderr, "healer: more than %d --file\n", JR_MAX_FILES);
				return 2;
			}
			if (n_files == 0)
				sources++;
			o.source = JR_SOURCE_FILES;
			files[n_files++] = optarg;
			break;
		case 'N':
			o.source = JR_SOURCE_NAMESPACE;
			o.namespace_name = optarg;
			sources++;
			break;
		case 'S':
			if (util_parse_timespan(optarg, &since) < 0) {
				fprintf(stderr,
					"healer: --since '%s' is not a time span (e.g. 10min)\n",
					optarg);
				return 2;
			}
			since_set = true;
			break;
		case 'a':
			all = true;
			break;
		case 'p':
			r = jr_priority_from_string(optarg);
			if (r < 0) {
				fprintf(stderr,
					"healer: --priority '%s' is not a priority (emerg, "
					"alert, crit, err, warning, notice, info, debug)\n",
					optarg);
				return 2;
			}
			o.max_priority = r;
			break;
		case 'W':
			if (util_parse_timespan(optarg, &window) < 0 || window == 0) {
				fprintf(stderr, "healer: --window '%s' is not a time span\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		default:
			goto usage;
		}
	}
	/* Files may also follow the options: --file A B C. */
	for (; optind < argc && o.source == JR_SOURCE_FILES; optind++) {
		if (n_files == JR_MAX_FILES) {
			fprintf(stderr, "healer: more than %d journal files\n", JR_MAX_FILES);
			return 2;
		}
		files[n_files++] = argv[optind];
	}
	if (optind != argc || sources > 1 || (all && since_set))
		goto usage;
	o.files = files;
	r = scan(&o, all, since, window, json);
	if (r < 0) {
		fprintf(stderr, "healer: %s\n", strerror(-r));
		return 1;
	}
	return r;
usage:
	fprintf(stderr,
		"usage: healer journal scan [--directory DIR | --file FILE... | "
		"--namespace NAME] [--since SPAN | --all] [--priority PRIO] [--window SPAN] "
		"[--json]\n");
	return 2;
}

int cli_journal(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "scan") == 0)
		return cmd_scan(argc - 1, argv + 1);
	fprintf(stderr, "usage: healer journal scan ...\n");
	return 2;
}
