/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A plan is a model's reply after the whitelist has judged it: either every
 * proposed command was allowed (and here is the argv the whitelist built for
 * each), or the reply is refused whole and nothing from it may run.
 */

#include <stdbool.h>
#include <stddef.h>

#include "llm/reply.h"
#include "whitelist/whitelist.h"

typedef struct PlanRejected {
	char *text;
	char *reason;
} PlanRejected;

typedef struct Plan {
	bool accepted;
	char *reason;	 /* why, in one line: the first refusal, or a summary */
	char *diagnosis; /* the model's own words, may be NULL */
	size_t n_commands;
	WlCommand **commands; /* empty unless accepted */
	size_t n_rejected;
	PlanRejected *rejected;
} Plan;

/*
 * Parses and vets a raw reply. Returns 0 and a new *ret whatever the verdict,
 * or -ENOMEM. opts may be NULL.
 */
int plan_vet_reply(const Whitelist *wl, const char *reply, size_t len, const WlVetOptions *opts,
		   Plan **ret);

/* Vets one command line as if it were the only command of a reply. */
int plan_vet_command(const Whitelist *wl, const char *command, const WlVetOptions *opts,
		     Plan **ret);

/* A refused plan with the given reason (e.g. a reply over the size cap). */
int plan_new_refused(const char *reason, Plan **ret);

#define PLAN_JSON_MAX (64 * 1024)

/*
 * The accepted plan as stored JSON: [{"action": NAME, "args": {NAME: VALUE}}].
 * Only names and values are kept, never argv: a stored plan is vetted again
 * (plan_vet_json) against the whitelist of the day. NULL on OOM.
 */
char *plan_to_json(const Plan *p);

/*
 * Vets a stored plan again, step by step. Returns 0 and a new *ret (accepted,
 * or refused with the first reason), or -ENOMEM.
 */
int plan_vet_json(const Whitelist *wl, const char *json, const WlVetOptions *opts, Plan **ret);

Plan *plan_free(Plan *p);
static inline void plan_freep(Plan **p)
{
	*p = plan_free(*p);
}
