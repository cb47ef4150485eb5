/* SPDX-License-Identifier: MIT */
/*
 * healer analyze [-c CONFIG] [-w WHITELIST] --unit UNIT --message TEXT
 *                [--priority PRIO] [--context-file FILE] [--json]
 *
 * One analysis with the configured provider, its reply vetted by the
 * whitelist exactly as the daemon would; runs nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "healer/analyze.h"
#include "healer/cli/cli.h"
#include "healer/settings.h"
#include "healer/view.h"
#include "journal/journal.h"

#define CONTEXT_FILE_MAX (64 * 1024)

typedef struct AnalyzeArgs {
	const char *config, *whitelist, *unit, *message, *context_file;
	int priority;
	bool json;
} AnalyzeArgs;

typedef struct Wait {
	Analysis *a;
	bool done;
} Wait;

static void on_done(Analysis *a, void *userdata)
{
	Wait *w = userdata;

	w->a = a;
	w->done = true;
}

/*
 * The non-empty lines of a file, capped at JR_CONTEXT_MAX: the last ones,
 * nearest the error, as the journal's context is. *ret_dropped tells how
 * many earlier lines were left out. The core cleans the text.
 */
static int read_context(const char *path, char ***ret, size_t *ret_n, size_t *ret_dropped)
{
	_cleanup_free_ char *buf = NULL;
	char **v;
	size_t len, n = 0, total = 0, skip;
	int r = util_read_file(path, CONTEXT_FILE_MAX, &buf, &len);

	if (r < 0)
		return r;
	for (size_t i = 0; i < len; i++)
		total += buf[i] != '\n' && (i + 1 == len || buf[i + 1] == '\n');
	skip = total > JR_CONTEXT_MAX ? total - JR_CONTEXT_MAX : 0;
	v = calloc(JR_CONTEXT_MAX + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (char *l = buf, *nl; l < buf + len; l = nl) {
		nl = memchr(l, '\n', (size_t)(buf + len - l));
		if (nl)
			*nl++ = '\0';
		else
			nl = buf + len;
		if (!*l)
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		if (!(v[n++] = strdup(l))) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	*ret_n = n;
	*ret_dropped = total > JR_CONTEXT_MAX ? total - JR_CONTEXT_MAX : 0;
	return 0;
}

/* One analysis on a private loop, waited for. */
static int analyze_once(Settings *s, const AnalyzeInput *in, Analysis **ret)
{
	_cleanup_(analyzer_unrefp) Analyzer *an = NULL;
	sd_event *ev = NULL;
	Wait w = {0};
	int r = sd_event_new(&ev);

	if (r >= 0)
		r = analyzer_new(ev, s, &an);
	if (r >= 0)
		r = analyze_start(an, in, on_done, &w, NULL);
	while (r >= 0 && !w.done)
		r = sd_event_run(ev, UINT64_MAX);
	an = analyzer_unref(an);
	sd_event_unref(ev);
	if (r >= 0 && !w.a)
		r = -ENOMEM;
	if (r < 0) {
		analysis_free(w.a);
		return r;
	}
	*ret = w.a;
	return 0;
}

static int run(const AnalyzeArgs *args)
{
	SettingsOptions so = {.config_path = args->config, .whitelist_path = args->whitelist};
	_cleanup_(settings_unrefp) Settings *s = NULL;
	_cleanup_(analysis_freep) Analysis *a = NULL;
	_cleanup_free_ char *errors = NULL;
	char **ctx = NULL;
	size_t n_ctx = 0, dropped = 0;
	int r = settings_load(&so, &s, &errors);

	if (r < 0) {
		cli_print_errors("healer", r, errors);
		return 2;
	}
	if (args->context_file) {
		r = read_context(args->context_file, &ctx, &n_ctx, &dropped);
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", args->context_file,
				r == -E2BIG ? "over the 64 KiB cap" : strerror(-r));
			return 2;
		}
		if (dropped > 0)
			fprintf(stderr,
				"healer: %s: the first %zu lines left out; the last %d are sent\n",
				args->context_file, dropped, JR_CONTEXT_MAX);
	}
	{
		AnalyzeInput in = {.unit = args->unit,
				   .priority = args->priority,
				   .message = args->message,
				   .count = 1,
				   .context = (const char *const *)ctx,
				   .n_context = n_ctx};

		r = analyze_once(s, &in, &a);
	}
	strv_free(ctx);
	if (r < 0) {
		fprintf(stderr, "healer: analysis failed: %s\n", strerror(-r));
		return 2;
	}
	if (args->json)
		r = cli_print_json(view_analysis(a), false);
	else
		cli_print_analysis(a);
	cli_print_fault(a);
	if (r < 0)
		return 2;
	return a->plan->accepted ? 0 : 1;
}

int cli_analyze(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"whitelist", required_argument, NULL, 'w'},
		{"unit", required_argument, NULL, 'u'},
		{"message", required_argument, NULL, 'm'},
		{"priority", required_argument, NULL, 'p'},
		{"context-file", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	AnalyzeArgs a = {.priority = 3};
	_cleanup_free_ char *unit = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:w:u:m:p:C:j", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			a.config = optarg;
			break;
		case 'w':
			a.whitelist = optarg;
			break;
		case 'u':
			a.unit = optarg;
			break;
		case 'm':
			a.message = optarg;
			break;
		case 'p':
			a.priority = jr_priority_from_string(optarg);
			if (a.priority < 0)
				goto usage;
			break;
		case 'C':
			a.context_file = optarg;
			break;
		case 'j':
			a.json = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || !a.unit || !a.message || strlen(a.message) > 65536 ||
	    strlen(a.unit) > 256)
		goto usage;
	/* "nginx" is nginx.service, as systemctl reads it and the journal names it. */
	unit = wl_unit_mangle(a.unit);
	if (!unit)
		return 2;
	a.unit = unit;
	r = run(&a);
	if (r < 0) {
		fprintf(stderr, "healer: %s\n", strerror(-r));
		return 2;
	}
	return r;
usage:
	fprintf(stderr, "usage: healer analyze [-c CONFIG] [-w WHITELIST] --unit UNIT --message "
			"TEXT [--priority PRIO] [--context-file FILE] [--json]\n");
	return 2;
}
