/* SPDX-License-Identifier: MIT */
#include "healer/unit-watch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "healer/log.h"

/*
 * What the manager sends, in this order, when a service changes state:
 * PropertiesChanged of the Service interface (Result among them), then of
 * the Unit interface (ActiveState, SubState, StateChangeTimestamp), both on
 * the unit's object path, which is the unit's name escaped
 * (sd_bus_path_encode). It sends every property that may change each time,
 * so a failed unit whose job queue changes says "failed" again with the
 * same StateChangeTimestamp, and a start resets Result to "success" before
 * the state leaves "failed": a failure is one new StateChangeTimestamp with
 * ActiveState "failed", and its Result is the one of the Service signal
 * just before (or, when that was missed, asked for).
 */

#define SD_NAME	     "org.freedesktop.systemd1"
#define SD_PATH	     "/org/freedesktop/systemd1"
#define UNIT_PATH    "/org/freedesktop/systemd1/unit"
#define SD_UNIT	     "org.freedesktop.systemd1.Unit"
#define SD_SERVICE   "org.freedesktop.systemd1.Service"
#define DBUS_NAME    "org.freedesktop.DBus"
#define DBUS_PROPS   "org.freedesktop.DBus.Properties"
#define NAME_MAX_LEN 256  /* systemd's own limit on a unit name */
#define PATH_MAX_LEN 1024 /* an escaped name is at most three times as long */
#define OWNER_MAX    255  /* a bus name */
#define PROPS_MAX    128  /* properties read of one signal */
#define STATE_MAX    64
#define TABLE_MAX    128 /* units remembered (last failure, rate); the oldest gives way */
#define LOOKUPS_MAX  8	 /* Result lookups in flight */

typedef struct Seen {
	char name[NAME_MAX_LEN + 1];
	uint64_t change_usec; /* StateChangeTimestamp of the failure last handled */
	uint64_t window_usec; /* start of the current minute of its rate cap */
	unsigned n;	      /* failures reported in it */
	uint64_t used_usec;
} Seen;

typedef struct Lookup Lookup;
struct Lookup {
	UnitWatch *w;
	Lookup *next;
	sd_bus_slot *slot;
	char name[NAME_MAX_LEN + 1];
	uint64_t change_usec;
};

struct UnitWatch {
	sd_bus *bus;
	bool direct; /* a connection to the manager itself, no bus daemon between */
	sd_bus_slot *match_unit, *match_service, *match_owner;
	sd_bus_slot *subscribe, *get_owner;
	char owner[OWNER_MAX + 1]; /* the unique name of org.freedesktop.systemd1, "" unknown */
	/* The Service signal just read: its path and Result. */
	char last_path[PATH_MAX_LEN + 1];
	char last_result[UNIT_WATCH_RESULT_MAX + 1];
	Seen seen[TABLE_MAX];
	Lookup *lookups;
	size_t n_lookups;
	uint64_t window_usec; /* the all-units rate cap's minute */
	unsigned n_window;
	uint64_t reported, refused, dropped, dropped_logged;
	bool warned_refused, warned_subscribe;
	unit_failed_fn fn;
	void *userdata;
	Metrics *metrics; /* the daemon's; NULL records nothing */
};

uint64_t unit_watch_reported(const UnitWatch *w)
{
	return w ? w->reported : 0;
}

uint64_t unit_watch_refused(const UnitWatch *w)
{
	return w ? w->refused : 0;
}

uint64_t unit_watch_dropped(const UnitWatch *w)
{
	return w ? w->dropped : 0;
}

/*
 * Whether m comes from the manager. Through a bus daemon: its sender is
 * the unique name that owns org.freedesktop.systemd1 (the bus daemon sets
 * the sender; a match on the well-known name alone lets through anything
 * addressed to us, since sd-bus cannot tell which unique name owns it). On
 * a direct connection only the peer, checked at the start, can speak.
 */
static bool from_manager(UnitWatch *w, sd_bus_message *m)
{
	const char *s;

	if (w->direct)
		return true;
	s = sd_bus_message_get_sender(m);
	if (s && w->owner[0] && strcmp(s, w->owner) == 0)
		return true;
	w->refused++;
	metrics_add(w->metrics, M_UNIT_SIGNALS, 1, "refused", NULL);
	/* Before GetNameOwner answers, the manager's own signals are refused too: not news. */
	if (!w->owner[0])
		return false;
	if (!w->warned_refused) {
		w->warned_refused = true;
		log_msg(LOG_WARNING,
			"A unit signal from %s, which is not the service manager (%s), was "
			"ignored (said once)",
			s ? s : "an unknown sender", w->owner);
	}
	return false;
}

/* A plain unit name of a service: systemd's characters, capped. */
static bool service_name_ok(const char *s)
{
	size_t n = strnlen(s, NAME_MAX_LEN + 1);

	if (n == 0 || n > NAME_MAX_LEN || n <= strlen(".service") ||
	    strcmp(s + n - strlen(".service"), ".service") != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@",
			    s[i]))
			return false;
	return true;
}

/* A Result word: lower-case letters, digits and '-', capped. */
static bool result_ok(const char *s)
{
	size_t n = strnlen(s, UNIT_WATCH_RESULT_MAX + 1);

	if (n == 0 || n > UNIT_WATCH_RESULT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", s[i]))
			return false;
	return true;
}

/* The unit's entry, made (the least recently used one given up) when absent. */
static Seen *seen_get(UnitWatch *w, const char *name, uint64_t now)
{
	Seen *oldest = &w->seen[0];

	for (size_t i = 0; i < TABLE_MAX; i++) {
		if (w->seen[i].name[0] && strcmp(w->seen[i].name, name) == 0) {
			w->seen[i].used_usec = now;
			return &w->seen[i];
		}
		if (w->seen[i].used_usec < oldest->used_usec)
			oldest = &w->seen[i];
	}
	*oldest = (Seen){.used_usec = now};
	memcpy(oldest->name, name, strlen(name) + 1);
	return oldest;
}

/* Within the caps (one more counted), or false (dropped and counted). */
static bool rate_ok(UnitWatch *w, Seen *s, uint64_t now)
{
	if (now - w->window_usec >= USEC_PER_MINUTE) {
		if (w->dropped > w->dropped_logged)
			log_msg(LOG_WARNING,
				"%llu unit failures the manager reported were over the cap (%u per "
				"unit, %u in all, a minute) and left to the journal",
				(unsigned long long)(w->dropped - w->dropped_logged),
				UNIT_WATCH_PER_UNIT, UNIT_WATCH_PER_MINUTE);
		w->dropped_logged = w->dropped;
		w->window_usec = now;
		w->n_window = 0;
	}
	if (now - s->window_usec >= USEC_PER_MINUTE) {
		s->window_usec = now;
		s->n = 0;
	}
	if (w->n_window >= UNIT_WATCH_PER_MINUTE || s->n >= UNIT_WATCH_PER_UNIT) {
		w->dropped++;
		metrics_add(w->metrics, M_UNIT_SIGNALS, 1, "over_cap", NULL);
		return false;
	}
	w->n_window++;
	s->n++;
	return true;
}

/* Hands one failure over, within the caps. */
static void report(UnitWatch *w, const char *name, const char *result, uint64_t change_usec)
{
	/* The caps run on the monotonic clock: a wall clock step must not reset them. */
	uint64_t now = util_realtime_usec(), mono = util_now_usec();
	Seen *s = seen_get(w, name, mono);

	if (!rate_ok(w, s, mono))
		return;
	w->reported++;
	metrics_add(w->metrics, M_UNIT_SIGNALS, 1, "reported", NULL);
	w->fn(name, result, change_usec < now ? change_usec : now, w->userdata);
}

static Lookup *lookup_free(Lookup *l)
{
	if (!l)
		return NULL;
	sd_bus_slot_unref(l->slot);
	free(l);
	return NULL;
}

static void lookup_unlink(UnitWatch *w, Lookup *l)
{
	for (Lookup **p = &w->lookups; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			w->n_lookups--;
			return;
		}
}

/* The Result asked for when its Service signal was missed. */
static int on_result(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	Lookup *l = userdata;
	UnitWatch *w = l->w;
	const char *result = NULL;

	(void)ret_error;
	lookup_unlink(w, l);
	/* A reply's sender is the bus daemon's to check: it comes from whom we asked. */
	if (!sd_bus_message_is_method_error(m, NULL) &&
	    sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, "s") > 0 &&
	    sd_bus_message_read(m, "s", &result) > 0 && result_ok(result) &&
	    strcmp(result, "success") != 0)
		report(w, l->name, result, l->change_usec);
	lookup_free(l);
	return 0;
}

static void ask_result(UnitWatch *w, const char *path, const char *name, uint64_t change_usec)
{
	Lookup *l;
	int r;

	if (w->n_lookups >= LOOKUPS_MAX) {
		w->dropped++;
		metrics_add(w->metrics, M_UNIT_SIGNALS, 1, "over_cap", NULL);
		return;
	}
	l = calloc(1, sizeof *l);
	if (!l)
		return;
	l->w = w;
	l->change_usec = change_usec;
	memcpy(l->name, name, strlen(name) + 1);
	r = sd_bus_call_method_async(w->bus, &l->slot, SD_NAME, path, DBUS_PROPS, "Get", on_result,
				     l, "ss", SD_SERVICE, "Result");
	if (r < 0) {
		lookup_free(l);
		return;
	}
	(void)sd_bus_slot_set_description(l->slot, "healer-unit-watch-result");
	l->next = w->lookups;
	w->lookups = l;
	w->n_lookups++;
}

/* The string value of a property, capped; -EBADMSG when it is not a string. */
static int read_string(sd_bus_message *m, char *buf, size_t len)
{
	const char *s;
	int r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, "s");

	if (r == -ENXIO || r == 0)
		return -EBADMSG;
	if (r < 0 || (r = sd_bus_message_read(m, "s", &s)) < 0)
		return r;
	if (strnlen(s, len) >= len)
		return -E2BIG;
	memcpy(buf, s, strlen(s) + 1);
	return sd_bus_message_exit_container(m);
}

typedef struct Changed {
	char active[STATE_MAX];
	char result[UNIT_WATCH_RESULT_MAX + 1];
	uint64_t change_usec;
	bool has_change;
} Changed;

/* The a{sv} of a PropertiesChanged: the few properties read, each capped. */
static int read_changed(sd_bus_message *m, Changed *c)
{
	const char *name;
	size_t n = 0;
	int r;

	r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
	if (r <= 0)
		return r < 0 ? r : -EBADMSG;
	while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
		if (++n > PROPS_MAX)
			return -E2BIG;
		r = sd_bus_message_read(m, "s", &name);
		if (r < 0)
			return r;
		if (strcmp(name, "ActiveState") == 0) {
			r = read_string(m, c->active, sizeof c->active);
		} else if (strcmp(name, "Result") == 0) {
			r = read_string(m, c->result, sizeof c->result);
		} else if (strcmp(name, "StateChangeTimestamp") == 0) {
			r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, "t");
			if (r == -ENXIO || r == 0)
				return -EBADMSG;
			if (r > 0 && (r = sd_bus_message_read(m, "t", &c->change_usec)) > 0)
				r = sd_bus_message_exit_container(m);
			c->has_change = r >= 0;
		} else {
			r = sd_bus_message_skip(m, "v");
		}
		if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	UnitWatch *w = userdata;
	const char *path = sd_bus_message_get_path(m), *iface = NULL;
	_cleanup_free_ char *name = NULL;
	char result[UNIT_WATCH_RESULT_MAX + 1] = "";
	Changed c = {0};
	uint64_t now;
	Seen *s;

	(void)ret_error;
	if (!from_manager(w, m) || !path || strnlen(path, PATH_MAX_LEN + 1) > PATH_MAX_LEN)
		return 0;
	if (sd_bus_message_read(m, "s", &iface) <= 0 || read_changed(m, &c) < 0)
		return 0;
	if (strcmp(iface, SD_SERVICE) == 0) {
		/* Kept for the Unit signal that follows on the same path. */
		if (result_ok(c.result)) {
			memcpy(w->last_path, path, strlen(path) + 1);
			memcpy(w->last_result, c.result, strlen(c.result) + 1);
		}
		return 0;
	}
	if (strcmp(iface, SD_UNIT) != 0)
		return 0;
	/* The Service signal of the same unit came just before: its Result is this change's. */
	if (strcmp(w->last_path, path) == 0)
		memcpy(result, w->last_result, strlen(w->last_result) + 1);
	w->last_path[0] = '\0';
	/* Only the move into "failed": not inactive (an administrator's stop), not a restart. */
	if (strcmp(c.active, "failed") != 0 || !c.has_change)
		return 0;
	if (sd_bus_path_decode(path, UNIT_PATH, &name) <= 0 || !name || !service_name_ok(name))
		return 0;
	now = util_realtime_usec();
	/* A failure from before (the unit still failed when something else changed). */
	if (c.change_usec + UNIT_WATCH_FRESH_USEC < now)
		return 0;
	s = seen_get(w, name, now);
	if (s->change_usec == c.change_usec)
		return 0;
	s->change_usec = c.change_usec;
	if (result[0] && strcmp(result, "success") != 0)
		report(w, name, result, c.change_usec);
	else
		ask_result(w, path, name, c.change_usec);
	return 0;
}

static void set_owner(UnitWatch *w, const char *owner)
{
	if (!owner || strnlen(owner, OWNER_MAX + 1) > OWNER_MAX || owner[0] != ':') {
		w->owner[0] = '\0';
		return;
	}
	memcpy(w->owner, owner, strlen(owner) + 1);
}

static void warn_call(UnitWatch *w, sd_bus_message *m, const char *what)
{
	const sd_bus_error *e = sd_bus_message_get_error(m);

	if (w->warned_subscribe)
		return;
	w->warned_subscribe = true;
	log_msg(LOG_WARNING, "Failed to %s (%s): unit failures are seen in the journal only", what,
		e && e->message ? e->message
		: e		? e->name
				: "no answer");
}

static int on_subscribed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	UnitWatch *w = userdata;

	(void)ret_error;
	w->subscribe = sd_bus_slot_unref(w->subscribe);
	if (sd_bus_message_is_method_error(m, NULL))
		warn_call(w, m, "subscribe to the service manager's unit changes");
	return 0;
}

static int subscribe(UnitWatch *w)
{
	int r;

	w->subscribe = sd_bus_slot_unref(w->subscribe);
	r = sd_bus_call_method_async(w->bus, &w->subscribe, SD_NAME, SD_PATH,
				     "org.freedesktop.systemd1.Manager", "Subscribe", on_subscribed,
				     w, "");
	if (r >= 0)
		(void)sd_bus_slot_set_description(w->subscribe, "healer-unit-watch-subscribe");
	return r;
}

static int on_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	UnitWatch *w = userdata;
	const char *owner = NULL;

	(void)ret_error;
	w->get_owner = sd_bus_slot_unref(w->get_owner);
	if (sd_bus_message_is_method_error(m, NULL)) {
		warn_call(w, m, "find the service manager on the bus");
		return 0;
	}
	/* NameOwnerChanged may have told us already: it is newer. */
	if (!w->owner[0] && sd_bus_message_read(m, "s", &owner) > 0)
		set_owner(w, owner);
	return 0;
}

/* The manager left the bus or came back (a re-exec): its new unique name. */
static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	UnitWatch *w = userdata;
	const char *sender = sd_bus_message_get_sender(m), *name, *old, *new;

	(void)ret_error;
	/* Only the bus daemon speaks as org.freedesktop.DBus. */
	if (!sender || strcmp(sender, DBUS_NAME) != 0)
		return 0;
	if (sd_bus_message_read(m, "sss", &name, &old, &new) <= 0 || strcmp(name, SD_NAME) != 0)
		return 0;
	w->get_owner = sd_bus_slot_unref(w->get_owner);
	set_owner(w, new);
	if (w->owner[0])
		(void)subscribe(w);
	return 0;
}

static int on_match_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	(void)ret_error;
	if (sd_bus_message_is_method_error(m, NULL))
		warn_call(userdata, m, "watch the service manager's unit changes");
	return 0;
}

UnitWatch *unit_watch_free(UnitWatch *w)
{
	if (!w)
		return NULL;
	while (w->lookups) {
		Lookup *l = w->lookups;

		w->lookups = l->next;
		lookup_free(l);
	}
	sd_bus_slot_unref(w->match_unit);
	sd_bus_slot_unref(w->match_service);
	sd_bus_slot_unref(w->match_owner);
	sd_bus_slot_unref(w->subscribe);
	sd_bus_slot_unref(w->get_owner);
	sd_bus_unref(w->bus);
	free(w);
	return NULL;
}

static void unit_watch_freep(UnitWatch **w)
{
	*w = unit_watch_free(*w);
}

/* A direct connection: the peer must be a manager running as root. */
static int check_peer(sd_bus *bus)
{
	sd_bus_creds *c = NULL;
	uid_t uid;
	int r = sd_bus_get_owner_creds(bus, SD_BUS_CREDS_EUID, &c);

	if (r >= 0)
		r = sd_bus_creds_get_euid(c, &uid);
	sd_bus_creds_unref(c);
	if (r < 0)
		return r;
	return uid == 0 ? 0 : -EPERM;
}

static int add_match(UnitWatch *w, sd_bus_slot **slot, const char *match)
{
	int r = sd_bus_add_match_async(w->bus, slot, match, on_changed, on_match_added, w);

	if (r >= 0)
		(void)sd_bus_slot_set_description(*slot, "healer-unit-watch");
	return r;
}

int unit_watch_new(sd_bus *bus, Metrics *metrics, unit_failed_fn fn, void *userdata,
		   UnitWatch **ret)
{
	_cleanup_(unit_watch_freep) UnitWatch *w = NULL;
	int r;

	if (!bus || !fn || !ret)
		return -EINVAL;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->bus = sd_bus_ref(bus);
	w->metrics = metrics;
	w->fn = fn;
	w->userdata = userdata;
	r = sd_bus_is_bus_client(bus);
	if (r < 0)
		return r;
	w->direct = r == 0;
	if (w->direct && (r = check_peer(bus)) < 0)
		return r;
	/* The owner first: signals before its answer are refused (the journal has them). */
	if (!w->direct) {
		r = sd_bus_add_match_async(
			bus, &w->match_owner,
			"type='signal',sender='" DBUS_NAME "',path='/org/freedesktop/DBus',"
			"interface='" DBUS_NAME "',member='NameOwnerChanged',arg0='" SD_NAME "'",
			on_owner_changed, on_match_added, w);
		if (r >= 0)
			(void)sd_bus_slot_set_description(w->match_owner,
							  "healer-unit-watch-owner");
		if (r >= 0)
			r = sd_bus_call_method_async(bus, &w->get_owner, DBUS_NAME,
						     "/org/freedesktop/DBus", DBUS_NAME,
						     "GetNameOwner", on_owner, w, "s", SD_NAME);
		if (r >= 0)
			(void)sd_bus_slot_set_description(w->get_owner,
							  "healer-unit-watch-get-owner");
		if (r < 0)
			return r;
	}
	r = add_match(w, &w->match_service,
		      "type='signal',sender='" SD_NAME "',interface='" DBUS_PROPS "',"
		      "member='PropertiesChanged',path_namespace='" UNIT_PATH "',"
		      "arg0='" SD_SERVICE "'");
	if (r >= 0)
		r = add_match(w, &w->match_unit,
			      "type='signal',sender='" SD_NAME "',interface='" DBUS_PROPS "',"
			      "member='PropertiesChanged',path_namespace='" UNIT_PATH "',"
			      "arg0='" SD_UNIT "'");
	if (r >= 0)
		r = subscribe(w);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(w);
	return 0;
}
