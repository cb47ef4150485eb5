/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * JSON views of the core's results, one shape for `healer ... --json` and
 * for the REST API. Each returns a new cJSON tree (cJSON_Delete it), or NULL
 * on OOM.
 */

#include <cjson/cJSON.h>

#include "healer/analyze.h"
#include "healer/plan.h"

/*
 * {"verdict", "reason", "commands": [{action, args, argv, requires, verifies, unit?,
 * memory_max?, tasks_max?}], "rejected": [{text, reason}], "diagnosis"?}: requires and
 * verifies are the texts of the checks ("unit-failed nginx.service"), unit and the limits
 * only when the command has them.
 */
cJSON *view_plan(const Plan *p);

/* The plan's view plus provider, model, fallback, error, rule, redactions, context_dropped, calls.
 */
cJSON *view_analysis(const Analysis *a);
