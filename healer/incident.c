/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <sys/random.h>

#include "common/util.h"
#include "healer/incident.h"

struct IncidentTable {
	uint64_t window;
	size_t max;
	size_t n, cap;
	Incident *v;
	/* Open addressing: fingerprint -> 1 + index of its newest incident. */
	size_t buckets;
	uint64_t *keys;
	size_t *slots;
	uint64_t dropped;
	uint64_t seed; /* random: a log writer cannot aim fingerprints at one slot */
};

static void incident_done(Incident *i)
{
	free(i->unit);
	free(i->identifier);
	free(i->message);
	free(i->first_cursor);
	free(i->last_cursor);
}

IncidentTable *inc_table_free(IncidentTable *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		incident_done(&t->v[i]);
	free(t->v);
	free(t->keys);
	free(t->slots);
	free(t);
	return NULL;
}

IncidentTable *inc_table_new(uint64_t window_usec, size_t max_incidents)
{
	IncidentTable *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->window = window_usec;
	if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != sizeof t->seed)
		t->seed = util_now_usec();
	t->max = max_incidents ? max_incidents : 1;
	t->buckets = 64;
	t->keys = calloc(t->buckets, sizeof *t->keys);
	t->slots = calloc(t->buckets, sizeof *t->slots);
	if (!t->keys || !t->slots)
		return inc_table_free(t);
	return t;
}

static size_t *find_slot(size_t buckets, const uint64_t *keys, size_t *slots, uint64_t fp,
			 uint64_t seed)
{
	uint64_t x = (fp ^ seed) * 0x9e3779b97f4a7c15ULL;
	size_t h = (size_t)(x ^ (x >> 32)) & (buckets - 1);

	while (slots[h] && keys[h] != fp)
		h = (h + 1) & (buckets - 1);
	return &slots[h];
}

static int grow_index(IncidentTable *t)
{
	size_t nb = t->buckets * 2;
	uint64_t *nk = calloc(nb, sizeof *nk);
	size_t *ns = calloc(nb, sizeof *ns);

	if (!nk || !ns) {
		free(nk);
		free(ns);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->buckets; i++)
		if (t->slots[i]) {
			size_t *s = find_slot(nb, nk, ns, t->keys[i], t->seed);

			nk[s - ns] = t->keys[i];
			*s = t->slots[i];
		}
	free(t->keys);
	free(t->slots);
	t->keys = nk;
	t->slots = ns;
	t->buckets = nb;
	return 0;
}

static int open_incident(IncidentTable *t, const JrEntry *e, uint64_t fp, size_t *ret_index)
{
	Incident *i;

	if (t->n >= t->max) {
		t->dropped++;
		return -E2BIG;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		Incident *nv = realloc(t->v, nc * sizeof *nv);

		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = nc;
	}
	i = &t->v[t->n];
	*i = (Incident){
		.fingerprint = fp,
		.priority = e->priority,
		.message_truncated = e->message_truncated,
		.first_seen = e->realtime_usec,
		.last_seen = e->realtime_usec,
		.count = 1,
	};
	i->unit = e->unit ? strdup(e->unit) : NULL;
	i->identifier = e->identifier ? strdup(e->identifier) : NULL;
	i->message = strdup(e->message ? e->message : "");
	i->first_cursor = e->cursor ? strdup(e->cursor) : NULL;
	i->last_cursor = e->cursor ? strdup(e->cursor) : NULL;
	if ((e->unit && !i->unit) || (e->identifier && !i->identifier) || !i->message ||
	    (e->cursor && (!i->first_cursor || !i->last_cursor))) {
		incident_done(i);
		return -ENOMEM;
	}
	*ret_index = t->n++;
	return 0;
}

int inc_table_add(IncidentTable *t, const JrEntry *e, Incident **ret)
{
	uint64_t fp = jr_fingerprint(e->unit, e->identifier, e->message);
	size_t *slot, idx;
	int r;

	if ((t->n + 1) * 2 > t->buckets && grow_index(t) < 0)
		return -ENOMEM;
	slot = find_slot(t->buckets, t->keys, t->slots, fp, t->seed);
	if (*slot) {
		Incident *i = &t->v[*slot - 1];

		if (e->realtime_usec >= i->first_seen &&
		    e->realtime_usec - i->first_seen < t->window) {
			char *c = e->cursor ? strdup(e->cursor) : NULL;

			if (e->cursor && !c)
				return -ENOMEM;
			if (c) {
				free(i->last_cursor);
				i->last_cursor = c;
			}
			i->count++;
			if (e->realtime_usec > i->last_seen)
				i->last_seen = e->realtime_usec;
			if (e->priority < i->priority)
				i->priority = e->priority;
			if (ret)
				*ret = i;
			return 0;
		}
	}
	r = open_incident(t, e, fp, &idx);
	if (r < 0)
		return r;
	t->keys[slot - t->slots] = fp;
	*slot = idx + 1;
	if (ret)
		*ret = &t->v[idx];
	return 1;
}

size_t inc_table_size(const IncidentTable *t)
{
	return t->n;
}

const Incident *inc_table_get(const IncidentTable *t, size_t i)
{
	return i < t->n ? &t->v[i] : NULL;
}

uint64_t inc_table_dropped(const IncidentTable *t)
{
	return t->dropped;
}
