/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The fixture tree of tests/data/replies/README.md, made fresh in a
 * temporary folder, and the test whitelist with @ROOT@ replaced by it.
 * Nothing outside the folder is touched; fixture_remove() deletes it.
 */

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "common/util.h"
#include "whitelist/whitelist.h"

static char fixture_root[256];

static const char *test_data_dir(void)
{
	const char *d = getenv("HEALER_TEST_DATA");

	return d ? d : "tests/data";
}

static void fixture_file(const char *rel, mode_t mode)
{
	char p[512];
	int fd;

	snprintf(p, sizeof p, "%s/%s", fixture_root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(p);
		exit(2);
	}
	if (write(fd, "#!/bin/sh\nexit 0\n", 17) != 17)
		exit(2);
	close(fd);
	/* chmod after creation: the umask must not strip the bits under test. */
	if (chmod(p, mode) < 0) {
		perror(p);
		exit(2);
	}
}

static void fixture_dir(const char *rel)
{
	char p[512];

	snprintf(p, sizeof p, "%s/%s", fixture_root, rel);
	if (mkdir(p, 0755) < 0) {
		perror(p);
		exit(2);
	}
}

static void fixture_symlink(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof p, "%s/%s", fixture_root, rel);
	if (symlink(target, p) < 0) {
		perror(p);
		exit(2);
	}
}

static const char *fixture_make(void)
{
	char p[512], q[512];

	snprintf(fixture_root, sizeof fixture_root, "/tmp/healer-test-XXXXXX");
	if (!mkdtemp(fixture_root)) {
		perror("mkdtemp");
		exit(2);
	}
	fixture_dir("units");
	fixture_file("units/nginx.service", 0644);
	fixture_file("units/ssh.service", 0644);
	fixture_file("units/systemd-logind.service", 0644);
	fixture_file("units/dbus.service", 0644);
	fixture_file("units/postgresql@.service", 0644);
	fixture_symlink("ssh.service", "units/sshd.service");
	fixture_symlink("/lib/systemd/system/systemd-logind.service",
			"units/dbus-org.freedesktop.login1.service");
	fixture_symlink("nginx.service", "units/web.service");
	fixture_dir("opt");
	fixture_dir("opt/app");
	fixture_dir("opt/app/subdir");
	fixture_file("opt/app/run.sh", 0644);
	fixture_symlink("run.sh", "opt/app/inner-link.sh");
	fixture_symlink("/etc/passwd", "opt/app/escape.sh");
	fixture_file("opt/app/hard-a.sh", 0644);
	snprintf(p, sizeof p, "%s/opt/app/hard-a.sh", fixture_root);
	snprintf(q, sizeof q, "%s/opt/app/hard-b.sh", fixture_root);
	if (link(p, q) < 0)
		exit(2);
	fixture_file("opt/app/suid.sh", 04755);
	fixture_file("opt/app/sgid.sh", 02755);
	fixture_file("opt/app/world.sh", 0666);
	/* Group-writable: refused for a user group, allowed for root's group. */
	fixture_file("opt/app/groupw.sh", 0664);
	snprintf(p, sizeof p, "%s/opt/app/groupw.sh", fixture_root);
	if (chown(p, 0, 4242) < 0 || chmod(p, 0664) < 0)
		exit(2);
	fixture_file("opt/app/rootgroupw.sh", 0664);
	fixture_file("opt/app/acl.sh", 0644);
	snprintf(p, sizeof p, "%s/opt/app/acl.sh", fixture_root);
	if (test_set_acl(p, TEST_ACL_GROUP, 4242, 6, 6) < 0)
		exit(2);
	snprintf(p, sizeof p, "%s/opt/app/fifo", fixture_root);
	if (mkfifo(p, 0644) < 0)
		exit(2);
	fixture_dir("home");
	fixture_dir("home/user");
	fixture_file("home/user/script.sh", 0600);
	fixture_dir("var");
	fixture_dir("var/log");
	fixture_file("var/log/app.log", 0644);
	fixture_dir("usr");
	fixture_dir("usr/local");
	fixture_dir("usr/local/bin");
	fixture_file("usr/local/bin/tool", 0644);
	fixture_dir("etc");
	fixture_file("etc/shadow-copy", 0644);
	fixture_symlink("../etc", "opt/linkdir");
	fixture_dir("optevil");
	fixture_file("optevil/x.sh", 0644);
	return fixture_root;
}

static int fixture_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fixture_remove(void)
{
	if (fixture_root[0])
		nftw(fixture_root, fixture_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fixture_root[0] = '\0';
}

/* Replaces every @ROOT@ in s; a new string. */
static char *fixture_subst(const char *s, size_t len, size_t *ret_len)
{
	size_t rl = strlen(fixture_root), n = 0, cap = len + 1;
	char *out;

	for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), "@ROOT@", 6)); p += 6)
		cap += rl;
	out = malloc(cap);
	if (!out)
		exit(2);
	for (size_t i = 0; i < len;) {
		if (i + 6 <= len && memcmp(s + i, "@ROOT@", 6) == 0) {
			memcpy(out + n, fixture_root, rl);
			n += rl;
			i += 6;
		} else {
			out[n++] = s[i++];
		}
	}
	out[n] = '\0';
	if (ret_len)
		*ret_len = n;
	return out;
}

static Whitelist *fixture_whitelist(void)
{
	char path[512], *buf = NULL, *errors = NULL, *sub;
	size_t len;
	Whitelist *wl = NULL;

	snprintf(path, sizeof path, "%s/whitelist-test.conf", test_data_dir());
	if (util_read_file(path, 1 << 20, &buf, &len) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	sub = fixture_subst(buf, len, &len);
	if (wl_parse("whitelist-test.conf", sub, len, &wl, &errors) < 0) {
		fprintf(stderr, "%s", errors ? errors : "whitelist-test.conf: cannot parse\n");
		exit(2);
	}
	free(buf);
	free(sub);
	return wl;
}
