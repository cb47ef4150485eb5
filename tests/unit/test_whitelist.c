/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <time.h>

#include "harness.h"
#include "fixture.h"
#include "whitelist/internal.h"
#include "whitelist/whitelist.h"

static Whitelist *wl;
/* The administrator's own request: any unit that is not protected. */
static const WlVetOptions any = {.allow_any_unit = true};

/* Vets one JSON-style proposal; returns r and fills reason/argv0..n. */
static int vet1(const char *action, const char *name, const char *value, WlCommand **ret,
		char *reason, size_t len)
{
	WlArg a = {name, value};
	char *v = value ? fixture_subst(value, strlen(value), NULL) : NULL;
	int r;

	a.value = v;
	r = wl_vet(wl, action, name ? &a : NULL, name ? 1 : 0, &any, ret, reason, len);
	free(v);
	return r;
}

static void expect_unit(const char *value, const char *want)
{
	WlCommand *c = NULL;
	char reason[512] = "";
	int r = vet1("restart_service", "unit", value, &c, reason, sizeof reason);

	if (want) {
		CHECK_(r == 0, "unit '%s' refused: %s", value, reason);
		if (c) {
			CHECK_STR(c->argv[0], "/usr/bin/systemctl");
			CHECK_STR(c->argv[5], want);
			CHECK(c->argv[6] == NULL);
			CHECK_STR(c->verify_unit, want);
		}
	} else {
		CHECK_(r == -EPERM, "unit '%s' allowed (r=%d)", value, r);
		CHECK_(reason[0] != '\0', "unit '%s': refusal without a reason", value);
	}
	wl_command_free(c);
}

TEST(test_example_loads)
{
	Whitelist *ex = NULL;
	char *errors = NULL;
	int r = wl_load("examples/whitelist.conf", &ex, &errors);

	CHECK_(r == 0, "examples/whitelist.conf: %s", errors ? errors : "?");
	if (ex) {
		CHECK_INT(wl_n_actions(ex), ==, 7);
		CHECK_INT(wl_max_commands(ex), ==, 5);
		CHECK_STR(wl_action_name(ex, 0), "restart_service");
		CHECK_STR(wl_action_description(ex, 3), "Make a script executable");
	}
	wl_free(ex);
	free(errors);
}

/* Every file in whitelist-errors/ reports exactly its "# expect: LINE: TEXT" lines. */
TEST(test_error_files)
{
	char dir[512];
	struct dirent **list;
	int n;

	snprintf(dir, sizeof dir, "%s/whitelist-errors", test_data_dir());
	n = scandir(dir, &list, NULL, alphasort);
	CHECK(n > 2);
	for (int i = 0; i < n; i++) {
		char path[1024], *buf = NULL, *errors = NULL;
		size_t len, n_expect = 0, n_lines = 0;
		Whitelist *w = NULL;
		const char *name = list[i]->d_name;

		if (strlen(name) < 6 || strcmp(name + strlen(name) - 5, ".conf") != 0) {
			free(list[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", dir, name);
		CHECK_INT(util_read_file(path, 1 << 20, &buf, &len), ==, 0);
		CHECK_INT(wl_parse(name, buf, len, &w, &errors), ==, -EINVAL);
		CHECK(w == NULL);
		for (const char *e = errors; e && *e; e = strchr(e, '\n') + 1)
			n_lines++;
		for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			char want[1024], *nl;
			unsigned line;
			int off = 0;

			if (sscanf(l, "# expect: %u: %n", &line, &off) != 1 || off == 0)
				continue;
			nl = strchr(l + off, '\n');
			(void)util_snprintf(want, sizeof want, "%s:%u: %.*s", name, line,
					    (int)(nl ? nl - (l + off) : (long)strlen(l + off)),
					    l + off);
			CHECK_CONTAINS(errors, want);
			n_expect++;
		}
		CHECK_(n_expect == n_lines, "%s: %zu errors reported, %zu expected:\n%s", name,
		       n_lines, n_expect, errors ? errors : "");
		free(errors);
		free(buf);
		free(list[i]);
	}
	free(list);
}

TEST(test_caps)
{
	size_t big = WL_MAX_FILE_BYTES + 1;
	char *buf = malloc(big), *errors = NULL, line[WL_MAX_LINE + 64];
	Whitelist *w = NULL;

	memset(buf, '#', big);
	CHECK_INT(wl_parse("big", buf, big, &w, &errors), ==, -E2BIG);
	CHECK_CONTAINS(errors, "over the");
	free(errors);
	free(buf);

	CHECK_INT(wl_parse("nul", "[healer]\n\0x", 11, &w, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "NUL");
	free(errors);

	memset(line, 'a', sizeof line);
	memcpy(line, "[healer]\n#", 10);
	line[sizeof line - 1] = '\n';
	CHECK_INT(wl_parse("long", line, sizeof line, &w, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "long:2: line longer than");
	free(errors);

	CHECK_INT(wl_load("/nonexistent/healer.conf", &w, &errors), ==, -ENOENT);
	CHECK_CONTAINS(errors, "/nonexistent/healer.conf: No such file");
	free(errors);
}

TEST(test_units)
{
	expect_unit("nginx", "nginx.service");
	expect_unit("nginx.service", "nginx.service");
	expect_unit("web.service", "web.service");
	expect_unit("postgresql@main.service", "postgresql@main.service");
	expect_unit("SSH.service", "SSH.service");
	expect_unit("ssh", NULL);
	expect_unit("ssh.service", NULL);
	expect_unit("sshd", NULL);
	expect_unit("sshd.service", NULL);
	expect_unit("dbus-org.freedesktop.login1.service", NULL);
	expect_unit("dbus-org.freedesktop.login1", NULL);
	expect_unit("systemd-journald", NULL);
	expect_unit("dbus-broker.service", NULL);
	expect_unit("nginx.socket", NULL);
	expect_unit("-nginx", NULL);
	expect_unit("--help", NULL);
	expect_unit("nginx;reboot", NULL);
	expect_unit("nginx\n", NULL);
	expect_unit("ngi nx", NULL);
	expect_unit("nginx\x7f", NULL);
	expect_unit("ngin\xd1\x85", NULL);
	expect_unit("", NULL);
	expect_unit("../ssh.service", NULL);
	expect_unit("*.service", NULL);
	{
		char long_name[600];

		memset(long_name, 'a', sizeof long_name);
		memcpy(long_name + 513 - 8, ".service", 9);
		expect_unit(long_name, NULL);
	}
}

TEST(test_template_protect)
{
	static const char conf[] = "[healer]\nprotect = getty@.service\nunit_dirs = /nonexistent\n"
				   "[action r]\nmatch = systemctl restart {unit}\n"
				   "exec = /usr/bin/systemctl restart -- {unit}\n"
				   "param unit = unit [a-z@0-9]+\\.service\n";
	Whitelist *w = NULL;
	WlCommand *c = NULL;
	WlArg a = {"unit", "getty@tty1"};
	char reason[256] = "", *errors = NULL;

	CHECK_INT(wl_parse("t", conf, sizeof conf - 1, &w, &errors), ==, 0);
	CHECK_INT(wl_vet(w, "r", &a, 1, &any, &c, reason, sizeof reason), ==, -EPERM);
	CHECK_CONTAINS(reason, "protected");
	a.value = "agetty";
	CHECK_INT(wl_vet(w, "r", &a, 1, &any, &c, reason, sizeof reason), ==, 0);
	wl_command_free(c);
	wl_free(w);
	free(errors);
}

static void expect_path(const char *value, const char *want)
{
	WlCommand *c = NULL;
	char reason[512] = "";
	int r = vet1("fix_permissions", "path", value, &c, reason, sizeof reason);

	if (want) {
		char *w = fixture_subst(want, strlen(want), NULL);

		CHECK_(r == 0, "path '%s' refused: %s", value, reason);
		if (c) {
			CHECK(c->argv == NULL);
			CHECK_INT(c->builtin, ==, WL_BUILTIN_CHMOD_X);
			CHECK_STR(c->builtin_path, w);
		}
		free(w);
	} else {
		CHECK_(r == -EPERM, "path '%s' allowed (r=%d)", value, r);
	}
	wl_command_free(c);
}

TEST(test_paths)
{
	expect_path("@ROOT@/opt/app/run.sh", "@ROOT@/opt/app/run.sh");
	expect_path("@ROOT@/opt/app/inner-link.sh", "@ROOT@/opt/app/run.sh");
	expect_path("@ROOT@/opt/app/../app/./run.sh", "@ROOT@/opt/app/run.sh");
	expect_path("@ROOT@//opt//app/run.sh", "@ROOT@/opt/app/run.sh");
	expect_path("@ROOT@/home/user/script.sh", "@ROOT@/home/user/script.sh");
	expect_path("@ROOT@/var/log/app.log", "@ROOT@/var/log/app.log");
	expect_path("@ROOT@/usr/local/bin/tool", "@ROOT@/usr/local/bin/tool");
	expect_path("@ROOT@/opt/app/escape.sh", NULL);
	expect_path("@ROOT@/opt/linkdir/shadow-copy", NULL);
	expect_path("@ROOT@/opt/../etc/shadow-copy", NULL);
	expect_path("@ROOT@/opt/app/hard-a.sh", NULL);
	expect_path("@ROOT@/opt/app/hard-b.sh", NULL);
	expect_path("@ROOT@/opt/app/suid.sh", NULL);
	expect_path("@ROOT@/opt/app/sgid.sh", NULL);
	expect_path("@ROOT@/opt/app/world.sh", NULL);
	expect_path("@ROOT@/opt/app/groupw.sh", NULL);
	expect_path("@ROOT@/opt/app/acl.sh", NULL);
	expect_path("@ROOT@/opt/app/rootgroupw.sh", "@ROOT@/opt/app/rootgroupw.sh");
	expect_path("@ROOT@/opt/app/subdir", NULL);
	expect_path("@ROOT@/opt/app/fifo", NULL);
	expect_path("@ROOT@/opt/app/missing.sh", NULL);
	expect_path("@ROOT@/etc/shadow-copy", NULL);
	expect_path("@ROOT@/optevil/x.sh", NULL);
	expect_path("opt/app/run.sh", NULL);
	expect_path("@ROOT@/opt/app/run.sh/", NULL);
	expect_path("@ROOT@/opt/app/%2e%2e/run.sh", NULL);
	expect_path("/etc/passwd", NULL);
}

TEST(test_vet_shape)
{
	WlCommand *c = NULL;
	char reason[256];
	WlArg two[2] = {{"unit", "nginx"}, {"unit", "nginx"}};
	WlArg extra[2] = {{"unit", "nginx"}, {"force", "yes"}};

	CHECK_INT(wl_vet(wl, "reboot", NULL, 0, NULL, &c, reason, sizeof reason), ==, -ENOENT);
	CHECK_CONTAINS(reason, "unknown action");
	CHECK_INT(wl_vet(wl, "restart_service", NULL, 0, &any, &c, reason, sizeof reason), ==,
		  -EPERM);
	CHECK_CONTAINS(reason, "needs parameter 'unit'");
	CHECK_INT(wl_vet(wl, "restart_service", two, 2, &any, &c, reason, sizeof reason), ==,
		  -EPERM);
	CHECK_CONTAINS(reason, "given twice");
	CHECK_INT(wl_vet(wl, "restart_service", extra, 2, &any, &c, reason, sizeof reason), ==,
		  -EPERM);
	CHECK_CONTAINS(reason, "no parameter 'force'");
	CHECK_INT(wl_vet(wl, "clear_cache", extra, 1, NULL, &c, reason, sizeof reason), ==, -EPERM);

	CHECK_INT(wl_vet(wl, "clear_cache", NULL, 0, NULL, &c, reason, sizeof reason), ==, 0);
	if (c) {
		CHECK_INT(c->builtin, ==, WL_BUILTIN_DROP_CACHES);
		CHECK(c->argv == NULL);
		CHECK_INT(c->cooldown_usec, ==, 3600 * USEC_PER_SEC);
	}
	c = wl_command_free(c);
	CHECK_INT(wl_vet(wl, "rotate_logs", NULL, 0, NULL, &c, reason, sizeof reason), ==, 0);
	if (c) {
		CHECK_STR(c->argv[0], "/usr/sbin/logrotate");
		CHECK_INT(c->timeout_usec, ==, 60 * USEC_PER_SEC);
		CHECK(c->verify_unit == NULL);
	}
	wl_command_free(c);
}

TEST(test_evidence_unit)
{
	WlCommand *c = NULL;
	WlArg a = {"unit", "nginx"};
	WlVetOptions o = {.evidence_unit = "nginx.service"};
	char reason[256];

	CHECK_INT(wl_vet(wl, "restart_service", &a, 1, &o, &c, reason, sizeof reason), ==, 0);
	c = wl_command_free(c);
	o.evidence_unit = "nginx";
	CHECK_INT(wl_vet(wl, "restart_service", &a, 1, &o, &c, reason, sizeof reason), ==, 0);
	c = wl_command_free(c);
	o.evidence_unit = "php-fpm.service";
	CHECK_INT(wl_vet(wl, "restart_service", &a, 1, &o, &c, reason, sizeof reason), ==, -EPERM);
	CHECK_CONTAINS(reason, "not the unit the evidence came from");
}

static int vet_line(Whitelist *w, const char *line, WlCommand **c, char *reason, size_t len)
{
	char buf[512], *tok[40];
	size_t n = 0;

	snprintf(buf, sizeof buf, "%s", line);
	for (char *s = buf, *save = NULL; (s = strtok_r(s, " ", &save)) && n < 40; s = NULL)
		tok[n++] = s;
	return wl_vet_tokens(w, tok, n, &any, c, reason, len);
}

TEST(test_tokens)
{
	WlCommand *c = NULL;
	char reason[256];

	CHECK_INT(vet_line(wl, "systemctl restart nginx", &c, reason, sizeof reason), ==, 0);
	if (c)
		CHECK_STR(c->action, "restart_service");
	c = wl_command_free(c);
	CHECK_INT(vet_line(wl, "/usr/bin/systemctl restart nginx", &c, reason, sizeof reason), ==,
		  0);
	c = wl_command_free(c);
	CHECK_INT(vet_line(wl, "/tmp/systemctl restart nginx", &c, reason, sizeof reason), ==,
		  -ENOENT);
	CHECK_INT(vet_line(wl, "/usr/local/bin/systemctl restart nginx", &c, reason, sizeof reason),
		  ==, -ENOENT);
	CHECK_INT(vet_line(wl, "systemctl restart nginx now", &c, reason, sizeof reason), ==,
		  -ENOENT);
	CHECK_INT(vet_line(wl, "systemctl Restart nginx", &c, reason, sizeof reason), ==, -ENOENT);
	CHECK_INT(vet_line(wl, "sysctl -w vm.drop_caches=3", &c, reason, sizeof reason), ==, 0);
	c = wl_command_free(c);
	CHECK_INT(vet_line(wl, "/usr/sbin/sysctl -w vm.drop_caches=3", &c, reason, sizeof reason),
		  ==, 0);
	c = wl_command_free(c);
	CHECK_INT(vet_line(wl, "sysctl -w vm.drop_caches=1", &c, reason, sizeof reason), ==,
		  -ENOENT);
	CHECK_INT(vet_line(wl, "chmod +x @ROOT@/opt/app/run.sh", &c, reason, sizeof reason), ==,
		  -EPERM); /* @ROOT@ is not substituted here: the path does not exist */
	CHECK_INT(vet_line(wl, "systemctl restart ssh", &c, reason, sizeof reason), ==, -EPERM);
	CHECK_CONTAINS(reason, "protected");
}

/* The first template that fits decides, even when a later one would allow it. */
TEST(test_first_match_wins)
{
	static const char conf[] =
		"[action strict]\nmatch = svc restart {name}\nexec = /bin/echo strict {name}\n"
		"param name = text [a-z]+\n"
		"[action loose]\nmatch = svc restart {name}\nexec = /bin/echo loose {name}\n"
		"param name = text [a-z0-9]+\n"
		"[action size]\nmatch = vacuum --size={size}M\nexec = /bin/echo --size={size}M\n"
		"param size = text [0-9]{1,4}\n";
	Whitelist *w = NULL;
	WlCommand *c = NULL;
	char reason[256], *errors = NULL;

	CHECK_INT(wl_parse("t", conf, sizeof conf - 1, &w, &errors), ==, 0);
	if (!w)
		return;
	CHECK_INT(vet_line(w, "svc restart abc", &c, reason, sizeof reason), ==, 0);
	if (c)
		CHECK_STR(c->argv[1], "strict");
	c = wl_command_free(c);
	CHECK_INT(vet_line(w, "svc restart abc1", &c, reason, sizeof reason), ==, -EPERM);
	CHECK_INT(vet_line(w, "vacuum --size=100M", &c, reason, sizeof reason), ==, 0);
	if (c)
		CHECK_STR(c->argv[1], "--size=100M");
	c = wl_command_free(c);
	CHECK_INT(vet_line(w, "vacuum --size=M", &c, reason, sizeof reason), ==, -ENOENT);
	CHECK_INT(vet_line(w, "vacuum --size=99999M", &c, reason, sizeof reason), ==, -EPERM);
	CHECK_INT(vet_line(w, "vacuum --size=1", &c, reason, sizeof reason), ==, -ENOENT);
	wl_free(w);
	free(errors);
}

/* Anchoring both ends, and a backtracking bomb stopped by the match limit. */
TEST(test_patterns)
{
	static const char conf[] = "[action a]\nmatch = a {v}\nexec = /bin/echo {v}\n"
				   "param v = text [a-z]+|[0-9]+\n"
				   "[action b]\nmatch = b {v}\nexec = /bin/echo {v}\n"
				   "param v = text (x|xx)+\n";
	Whitelist *w = NULL;
	WlCommand *c = NULL;
	WlArg a = {"v", "abc"};
	char reason[256], *errors = NULL, bomb[200];
	uint64_t t0;

	CHECK_INT(wl_parse("t", conf, sizeof conf - 1, &w, &errors), ==, 0);
	if (!w)
		return;
	CHECK_INT(wl_vet(w, "a", &a, 1, &any, &c, reason, sizeof reason), ==, 0);
	c = wl_command_free(c);
	a.value = "123";
	CHECK_INT(wl_vet(w, "a", &a, 1, &any, &c, reason, sizeof reason), ==, 0);
	c = wl_command_free(c);
	/* An alternation must not loosen the anchors: "abc123" is neither. */
	a.value = "abc123";
	CHECK_INT(wl_vet(w, "a", &a, 1, &any, &c, reason, sizeof reason), ==, -EPERM);
	a.value = "1abc";
	CHECK_INT(wl_vet(w, "a", &a, 1, &any, &c, reason, sizeof reason), ==, -EPERM);

	memset(bomb, 'x', sizeof bomb);
	bomb[sizeof bomb - 2] = 'y';
	bomb[sizeof bomb - 1] = '\0';
	a.value = bomb;
	t0 = util_now_usec();
	CHECK_INT(wl_vet(w, "b", &a, 1, &any, &c, reason, sizeof reason), ==, -EPERM);
	CHECK_CONTAINS(reason, "pattern matching failed");
	CHECK_(util_now_usec() - t0 < 10 * USEC_PER_SEC, "match limit did not stop the bomb");
	wl_free(w);
	free(errors);
}

/* Findings of a review, each pinned. */
TEST(test_unit_rules)
{
	static const char loose[] =
		"[healer]\nprotect = ssh.service\nunit_dirs = /nonexistent\n"
		"[action r]\nmatch = systemctl restart {unit}\n"
		"exec = /usr/bin/systemctl restart -- {unit}\nparam unit = unit [^/]+\n";
	static const char *const never[] = {"systemd-exit",	  "rescue.service",
					    "emergency",	  "debug-shell.service",
					    "getty@tty1.service", "user@0.service",
					    "modprobe@dccp",	  "healer.service",
					    "systemd-suspend",	  "user-runtime-dir@0.service"};
	Whitelist *w = NULL;
	WlCommand *c = NULL;
	WlArg a = {"unit", "nginx"};
	char reason[256], *errors = NULL;

	/* No evidence unit and no administrator's request: no unit at all. */
	CHECK_INT(wl_vet(wl, "restart_service", &a, 1, NULL, &c, reason, sizeof reason), ==,
		  -EPERM);
	CHECK_CONTAINS(reason, "no evidence unit");
	{
		WlVetOptions none = {0};

		CHECK_INT(wl_vet(wl, "restart_service", &a, 1, &none, &c, reason, sizeof reason),
			  ==, -EPERM);
	}
	/* Units that shut down, suspend, open shells or consoles: never. */
	for (size_t i = 0; i < ELEMENTSOF(never); i++) {
		a.value = never[i];
		CHECK_(wl_vet(wl, "restart_service", &a, 1, &any, &c, reason, sizeof reason) ==
			       -EPERM,
		       "%s allowed", never[i]);
	}
	/* Globs are refused whatever the pattern allows. */
	CHECK_INT(wl_parse("loose", loose, sizeof loose - 1, &w, &errors), ==, 0);
	if (w) {
		static const char *const globs[] = {"s*", "ss[h]", "systemd-journal?.service",
						    "ssh\\x2eservice", "ng~inx"};

		for (size_t i = 0; i < ELEMENTSOF(globs); i++) {
			a.value = globs[i];
			CHECK_(wl_vet(w, "r", &a, 1, &any, &c, reason, sizeof reason) == -EPERM,
			       "%s allowed", globs[i]);
			CHECK_CONTAINS(reason, "not a unit name");
		}
		a.value = "nginx";
		CHECK_INT(wl_vet(w, "r", &a, 1, &any, &c, reason, sizeof reason), ==, 0);
		c = wl_command_free(c);
	}
	wl_free(w);
	free(errors);
}

/* An instance of an aliased template is the aliased template's instance. */
TEST(test_template_alias)
{
	char conf[1024], dir[300], p[400];
	Whitelist *w = NULL;
	WlCommand *c = NULL;
	WlArg a = {"unit", "tty@tty1.service"};
	char reason[256], *errors = NULL;

	snprintf(dir, sizeof dir, "%s/units2", fixture_root);
	mkdir(dir, 0755);
	snprintf(p, sizeof p, "%s/console@.service", dir);
	close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	snprintf(p, sizeof p, "%s/tty@.service", dir);
	CHECK_INT(symlink("console@.service", p), ==, 0);
	snprintf(conf, sizeof conf,
		 "[healer]\nprotect = console@.service\nunit_dirs = %s\n"
		 "[action r]\nmatch = systemctl restart {unit}\n"
		 "exec = /usr/bin/systemctl restart -- {unit}\n"
		 "param unit = unit [a-z@0-9]+\\.service\n",
		 dir);
	CHECK_INT(wl_parse("t", conf, strlen(conf), &w, &errors), ==, 0);
	if (!w)
		return;
	CHECK_INT(wl_vet(w, "r", &a, 1, &any, &c, reason, sizeof reason), ==, -EPERM);
	CHECK_CONTAINS(reason, "protected");
	wl_free(w);
	free(errors);
	w = NULL;
	/* Protecting one instance protects it under the alias too. */
	snprintf(conf, sizeof conf,
		 "[healer]\nprotect = console@tty1.service\nunit_dirs = %s\n"
		 "[action r]\nmatch = systemctl restart {unit}\n"
		 "exec = /usr/bin/systemctl restart -- {unit}\n"
		 "param unit = unit [a-z@0-9]+\\.service\n",
		 dir);
	CHECK_INT(wl_parse("t", conf, strlen(conf), &w, &errors), ==, 0);
	if (!w)
		return;
	CHECK_INT(wl_vet(w, "r", &a, 1, &any, &c, reason, sizeof reason), ==, -EPERM);
	a.value = "tty@tty2.service";
	CHECK_INT(wl_vet(w, "r", &a, 1, &any, &c, reason, sizeof reason), ==, 0);
	wl_command_free(c);
	wl_free(w);
	free(errors);
}

/*
 * Units whose start changes installed software or disks, or runs early boot
 * or first-boot steps, are protected whatever the file says: by name, by a
 * well-known alias, by family prefix and as instances.
 */
TEST(test_always_protected)
{
	static const char *const refused[] = {
		"kmod.service",
		"systemd-modules-load.service",
		"systemd-sysctl.service",
		"apt-daily-upgrade.service",
		"unattended-upgrades.service",
		"packagekit.service",
		"dnf-automatic-install.service",
		"fwupd.service",
		"systemd-fsck@dev-sda1.service",
		"systemd-fsck-root.service",
		"systemd-makefs@dev-vdb.service",
		"systemd-growfs@-.service",
		"systemd-growfs-root.service",
		"systemd-repart.service",
		"systemd-cryptsetup@luks.service",
		"lvm2-pvscan@8:2.service",
		"mdadm-last-resort@md0.service",
		"zfs-mount.service",
		"systemd-firstboot.service",
		"cloud-init-local.service",
		"initrd-switch-root.service",
		"initrd-anything-new.service",
		"dracut-cmdline.service",
		"systemd-tmpfiles-clean.service",
		"modprobe@loop.service",
		"healer.service",
		/* other unit types: only services, and what starts them, are healed */
		"reboot.target",
		"multi-user.target",
		"-.mount",
		"var.mount",
		"dev-sda2.swap",
		"user.slice",
		"session-1.scope",
		"dev-sda.device",
		"proc-sys-fs-binfmt_misc.automount",
		"nginx",
		/* sockets, timers and paths share their service's protection */
		"dbus.socket",
		"systemd-journald.socket",
		"systemd-journald-dev-log.socket",
		"apt-daily.timer",
		"apt-daily-upgrade.timer",
		"systemd-tmpfiles-clean.timer",
		"healer.path",
		"systemd-sysupdate.timer",
		"systemd-sysext.service",
		"rc-local.service",
		"systemd-quotacheck@home.service",
		"lvm2-pvscan@8:2.service",
		"zfs-import-cache.service",
	};
	static const char *const allowed[] = {
		"nginx.service",	 "apt-cacher-ng.service", "myinitrd-builder.service",
		"zfsbackup.service",	 "cloud-sync.service",	  "zfs-zed.service",
		"lvm2-lvmpolld.service", "nginx.socket",	  "certbot.timer",
		"backup.path",
	};

	for (size_t i = 0; i < ELEMENTSOF(refused); i++)
		CHECK_(wl_unit_is_protected(wl, refused[i]), "%s should be protected", refused[i]);
	for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
		CHECK_(!wl_unit_is_protected(wl, allowed[i]), "%s should not be protected",
		       allowed[i]);
}

/* An alias symlink in unit_dirs leads to an always-protected unit. */
TEST(test_always_protected_alias)
{
	char conf[512], dir[300], p[400];
	Whitelist *w = NULL;
	char *errors = NULL;

	snprintf(dir, sizeof dir, "%s/units3", fixture_root);
	mkdir(dir, 0755);
	snprintf(p, sizeof p, "%s/systemd-modules-load.service", dir);
	close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	snprintf(p, sizeof p, "%s/my-modules.service", dir);
	CHECK_INT(symlink("systemd-modules-load.service", p), ==, 0);
	snprintf(conf, sizeof conf, "[healer]\nunit_dirs = %s\n", dir);
	CHECK_INT(wl_parse("t", conf, strlen(conf), &w, &errors), ==, 0);
	if (!w)
		return;
	CHECK(wl_unit_is_protected(w, "my-modules.service"));
	CHECK(!wl_unit_is_protected(w, "my-other.service"));
	wl_free(w);
	free(errors);
}

TEST(test_path_not_in_exec)
{
	static const char conf[] = "[action t]\nmatch = truncate {path}\n"
				   "exec = /usr/bin/truncate -s 0 {path}\n"
				   "param path = path /var/log/[a-z]+\n";
	Whitelist *w = NULL;
	char *errors = NULL;

	CHECK_INT(wl_parse("t", conf, sizeof conf - 1, &w, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "t:3: [action t] path parameter 'path' may be used by a builtin");
	free(errors);
}

TEST(test_command_words)
{
	char **words = NULL;
	size_t n = 0;
	const char *want[] = {"systemctl", "chmod", "logrotate", "journalctl", "sysctl"};

	CHECK_INT(wl_command_words(wl, &words, &n), ==, 0);
	CHECK_INT(n, ==, 5);
	for (size_t i = 0; i < n && i < 5; i++)
		CHECK_STR(words[i], want[i]);
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
}

/*
 * A command's checks are exactly want[] (their texts), and each text is its
 * kind's name followed by its operands.
 */
static void expect_checks(const WlCheck *v, size_t n, const char *const *want, size_t n_want)
{
	CHECK_INT(n, ==, n_want);
	for (size_t i = 0; i < n && i < n_want; i++) {
		char text[1024];
		size_t used;

		CHECK_STR(v[i].text, want[i]);
		CHECK(v[i].argc > 0 && v[i].argv[v[i].argc] == NULL);
		used = (size_t)snprintf(text, sizeof text, "%s", wl_check_kind_name(v[i].kind));
		for (size_t k = 0; k < v[i].argc && used < sizeof text; k++)
			used += (size_t)snprintf(text + used, sizeof text - used, " %s",
						 v[i].argv[k]);
		CHECK_STR(text, v[i].text);
	}
}

#define EXPECT_CHECKS(v, n, ...)                                   \
	do {                                                       \
		static const char *const want_[] = {__VA_ARGS__};  \
		expect_checks((v), (n), want_, ELEMENTSOF(want_)); \
	} while (0)

/* The shipped whitelist: every action states its symptom, and limits its child. */
TEST(test_example_checks)
{
	static const struct {
		const char *action, *unit, *require, *verify;
	} want[] = {
		{"restart_service", "nginx", "unit-failed nginx.service",
		 "unit-active nginx.service"},
		{"reload_config", "nginx", "unit-active nginx.service",
		 "unit-active nginx.service"},
		{"restart_network", NULL, "unit-failed systemd-resolved.service",
		 "unit-active systemd-resolved.service"},
		{"rotate_logs", NULL, "disk-above /var/log 90", NULL},
		{"free_disk_space", NULL, "disk-above /var/log/journal 90", NULL},
		{"clear_cache", NULL, "memory-below 10", NULL},
	};
	Whitelist *ex = NULL;

	CHECK_INT(wl_load("examples/whitelist.conf", &ex, NULL), ==, 0);
	if (!ex)
		return;
	for (size_t i = 0; i < ex->n_actions; i++)
		CHECK_(ex->actions[i].n_requires > 0, "action %s has no require line",
		       ex->actions[i].name);
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		WlArg a = {"unit", want[i].unit};
		WlCommand *c = NULL;
		char reason[256] = "";

		CHECK_(wl_vet(ex, want[i].action, &a, want[i].unit ? 1 : 0, &any, &c, reason,
			      sizeof reason) == 0,
		       "%s: %s", want[i].action, reason);
		if (!c)
			continue;
		CHECK_INT(c->n_requires, ==, 1);
		if (c->n_requires == 1)
			CHECK_STR(c->requires[0].text, want[i].require);
		CHECK_INT(c->n_verifies, ==, want[i].verify ? 1 : 0);
		if (want[i].verify && c->n_verifies == 1) {
			CHECK_STR(c->verifies[0].text, want[i].verify);
			CHECK_STR(c->verify_unit, c->verifies[0].argv[0]);
		} else {
			CHECK(c->verify_unit == NULL);
		}
		if (want[i].unit)
			CHECK_STR(c->unit, "nginx.service");
		else
			CHECK(c->unit == NULL);
		CHECK_INT(c->memory_max, ==, 256 << 20);
		CHECK_INT(c->tasks_max, ==, 64);
		wl_command_free(c);
	}
	wl_free(ex);
}

/* Every kind, from literals and from placeholders, through both vetting paths. */
TEST(test_check_fill)
{
	static const char conf[] = "[action kinds]\n"
				   "match = svc {unit} {n} {url}\n"
				   "exec = /bin/echo {unit} {n} {url}\n"
				   "param unit = unit [a-z]+\\.service\n"
				   "param n = text [0-9]+\n"
				   "param url = text http://[a-z0-9.:/\\[\\]]+\n"
				   "require = unit-failed {unit}\n"
				   "require = unit-not-active nginx\n"
				   "require = disk-above /var/log {n}\n"
				   "require = memory-below 015\n"
				   "require = command /usr/bin/test -n x{unit}y --\n"
				   "require = http {url}\n"
				   "require = http http://[::1]:8080/health/%41\n"
				   "require = unit-active cron.socket\n"
				   "verify = unit-active {unit}\n"
				   "verify = http http://localhost\n"
				   "verify = command /bin/true\n"
				   "verify = unit-not-active x@y\n"
				   "memory_max = 65536K\n"
				   "tasks_max = 100000\n";
	static const char *const good_urls[] = {"http://127.0.0.1:99/x", "http://localhost",
						"http://[::1]/", "http://127.0.0.1:65535"};
	static const char *const bad_urls[] = {"http://example.com/", "http://127.0.0.2/",
					       "http://localhost:0/", "http://[::1]:99999/",
					       "http://127.0.0.1.example.com/"};
	Whitelist *w = NULL;
	WlCommand *c = NULL;
	WlArg a[3] = {{"unit", "web"}, {"n", "085"}, {"url", "http://127.0.0.1:99/x"}};
	char reason[256] = "", *errors = NULL;

	CHECK_(wl_parse("t", conf, sizeof conf - 1, &w, &errors) == 0, "%s", errors);
	if (!w)
		return;
	CHECK_(wl_vet(w, "kinds", a, 3, &any, &c, reason, sizeof reason) == 0, "%s", reason);
	if (c) {
		EXPECT_CHECKS(c->requires, c->n_requires, "unit-failed web.service",
			      "unit-not-active nginx.service", "disk-above /var/log 85",
			      "memory-below 15", "command /usr/bin/test -n xweb.servicey --",
			      "http http://127.0.0.1:99/x", "http http://[::1]:8080/health/%41",
			      "unit-active cron.socket");
		EXPECT_CHECKS(c->verifies, c->n_verifies, "unit-active web.service",
			      "http http://localhost", "command /bin/true",
			      "unit-not-active x@y.service");
		if (c->n_requires == 8) {
			CHECK_INT(c->requires[0].kind, ==, WL_CHECK_UNIT_FAILED);
			CHECK_INT(c->requires[2].kind, ==, WL_CHECK_DISK_ABOVE);
			CHECK_INT(c->requires[2].argc, ==, 2);
			CHECK_INT(c->requires[4].kind, ==, WL_CHECK_COMMAND);
			CHECK_INT(c->requires[4].argc, ==, 4);
			CHECK_INT(c->requires[5].kind, ==, WL_CHECK_HTTP);
		}
		CHECK_STR(c->unit, "web.service");
		CHECK_STR(c->verify_unit, "web.service");
		CHECK_INT(c->memory_max, ==, 64 << 20);
		CHECK_INT(c->tasks_max, ==, 100000);
	}
	c = wl_command_free(c);
	/* The free-text path fills the same checks. */
	CHECK_INT(vet_line(w, "svc web 7 http://localhost/", &c, reason, sizeof reason), ==, 0);
	if (c && c->n_requires == 8) {
		CHECK_STR(c->requires[2].text, "disk-above /var/log 7");
		CHECK_STR(c->requires[5].text, "http http://localhost/");
	}
	c = wl_command_free(c);
	/* The evidence rule still holds for the unit the checks look at. */
	{
		WlVetOptions o = {.evidence_unit = "db.service"};

		CHECK_INT(wl_vet(w, "kinds", a, 3, &o, &c, reason, sizeof reason), ==, -EPERM);
		CHECK_CONTAINS(reason, "not the unit the evidence came from");
	}
	/* What only a value can tell: a percentage, a loopback URL. */
	a[1].value = "0";
	CHECK_INT(wl_vet(w, "kinds", a, 3, &any, &c, reason, sizeof reason), ==, -EPERM);
	CHECK_CONTAINS(reason, "check 'disk-above': parameter 'n' value '0' is not a percentage");
	a[1].value = "101";
	CHECK_INT(wl_vet(w, "kinds", a, 3, &any, &c, reason, sizeof reason), ==, -EPERM);
	a[1].value = "100";
	for (size_t i = 0; i < ELEMENTSOF(good_urls); i++) {
		a[2].value = good_urls[i];
		CHECK_(wl_vet(w, "kinds", a, 3, &any, &c, reason, sizeof reason) == 0, "%s: %s",
		       good_urls[i], reason);
		c = wl_command_free(c);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad_urls); i++) {
		a[2].value = bad_urls[i];
		CHECK_(wl_vet(w, "kinds", a, 3, &any, &c, reason, sizeof reason) == -EPERM,
		       "%s allowed", bad_urls[i]);
		CHECK_CONTAINS(reason, "check 'http': parameter 'url'");
		CHECK(c == NULL);
	}
	wl_free(w);
	free(errors);
}

/* File checks look at the canonical path the builtin would change. */
TEST(test_check_paths)
{
	WlCommand *c = NULL;
	char reason[512] = "";
	char *want = fixture_subst("@ROOT@/opt/app/run.sh", 21, NULL);
	char lacks[600], runs[600], exe[600];

	CHECK_INT(vet1("fix_permissions", "path", "@ROOT@/opt/app/inner-link.sh", &c, reason,
		       sizeof reason),
		  ==, 0);
	snprintf(lacks, sizeof lacks, "file-lacks-x %s", want);
	snprintf(runs, sizeof runs, "unit-runs %s", want);
	snprintf(exe, sizeof exe, "file-executable %s", want);
	if (c) {
		const char *const req[] = {lacks, runs}, *const ver[] = {exe};

		expect_checks(c->requires, c->n_requires, req, 2);
		expect_checks(c->verifies, c->n_verifies, ver, 1);
		CHECK(c->unit == NULL);
		CHECK(c->verify_unit == NULL);
		if (c->n_requires == 2) {
			CHECK_INT(c->requires[0].kind, ==, WL_CHECK_FILE_LACKS_X);
			CHECK_INT(c->requires[1].kind, ==, WL_CHECK_UNIT_RUNS);
			CHECK_STR(c->requires[1].argv[0], want);
		}
	}
	wl_command_free(c);
	free(want);
}

TEST(test_check_kinds)
{
	static const char *const names[] = {
		"unit-failed",	"unit-not-active", "unit-active", "disk-above", "memory-below",
		"file-lacks-x", "file-executable", "unit-runs",	  "command",	"http",
	};
	static const bool symptom[] = {true, true,  false, true, true,
				       true, false, false, true, false};

	CHECK_INT(ELEMENTSOF(names), ==, _WL_CHECK_KIND_MAX);
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		CHECK_STR(wl_check_kind_name((WlCheckKind)i), names[i]);
		CHECK_(wl_check_is_symptom((WlCheckKind)i) == symptom[i], "%s", names[i]);
	}
	CHECK(wl_check_kind_name(_WL_CHECK_KIND_MAX) == NULL);
	CHECK(wl_check_kind_name((WlCheckKind)-1) == NULL);
	CHECK(!wl_check_is_symptom(_WL_CHECK_KIND_MAX));
}

/* The bounds themselves are allowed: 8 lines, 32 words, 1M and 64G, 1 and 100000 tasks. */
TEST(test_check_caps)
{
	static const struct {
		const char *value;
		uint64_t bytes;
	} sizes[] = {
		{"1M", 1 << 20},
		{"1048576", 1 << 20},
		{"1024K", 1 << 20},
		{"64G", UINT64_C(64) << 30},
		{"65536M", UINT64_C(64) << 30},
		{"2G", UINT64_C(2) << 30},
	};
	char conf[4096], *errors = NULL;
	size_t n;
	Whitelist *w = NULL;

	n = (size_t)snprintf(conf, sizeof conf,
			     "[action a]\nmatch = true\nexec = /bin/true\ntasks_max = 1\n"
			     "require = command /bin/true");
	for (int i = 0; i < WL_MAX_ARGV - 1; i++)
		n += (size_t)snprintf(conf + n, sizeof conf - n, " w%d", i);
	n += (size_t)snprintf(conf + n, sizeof conf - n, "\n");
	for (int i = 1; i < WL_MAX_CHECKS; i++)
		n += (size_t)snprintf(conf + n, sizeof conf - n,
				      "require = memory-below %d\nverify = unit-active u%d\n", i,
				      i);
	n += (size_t)snprintf(conf + n, sizeof conf - n, "verify = unit-active u0\n");
	CHECK_(wl_parse("t", conf, n, &w, &errors) == 0, "%s", errors);
	if (w) {
		CHECK_INT(w->actions[0].n_requires, ==, WL_MAX_CHECKS);
		CHECK_INT(w->actions[0].n_verifies, ==, WL_MAX_CHECKS);
		CHECK_INT(w->actions[0].requires[0].args.n, ==, WL_MAX_ARGV);
		CHECK_INT(w->actions[0].tasks_max, ==, 1);
		CHECK_INT(w->actions[0].memory_max, ==, 0);
	}
	w = wl_free(w);
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		n = (size_t)snprintf(conf, sizeof conf,
				     "[action a]\nmatch = true\nexec = /bin/true\n"
				     "memory_max = %s\ntasks_max = 100000\n",
				     sizes[i].value);
		CHECK_(wl_parse("t", conf, n, &w, &errors) == 0, "%s: %s", sizes[i].value, errors);
		if (w) {
			CHECK_INT(w->actions[0].memory_max, ==, sizes[i].bytes);
			CHECK_INT(w->actions[0].tasks_max, ==, 100000);
		}
		w = wl_free(w);
	}
}

/* verify = none stays valid, and a literal unit-active still names verify_unit. */
TEST(test_verify_forms)
{
	static const char conf[] = "[action none]\nmatch = a\nexec = /bin/true\nverify = none\n"
				   "verify = none\n"
				   "[action lit]\nmatch = b\nexec = /bin/true\n"
				   "verify = unit-active nginx\n";
	Whitelist *w = NULL;
	WlCommand *c = NULL;
	char reason[256], *errors = NULL;

	CHECK_(wl_parse("t", conf, sizeof conf - 1, &w, &errors) == 0, "%s", errors);
	if (!w)
		return;
	CHECK_INT(wl_vet(w, "none", NULL, 0, NULL, &c, reason, sizeof reason), ==, 0);
	if (c) {
		CHECK_INT(c->n_verifies, ==, 0);
		CHECK_INT(c->n_requires, ==, 0);
		CHECK(c->requires == NULL && c->verifies == NULL);
		CHECK(c->verify_unit == NULL && c->unit == NULL);
		CHECK_INT(c->memory_max, ==, 0);
		CHECK_INT(c->tasks_max, ==, 0);
	}
	c = wl_command_free(c);
	CHECK_INT(wl_vet(w, "lit", NULL, 0, NULL, &c, reason, sizeof reason), ==, 0);
	if (c) {
		CHECK_STR(c->verify_unit, "nginx.service");
		EXPECT_CHECKS(c->verifies, c->n_verifies, "unit-active nginx.service");
	}
	wl_command_free(c);
	wl_free(w);
	free(errors);
}

int main(void)
{
	fixture_make();
	wl = fixture_whitelist();
	RUN(test_example_loads);
	RUN(test_error_files);
	RUN(test_caps);
	RUN(test_units);
	RUN(test_template_protect);
	RUN(test_paths);
	RUN(test_vet_shape);
	RUN(test_evidence_unit);
	RUN(test_tokens);
	RUN(test_first_match_wins);
	RUN(test_patterns);
	RUN(test_unit_rules);
	RUN(test_template_alias);
	RUN(test_always_protected);
	RUN(test_always_protected_alias);
	RUN(test_path_not_in_exec);
	RUN(test_command_words);
	RUN(test_example_checks);
	RUN(test_check_fill);
	RUN(test_check_paths);
	RUN(test_check_kinds);
	RUN(test_check_caps);
	RUN(test_verify_forms);
	wl_free(wl);
	fixture_remove();
	return harness_finish();
}
