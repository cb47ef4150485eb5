/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the reply parser and, through the example whitelist, the vetting of
 * whatever it proposes. Checks the one invariant that matters: a refused
 * plan holds no command, and every allowed argv starts with an absolute path.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "healer/plan.h"
#include "healer/view.h"

static const char whitelist_text[] =
	"[healer]\nprotect = ssh.service\nmax_commands = 5\nunit_dirs = /nonexistent\n"
	"[action restart_service]\nmatch = systemctl restart {unit}\n"
	"exec = /usr/bin/systemctl --no-pager --no-ask-password restart -- {unit}\n"
	"param unit = unit [A-Za-z0-9][A-Za-z0-9@_.:-]*\\.service\n"
	"[action fix]\nmatch = chmod +x {path}\nbuiltin = chmod-x {path}\n"
	"param path = path /nonexistent/[a-z]+\n"
	"[action vac]\nmatch = journalctl --vacuum-size={size}M\n"
	"exec = /usr/bin/journalctl --vacuum-size={size}M\nparam size = text [0-9]{1,4}\n"
	"[action clear_cache]\nmatch = sysctl -w vm.drop_caches=3\nbuiltin = drop-caches\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static Whitelist *wl;
	Plan *plan = NULL;

	if (!wl && wl_parse("fuzz", whitelist_text, sizeof whitelist_text - 1, &wl, NULL) < 0)
		abort();
	static const WlVetOptions any = {.allow_any_unit = true};

	if (plan_vet_reply(wl, (const char *)data, size, &any, &plan) < 0)
		return 0;
	if (!plan->accepted && plan->n_commands != 0)
		abort();
	for (size_t i = 0; i < plan->n_commands; i++) {
		char **argv = plan->commands[i]->argv;

		if (argv && argv[0][0] != '/')
			abort();
		for (size_t k = 0; argv && argv[k]; k++)
			for (const char *c = argv[k]; *c; c++)
				if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
					abort();
	}
	cJSON_Delete(view_plan(plan));
	plan_free(plan);
	return 0;
}
