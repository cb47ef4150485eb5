/* SPDX-License-Identifier: MIT */
/*
 * Policy bookkeeping over an explicit clock. What it remembers lives in
 * small tables (fingerprints, units, actions, escalation marks), each a
 * hash over a key of its own with an LRU list beside it: an entry past
 * every window that matters is pruned on the way, and a full table drops
 * its least recently written entry and counts it. Nothing here blocks,
 * sleeps, logs or grows without bound.
 *
 * The clock is the caller's realtime clock (entry timestamps are realtime,
 * so max_age needs it). It may step back: an interval that comes out
 * negative counts as 0, which keeps a cooldown or window running longer,
 * never shorter.
 *
 * Forgetting is where a flood could win: an attacker who gets many
 * distinct lines admitted (text a service logs on their behalf) pushes
 * older fingerprints, and their cooldowns, out of a full table. What bounds
 * the damage is kept where a flood cannot reach: the hourly budget is one
 * list of its own, unit cooldowns are keyed by trusted unit names, and
 * escalation marks have tables of their own. A record lost for want of
 * memory makes every admission refuse for the longest window instead.
 *
 * Fingerprint 0 and a NULL unit stand for "none" in the escalation calls,
 * so that a fingerprint and a unit can be marked, asked and cleared apart.
 *
 * No I/O but one getrandom() in pol_new(), for the hash key.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/util.h"
#include "healer/policy.h"

/* max_tracked 0: a table of this many entries (a few hundred KiB at most). */
#define DEFAULT_TRACKED 4096
/*
 * The whitelist caps an action's cooldown at 30 days; an action's last run
 * is forgotten after that (pol_heal_charged is not told the cooldown).
 */
#define ACTION_HORIZON (30 * USEC_PER_DAY)
/* Times kept per record at most, whatever a limit says: a larger limit acts as this one. */
#define KEEP_MAX    1000
#define MAX_BUCKETS ((size_t)1 << 20)

/* The newest times of one kind, oldest first. */
typedef struct Times {
	uint64_t *v;
	uint32_t n, cap;
} Times;

typedef struct Track Track;
struct Track {
	Track *hnext;	      /* hash chain */
	Track *older, *newer; /* LRU order of writes */
	uint64_t hash;
	uint64_t fp;   /* the key of the fingerprint tables */
	char *key;     /* the key of the others: a unit, or "action\0unit" */
	size_t keylen; /* bytes of key, its NULs included */
	uint64_t touched;
	bool has_last;
	uint64_t last; /* last attempt started (fingerprints, units), last run (actions) */
	Times attempts;
	Times failures;
};

typedef struct Table {
	Track **buckets;
	size_t nbuckets; /* a power of two */
	size_t n;
	Track *oldest, *newest;
} Table;

struct Policy {
	PolicyConfig c;
	uint64_t seed[2];
	Table fps, units, actions;
	/* Escalation marks apart: a flood of new fingerprints cannot evict them. */
	Table esc_fps, esc_units;
	Times budget; /* heals charged, within the last hour */
	uint64_t dropped;
	bool oom; /* a record was lost for want of memory: refuse until oom_usec + horizon */
	uint64_t oom_usec;
	uint64_t now;	     /* the latest clock a call brought, for the calls that bring none */
	const char *refusal; /* the kind of the last refusal (pol_refusal_kind) */
};

static const char *const source_names[_POL_SOURCE_MAX] = {
	[POL_SOURCE_SERVICE] = "services",     [POL_SOURCE_KERNEL] = "kernel",
	[POL_SOURCE_USER_UNIT] = "user-units", [POL_SOURCE_SESSION] = "sessions",
	[POL_SOURCE_UNITLESS] = "unitless",
};

const char *pol_source_name(PolSource s)
{
	return (unsigned)s < _POL_SOURCE_MAX ? source_names[s] : "?";
}

int pol_act_on_parse(const char *text, unsigned *ret_mask, const char **ret_bad)
{
	const char *w = text ? text : "";
	unsigned mask = 0;

	for (;;) {
		unsigned bit = 0;
		size_t n;

		w += strspn(w, " \t,");
		if (!*w)
			break;
		n = strcspn(w, " \t,");
		if (n == 3 && memcmp(w, "all", 3) == 0)
			bit = POL_ACT_ON_ALL;
		for (unsigned s = 0; s < _POL_SOURCE_MAX && !bit; s++)
			if (strlen(source_names[s]) == n && memcmp(w, source_names[s], n) == 0)
				bit = 1u << s;
		if (!bit) {
			if (ret_bad)
				*ret_bad = w;
			return -EINVAL;
		}
		mask |= bit;
		w += n;
	}
	*ret_mask = mask;
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && memcmp(s + n - m, suffix, m) == 0;
}

static bool user_manager_unit(const char *u)
{
	return u && strncmp(u, "user@", 5) == 0 && has_suffix(u, ".service");
}

static bool session_unit(const char *u)
{
	return u && strncmp(u, "session-", 8) == 0 && has_suffix(u, ".scope");
}

/*
 * From trusted fields only. e->unit is UNIT= of PID 1, USER_UNIT= of a
 * root-owned service manager, or _SYSTEMD_UNIT (journal/reader.c). A
 * root manager's USER_UNIT= counts as a system unit: the test sandbox runs
 * `systemd --user` as root in place of PID 1, and its units stand for
 * system services. root's own user@0.service manager is told apart by
 * _SYSTEMD_UNIT=user@0.service and _SYSTEMD_USER_UNIT, so its units stay
 * user units.
 *
 * Of system units only services and what starts them (sockets, timers,
 * paths) are services here. The others carry no service of their own:
 * a scope holds processes someone else started (systemd-run --scope, a
 * container, a login), a mount, automount, swap or device unit follows
 * what the kernel and udev see (a desktop user's USB stick names one
 * through udisks2), and slices and targets run nothing. They count as
 * unitless, acted on only when the administrator says so.
 */
PolSource pol_classify(const JrEntry *e)
{
	static const char *const service_like[] = {".service", ".socket", ".timer", ".path"};

	if (e->transport && strcmp(e->transport, "kernel") == 0)
		return POL_SOURCE_KERNEL;
	if (e->systemd_user_unit || user_manager_unit(e->systemd_unit) ||
	    user_manager_unit(e->unit))
		return POL_SOURCE_USER_UNIT;
	if (e->systemd_session || session_unit(e->systemd_unit) || session_unit(e->unit))
		return POL_SOURCE_SESSION;
	if (!e->unit)
		return POL_SOURCE_UNITLESS;
	for (size_t i = 0; i < ELEMENTSOF(service_like); i++)
		if (has_suffix(e->unit, service_like[i]))
			return POL_SOURCE_SERVICE;
	return POL_SOURCE_UNITLESS;
}

/* now - t, or 0 when the clock stepped back past t. */
static uint64_t elapsed(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

static void lost_record(Policy *p, uint64_t now)
{
	p->oom = true;
	p->oom_usec = now;
}

/* Drops the times that left window. */
static void times_prune(Times *t, uint64_t window, uint64_t now)
{
	uint32_t i = 0;

	while (i < t->n && elapsed(now, t->v[i]) >= window)
		i++;
	if (i > 0) {
		memmove(t->v, t->v + i, (t->n - i) * sizeof *t->v);
		t->n -= i;
	}
}

/* Adds now, keeping the newest keep times (in order even if the clock stepped back). */
static void times_add(Policy *p, Times *t, uint32_t keep, uint64_t now)
{
	uint32_t i;

	if (keep > KEEP_MAX)
		keep = KEEP_MAX;
	while (t->n > 0 && t->n >= keep) {
		memmove(t->v, t->v + 1, (t->n - 1) * sizeof *t->v);
		t->n--;
	}
	if (keep == 0)
		return;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 4;
		uint64_t *v;

		cap = cap > keep ? keep : cap;
		v = reallocarray(t->v, cap, sizeof *v);
		if (!v) {
			lost_record(p, now);
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	for (i = t->n; i > 0 && t->v[i - 1] > now; i--)
		t->v[i] = t->v[i - 1];
	t->v[i] = now;
	t->n++;
}

/* A limit as it acts: past KEEP_MAX, as KEEP_MAX (stricter, never looser). */
static unsigned kept(unsigned limit)
{
	return limit > KEEP_MAX ? KEEP_MAX : limit;
}

/*
 * Whether limit times lie within window: then *ret_wait is how long until
 * one of them leaves it (UINT64_MAX for a limit of 0).
 */
static bool times_full(Times *t, uint64_t limit, uint64_t window, uint64_t now, uint64_t *ret_wait)
{
	times_prune(t, window, now);
	if (limit > KEEP_MAX)
		limit = KEEP_MAX;
	if (limit == 0) {
		*ret_wait = UINT64_MAX;
		return true;
	}
	if (t->n < limit)
		return false;
	*ret_wait = window - elapsed(now, t->v[t->n - limit]);
	return true;
}

/* A keyed hash: fingerprints come from text an attacker writes, and must not pile into one chain.
 */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t key_hash(const Policy *p, uint64_t fp, const char *key, size_t keylen)
{
	uint64_t h = mix(fp ^ p->seed[0]);

	for (size_t i = 0; i < keylen; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
	return mix(h ^ p->seed[1]);
}

static size_t tracked_max(const Policy *p)
{
	return p->c.max_tracked ? p->c.max_tracked : DEFAULT_TRACKED;
}

static size_t buckets_for(size_t max)
{
	size_t n = 16;

	while (n < max && n < MAX_BUCKETS)
		n *= 2;
	return n;
}

static void lru_unlink(Table *t, Track *k)
{
	if (k->older)
		k->older->newer = k->newer;
	else
		t->oldest = k->newer;
	if (k->newer)
		k->newer->older = k->older;
	else
		t->newest = k->older;
	k->older = k->newer = NULL;
}

static void lru_push(Table *t, Track *k)
{
	k->older = t->newest;
	if (t->newest)
		t->newest->newer = k;
	else
		t->oldest = k;
	t->newest = k;
}

static void table_remove(Table *t, Track *k)
{
	Track **pp = &t->buckets[k->hash & (t->nbuckets - 1)];

	while (*pp != k)
		pp = &(*pp)->hnext;
	*pp = k->hnext;
	lru_unlink(t, k);
	t->n--;
	free(k->key);
	free(k->attempts.v);
	free(k->failures.v);
	free(k);
}

static Track *table_find(const Policy *p, const Table *t, uint64_t fp, const char *key,
			 size_t keylen)
{
	uint64_t h = key_hash(p, fp, key, keylen);

	for (Track *k = t->buckets[h & (t->nbuckets - 1)]; k; k = k->hnext)
		if (k->hash == h && k->fp == fp && k->keylen == keylen &&
		    (keylen == 0 || memcmp(k->key, key, keylen) == 0))
			return k;
	return NULL;
}

/* Forgets the least recently written entries until at most max remain; each one counts. */
static void table_shrink(Policy *p, Table *t, size_t max)
{
	while (t->n > max && t->oldest) {
		table_remove(t, t->oldest);
		p->dropped++;
	}
}

/* Entries whose newest time is past horizon: nothing they hold matters any more. */
static void table_prune(Table *t, uint64_t horizon, uint64_t now)
{
	while (t->oldest && elapsed(now, t->oldest->touched) >= horizon)
		table_remove(t, t->oldest);
}

/* The entry for the key, made when missing, as the most recently written. NULL on OOM. */
static Track *table_get(Policy *p, Table *t, uint64_t fp, const char *key, size_t keylen,
			uint64_t now)
{
	Track *k = table_find(p, t, fp, key, keylen);

	if (!k) {
		size_t b;

		table_shrink(p, t, tracked_max(p) - 1);
		k = calloc(1, sizeof *k);
		if (k && keylen && !(k->key = malloc(keylen))) {
			free(k);
			k = NULL;
		}
		if (!k) {
			lost_record(p, now);
			return NULL;
		}
		if (keylen)
			memcpy(k->key, key, keylen);
		k->keylen = keylen;
		k->fp = fp;
		k->hash = key_hash(p, fp, key, keylen);
		b = k->hash & (t->nbuckets - 1);
		k->hnext = t->buckets[b];
		t->buckets[b] = k;
		t->n++;
		k->touched = now;
	} else
		lru_unlink(t, k);
	lru_push(t, k);
	if (now > k->touched)
		k->touched = now;
	return k;
}

static int table_init(Table *t, size_t nbuckets)
{
	*t = (Table){.buckets = calloc(nbuckets, sizeof(Track *)), .nbuckets = nbuckets};
	return t->buckets ? 0 : -ENOMEM;
}

/* Rebuilds the chains for a new bucket count; keeps the old ones on OOM (longer chains only). */
static void table_rehash(Table *t, size_t nbuckets)
{
	Track **b;

	if (nbuckets == t->nbuckets || !(b = calloc(nbuckets, sizeof *b)))
		return;
	for (Track *k = t->oldest; k; k = k->newer) {
		k->hnext = b[k->hash & (nbuckets - 1)];
		b[k->hash & (nbuckets - 1)] = k;
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nbuckets;
}

static void table_done(Table *t)
{
	while (t->oldest)
		table_remove(t, t->oldest);
	free(t->buckets);
	*t = (Table){0};
}

static Table *tables(Policy *p, size_t i)
{
	Table *const all[] = {&p->fps, &p->units, &p->actions, &p->esc_fps, &p->esc_units};

	return i < ELEMENTSOF(all) ? all[i] : NULL;
}

Policy *pol_free(Policy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; tables(p, i); i++)
		table_done(tables(p, i));
	free(p->budget.v);
	free(p);
	return NULL;
}

Policy *pol_new(const PolicyConfig *c)
{
	Policy *p = calloc(1, sizeof *p);
	size_t nb;

	if (!p)
		return NULL;
	p->c = *c;
	/* No entropy yet (early boot): the addresses still differ from run to run. */
	if (getrandom(p->seed, sizeof p->seed, GRND_NONBLOCK) != (ssize_t)sizeof p->seed) {
		p->seed[0] = mix((uintptr_t)p ^ util_now_usec());
		p->seed[1] = mix((uintptr_t)&nb ^ p->seed[0]);
	}
	nb = buckets_for(tracked_max(p));
	for (size_t i = 0; tables(p, i); i++)
		if (table_init(tables(p, i), nb) < 0)
			return pol_free(p);
	return p;
}

void pol_set_config(Policy *p, const PolicyConfig *c)
{
	size_t nb;

	p->c = *c;
	nb = buckets_for(tracked_max(p));
	for (size_t i = 0; tables(p, i); i++) {
		table_shrink(p, tables(p, i), tracked_max(p));
		table_rehash(tables(p, i), nb);
	}
}

/* The longest span any record of a fingerprint, a unit or the budget matters for. */
static uint64_t horizon(const Policy *p)
{
	uint64_t h = max3(p->c.cooldown_usec, p->c.attempt_window_usec, p->c.escalate_window_usec);

	return h > USEC_PER_HOUR ? h : USEC_PER_HOUR;
}

static void prune_all(Policy *p, uint64_t now)
{
	p->now = now;
	table_prune(&p->fps,
		    max3(p->c.cooldown_usec, p->c.attempt_window_usec, p->c.escalate_window_usec),
		    now);
	table_prune(&p->units, max3(p->c.cooldown_usec, p->c.escalate_window_usec, 0), now);
	table_prune(&p->actions, ACTION_HORIZON, now);
	if (p->oom && elapsed(now, p->oom_usec) >= horizon(p))
		p->oom = false;
}

/* "action\0unit\0" or "action\0": a key no other pair shares. NULL on OOM. */
static char *action_key(const char *action, const char *unit, size_t *ret_len)
{
	size_t a = strlen(action) + 1, u = unit ? strlen(unit) + 1 : 0;
	char *k = malloc(a + u);

	if (!k)
		return NULL;
	memcpy(k, action, a);
	if (unit)
		memcpy(k + a, unit, u);
	*ret_len = a + u;
	return k;
}

static size_t unit_len(const char *unit)
{
	return unit ? strlen(unit) + 1 : 0;
}

_printf_(3, 4) static bool refuse(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf && len) {
		va_start(ap, fmt);
		(void)vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool admit(char *buf, size_t len)
{
	if (buf && len)
		buf[0] = '\0';
	return true;
}

/* A span for a reason: whole seconds from one second on (rounded up), exact below. */
static const char *span(uint64_t usec, char *buf, size_t len)
{
	if (usec >= USEC_PER_SEC && usec <= UINT64_MAX - USEC_PER_SEC)
		usec = (usec + USEC_PER_SEC - 1) / USEC_PER_SEC * USEC_PER_SEC;
	util_format_timespan(usec, buf, len);
	return buf;
}

/* The refusals every step shares: memory lost, the hourly budget. */
static bool common_limits(Policy *p, uint64_t now, char *buf, size_t len)
{
	uint64_t wait;
	char a[64];

	p->refusal = "memory";
	if (p->oom)
		return refuse(buf, len,
			      "a policy record was lost for want of memory: refusing for %s more",
			      span(horizon(p) - elapsed(now, p->oom_usec), a, sizeof a));
	if (times_full(&p->budget, p->c.max_heals_per_hour, USEC_PER_HOUR, now, &wait)) {
		p->refusal = "budget";
		if (p->c.max_heals_per_hour == 0)
			return refuse(buf, len, "hourly budget is 0 heals (max_heals_per_hour)");
		return refuse(
			buf, len,
			"hourly budget of %u heals spent (max_heals_per_hour): the next in %s",
			kept(p->c.max_heals_per_hour), span(wait, a, sizeof a));
	}
	return true;
}

/* act_on and max_age: what a vouched incident skips. */
static bool source_and_age(Policy *p, const PolIncident *in, uint64_t now, char *buf, size_t len)
{
	char a[64], b[64];
	uint64_t age;

	p->refusal = "act_on";
	if ((unsigned)in->source >= _POL_SOURCE_MAX)
		return refuse(buf, len, "unknown source %d", (int)in->source);
	if (!(p->c.act_on & (1u << in->source))) {
		size_t o = 0;

		b[0] = '\0';
		for (unsigned s = 0; s < _POL_SOURCE_MAX; s++)
			if (p->c.act_on & (1u << s) && o < sizeof b)
				o += (size_t)snprintf(b + o, sizeof b - o, "%s%s", o ? " " : "",
						      source_names[s]);
		return refuse(buf, len, "source %s is not in act_on (%s)", source_names[in->source],
			      o ? b : "empty");
	}
	age = elapsed(now, in->entry_usec);
	p->refusal = "max_age";
	if (age > p->c.max_age_usec)
		return refuse(buf, len, "entry is %s old, past max_age of %s",
			      span(age, a, sizeof a), span(p->c.max_age_usec, b, sizeof b));
	return true;
}

static bool cooldown_left(const Track *k, uint64_t cooldown, uint64_t now, uint64_t *ret_wait)
{
	if (!k || !k->has_last || elapsed(now, k->last) >= cooldown)
		return false;
	*ret_wait = cooldown - elapsed(now, k->last);
	return true;
}

/* Whether the fingerprint or the unit is escalated; the reason in buf when it is. */
static bool escalated(const Policy *p, uint64_t fp, const char *unit, char *buf, size_t len)
{
	if (fp && table_find(p, &p->esc_fps, fp, NULL, 0)) {
		(void)refuse(buf, len,
			     "fingerprint %016" PRIx64
			     " is escalated: it waits for an administrator to clear it",
			     fp);
		return true;
	}
	if (unit && table_find(p, &p->esc_units, 0, unit, unit_len(unit))) {
		(void)refuse(buf, len, "%s is escalated: it waits for an administrator to clear it",
			     unit);
		return true;
	}
	return false;
}

bool pol_admit(Policy *p, const PolIncident *in, uint64_t now, char *buf, size_t len)
{
	Track *f, *u = NULL;
	uint64_t wait;
	char a[64], b[64];

	prune_all(p, now);
	p->refusal = "disabled";
	if (!p->c.enabled)
		return refuse(buf, len, "healing is disabled (enabled = no)");
	if (!in->vouched && !source_and_age(p, in, now, buf, len))
		return false;
	p->refusal = "escalated";
	if (escalated(p, in->fingerprint, in->unit, buf, len))
		return false;
	f = table_find(p, &p->fps, in->fingerprint, NULL, 0);
	if (in->unit)
		u = table_find(p, &p->units, 0, in->unit, unit_len(in->unit));
	p->refusal = "cooldown";
	if (cooldown_left(f, p->c.cooldown_usec, now, &wait))
		return refuse(buf, len, "cooldown of fingerprint %016" PRIx64 " for %s more",
			      in->fingerprint, span(wait, a, sizeof a));
	if (cooldown_left(u, p->c.cooldown_usec, now, &wait))
		return refuse(buf, len, "cooldown of %s for %s more", in->unit,
			      span(wait, a, sizeof a));
	p->refusal = "max_attempts";
	if (f && times_full(&f->attempts, p->c.max_attempts, p->c.attempt_window_usec, now, &wait))
		return refuse(buf, len,
			      "%u attempts of fingerprint %016" PRIx64
			      " within attempt_window of %s (max_attempts): the next in %s",
			      kept(p->c.max_attempts), in->fingerprint,
			      span(p->c.attempt_window_usec, b, sizeof b), span(wait, a, sizeof a));
	if (!f && p->c.max_attempts == 0)
		return refuse(buf, len, "max_attempts is 0");
	if (!common_limits(p, now, buf, len))
		return false;
	p->refusal = NULL;
	return admit(buf, len);
}

bool pol_may_run(Policy *p, const char *action, uint64_t action_cooldown_usec, const char *unit,
		 uint64_t now, char *buf, size_t len)
{
	_cleanup_free_ char *key = NULL;
	size_t keylen = 0;
	uint64_t wait;
	char a[64];

	prune_all(p, now);
	key = action_key(action, unit, &keylen);
	p->refusal = "memory";
	if (!key) {
		lost_record(p, now);
		return refuse(buf, len, "out of memory");
	}
	p->refusal = "action-cooldown";
	if (cooldown_left(table_find(p, &p->actions, 0, key, keylen), action_cooldown_usec, now,
			  &wait)) {
		if (unit)
			return refuse(buf, len, "cooldown of action %s for %s for %s more", action,
				      unit, span(wait, a, sizeof a));
		return refuse(buf, len, "cooldown of action %s for %s more", action,
			      span(wait, a, sizeof a));
	}
	if (!common_limits(p, now, buf, len))
		return false;
	p->refusal = NULL;
	return admit(buf, len);
}

void pol_attempt_started(Policy *p, uint64_t fingerprint, const char *unit, uint64_t now)
{
	Track *k;

	prune_all(p, now);
	k = table_get(p, &p->fps, fingerprint, NULL, 0, now);
	if (k) {
		k->has_last = true;
		k->last = now;
		times_add(p, &k->attempts, p->c.max_attempts, now);
	}
	if (unit && (k = table_get(p, &p->units, 0, unit, unit_len(unit), now))) {
		k->has_last = true;
		k->last = now;
	}
}

void pol_heal_charged(Policy *p, const PolAction *actions, size_t n, uint64_t now)
{
	prune_all(p, now);
	times_add(p, &p->budget, p->c.max_heals_per_hour, now);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *key = NULL;
		size_t keylen = 0;
		Track *k;

		key = action_key(actions[i].action, actions[i].unit, &keylen);
		k = key ? table_get(p, &p->actions, 0, key, keylen, now) : NULL;
		if (!k) {
			lost_record(p, now);
			continue;
		}
		k->has_last = true;
		k->last = now;
	}
}

/* Counts one failure; true when it makes escalate_after within escalate_window. */
static bool failure(Policy *p, Table *t, uint64_t fp, const char *key, size_t keylen, uint64_t now)
{
	Track *k = table_get(p, t, fp, key, keylen, now);
	uint64_t wait;

	if (!k)
		return false;
	times_add(p, &k->failures, p->c.escalate_after, now);
	return times_full(&k->failures, p->c.escalate_after, p->c.escalate_window_usec, now, &wait);
}

bool pol_attempt_ended(Policy *p, uint64_t fingerprint, const char *unit, bool healed, uint64_t now)
{
	bool esc = false;

	prune_all(p, now);
	/* A fix that worked is no loop to stop; only failures count. */
	if (healed)
		return false;
	if (failure(p, &p->fps, fingerprint, NULL, 0, now) &&
	    !pol_is_escalated(p, fingerprint, NULL)) {
		pol_escalate(p, fingerprint, NULL);
		esc = true;
	}
	if (unit && failure(p, &p->units, 0, unit, unit_len(unit), now) &&
	    !pol_is_escalated(p, 0, unit)) {
		pol_escalate(p, 0, unit);
		esc = true;
	}
	return esc;
}

void pol_escalate(Policy *p, uint64_t fingerprint, const char *unit)
{
	/* Marks have no time: only a full table (then the oldest mark) or an administrator ends
	 * them. */
	if (fingerprint && !table_get(p, &p->esc_fps, fingerprint, NULL, 0, 0))
		lost_record(p, p->now);
	if (unit && !table_get(p, &p->esc_units, 0, unit, unit_len(unit), 0))
		lost_record(p, p->now);
}

void pol_clear_escalation(Policy *p, uint64_t fingerprint, const char *unit)
{
	Track *k;

	/* The failures that led there go too: clearing means "try again". */
	if (fingerprint) {
		if ((k = table_find(p, &p->esc_fps, fingerprint, NULL, 0)))
			table_remove(&p->esc_fps, k);
		if ((k = table_find(p, &p->fps, fingerprint, NULL, 0)))
			k->failures.n = 0;
	}
	if (unit) {
		if ((k = table_find(p, &p->esc_units, 0, unit, unit_len(unit))))
			table_remove(&p->esc_units, k);
		if ((k = table_find(p, &p->units, 0, unit, unit_len(unit))))
			k->failures.n = 0;
	}
}

bool pol_is_escalated(const Policy *p, uint64_t fingerprint, const char *unit)
{
	return (fingerprint && table_find(p, &p->esc_fps, fingerprint, NULL, 0)) ||
	       (unit && table_find(p, &p->esc_units, 0, unit, unit_len(unit)));
}

const char *pol_refusal_kind(const Policy *p)
{
	return p->refusal;
}

uint64_t pol_dropped(const Policy *p)
{
	return p->dropped;
}
