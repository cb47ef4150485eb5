/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Policy: which incidents may become attempts, and when. Pure bookkeeping
 * over an explicit clock (every call takes now), so tests move time at
 * will; it runs nothing and stores nothing. The daemon feeds it what
 * happens and asks it before each step.
 *
 * The attacker is anyone who can write a journal line: they must not be
 * able to choose Healer's work (act_on), make it act on stale or repeated
 * text (max_age, cooldowns, attempts per window), exhaust it (the hourly
 * budget, bounded tables that drop and count, never block), or make it loop
 * on a fix that does not work (escalation).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"

/* Where an incident came from, judged from trusted fields only. */
typedef enum PolSource {
	POL_SOURCE_SERVICE,   /* a system unit (_SYSTEMD_UNIT, or UNIT= from PID 1) */
	POL_SOURCE_KERNEL,    /* _TRANSPORT=kernel */
	POL_SOURCE_USER_UNIT, /* a unit of a user's service manager (user@UID.service/...) */
	POL_SOURCE_SESSION,   /* a login session scope (session-N.scope) */
	POL_SOURCE_UNITLESS,  /* no trusted unit at all */
	_POL_SOURCE_MAX,
} PolSource;

/* act_on bits: 1 << PolSource. */
#define POL_ACT_ON_DEFAULT ((1u << POL_SOURCE_SERVICE) | (1u << POL_SOURCE_KERNEL))
#define POL_ACT_ON_ALL	   ((1u << _POL_SOURCE_MAX) - 1)

const char *pol_source_name(PolSource s); /* "services", "kernel", "user-units", ... */
/* Parses an act_on list ("services kernel", "all"); -EINVAL with the bad word in *ret_bad. */
int pol_act_on_parse(const char *text, unsigned *ret_mask, const char **ret_bad);

/* Classifies an entry by its trusted fields (JrEntry.unit, systemd_unit, transport). */
PolSource pol_classify(const JrEntry *e);

typedef struct PolicyConfig {
	bool enabled;
	unsigned act_on; /* POL_ACT_ON_* bits */
	uint64_t max_age_usec;
	unsigned max_attempts;
	uint64_t attempt_window_usec;
	uint64_t cooldown_usec; /* per fingerprint and per unit */
	unsigned max_heals_per_hour;
	unsigned escalate_after;
	uint64_t escalate_window_usec;
	size_t max_tracked; /* fingerprints/units remembered; a full table drops the oldest */
} PolicyConfig;

typedef struct Policy Policy;

Policy *pol_new(const PolicyConfig *c); /* NULL on OOM */
Policy *pol_free(Policy *p);
static inline void pol_freep(Policy **p)
{
	*p = pol_free(*p);
}
/* A reload: new limits, the history kept. */
void pol_set_config(Policy *p, const PolicyConfig *c);

typedef struct PolIncident {
	uint64_t fingerprint;
	const char *unit; /* trusted, may be NULL: then there is no unit cooldown */
	PolSource source;
	uint64_t entry_usec; /* the entry's own realtime timestamp */
	bool vouched;	     /* manual heal or injection: the API token holder vouched for it */
} PolIncident;

/*
 * Whether an incident may become an attempt now: true, or false with a
 * one-line reason in buf (disabled, act_on, too old, cooldown of the
 * fingerprint or unit or an action, attempts in the window, budget spent,
 * escalated). A vouched incident skips act_on and max_age only.
 */
bool pol_admit(Policy *p, const PolIncident *in, uint64_t now_usec, char *buf, size_t len);

/*
 * Whether an action may run now for unit (its own cooldown_usec since it
 * last ran, for this unit or globally when unit is NULL) and the hourly
 * budget allows one more heal: true, or false with the reason.
 */
bool pol_may_run(Policy *p, const char *action, uint64_t action_cooldown_usec, const char *unit,
		 uint64_t now_usec, char *buf, size_t len);

/* An attempt started (counts toward max_attempts and the cooldowns). */
void pol_attempt_started(Policy *p, uint64_t fingerprint, const char *unit, uint64_t now_usec);

/*
 * An action and the unit its cooldown is kept for: the same pair
 * pol_may_run() is asked with (the command's own unit parameter, NULL for
 * an action without one), so that the cooldown it starts is the one
 * checked next time.
 */
typedef struct PolAction {
	const char *action;
	const char *unit;
} PolAction;

/*
 * A plan's first command started: charges one heal to the budget and
 * starts the cooldown of each of its n actions.
 */
void pol_heal_charged(Policy *p, const PolAction *actions, size_t n, uint64_t now_usec);
/*
 * An attempt ended. Returns true when this failure escalates the fingerprint
 * or unit (escalate_after failures within escalate_window).
 */
bool pol_attempt_ended(Policy *p, uint64_t fingerprint, const char *unit, bool healed,
		       uint64_t now_usec);

/* Escalation marks (loaded from the store at start; cleared by an administrator). */
void pol_escalate(Policy *p, uint64_t fingerprint, const char *unit);
void pol_clear_escalation(Policy *p, uint64_t fingerprint, const char *unit);
bool pol_is_escalated(const Policy *p, uint64_t fingerprint, const char *unit);

/*
 * What the last pol_admit() or pol_may_run() refused for, as a fixed word
 * for counting, never the reason's text: "disabled", "act_on", "max_age",
 * "escalated", "cooldown", "max_attempts", "budget", "action-cooldown",
 * "memory"; NULL when it admitted (or before any call).
 */
const char *pol_refusal_kind(const Policy *p);

/* Counters for status and metrics. */
uint64_t pol_dropped(const Policy *p); /* entries forgotten because the table was full */
