/* SPDX-License-Identifier: MIT */
/*
 * Unit names: systemctl's suffix rule, and alias resolution for the protect
 * list. An alias is a symlink in a unit directory (sshd.service ->
 * ssh.service); protecting ssh.service must protect every name that leads to
 * it, and the reverse, or a model could restart sshd under another name.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "whitelist/internal.h"

#define MAX_ALIAS_HOPS 8
#define MAX_CHAIN      (2 * (MAX_ALIAS_HOPS + 1))

static const char *const unit_types[] = {
	"service", "socket", "target", "device", "mount", "automount",
	"swap",	   "timer",  "path",   "slice",	 "scope",
};

static bool has_unit_suffix(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot || dot == name)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(unit_types); i++)
		if (strcmp(dot + 1, unit_types[i]) == 0)
			return true;
	return false;
}

char *wl_unit_mangle(const char *name)
{
	size_t n = strlen(name);
	char *m;

	if (has_unit_suffix(name))
		return strdup(name);
	m = malloc(n + sizeof ".service");
	if (!m)
		return NULL;
	memcpy(m, name, n);
	memcpy(m + n, ".service", sizeof ".service");
	return m;
}

typedef struct Chain {
	size_t n;
	char names[MAX_CHAIN][NAME_MAX + 1];
} Chain;

static void chain_add(Chain *c, const char *name)
{
	if (c->n >= MAX_CHAIN || strlen(name) > NAME_MAX)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return;
	memcpy(c->names[c->n++], name, strlen(name) + 1);
}

/* foo@bar.service also answers to its template foo@.service. */
static void chain_add_with_template(Chain *c, const char *name)
{
	const char *at = strchr(name, '@'), *dot = strrchr(name, '.');
	char tmpl[NAME_MAX + 1];

	chain_add(c, name);
	if (!at || !dot || dot < at || at[1] == '.')
		return;
	if (util_snprintf(tmpl, sizeof tmpl, "%.*s%s", (int)(at - name + 1), name, dot) >= 0)
		chain_add(c, tmpl);
}

/* The next name a unit resolves to through a symlink in a unit dir, if any. */
static bool alias_target(const Whitelist *wl, const char *name, char *next, size_t next_len)
{
	for (size_t d = 0; d < wl->n_unit_dirs; d++) {
		char path[PATH_MAX], target[PATH_MAX];
		struct stat st;
		const char *base;
		ssize_t k;

		if (util_snprintf(path, sizeof path, "%s/%s", wl->unit_dirs[d], name) < 0)
			continue;
		if (lstat(path, &st) < 0)
			continue;
		if (!S_ISLNK(st.st_mode))
			return false; /* the first real file found is the unit itself */
		k = readlink(path, target, sizeof target - 1);
		if (k <= 0)
			return false;
		target[k] = '\0';
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		if (!has_unit_suffix(base) || strcmp(base, name) == 0)
			return false; /* masked (-> /dev/null) or a self link */
		return util_snprintf(next, next_len, "%s", base) >= 0;
	}
	return false;
}

static void build_chain(const Whitelist *wl, const char *unit, Chain *c)
{
	char cur[NAME_MAX + 1], next[NAME_MAX + 1];

	c->n = 0;
	if (util_snprintf(cur, sizeof cur, "%s", unit) < 0)
		return;
	chain_add_with_template(c, cur);
	for (int hop = 0; hop < MAX_ALIAS_HOPS && alias_target(wl, cur, next, sizeof next); hop++) {
		memcpy(cur, next, sizeof cur);
		chain_add_with_template(c, cur);
	}
}

bool wl_unit_is_protected(const Whitelist *wl, const char *unit)
{
	Chain mine, theirs;

	if (strlen(unit) > NAME_MAX || strchr(unit, '/'))
		return true; /* not a unit name at all: fail closed */
	build_chain(wl, unit, &mine);
	for (size_t p = 0; p < wl->n_protect; p++) {
		build_chain(wl, wl->protect[p], &theirs);
		for (size_t i = 0; i < mine.n; i++)
			for (size_t j = 0; j < theirs.n; j++)
				if (strcmp(mine.names[i], theirs.names[j]) == 0)
					return true;
	}
	return false;
}
