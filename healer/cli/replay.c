/* SPDX-License-Identifier: MIT */
/*
 * healer replay --directory DIR [--since TIME] [--until TIME] [-c CONFIG]
 *               [-w WHITELIST] [--out FILE] [--provider] [--top N] [--json]
 *
 * What would Healer have done here? The daemon's own pipeline (daemon.h,
 * DaemonReplay) over a journal folder an administrator already has, in dry
 * run on the entries' own clock, then a summary: what it read, how each
 * attempt ended, the refusals by reason, the preconditions it could not
 * judge offline, and the fingerprints that folded the most lines. The
 * attempts themselves are in the SQLite file --out names.
 *
 * The offline rules answer unless --provider is given: a model provider
 * would be asked once per analysis (billed, slow, and the text leaves the
 * host), which a backtest of a long journal should not do by surprise.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/text.h"
#include "common/util.h"
#include "healer/cli/cli.h"
#include "healer/daemon.h"
#include "healer/log.h"
#include "healer/store.h"

#define REPLAY_OUT_DEFAULT "healer-replay.db"
#define REPLAY_TOP_DEFAULT 10
#define MESSAGE_SHOWN	   100 /* bytes of a message in the table */

static void json_freep(cJSON **o)
{
	cJSON_Delete(*o);
	*o = NULL;
}

static void utc(uint64_t usec, char *buf, size_t len)
{
	time_t t = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	if (!usec || !gmtime_r(&t, &tm)) {
		(void)util_snprintf(buf, len, "-");
		return;
	}
	(void)util_snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900,
			    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A {name: count} object as indented lines, largest first (ties by name). */
static void print_counts(const char *title, const cJSON *o, const char *none)
{
	const cJSON *items[64];
	size_t n = 0;
	const cJSON *it;

	printf("%s\n", title);
	cJSON_ArrayForEach(it, o)
	{
		if (n < ELEMENTSOF(items) && cJSON_IsNumber(it))
			items[n++] = it;
	}
	if (n == 0) {
		printf("  %s\n", none);
		return;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && (items[k]->valuedouble > items[k - 1]->valuedouble ||
					     (items[k]->valuedouble == items[k - 1]->valuedouble &&
					      strcmp(items[k]->string, items[k - 1]->string) < 0));
		     k--) {
			const cJSON *t = items[k];

			items[k] = items[k - 1];
			items[k - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		printf("  %-22s %8.0f\n", items[i]->string, items[i]->valuedouble);
}

/* Text from the journal or a reason: one line, nothing hidden, cut at max bytes. */
static void print_line(const char *prefix, const char *s, size_t max)
{
	_cleanup_free_ char *c = s ? text_clean(s, strlen(s), max, 0, NULL, NULL) : NULL;

	fputs(prefix, stdout);
	cli_print_clean(stdout, c ? c : "-", false);
	putchar('\n');
}

static void print_fingerprints(const cJSON *fps, const cJSON *rep)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(fps, "fingerprints"), *f;
	double total = num(fps, "total");

	printf("analyses %.0f for %.0f fingerprints (%.2f per fingerprint)\n\n",
	       num(rep, "analyses"), total, total > 0 ? num(rep, "analyses") / total : 0.0);
	printf("top fingerprints by lines\n");
	if (cJSON_GetArraySize(list) == 0)
		printf("  none\n");
	cJSON_ArrayForEach(f, list)
	{
		const char *unit = str(f, "unit"), *ident = str(f, "identifier");
		const char *would = str(f, "would_run_reason");
		char head[160];

		(void)util_snprintf(
			head, sizeof head,
			"  %s  lines %.0f  incidents %.0f  analyses %.0f  would run %.0f  ",
			str(f, "fingerprint") ? str(f, "fingerprint") : "?", num(f, "lines"),
			num(f, "incidents"), num(f, "analyses"), num(f, "would_run"));
		print_line(head, unit ? unit : ident, 64);
		print_line("    message: ", str(f, "message"), MESSAGE_SHOWN);
		if (would)
			print_line("    would run: ", would, ST_REASON_MAX);
		if (!would || strncmp(str(f, "last_reason") ? str(f, "last_reason") : "",
				      "dry run: would have run", 23) != 0) {
			char last[64];

			(void)util_snprintf(last, sizeof last,
					    "    %s: ", would ? "last" : "why not");
			print_line(last, str(f, "last_reason"), ST_REASON_MAX);
		}
	}
}

static void print_summary(const char *dir, const char *out, const char *provider, const cJSON *rep,
			  const cJSON *fps, double seconds)
{
	char first[40], last[40], span[64];
	uint64_t a = (uint64_t)num(rep, "first_entry"), b = (uint64_t)num(rep, "last_entry");
	double entries = num(rep, "entries");

	utc(a, first, sizeof first);
	utc(b, last, sizeof last);
	util_format_timespan(b > a ? (b - a) / USEC_PER_SEC * USEC_PER_SEC : 0, span, sizeof span);
	print_line("replay of ", dir, 4096);
	printf("  entries   %.0f read, from %s to %s (%s of journal time) in %.2f s (%.0f "
	       "entries/s)\n",
	       entries, first, last, span, seconds, seconds > 0 ? entries / seconds : 0.0);
	printf("  provider  %s\n", provider);
	print_line("  record    ", out, 4096);
	printf("  dry run: nothing ran and nothing on this host was asked%s\n\n",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "complete"))
		       ? ""
		       : "; STOPPED EARLY: the summary covers what was read");
	printf("incidents %.0f", num(rep, "incidents"));
	if (num(rep, "incidents_not_stored") > 0)
		printf(" (and %.0f lines outside act_on over the hourly cap, not stored)",
		       num(rep, "incidents_not_stored"));
	printf("\n\n");
	print_counts("attempts by outcome", cJSON_GetObjectItemCaseSensitive(rep, "outcomes"),
		     "none");
	putchar('\n');
	print_counts("refusals by reason", cJSON_GetObjectItemCaseSensitive(rep, "refusals"),
		     "none");
	putchar('\n');
	print_counts("preconditions not judged offline",
		     cJSON_GetObjectItemCaseSensitive(rep, "not_judged"), "none");
	putchar('\n');
	print_fingerprints(fps, rep);
}

/* --since / --until: an absolute time, as journalctl takes it. */
static int parse_time(const char *opt, const char *s, uint64_t *ret)
{
	if (util_parse_timestamp(s, ret) >= 0)
		return 0;
	fprintf(stderr,
		"healer replay: --%s '%s' is not an absolute time: use 'YYYY-MM-DD "
		"[HH:MM[:SS]]' (local time; ' UTC' after it for UTC) or @SECONDS since the "
		"epoch\n",
		opt, s);
	return -EINVAL;
}

typedef struct ReplayArgs {
	DaemonOptions o;
	DaemonReplay rp;
	uint64_t top;
	bool json;
} ReplayArgs;

static int parse_args(int argc, char **argv, ReplayArgs *a)
{
	static const struct option opts[] = {
		{"directory", required_argument, NULL, 'D'},
		{"since", required_argument, NULL, 'S'},
		{"until", required_argument, NULL, 'U'},
		{"config", required_argument, NULL, 'c'},
		{"whitelist", required_argument, NULL, 'w'},
		{"out", required_argument, NULL, 'o'},
		{"provider", no_argument, NULL, 'P'},
		{"top", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	int c;

	a->o.settings.rules_only = true;
	a->rp.out = REPLAY_OUT_DEFAULT;
	a->top = REPLAY_TOP_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:w:o:", opts, NULL)) >= 0) {
		switch (c) {
		case 'D':
			a->rp.directory = optarg;
			break;
		case 'S':
		case 'U':
			if (parse_time(c == 'S' ? "since" : "until", optarg,
				       c == 'S' ? &a->rp.since_usec : &a->rp.until_usec) < 0)
				return -EINVAL;
			break;
		case 'c':
			a->o.settings.config_path = optarg;
			break;
		case 'w':
			a->o.settings.whitelist_path = optarg;
			break;
		case 'o':
			a->rp.out = optarg;
			break;
		case 'P':
			a->o.settings.rules_only = false;
			break;
		case 't':
			if (util_parse_u64(optarg, 0, ST_HISTORY_MAX, &a->top) < 0) {
				fprintf(stderr, "healer replay: --top must be 0..%d\n",
					ST_HISTORY_MAX);
				return -EINVAL;
			}
			break;
		case 'j':
			a->json = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "healer replay: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!a->rp.directory || !*a->rp.directory) {
		fprintf(stderr,
			"healer replay: --directory PATH is required (a folder of journal "
			"files: a copied /var/log/journal, systemd-journal-remote's output)\n");
		return -EINVAL;
	}
	if (a->rp.since_usec && a->rp.until_usec && a->rp.until_usec < a->rp.since_usec) {
		fprintf(stderr, "healer replay: --until is before --since\n");
		return -EINVAL;
	}
	a->o.replay = &a->rp;
	return 0;
}

/* Who answered: the rules, or the provider the config names (--provider). */
static void provider_line(Daemon *d, bool rules_only, char *buf, size_t len)
{
	const Config *c = settings_config(daemon_settings(d));
	const char *key_missing = settings_key_missing(daemon_settings(d));

	if (rules_only)
		(void)util_snprintf(buf, len,
				    "rules (offline; --provider asks the provider healer.conf "
				    "names, once per analysis)");
	else if (c->provider == CFG_PROVIDER_RULES || key_missing)
		(void)util_snprintf(buf, len, "rules%s%s", key_missing ? ": " : "",
				    key_missing ? key_missing : "");
	else
		(void)util_snprintf(buf, len, "%s, model %s (asked once per analysis)",
				    cfg_provider_name(c->provider), c->model ? c->model : "?");
}

static int report(Daemon *d, const ReplayArgs *a, double seconds)
{
	_cleanup_(json_freep) cJSON *rep = daemon_replay_json(d), *fps = NULL;
	char provider[256];
	int r;

	if (!rep) {
		fprintf(stderr, "healer replay: out of memory\n");
		return 1;
	}
	r = st_fingerprints_json(daemon_store(d), (size_t)a->top, &fps);
	if (r < 0) {
		fprintf(stderr, "healer replay: reading %s failed: %s\n", a->rp.out,
			st_errmsg(daemon_store(d)));
		return 1;
	}
	provider_line(d, a->o.settings.rules_only, provider, sizeof provider);
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddStringToObject(o, "directory", a->rp.directory) ||
		    !cJSON_AddStringToObject(o, "out", a->rp.out) ||
		    !cJSON_AddStringToObject(o, "provider", provider) ||
		    !cJSON_AddNumberToObject(o, "seconds", seconds)) {
			cJSON_Delete(o);
			return 1;
		}
		cJSON_AddItemToObject(o, "replay", TAKE_PTR(rep));
		cJSON_AddItemToObject(o, "fingerprints", TAKE_PTR(fps));
		return cli_print_json(o, true) < 0 ? 1 : 0;
	}
	print_summary(a->rp.directory, a->rp.out, provider, rep, fps, seconds);
	return 0;
}

int cli_replay(int argc, char **argv)
{
	ReplayArgs a = {0};
	_cleanup_(daemon_freep) Daemon *d = NULL;
	_cleanup_free_ char *errors = NULL;
	uint64_t t0;
	int r, rc;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	/* Every attempt's steps are on record in --out; the terminal gets the summary. */
	log_set_max_level(getenv("HEALER_DEBUG") ? LOG_DEBUG : LOG_ERR);
	t0 = util_now_usec();
	r = daemon_new(&a.o, &d, &errors);
	if (r < 0) {
		cli_print_errors("healer replay", r, errors);
		return 1;
	}
	rc = daemon_run(d);
	r = report(d, &a, (double)(util_now_usec() - t0) / USEC_PER_SEC);
	if (rc == 0) {
		_cleanup_(json_freep) cJSON *rep = daemon_replay_json(d);

		if (!rep || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "complete")))
			rc = 1;
	}
	return rc ? rc : r;
}
