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

#define MAX_CHAIN 24 /* names per unit; also bounds alias loops */

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

/*
 * For an instance "p@i.t": its template "p@.t" into tmpl and "i" into inst.
 * False for anything else (a template itself has an empty instance).
 */
static bool split_instance(const char *name, char *tmpl, char *inst)
{
	const char *at = strchr(name, '@'), *dot = strrchr(name, '.');

	if (!at || !dot || dot <= at + 1)
		return false;
	(void)util_snprintf(tmpl, NAME_MAX + 1, "%.*s%s", (int)(at - name + 1), name, dot);
	(void)util_snprintf(inst, NAME_MAX + 1, "%.*s", (int)(dot - at - 1), at + 1);
	return true;
}

/* "q@.t" with instance "i" -> "q@i.t"; false when tmpl is not a template. */
static bool instantiate(const char *tmpl, const char *inst, char *buf)
{
	const char *at = strchr(tmpl, '@');

	if (!at || at[1] != '.')
		return false;
	return util_snprintf(buf, NAME_MAX + 1, "%.*s%s%s", (int)(at - tmpl + 1), tmpl, inst,
			     at + 1) >= 0;
}

/*
 * Every name a unit answers to through alias symlinks, an instance carried
 * over to its template's aliases (autovt@tty1.service -> getty@tty1.service
 * when autovt@.service links to getty@.service). With templates, the bare
 * templates join too, so that protecting getty@.service covers its
 * instances; a protected instance must not, or it would cover its siblings.
 */
static void build_chain(const Whitelist *wl, const char *unit, Chain *c, bool with_templates)
{
	c->n = 0;
	chain_add(c, unit);
	for (size_t i = 0; i < c->n; i++) {
		char next[NAME_MAX + 1], tmpl[NAME_MAX + 1], inst[NAME_MAX + 1],
			named[NAME_MAX + 1];

		if (alias_target(wl, c->names[i], next, sizeof next))
			chain_add(c, next);
		if (!split_instance(c->names[i], tmpl, inst))
			continue;
		if (with_templates)
			chain_add(c, tmpl);
		if (alias_target(wl, tmpl, next, sizeof next) && instantiate(next, inst, named))
			chain_add(c, named);
	}
}

/*
 * Never restarted, whatever the whitelist says: starting these shuts the
 * host down or suspends it, opens a console or a root shell, loads kernel
 * modules or sets kernel parameters, tears down sessions, changes the
 * installed software, formats, checks, grows or unlocks disks, runs the
 * first-boot or initrd steps, or is the journal, the bus or Healer itself.
 * Well-known aliases are listed by name too (kmod.service is
 * systemd-modules-load.service), for hosts where the alias symlink lies
 * outside unit_dirs.
 */
static const char *const always_protected[] = {
	/* power and sleep */
	"systemd-exit.service",
	"systemd-poweroff.service",
	"systemd-reboot.service",
	"systemd-halt.service",
	"systemd-kexec.service",
	"systemd-soft-reboot.service",
	"systemd-suspend.service",
	"systemd-hibernate.service",
	"systemd-hybrid-sleep.service",
	"systemd-suspend-then-hibernate.service",
	"kexec-load.service",
	/* consoles, shells and sessions */
	"rescue.service",
	"emergency.service",
	"debug-shell.service",
	"console-getty.service",
	"getty@.service",
	"serial-getty@.service",
	"autovt@.service",
	"container-getty@.service",
	"user@.service",
	"user-runtime-dir@.service",
	"systemd-logind.service",
	/* kernel modules and parameters */
	"modprobe@.service",
	"systemd-modules-load.service",
	"kmod.service",
	"module-init-tools.service",
	"kmod-static-nodes.service",
	"systemd-sysctl.service",
	"procps.service",
	"systemd-binfmt.service",
	/* the journal, the bus, devices */
	"systemd-journald.service",
	"systemd-journald@.service",
	"systemd-journal-flush.service",
	"systemd-udevd.service",
	"systemd-udev-trigger.service",
	"systemd-udev-settle.service",
	"dbus.service",
	"dbus-broker.service",
	/* installed software */
	"packagekit.service",
	"packagekit-offline-update.service",
	"apt-daily.service",
	"apt-daily-upgrade.service",
	"unattended-upgrades.service",
	"dnf-automatic.service",
	"dnf-automatic-install.service",
	"dnf-makecache.service",
	"yum-cron.service",
	"fwupd.service",
	"fwupd-offline-update.service",
	"fwupd-refresh.service",
	"snapd.service",
	"system-update-cleanup.service",
	"systemd-update-done.service",
	"ldconfig.service",
	"systemd-hwdb-update.service",
	"systemd-boot-update.service",
	"systemd-bless-boot.service",
	/* disks: check, format, grow, unlock, assemble, mount at boot */
	"systemd-cryptsetup@.service",
	"systemd-veritysetup@.service",
	"systemd-integritysetup@.service",
	"systemd-fsck@.service",
	"systemd-fsck-root.service",
	"systemd-fsck-usr.service",
	"systemd-makefs@.service",
	"systemd-mkswap@.service",
	"systemd-growfs@.service",
	"systemd-growfs-root.service",
	"systemd-repart.service",
	"systemd-remount-fs.service",
	"systemd-quotacheck.service",
	"quotaon.service",
	"blk-availability.service",
	"lvm2-monitor.service",
	"lvm2-pvscan@.service",
	"mdmonitor.service",
	"mdadm-grow-continue@.service",
	"mdadm-last-resort@.service",
	"e2scrub@.service",
	"e2scrub_all.service",
	"e2scrub_reap.service",
	"systemd-tmpfiles-setup.service",
	"systemd-tmpfiles-setup-dev.service",
	"systemd-tmpfiles-clean.service",
	/* first boot */
	"systemd-firstboot.service",
	"systemd-machine-id-commit.service",
	"systemd-sysusers.service",
	"systemd-random-seed.service",
	"cloud-init.service",
	"cloud-init-local.service",
	"cloud-config.service",
	"cloud-final.service",
	/* system updates, extensions, early-boot and storage steps */
	"systemd-sysupdate.service",
	"systemd-sysupdate-reboot.service",
	"systemd-sysext.service",
	"systemd-confext.service",
	"systemd-hibernate-resume.service",
	"systemd-hibernate-resume@.service",
	"systemd-quotacheck@.service",
	"quotaon@.service",
	"systemd-storagetm.service",
	"systemd-battery-check.service",
	"systemd-tpm2-setup.service",
	"systemd-tpm2-setup-early.service",
	"rc-local.service",
	"systemd-initctl.service",
	/* ourselves */
	"healer.service",
};

/*
 * Families protected by name prefix, instances and siblings included:
 * initrd and dracut steps, disk and volume tools, updaters and cloud-init
 * units that a release may add under new names.
 */
static const char *const always_protected_prefixes[] = {
	"initrd-",
	"systemd-journald",
	"systemd-udevd",
	"dracut-",
	"systemd-fsck",
	"systemd-growfs",
	"systemd-makefs",
	"systemd-mkswap",
	"systemd-repart",
	"systemd-cryptsetup",
	"systemd-veritysetup",
	"systemd-integritysetup",
	"systemd-pcr",
	"lvm2-pvscan",
	"lvm2-monitor",
	"lvm2-activation",
	"mdadm",
	"zfs-import",
	"zfs-mount",
	"zfs-load-key",
	"apt-daily",
	"unattended-upgrade",
	"packagekit",
	"dnf-",
	"yum-",
	"fwupd",
	"cloud-init",
	"cloud-config",
	"cloud-final",
	"e2scrub",
};

static bool has_protected_prefix(const Chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		for (size_t p = 0; p < ELEMENTSOF(always_protected_prefixes); p++)
			if (strncmp(c->names[i], always_protected_prefixes[p],
				    strlen(always_protected_prefixes[p])) == 0)
				return true;
	return false;
}

static bool chains_meet(const Chain *a, const Chain *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (strcmp(a->names[i], b->names[j]) == 0)
				return true;
	return false;
}

/*
 * Healer acts on services, and on the sockets, timers and path units that
 * start them; a target, mount, swap, slice, scope or device is no service
 * to heal, and starting some of them (reboot.target, -.mount) is the harm.
 * Returns the service a socket, timer or path unit starts by default (the
 * same stem), "" for a service, or NULL for any other type.
 */
static const char *activated_service(const char *unit, char *buf)
{
	const char *dot = strrchr(unit, '.');

	if (!dot)
		return NULL;
	if (strcmp(dot, ".service") == 0)
		return "";
	if (strcmp(dot, ".socket") && strcmp(dot, ".timer") && strcmp(dot, ".path"))
		return NULL;
	if (util_snprintf(buf, NAME_MAX + 1, "%.*s.service", (int)(dot - unit), unit) < 0)
		return NULL;
	return buf;
}

bool wl_unit_is_protected(const Whitelist *wl, const char *unit)
{
	char service[NAME_MAX + 1];
	const char *activated;
	Chain mine, theirs;

	if (strlen(unit) > NAME_MAX || strchr(unit, '/'))
		return true; /* not a unit name at all: fail closed */
	activated = activated_service(unit, service);
	if (!activated)
		return true;
	/* dbus.socket restarts dbus.service: a socket is as protected as its service. */
	if (*activated && wl_unit_is_protected(wl, activated))
		return true;
	build_chain(wl, unit, &mine, true);
	if (has_protected_prefix(&mine))
		return true;
	for (size_t p = 0; p < ELEMENTSOF(always_protected); p++) {
		build_chain(wl, always_protected[p], &theirs, false);
		if (chains_meet(&mine, &theirs))
			return true;
	}
	for (size_t p = 0; p < wl->n_protect; p++) {
		build_chain(wl, wl->protect[p], &theirs, false);
		if (chains_meet(&mine, &theirs))
			return true;
	}
	return false;
}
