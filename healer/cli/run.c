/* SPDX-License-Identifier: MIT */
/*
 * healer run [-c CONFIG] [-w WHITELIST] [--check]
 * healer escalations [-c CONFIG] | healer clear [-c CONFIG] ID
 *
 * run starts the daemon (or, with --check, validates everything it would
 * load and prints OK). clear records in the store and wakes the daemon
 * with SIGUSR1, after making sure the pid file names a healer process: a
 * stale pid must never get a signal. (approve and reject go through the
 * REST API: cli/remote.c.)
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "healer/cli/cli.h"
#include "api/api.h"
#include "healer/daemon.h"
#include "healer/log.h"
#include "healer/store.h"

static int run_check(const SettingsOptions *so)
{
	_cleanup_(settings_unrefp) Settings *s = NULL;
	_cleanup_free_ char *errors = NULL;
	int r = settings_load(so, &s, &errors);

	if (r < 0) {
		cli_print_errors("healer run --check", r, errors);
		return 1;
	}
	cfg_dump(settings_config(s), stdout);
	printf("whitelist: %s (%zu actions)\n", settings_whitelist_source(s),
	       wl_n_actions(settings_whitelist(s)));
	if (settings_key_missing(s))
		printf("note: %s\n", settings_key_missing(s));
	printf("OK\n");
	return 0;
}

int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"whitelist", required_argument, NULL, 'w'},
		{"check", no_argument, NULL, 'k'},
		{"cgroup", required_argument, NULL, 'g'},
		{"no-bus", no_argument, NULL, 'B'},
		{},
	};
	DaemonOptions o = {0};
	_cleanup_(daemon_freep) Daemon *d = NULL;
	_cleanup_free_ char *errors = NULL;
	bool check = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:w:", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o.settings.config_path = optarg;
			break;
		case 'w':
			o.settings.whitelist_path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'g':
			o.cgroup_parent = optarg;
			break;
		case 'B':
			o.no_bus = true;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "healer run: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (getenv("HEALER_DEBUG"))
		log_set_max_level(LOG_DEBUG);
	if (check)
		return run_check(&o.settings);
	r = daemon_new(&o, &d, &errors);
	if (r < 0) {
		cli_print_errors("healer run", r, errors);
		return 1;
	}
	/* Freed before the daemon (declared after it): its requests hold waiters there. */
	_cleanup_(api_freep) ApiServer *api = NULL;
	r = api_new(d, &api, &errors);
	if (r < 0) {
		cli_print_errors("healer run", r, errors);
		return 1;
	}
	return daemon_run(d);
}

/* Whether pid is a running healer: its comm, so that a stale pid file never aims a signal. */
static bool is_healer(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	(void)snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "healer") == 0;
}

static void wake_daemon(const char *state_dir)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	uint64_t pid;
	size_t len;

	if (asprintf(&path, "%s/healer.pid", state_dir) < 0 ||
	    util_read_file(path, 32, &buf, &len) < 0) {
		printf("no daemon is running; it reads this when it starts\n");
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (util_parse_u64(buf, 2, 4194304, &pid) < 0 || !is_healer((pid_t)pid) ||
	    kill((pid_t)pid, SIGUSR1) < 0) {
		printf("no daemon is running; it reads this when it starts\n");
		return;
	}
	printf("daemon %llu told\n", (unsigned long long)pid);
}

/*
 * healer escalations [-c CONFIG]: what is escalated (JSON lines).
 * healer clear [-c CONFIG] ID: clears one, so that automatic attempts resume.
 */
int cli_escalations(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{},
	};
	bool clear = strcmp(argv[0], "clear") == 0;
	const char *config = NULL;
	_cleanup_(st_closep) Store *st = NULL;
	_cleanup_free_ char *state_dir = NULL;
	StEscalation *v = NULL;
	uint64_t id = 0;
	size_t n = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) >= 0) {
		if (c != 'c')
			return 2;
		config = optarg;
	}
	if ((clear &&
	     (optind + 1 != argc || util_parse_u64(argv[optind], 1, INT64_MAX, &id) < 0)) ||
	    (!clear && optind != argc)) {
		fprintf(stderr,
			"usage: healer escalations [-c CONFIG] | healer clear [-c CONFIG] ID\n");
		return 2;
	}
	if (cli_open_store(argv[0], config, false, &st, &state_dir) < 0)
		return 1;
	if (clear) {
		char detail[64];

		r = st_escalation_clear(st, (int64_t)id);
		if (r < 0) {
			fprintf(stderr, "healer clear: no escalation %llu\n",
				(unsigned long long)id);
			return 1;
		}
		(void)snprintf(detail, sizeof detail, "escalation %llu", (unsigned long long)id);
		(void)st_audit(st, "cli", "clear", detail, util_now_usec());
		printf("escalation %llu cleared\n", (unsigned long long)id);
		wake_daemon(state_dir);
		return 0;
	}
	if (st_escalations(st, &v, &n) < 0) {
		fprintf(stderr, "healer escalations: %s\n", st_errmsg(st));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		char fp[17];

		(void)snprintf(fp, sizeof fp, "%016llx", (unsigned long long)v[i].fingerprint);
		if (!o || !cJSON_AddNumberToObject(o, "id", (double)v[i].id) ||
		    !cJSON_AddStringToObject(o, "fingerprint", fp) ||
		    !(v[i].unit ? cJSON_AddStringToObject(o, "unit", v[i].unit)
				: cJSON_AddNullToObject(o, "unit")) ||
		    !cJSON_AddStringToObject(o, "reason", v[i].reason ? v[i].reason : "")) {
			cJSON_Delete(o);
			st_escalations_free(v, n);
			return 1;
		}
		(void)cli_print_json(o, false);
	}
	st_escalations_free(v, n);
	return 0;
}
