/* SPDX-License-Identifier: MIT */
/*
 * healer serve --db FILE [--listen ADDR] [--token-file PATH]
 *
 * A replay's record (or a copied healer.db) served read-only through the
 * REST API and the dashboard, on a loop of its own: the API's code over
 * the store opened with SQLITE_OPEN_READONLY (api_new_view), so that what
 * a backtest decided can be browsed as a live daemon's history is. Nothing
 * here acts: the routes that would are refused by the API's one gate.
 *
 * The token: --token-file, else FILE.token beside the record (made 0600
 * when missing). Beside it rather than in the state folder, because a
 * replay has none and its record may live anywhere; one record keeps one
 * token across sessions, and whoever may read the record's folder finds
 * it there.
 *
 * Exit codes: 0 after SIGTERM or SIGINT; 1 the record is refused (missing,
 * not a Healer store, another schema) or the server cannot start (listen,
 * token); 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "common/util.h"
#include "healer/cli/cli.h"
#include "healer/config-value.h"
#include "healer/log.h"
#include "healer/store.h"

#define SERVE_USAGE "usage: healer serve --db FILE [--listen ADDR] [--token-file PATH]\n"

typedef struct ServeArgs {
	const char *db;
	const char *listen;
	const char *token_file;
} ServeArgs;

static int parse_args(int argc, char **argv, ServeArgs *a)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"token-file", required_argument, NULL, 't'},
		{},
	};
	char why[256];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'd':
			a->db = optarg;
			break;
		case 'l':
			a->listen = optarg;
			break;
		case 't':
			a->token_file = optarg;
			break;
		default:
			fputs(SERVE_USAGE, stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "healer serve: unexpected argument '%s'\n%s", argv[optind],
			SERVE_USAGE);
		return -EINVAL;
	}
	if (!a->db || !*a->db) {
		fprintf(stderr, "healer serve: --db FILE is required (a replay's record, as "
				"healer replay --out wrote it)\n" SERVE_USAGE);
		return -EINVAL;
	}
	if (a->listen && !cfg_valid_listen(a->listen, why, sizeof why)) {
		fprintf(stderr, "healer serve: --listen %s: %s\n", a->listen, why);
		return -EINVAL;
	}
	return 0;
}

/*
 * SQLite would take a missing path for an empty database and call anything
 * but a regular file "unable to open": say plainly what is wrong first.
 */
static int check_file(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		int r = -errno;

		fprintf(stderr, "healer serve: %s: %s\n", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr,
			"healer serve: %s: not a regular file (a symbolic link is "
			"not followed)\n",
			path);
		return -EINVAL;
	}
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)userdata;
	log_msg(LOG_INFO, "Stopping (signal %u)", si->ssi_signo);
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void event_unrefp(sd_event **e)
{
	*e = sd_event_unref(*e);
}

int cli_serve(int argc, char **argv)
{
	ServeArgs a = {0};
	_cleanup_(event_unrefp) sd_event *e = NULL;
	_cleanup_(st_closep) Store *st = NULL;
	_cleanup_free_ char *errors = NULL, *token = NULL;
	sigset_t ss;
	int r;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	if (getenv("HEALER_DEBUG"))
		log_set_max_level(LOG_DEBUG);
	if (!a.token_file && asprintf(&token, "%s.token", a.db) < 0)
		return 1;
	if (check_file(a.db) < 0)
		return 1;
	r = st_open_readonly(a.db, &st, &errors);
	if (r < 0) {
		/* The store's message names the file. */
		fprintf(stderr, "healer serve: %s\n", errors ? errors : strerror(-r));
		return 1;
	}
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	r = sd_event_new(&e);
	if (r >= 0)
		r = sigprocmask(SIG_BLOCK, &ss, NULL) < 0 ? -errno : 0;
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, NULL);
	if (r >= 0)
		r = sd_event_add_signal(e, NULL, SIGINT, on_signal, NULL);
	if (r < 0) {
		fprintf(stderr, "healer serve: cannot set up the loop: %s\n", strerror(-r));
		return 1;
	}
	/* Freed before the store and the loop (declared after them). */
	_cleanup_(api_freep) ApiServer *api = NULL;
	ApiViewOptions vo = {
		.event = e,
		.store = st,
		.file = a.db,
		.listen = a.listen ? a.listen : API_VIEW_LISTEN,
		.token_file = a.token_file ? a.token_file : token,
	};
	r = api_new_view(&vo, &api, &errors);
	if (r < 0) {
		fprintf(stderr, "healer serve: %s%s\n", errors ? errors : strerror(-r),
			a.token_file ? ""
				     : " (the token is kept beside the record by default; "
				       "--token-file PATH puts it elsewhere)");
		return 1;
	}
	fprintf(stderr,
		"healer serve: %s, read-only, on %s%s (token in %s); SIGTERM or ^C ends it\n", a.db,
		strncmp(vo.listen, "unix:", 5) == 0 ? "" : "http://", vo.listen, vo.token_file);
	r = sd_event_loop(e);
	if (r < 0) {
		fprintf(stderr, "healer serve: the loop failed: %s\n", strerror(-r));
		return 1;
	}
	return r;
}
