/* SPDX-License-Identifier: MIT */
/*
 * healer whitelist check [FILE]
 * healer whitelist test [-w FILE] (--reply FILE | --command TEXT) [--unit UNIT] [--json]
 * healer whitelist show [FILE]
 *
 * `test` runs nothing: it shows what a reply would be allowed to run.
 * Exit codes: 0 OK/accept, 1 errors/reject, 2 usage or unreadable whitelist.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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

static int cmd_show(int argc, char **argv)
{
	_cleanup_(wl_freep) Whitelist *wl = NULL;
	const char *path = argc > 1 ? argv[1] : NULL;

	if (argc > 2) {
		fprintf(stderr, "usage: healer whitelist show [FILE]\n");
		return 2;
	}
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

int cli_whitelist(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return cmd_test(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	fprintf(stderr, "usage: healer whitelist check|test|show ...\n");
	return 2;
}
