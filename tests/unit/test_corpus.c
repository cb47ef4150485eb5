/* SPDX-License-Identifier: MIT */
/*
 * Replays every case of tests/data/replies/ (format in its README) through
 * the reply parser and the whitelist, and compares verdict and argv.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "fixture.h"
#include "healer/plan.h"

#define SEPARATOR "--- reply ---\n"

static Whitelist *wl;
static unsigned n_accept, n_reject;

static char *argv_line(const WlCommand *c)
{
	char buf[8192];
	size_t n = 0;

	buf[0] = '\0';
	if (c->argv) {
		for (char **a = c->argv; *a; a++)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? " " : "", *a);
	} else {
		n += (size_t)snprintf(buf, sizeof buf, "builtin:%s", wl_builtin_name(c->builtin));
		if (c->builtin_path)
			snprintf(buf + n, sizeof buf - n, " %s", c->builtin_path);
	}
	return strdup(buf);
}

static void run_case(const char *dir, const char *name)
{
	char path[1024], *buf = NULL, *sep, *expected[32], *evidence = NULL;
	size_t len, n_expected = 0;
	int want_accept = -1;
	Plan *plan = NULL;
	WlVetOptions vo = {0};

	harness_current = name;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (util_read_file(path, 1 << 20, &buf, &len) < 0) {
		CHECK_(0, "cannot read %s", path);
		return;
	}
	sep = memmem(buf, len, SEPARATOR, strlen(SEPARATOR));
	if (!sep) {
		CHECK_(0, "%s: no '--- reply ---' line", name);
		free(buf);
		return;
	}
	*sep = '\0';
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "verdict: ", 9) == 0)
			want_accept = strcmp(line + 9, "accept") == 0	? 1
				      : strcmp(line + 9, "reject") == 0 ? 0
									: -1;
		else if (strncmp(line, "argv: ", 6) == 0 && n_expected < 32)
			expected[n_expected++] = fixture_subst(line + 6, strlen(line + 6), NULL);
		else if (strncmp(line, "evidence-unit: ", 15) == 0)
			evidence = line + 15;
	}
	CHECK_(want_accept >= 0, "%s: no valid verdict line", name);
	{
		const char *reply = sep + strlen(SEPARATOR);
		size_t rlen = len - (size_t)(reply - buf);
		char *sub = fixture_subst(reply, rlen, &rlen);

		vo.evidence_unit = evidence;
		vo.allow_any_unit = !evidence;
		CHECK_INT(plan_vet_reply(wl, sub, rlen, &vo, &plan), ==, 0);
		free(sub);
	}
	if (plan) {
		CHECK_(plan->accepted == (want_accept == 1), "%s: expected %s, got %s (%s)", name,
		       want_accept == 1 ? "accept" : "reject", plan->accepted ? "accept" : "reject",
		       plan->reason);
		if (plan->accepted)
			n_accept++;
		else
			n_reject++;
		if (!plan->accepted)
			CHECK_(plan->n_commands == 0, "%s: refused plan still holds commands",
			       name);
		if (plan->accepted && want_accept == 1) {
			CHECK_(plan->n_commands == n_expected, "%s: %zu commands, expected %zu",
			       name, plan->n_commands, n_expected);
			for (size_t i = 0; i < plan->n_commands && i < n_expected; i++) {
				char *got = argv_line(plan->commands[i]);

				CHECK_(strcmp(got, expected[i]) == 0,
				       "%s: command %zu: '%s' vs '%s'", name, i + 1, got,
				       expected[i]);
				free(got);
			}
		}
		plan_free(plan);
	}
	for (size_t i = 0; i < n_expected; i++)
		free(expected[i]);
	free(buf);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_case(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".case") == 0;
}

int main(void)
{
	char dir[512];
	struct dirent **list;
	int n;

	fixture_make();
	wl = fixture_whitelist();
	snprintf(dir, sizeof dir, "%s/replies", test_data_dir());
	n = scandir(dir, &list, is_case, by_name);
	CHECK_(n >= 150, "only %d cases in %s", n, dir);
	for (int i = 0; i < n; i++) {
		run_case(dir, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	printf("info: corpus of %d cases, %u accepted, %u rejected\n", n, n_accept, n_reject);
	wl_free(wl);
	fixture_remove();
	return harness_finish();
}
