/* SPDX-License-Identifier: MIT */
#include "healer/units.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"

/*
 * One query is up to three calls on the bus, one after another, each sent
 * from the reply of the one before: LoadUnit (GetUnit when the manager
 * refuses to load for us) for the object path, then Properties.GetAll of
 * the Unit interface and, for a service, of the Service interface. All of
 * them share one deadline of UNIT_BUS_TIMEOUT_USEC from the start, so a
 * manager that answers slowly cannot stretch a query to three timeouts.
 *
 * What the manager says is outside input like any other: every string and
 * list has a cap, and a reply over a cap fails the query (-E2BIG) instead
 * of being cut, since a cut list of names could drop the protected alias.
 */

#define UNIT_NAME_MAX  256 /* systemd's own limit on a unit name */
#define UNIT_MAX_NAMES 64  /* names (aliases) of one unit */
#define STATE_MAX      64  /* "active", "auto-restart", "reboot-force" ... */
#define REASON_MAX     256

#define SD_DEST		"org.freedesktop.systemd1"
#define SD_PATH		"/org/freedesktop/systemd1"
#define SD_MANAGER	"org.freedesktop.systemd1.Manager"
#define SD_UNIT		"org.freedesktop.systemd1.Unit"
#define SD_SERVICE	"org.freedesktop.systemd1.Service"
#define DBUS_PROPERTIES "org.freedesktop.DBus.Properties"

typedef enum Step {
	STEP_LOAD,    /* Manager.LoadUnit */
	STEP_GET,     /* Manager.GetUnit, when LoadUnit was refused */
	STEP_UNIT,    /* GetAll(Unit) */
	STEP_SERVICE, /* GetAll(Service) */
} Step;

struct UnitQuery {
	sd_bus *bus;
	sd_bus_slot *slot;
	char *unit;
	char *path;
	Step step;
	uint64_t deadline_usec; /* CLOCK_MONOTONIC */
	UnitInfo info;
	size_t n_names, n_exec_paths;
	unit_done_fn done;
	void *userdata;
};

void unit_info_done(UnitInfo *u)
{
	if (!u)
		return;
	free(u->id);
	strv_free(u->names);
	free(u->load_state);
	free(u->active_state);
	free(u->sub_state);
	free(u->failure_action);
	free(u->success_action);
	free(u->start_limit_action);
	free(u->job_timeout_action);
	strv_free(u->exec_paths);
	free(u->working_directory);
	*u = (UnitInfo){0};
}

static UnitQuery *query_free(UnitQuery *q)
{
	if (!q)
		return NULL;
	sd_bus_slot_unref(q->slot);
	sd_bus_unref(q->bus);
	free(q->unit);
	free(q->path);
	unit_info_done(&q->info);
	free(q);
	return NULL;
}

UnitQuery *unit_query_cancel(UnitQuery *q)
{
	/* Unref'ing the slot drops the pending call: its reply is never dispatched. */
	return query_free(q);
}

/* Hands the outcome to the caller and frees q: the last thing a callback does. */
static void query_finish(UnitQuery *q, int r, const char *fmt, ...) _printf_(3, 4);
static void query_finish(UnitQuery *q, int r, const char *fmt, ...)
{
	char reason[REASON_MAX] = "";
	_cleanup_free_ char *clean = NULL;

	if (r < 0 && fmt) {
		va_list ap;

		va_start(ap, fmt);
		(void)vsnprintf(reason, sizeof reason, fmt, ap);
		va_end(ap);
		/* The manager's error text goes into reports: one plain line. */
		clean = text_clean_str(reason, 0);
	}
	q->done(r, r < 0 ? NULL : &q->info, r < 0 ? (clean ? clean : "out of memory") : NULL,
		q->userdata);
	query_free(q);
}

/* The manager's own errors are not in libsystemd's errno map. */
static int bus_error_errno(const sd_bus_error *e)
{
	int r;

	if (sd_bus_error_has_names(e, "org.freedesktop.systemd1.NoSuchUnit",
				   "org.freedesktop.systemd1.NoUnitForInvocationID"))
		return -ENOENT;
	if (sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.InvalidArgs"))
		return -EINVAL;
	r = sd_bus_error_get_errno(e);
	return r > 0 ? -r : -EIO;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int query_send(UnitQuery *q, const char *path, const char *iface, const char *member,
		      const char *arg)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	uint64_t now = util_now_usec();
	int r;

	if (now >= q->deadline_usec)
		return -ETIMEDOUT;
	r = sd_bus_message_new_method_call(q->bus, &m, SD_DEST, path, iface, member);
	if (r < 0)
		return r;
	r = sd_bus_message_append(m, "s", arg);
	if (r < 0)
		return r;
	q->slot = sd_bus_slot_unref(q->slot);
	r = sd_bus_call_async(q->bus, &q->slot, m, on_reply, q, q->deadline_usec - now);
	if (r < 0)
		return r;
	(void)sd_bus_slot_set_description(q->slot, "healer-unit-query");
	return 0;
}

/* A copy of s, or -E2BIG when it is longer than max bytes. */
static int dup_capped(const char *s, size_t max, char **ret)
{
	char *c;

	if (strnlen(s, max + 1) > max)
		return -E2BIG;
	c = strdup(s);
	if (!c)
		return -ENOMEM;
	free(*ret);
	*ret = c;
	return 0;
}

/* Appends s to the NULL-terminated *v unless already there; -E2BIG past max entries. */
static int strv_add_unique(char ***v, size_t *n, const char *s, size_t max)
{
	char **nv;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	if (*n >= max)
		return -E2BIG;
	nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

typedef enum PropKind {
	PROP_STRING,  /* "s", capped at max */
	PROP_NAMES,   /* "as" of unit names */
	PROP_BOOL,    /* "b" */
	PROP_U32,     /* "u" */
	PROP_U64,     /* "t" */
	PROP_EXEC,    /* "a(sasbttttuii)": path and argv of each command */
	PROP_WORKDIR, /* "s": "!" marks "-" (missing ok), "~" the home */
} PropKind;

typedef struct Prop {
	const char *name;
	const char *signature;
	PropKind kind;
	size_t offset; /* in UnitInfo */
	size_t max;    /* PROP_STRING */
} Prop;

#define P(n, s, k, f, m)                          \
	{                                         \
		n, s, k, offsetof(UnitInfo, f), m \
	}
#define EXEC_SIG "a(sasbttttuii)"

static const Prop unit_props[] = {
	P("Id", "s", PROP_STRING, id, UNIT_NAME_MAX),
	P("Names", "as", PROP_NAMES, names, 0),
	P("LoadState", "s", PROP_STRING, load_state, STATE_MAX),
	P("ActiveState", "s", PROP_STRING, active_state, STATE_MAX),
	P("SubState", "s", PROP_STRING, sub_state, STATE_MAX),
	P("RefuseManualStart", "b", PROP_BOOL, refuse_manual_start, 0),
	P("RefuseManualStop", "b", PROP_BOOL, refuse_manual_stop, 0),
	P("FailureAction", "s", PROP_STRING, failure_action, STATE_MAX),
	P("SuccessAction", "s", PROP_STRING, success_action, STATE_MAX),
	P("StartLimitAction", "s", PROP_STRING, start_limit_action, STATE_MAX),
	P("JobTimeoutAction", "s", PROP_STRING, job_timeout_action, STATE_MAX),
};

/* ExecStartPost= too: a script it names is as much run by the unit as ExecStart's. */
static const Prop service_props[] = {
	P("NRestarts", "u", PROP_U32, n_restarts, 0),
	P("RestartUSec", "t", PROP_U64, restart_usec, 0),
	P("ExecStartPre", EXEC_SIG, PROP_EXEC, exec_paths, 0),
	P("ExecStart", EXEC_SIG, PROP_EXEC, exec_paths, 0),
	P("ExecStartPost", EXEC_SIG, PROP_EXEC, exec_paths, 0),
	P("WorkingDirectory", "s", PROP_WORKDIR, working_directory, 0),
};

static int add_exec_path(UnitQuery *q, const char *s)
{
	if (s[0] != '/')
		return 0;
	if (strnlen(s, PATH_MAX) >= PATH_MAX)
		return -E2BIG;
	return strv_add_unique(&q->info.exec_paths, &q->n_exec_paths, s, UNIT_MAX_EXEC_PATHS);
}

/* Every command of an ExecStart*= list: its path and the argv words that are absolute paths. */
static int read_exec(sd_bus_message *m, UnitQuery *q)
{
	const char *s;
	int r;

	r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "(sasbttttuii)");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_STRUCT, "sasbttttuii")) > 0) {
		r = sd_bus_message_read(m, "s", &s);
		if (r < 0 || (r = add_exec_path(q, s)) < 0)
			return r;
		r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "s");
		if (r < 0)
			return r;
		while ((r = sd_bus_message_read(m, "s", &s)) > 0)
			if ((r = add_exec_path(q, s)) < 0)
				return r;
		if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
			return r;
		r = sd_bus_message_skip(m, "bttttuii");
		if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int read_names(sd_bus_message *m, UnitQuery *q)
{
	const char *s;
	int r;

	r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "s");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_read(m, "s", &s)) > 0) {
		if (strnlen(s, UNIT_NAME_MAX + 1) > UNIT_NAME_MAX)
			return -E2BIG;
		r = strv_add_unique(&q->info.names, &q->n_names, s, UNIT_MAX_NAMES);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int read_value(sd_bus_message *m, const Prop *p, UnitQuery *q)
{
	void *field = (char *)&q->info + p->offset;
	const char *s;
	uint32_t u;
	int b, r;

	switch (p->kind) {
	case PROP_STRING:
		r = sd_bus_message_read(m, "s", &s);
		return r < 0 ? r : dup_capped(s, p->max, field);
	case PROP_NAMES:
		return read_names(m, q);
	case PROP_BOOL:
		r = sd_bus_message_read(m, "b", &b);
		*(bool *)field = b;
		return r;
	case PROP_U32:
		r = sd_bus_message_read(m, "u", &u);
		*(uint32_t *)field = u;
		return r;
	case PROP_U64:
		return sd_bus_message_read(m, "t", field);
	case PROP_EXEC:
		return read_exec(m, q);
	case PROP_WORKDIR:
		r = sd_bus_message_read(m, "s", &s);
		if (r < 0)
			return r;
		s += s[0] == '!';
		/* Unset (""), or the home ("~"): no folder to count. */
		if (s[0] != '/')
			return 0;
		return dup_capped(s, PATH_MAX - 1, field);
	}
	return -EINVAL;
}

/* Reads the a{sv} of a GetAll reply, keeping the properties of table. */
static int read_props(sd_bus_message *m, const Prop *table, size_t n, UnitQuery *q)
{
	const char *name;
	int r;

	r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
		const Prop *p = NULL;

		r = sd_bus_message_read(m, "s", &name);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n && !p; i++)
			if (strcmp(table[i].name, name) == 0)
				p = &table[i];
		if (!p) {
			r = sd_bus_message_skip(m, "v");
		} else {
			/* A known property of another type: the reply is not what we asked for. */
			r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, p->signature);
			if (r == -ENXIO)
				return -EBADMSG;
			if (r >= 0)
				r = read_value(m, p, q);
			if (r >= 0)
				r = sd_bus_message_exit_container(m);
		}
		if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/*
 * The steps after each reply. Returns 0 when the next call is on its way,
 * 1 when the query is complete, -errno on failure.
 */
static int step_reply(UnitQuery *q, sd_bus_message *m)
{
	const char *path;
	int r;

	switch (q->step) {
	case STEP_LOAD:
	case STEP_GET:
		r = sd_bus_message_read(m, "o", &path);
		if (r < 0 || (r = dup_capped(path, PATH_MAX - 1, &q->path)) < 0)
			return r;
		q->step = STEP_UNIT;
		return query_send(q, q->path, DBUS_PROPERTIES, "GetAll", SD_UNIT);
	case STEP_UNIT:
		r = read_props(m, unit_props, ELEMENTSOF(unit_props), q);
		if (r < 0)
			return r;
		if (!q->info.id || !q->info.load_state || !q->info.active_state)
			return -EBADMSG;
		if (strcmp(q->info.load_state, "not-found") == 0)
			return -ENOENT;
		if (!ends_with(q->info.id, ".service") || strcmp(q->info.load_state, "loaded") != 0)
			return 1;
		q->step = STEP_SERVICE;
		return query_send(q, q->path, DBUS_PROPERTIES, "GetAll", SD_SERVICE);
	case STEP_SERVICE:
		r = read_props(m, service_props, ELEMENTSOF(service_props), q);
		return r < 0 ? r : 1;
	}
	return -EINVAL;
}

static const char *step_name(Step s)
{
	static const char *const names[] = {
		[STEP_LOAD] = "LoadUnit",
		[STEP_GET] = "GetUnit",
		[STEP_UNIT] = "GetAll(Unit)",
		[STEP_SERVICE] = "GetAll(Service)",
	};

	return names[s];
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	UnitQuery *q = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	int r;

	(void)ret_error;
	if (e) {
		r = bus_error_errno(e);
		/* A manager may refuse to load units for us; a loaded one can still be read. */
		if (q->step == STEP_LOAD && (r == -EACCES || r == -EPERM)) {
			q->step = STEP_GET;
			r = query_send(q, SD_PATH, SD_MANAGER, "GetUnit", q->unit);
			if (r < 0)
				query_finish(q, r, "%s: GetUnit: %s", q->unit, strerror(-r));
			return 0;
		}
		query_finish(q, r, "%s: %s: %s", q->unit, step_name(q->step),
			     e->message ? e->message : e->name);
		return 0;
	}
	r = step_reply(q, m);
	if (r == -ENOENT)
		query_finish(q, r, "unit %s not found", q->unit);
	else if (r < 0)
		query_finish(q, r, "%s: %s: %s", q->unit, step_name(q->step),
			     r == -EBADMSG ? "malformed reply" : strerror(-r));
	else if (r > 0)
		query_finish(q, 0, NULL);
	return 0;
}

int unit_query(sd_bus *bus, const char *unit, unit_done_fn done, void *userdata, UnitQuery **ret)
{
	UnitQuery *q;
	int r;

	if (!bus || !unit || !done)
		return -EINVAL;
	if (!unit[0] || strnlen(unit, UNIT_NAME_MAX + 1) > UNIT_NAME_MAX || strchr(unit, '/'))
		return -EINVAL;
	q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->bus = sd_bus_ref(bus);
	q->unit = strdup(unit);
	q->done = done;
	q->userdata = userdata;
	q->step = STEP_LOAD;
	q->deadline_usec = util_now_usec() + UNIT_BUS_TIMEOUT_USEC;
	if (!q->unit) {
		query_free(q);
		return -ENOMEM;
	}
	r = query_send(q, SD_PATH, SD_MANAGER, "LoadUnit", unit);
	if (r < 0) {
		query_free(q);
		return r;
	}
	if (ret)
		*ret = q;
	return 0;
}

/* The reason, in buf when there is one, else the static fallback. */
static const char *reason(char *buf, size_t len, const char *fallback, const char *fmt, ...)
	_printf_(4, 5);
static const char *reason(char *buf, size_t len, const char *fallback, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return fallback;
	va_start(ap, fmt);
	(void)vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

/*
 * Names first: the whitelist's protection follows every alias the manager
 * knows, including links outside the folders the whitelist reads. Without
 * a whitelist (wl NULL) only the properties are judged.
 */
const char *unit_refusal(const UnitInfo *u, const Whitelist *wl, char *buf, size_t len)
{
	static const struct {
		const char *name;
		size_t offset;
	} actions[] = {
		{"FailureAction", offsetof(UnitInfo, failure_action)},
		{"SuccessAction", offsetof(UnitInfo, success_action)},
		{"StartLimitAction", offsetof(UnitInfo, start_limit_action)},
		{"JobTimeoutAction", offsetof(UnitInfo, job_timeout_action)},
	};
	const char *id = u->id ? u->id : "unit";

	if (wl && u->id && wl_unit_is_protected(wl, u->id))
		return reason(buf, len, "the unit is protected", "%s is protected", id);
	for (size_t i = 0; wl && u->names && u->names[i]; i++)
		if (wl_unit_is_protected(wl, u->names[i]))
			return reason(buf, len, "the unit is protected", "%s is protected (as %s)",
				      id, u->names[i]);
	if (!u->load_state || strcmp(u->load_state, "loaded") != 0)
		return reason(buf, len, "the unit is not loaded", "%s is not loaded (LoadState=%s)",
			      id, u->load_state ? u->load_state : "unknown");
	if (u->refuse_manual_start)
		return reason(buf, len, "RefuseManualStart=yes", "%s has RefuseManualStart=yes",
			      id);
	if (u->refuse_manual_stop)
		return reason(buf, len, "RefuseManualStop=yes", "%s has RefuseManualStop=yes", id);
	for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
		const char *v = *(char *const *)((const char *)u + actions[i].offset);

		/* A restart that fails could shut down, reboot or exit the manager. */
		if (v && v[0] && strcmp(v, "none") != 0)
			return reason(buf, len, "the unit has a failure or success action",
				      "%s has %s=%s", id, actions[i].name, v);
	}
	return NULL;
}

/* "." or ".." as a component: not the canonical path the caller promised. */
static bool has_dot_component(const char *path)
{
	for (const char *p = path; (p = strchr(p, '/')); p++)
		if (p[1] == '.' &&
		    (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || p[3] == '\0'))))
			return true;
	return false;
}

bool unit_runs_path(const UnitInfo *u, const char *path)
{
	const char *wd;
	size_t n;

	if (!u || !path || path[0] != '/' || has_dot_component(path))
		return false;
	for (size_t i = 0; u->exec_paths && u->exec_paths[i]; i++)
		if (strcmp(u->exec_paths[i], path) == 0)
			return true;
	wd = u->working_directory;
	if (!wd || wd[0] != '/')
		return false;
	n = strlen(wd);
	while (n > 1 && wd[n - 1] == '/')
		n--;
	/* Beneath, at a component boundary; "/" would make every path count. */
	return n > 1 && strncmp(path, wd, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

int unit_bus_open(sd_event *e, sd_bus **ret)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	if (!e || !ret)
		return -EINVAL;
	r = sd_bus_open_system_with_description(&bus, "healer-units");
	if (r < 0)
		return r;
	r = sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(bus);
	return 0;
}
