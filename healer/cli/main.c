/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "healer/cli/cli.h"

static int usage(FILE *f)
{
	fprintf(f,
		"usage: healer COMMAND ...\n"
		"  whitelist check [FILE]         validate a whitelist; prints OK\n"
		"  whitelist test [-w FILE] (--reply FILE | --command TEXT) [--unit UNIT] "
		"[--json]\n"
		"                                 show what a reply may run (runs nothing)\n"
		"  whitelist show --local [FILE] | -w FILE\n"
		"                                 list the allowed actions of a whitelist file\n"
		"  journal scan [--directory DIR | --file FILE... | --namespace NAME]\n"
		"               [--since SPAN | --all] [--priority PRIO] [--window SPAN] [--json]\n"
		"                                 print the incidents the journal holds now\n"
		"  analyze [-c CONFIG] [-w WHITELIST] --unit UNIT --message TEXT\n"
		"          [--priority PRIO] [--context-file FILE] [--json]\n"
		"                                 one analysis, vetted; runs nothing\n"
		"  builtin chmod-x PATH | drop-caches\n"
		"                                 run a whitelist builtin, as the daemon does in a "
		"child\n"
		"  run [-c CONFIG] [-w WHITELIST] [--check]\n"
		"                                 the daemon; --check validates everything and "
		"prints OK\n"
		"  replay --directory DIR [--since TIME] [--until TIME] [-c CONFIG] [-w "
		"WHITELIST]\n"
		"         [--out FILE] [--provider] [--top N] [--json]\n"
		"                                 what Healer would have done over a journal "
		"(dry run)\n"
		"  serve --db FILE [--listen ADDR] [--token-file PATH]\n"
		"                                 a replay's record, read-only, through the API "
		"and\n"
		"                                 the dashboard (127.0.0.1:8098; exit 1 refused)\n"
		"  escalations [-c CONFIG]        what waits for an administrator\n"
		"  clear [-c CONFIG] ID           clear an escalation: attempts resume\n"
		"  version                        print the version\n"
		"Asking the running daemon (its REST API; -c CONFIG names healer.conf, --json\n"
		"prints the API's reply; exit 1 refused, 2 usage, 3 daemon not reachable):\n"
		"  status                         what the daemon is doing\n"
		"  history [--state STATE] [--limit N] [--offset N] [--db FILE]\n"
		"  stats                          what the daemon recorded (from the store when "
		"it is down)\n"
		"  heal --message TEXT [--service UNIT] [--level LEVEL] [--wait SECONDS]\n"
		"                                 report an error for the daemon to heal\n"
		"  inject --message TEXT [--service UNIT] [--level LEVEL] [--source "
		"journal|direct]\n"
		"                                 a test error, through the journal\n"
		"  approve|reject ID              decide on an attempt awaiting approval\n"
		"  enable|disable                 turn automatic healing on or off\n"
		"  whitelist show                 the live whitelist, with its etag\n"
		"  whitelist put [--etag ETAG] FILE\n"
		"                                 replace the live whitelist (checked first)\n");
	return f == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "whitelist") == 0)
		return cli_whitelist(argc - 1, argv + 1);
	if (strcmp(argv[1], "analyze") == 0)
		return cli_analyze(argc - 1, argv + 1);
	if (strcmp(argv[1], "builtin") == 0)
		return cli_builtin(argc - 1, argv + 1);
	if (strcmp(argv[1], "journal") == 0)
		return cli_journal(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0) {
		printf("healer %s\n", HEALER_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout);
	if (strcmp(argv[1], "run") == 0)
		return cli_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cli_replay(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cli_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "escalations") == 0 || strcmp(argv[1], "clear") == 0)
		return cli_escalations(argc - 1, argv + 1);
	if (strcmp(argv[1], "history") == 0 || strcmp(argv[1], "stats") == 0)
		return cli_history(argc - 1, argv + 1);
	if (strcmp(argv[1], "approve") == 0 || strcmp(argv[1], "reject") == 0)
		return cli_decide(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return cli_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "heal") == 0 || strcmp(argv[1], "inject") == 0)
		return cli_heal(argc - 1, argv + 1);
	if (strcmp(argv[1], "enable") == 0 || strcmp(argv[1], "disable") == 0)
		return cli_switch(argc - 1, argv + 1);
	fprintf(stderr, "healer: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
