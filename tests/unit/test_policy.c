/* SPDX-License-Identifier: MIT */
/*
 * Policy with a moving clock: every refusal and its boundary (one
 * microsecond before and at the end of each limit), act_on and vouched
 * incidents, classification of real journal entries (export files made
 * into journals by systemd-journal-remote, read by the reader), escalation,
 * the bounded tables under a flood and a reload.
 */
#include <ftw.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/stat.h>

#include "harness.h"
#include "common/util.h"
#include "healer/executor.h"
#include "healer/policy.h"
#include "journal/journal.h"

/* AddressSanitizer's own count when it runs (it keeps mallinfo2() at zero). */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

#define T0   (1790000000ULL * USEC_PER_SEC)
#define FP_A 0x1111222233334444ULL
#define FP_B 0x5555666677778888ULL

static char tmpdir[64];
static char reason[256];

static PolicyConfig defaults(void)
{
	return (PolicyConfig){
		.enabled = true,
		.act_on = POL_ACT_ON_DEFAULT,
		.max_age_usec = 5 * USEC_PER_MINUTE,
		.max_attempts = 3,
		.attempt_window_usec = USEC_PER_HOUR,
		.cooldown_usec = 5 * USEC_PER_MINUTE,
		.max_heals_per_hour = 10,
		.escalate_after = 3,
		.escalate_window_usec = 10 * USEC_PER_MINUTE,
		.max_tracked = 1000,
	};
}

static PolIncident incident(uint64_t fp, const char *unit, uint64_t entry_usec)
{
	return (PolIncident){.fingerprint = fp,
			     .unit = unit,
			     .source = POL_SOURCE_SERVICE,
			     .entry_usec = entry_usec};
}

static bool admit(Policy *p, const PolIncident *in, uint64_t now)
{
	return pol_admit(p, in, now, reason, sizeof reason);
}

static size_t heap_bytes(void)
{
	if (__sanitizer_get_current_allocated_bytes)
		return __sanitizer_get_current_allocated_bytes();
	return mallinfo2().uordblks;
}

TEST(test_act_on_parse)
{
	const char *bad = NULL;
	unsigned m = 99;

	CHECK_INT(pol_act_on_parse("services kernel", &m, &bad), ==, 0);
	CHECK_INT(m, ==, POL_ACT_ON_DEFAULT);
	CHECK_INT(pol_act_on_parse("all", &m, &bad), ==, 0);
	CHECK_INT(m, ==, POL_ACT_ON_ALL);
	CHECK_INT(pol_act_on_parse(" sessions,user-units\tunitless ", &m, &bad), ==, 0);
	CHECK_INT(m, ==,
		  (1u << POL_SOURCE_SESSION) | (1u << POL_SOURCE_USER_UNIT) |
			  (1u << POL_SOURCE_UNITLESS));
	/* Empty: only what an API token holder vouches for. */
	CHECK_INT(pol_act_on_parse("", &m, &bad), ==, 0);
	CHECK_INT(m, ==, 0);
	m = 7;
	CHECK_INT(pol_act_on_parse("services kernels", &m, &bad), ==, -EINVAL);
	CHECK_STR(bad, "kernels");
	CHECK_INT(m, ==, 7);
	CHECK_INT(pol_act_on_parse("Services", &m, &bad), ==, -EINVAL);
	CHECK_INT(pol_act_on_parse("service", &m, &bad), ==, -EINVAL);
	for (unsigned s = 0; s < _POL_SOURCE_MAX; s++) {
		CHECK_INT(pol_act_on_parse(pol_source_name(s), &m, &bad), ==, 0);
		CHECK_INT(m, ==, 1u << s);
	}
	CHECK_STR(pol_source_name(_POL_SOURCE_MAX), "?");
}

TEST(test_disabled_and_act_on)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	PolIncident in = incident(FP_A, "session-3.scope", T0);

	in.source = POL_SOURCE_SESSION;
	CHECK(!admit(p, &in, T0));
	CHECK_STR(reason, "source sessions is not in act_on (services kernel)");
	CHECK_STR(pol_refusal_kind(p), "act_on");
	/* Vouched (a manual heal, an injection): act_on does not apply. */
	in.vouched = true;
	CHECK(admit(p, &in, T0));
	CHECK_STR(reason, "");
	in.vouched = false;
	in.source = POL_SOURCE_KERNEL;
	in.unit = NULL;
	CHECK(admit(p, &in, T0));
	c.act_on = 0;
	pol_set_config(p, &c);
	CHECK(!admit(p, &in, T0));
	CHECK_STR(reason, "source kernel is not in act_on (empty)");
	c.act_on = POL_ACT_ON_ALL;
	pol_set_config(p, &c);
	in.source = POL_SOURCE_UNITLESS;
	CHECK(admit(p, &in, T0));
	/* Disabled refuses even the vouched. */
	c.enabled = false;
	pol_set_config(p, &c);
	in.vouched = true;
	CHECK(!admit(p, &in, T0));
	CHECK_STR(reason, "healing is disabled (enabled = no)");
	CHECK_STR(pol_refusal_kind(p), "disabled");
	pol_free(p);
}

TEST(test_max_age)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	PolIncident in = incident(FP_A, "nginx.service", T0);

	CHECK(admit(p, &in, T0 + 5 * USEC_PER_MINUTE));
	CHECK(!admit(p, &in, T0 + 5 * USEC_PER_MINUTE + 1));
	CHECK_STR(reason, "entry is 5min 1s old, past max_age of 5min");
	CHECK_STR(pol_refusal_kind(p), "max_age");
	CHECK(!admit(p, &in, T0 + USEC_PER_HOUR));
	CHECK_STR(reason, "entry is 1h old, past max_age of 5min");
	in.vouched = true;
	CHECK(admit(p, &in, T0 + USEC_PER_HOUR));
	/* A clock behind the entry: age 0, not a huge number. */
	in.vouched = false;
	CHECK(admit(p, &in, T0 - USEC_PER_MINUTE));
	pol_free(p);
}

TEST(test_cooldowns)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	PolIncident a = incident(FP_A, "nginx.service", T0),
		    b = incident(FP_B, "nginx.service", T0);
	uint64_t end = T0 + 5 * USEC_PER_MINUTE;

	c.max_age_usec = USEC_PER_DAY;
	pol_set_config(p, &c);
	CHECK(admit(p, &a, T0));
	pol_attempt_started(p, FP_A, "nginx.service", T0);
	CHECK(!admit(p, &a, T0 + 48 * USEC_PER_SEC));
	CHECK_STR(reason, "cooldown of fingerprint 1111222233334444 for 4min 12s more");
	CHECK_STR(pol_refusal_kind(p), "cooldown");
	CHECK(!admit(p, &a, end - 1));
	CHECK_STR(reason, "cooldown of fingerprint 1111222233334444 for 1us more");
	CHECK(admit(p, &a, end));
	CHECK(pol_refusal_kind(p) == NULL);
	/* Another fingerprint of the same unit: the unit's cooldown. */
	CHECK(!admit(p, &b, T0 + 48 * USEC_PER_SEC));
	CHECK_STR(reason, "cooldown of nginx.service for 4min 12s more");
	CHECK(!admit(p, &b, end - 1));
	CHECK(admit(p, &b, end));
	/* Another unit is free; no unit, no unit cooldown. */
	b.unit = "php-fpm.service";
	CHECK(admit(p, &b, T0 + 1));
	b.unit = NULL;
	b.source = POL_SOURCE_KERNEL;
	pol_attempt_started(p, 42, NULL, T0);
	CHECK(admit(p, &b, T0 + 1));
	/* The clock steps back an hour: the cooldown holds, it does not end. */
	CHECK(!admit(p, &a, T0 - USEC_PER_HOUR));
	CHECK_STR(reason, "cooldown of fingerprint 1111222233334444 for 5min more");
	pol_free(p);
}

TEST(test_attempts_in_window)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	PolIncident in = incident(FP_A, NULL, 0);
	uint64_t now;

	c.max_age_usec = 7 * USEC_PER_DAY;
	c.cooldown_usec = 0;
	pol_set_config(p, &c);
	for (int i = 0; i < 3; i++) {
		now = T0 + (uint64_t)i * 10 * USEC_PER_MINUTE;
		in.entry_usec = now;
		CHECK(admit(p, &in, now));
		pol_attempt_started(p, FP_A, NULL, now);
	}
	now = T0 + 30 * USEC_PER_MINUTE;
	CHECK(!admit(p, &in, now));
	CHECK_STR(reason, "3 attempts of fingerprint 1111222233334444 within attempt_window of 1h "
			  "(max_attempts): the next in 30min");
	CHECK_STR(pol_refusal_kind(p), "max_attempts");
	CHECK(!admit(p, &in, T0 + USEC_PER_HOUR - 1));
	CHECK_CONTAINS(reason, "the next in 1us");
	CHECK(admit(p, &in, T0 + USEC_PER_HOUR));
	pol_attempt_started(p, FP_A, NULL, T0 + USEC_PER_HOUR);
	/* Sliding: the attempt at +10min leaves the window at 1h10min. */
	CHECK(!admit(p, &in, T0 + 70 * USEC_PER_MINUTE - 1));
	CHECK(admit(p, &in, T0 + 70 * USEC_PER_MINUTE));
	/* Another fingerprint has its own count. */
	in.fingerprint = FP_B;
	CHECK(admit(p, &in, T0 + 30 * USEC_PER_MINUTE));
	pol_free(p);
}

TEST(test_budget_sliding_hour)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	const PolAction act[] = {{"restart_service", "db.service"}};
	PolIncident in = incident(FP_A, "db.service", T0);

	c.max_age_usec = 7 * USEC_PER_DAY;
	pol_set_config(p, &c);
	for (uint64_t i = 0; i < 10; i++) {
		CHECK(pol_may_run(p, "restart_service", 0, "db.service", T0 + i * USEC_PER_MINUTE,
				  reason, sizeof reason));
		pol_heal_charged(p, act, 1, T0 + i * USEC_PER_MINUTE);
	}
	CHECK(!admit(p, &in, T0 + 10 * USEC_PER_MINUTE));
	CHECK_STR(reason,
		  "hourly budget of 10 heals spent (max_heals_per_hour): the next in 50min");
	CHECK_STR(pol_refusal_kind(p), "budget");
	CHECK(!pol_may_run(p, "restart_service", 0, "db.service", T0 + 10 * USEC_PER_MINUTE, reason,
			   sizeof reason));
	CHECK_CONTAINS(reason, "hourly budget of 10 heals spent");
	CHECK(!admit(p, &in, T0 + USEC_PER_HOUR - 1));
	CHECK(admit(p, &in, T0 + USEC_PER_HOUR));
	/* One more at 1h: ten again in the hour before 1h1min. */
	pol_heal_charged(p, act, 1, T0 + USEC_PER_HOUR);
	CHECK(!admit(p, &in, T0 + USEC_PER_HOUR + USEC_PER_MINUTE - 1));
	CHECK_CONTAINS(reason, "the next in 1us");
	CHECK(admit(p, &in, T0 + USEC_PER_HOUR + USEC_PER_MINUTE));
	/* A limit past what a record keeps (1000 times) acts as that, never looser. */
	c.max_heals_per_hour = 5000;
	pol_set_config(p, &c);
	for (uint64_t i = 0; i < 1000; i++)
		pol_heal_charged(p, act, 1, T0 + 2 * USEC_PER_HOUR + i);
	CHECK(!admit(p, &in, T0 + 2 * USEC_PER_HOUR + 1000));
	CHECK_STR(reason, "hourly budget of 1000 heals spent (max_heals_per_hour): the next in 1h");
	/* A budget of 0 refuses all. */
	c.max_heals_per_hour = 0;
	pol_set_config(p, &c);
	CHECK(!admit(p, &in, T0 + 5 * USEC_PER_HOUR));
	CHECK_STR(reason, "hourly budget is 0 heals (max_heals_per_hour)");
	pol_free(p);
}

TEST(test_action_cooldowns)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	const PolAction restart[] = {{"restart_service", "nginx.service"}};
	const PolAction two[] = {{"vacuum_journal", NULL}, {"rotate_logs", NULL}};
	const PolAction mixed[] = {{"restart_service", "db.service"}, {"flush_cache", NULL}};
	uint64_t cd = 10 * USEC_PER_MINUTE;

	c.max_heals_per_hour = 100;
	pol_set_config(p, &c);
	pol_heal_charged(p, restart, 1, T0);
	CHECK(!pol_may_run(p, "restart_service", cd, "nginx.service", T0 + cd - 1, reason,
			   sizeof reason));
	CHECK_STR(reason, "cooldown of action restart_service for nginx.service for 1us more");
	CHECK_STR(pol_refusal_kind(p), "action-cooldown");
	CHECK(pol_may_run(p, "restart_service", cd, "nginx.service", T0 + cd, reason,
			  sizeof reason));
	/* Per unit: another unit is free, and so is the action without a unit. */
	CHECK(pol_may_run(p, "restart_service", cd, "php-fpm.service", T0 + 1, reason,
			  sizeof reason));
	CHECK(pol_may_run(p, "restart_service", cd, NULL, T0 + 1, reason, sizeof reason));
	/* Without a unit: one cooldown for the action, whatever unit asks later. */
	pol_heal_charged(p, two, 2, T0);
	CHECK(!pol_may_run(p, "vacuum_journal", USEC_PER_HOUR, NULL, T0 + 59 * USEC_PER_MINUTE,
			   reason, sizeof reason));
	CHECK_STR(reason, "cooldown of action vacuum_journal for 1min more");
	CHECK(!pol_may_run(p, "rotate_logs", USEC_PER_HOUR, NULL, T0 + 1, reason, sizeof reason));
	CHECK(pol_may_run(p, "rotate_logs", USEC_PER_HOUR, NULL, T0 + USEC_PER_HOUR, reason,
			  sizeof reason));
	/* The cooldown is the caller's: a reloaded whitelist's shorter one applies at once. */
	CHECK(pol_may_run(p, "vacuum_journal", USEC_PER_MINUTE, NULL, T0 + USEC_PER_MINUTE, reason,
			  sizeof reason));
	/* A cooldown of 0 never refuses. */
	CHECK(pol_may_run(p, "restart_service", 0, "nginx.service", T0, reason, sizeof reason));
	/* One plan, one heal, each action's cooldown under the key it is asked with. */
	pol_heal_charged(p, mixed, 2, T0 + 2 * USEC_PER_HOUR);
	CHECK(!pol_may_run(p, "restart_service", cd, "db.service", T0 + 2 * USEC_PER_HOUR + 1,
			   reason, sizeof reason));
	CHECK_STR(reason, "cooldown of action restart_service for db.service for 10min more");
	CHECK(!pol_may_run(p, "flush_cache", cd, NULL, T0 + 2 * USEC_PER_HOUR + 1, reason,
			   sizeof reason));
	CHECK_STR(reason, "cooldown of action flush_cache for 10min more");
	CHECK(pol_may_run(p, "flush_cache", cd, "db.service", T0 + 2 * USEC_PER_HOUR + 1, reason,
			  sizeof reason));
	pol_free(p);
}

TEST(test_escalation)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	PolIncident in = incident(FP_A, "app.service", T0);
	uint64_t m = USEC_PER_MINUTE;

	c.cooldown_usec = 0;
	c.max_attempts = 100;
	pol_set_config(p, &c);
	/* Vouched skips act_on and max_age, never an escalation. */
	in.vouched = true;
	/* Healed attempts do not count. */
	for (int i = 0; i < 5; i++)
		CHECK(!pol_attempt_ended(p, FP_A, "app.service", true, T0 + (uint64_t)i));
	/* Spread out: never three within ten minutes. */
	CHECK(!pol_attempt_ended(p, FP_A, "app.service", false, T0));
	CHECK(!pol_attempt_ended(p, FP_A, "app.service", false, T0 + 6 * m));
	CHECK(!pol_attempt_ended(p, FP_A, "app.service", false, T0 + 12 * m));
	/* At the window's edge: the one at 6min has just left it at 16min. */
	CHECK(!pol_attempt_ended(p, FP_A, "app.service", false, T0 + 16 * m));
	CHECK(!pol_is_escalated(p, FP_A, "app.service"));
	CHECK(admit(p, &in, T0 + 16 * m));
	/* One µs earlier it would have been the third: again, with 12min, 16min, 22min - 1. */
	CHECK(pol_attempt_ended(p, FP_A, "app.service", false, T0 + 22 * m - 1));
	CHECK(pol_is_escalated(p, FP_A, NULL));
	CHECK(pol_is_escalated(p, 0, "app.service"));
	CHECK(!pol_is_escalated(p, FP_B, NULL));
	CHECK(!admit(p, &in, T0 + 30 * m));
	CHECK_STR(reason,
		  "fingerprint 1111222233334444 is escalated: it waits for an administrator to "
		  "clear it");
	/* The unit is escalated too: another fingerprint of it is refused. */
	in.fingerprint = FP_B;
	CHECK(!admit(p, &in, T0 + 30 * m));
	CHECK_STR(reason, "app.service is escalated: it waits for an administrator to clear it");
	/* Escalation does not end with time. */
	CHECK(!admit(p, &in, T0 + 30 * USEC_PER_DAY));
	CHECK_CONTAINS(reason, "app.service is escalated");
	/* Escalated once: a further failure does not report it again. */
	CHECK(!pol_attempt_ended(p, FP_A, "app.service", false, T0 + 22 * m));
	/* Cleared, the failures before it are forgotten too. */
	pol_clear_escalation(p, FP_A, "app.service");
	CHECK(!pol_is_escalated(p, FP_A, "app.service"));
	CHECK(admit(p, &in, T0 + 23 * m));
	CHECK(!pol_attempt_ended(p, FP_A, "app.service", false, T0 + 23 * m));
	CHECK(!pol_attempt_ended(p, FP_A, "app.service", false, T0 + 24 * m));
	CHECK(pol_attempt_ended(p, FP_A, "app.service", false, T0 + 25 * m));
	pol_free(p);
}

TEST(test_escalation_marks_apart)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);

	/* Loaded from the store: a fingerprint alone, a unit alone. */
	pol_escalate(p, FP_A, NULL);
	pol_escalate(p, 0, "db.service");
	CHECK(pol_is_escalated(p, FP_A, NULL));
	CHECK(pol_is_escalated(p, FP_A, "web.service"));
	CHECK(!pol_is_escalated(p, FP_B, "web.service"));
	CHECK(pol_is_escalated(p, FP_B, "db.service"));
	CHECK(!pol_is_escalated(p, 0, NULL));
	pol_clear_escalation(p, 0, "db.service");
	CHECK(!pol_is_escalated(p, FP_B, "db.service"));
	CHECK(pol_is_escalated(p, FP_A, NULL));
	/* Only the unit's failures escalate it: three fingerprints, one unit. */
	CHECK(!pol_attempt_ended(p, 1, "db.service", false, T0));
	CHECK(!pol_attempt_ended(p, 2, "db.service", false, T0 + 1));
	CHECK(pol_attempt_ended(p, 3, "db.service", false, T0 + 2));
	CHECK(pol_is_escalated(p, 0, "db.service"));
	CHECK(!pol_is_escalated(p, 3, NULL));
	pol_free(p);
}

/*
 * 100,000 distinct fingerprints, each starting an attempt: the table holds
 * max_tracked of them, forgets the oldest and counts each; the heap stays
 * flat. Escalation marks and a unit's cooldown are kept apart and survive.
 */
TEST(test_bounded_tables)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	PolIncident in = incident(FP_A, "nginx.service", T0);
	size_t base, after_first, after_all;
	uint64_t now = T0;

	c.max_age_usec = 7 * USEC_PER_DAY;
	pol_set_config(p, &c);
	pol_escalate(p, FP_B, NULL);
	pol_attempt_started(p, FP_A, "nginx.service", now);
	base = heap_bytes();
	for (uint64_t i = 0; i < 1000; i++)
		pol_attempt_started(p, 0x9000000000000000ULL + i, NULL, ++now);
	after_first = heap_bytes();
	CHECK_INT(pol_dropped(p), ==, 1); /* FP_A: the oldest */
	for (uint64_t i = 1000; i < 100000; i++)
		pol_attempt_started(p, 0x9000000000000000ULL + i, NULL, ++now);
	after_all = heap_bytes();
	CHECK_INT(pol_dropped(p), ==, 99001);
	CHECK_(after_all <= after_first + 4096, "heap grew from %zu to %zu bytes", after_first,
	       after_all);
	CHECK_(after_first - base < 1000 * 256, "%zu bytes for 1000 entries", after_first - base);
	CHECK(pol_is_escalated(p, FP_B, NULL));
	/* FP_A's own cooldown went with it; nginx.service's is in another table. */
	in.fingerprint = 0x1234;
	CHECK(!admit(p, &in, now));
	CHECK_CONTAINS(reason, "cooldown of nginx.service");
	/* Past every window: pruned on the way, not dropped. */
	now += 2 * USEC_PER_HOUR;
	pol_attempt_started(p, 7, NULL, now);
	CHECK_INT(pol_dropped(p), ==, 99001);
	CHECK_(heap_bytes() < after_first, "heap %zu after pruning, %zu full", heap_bytes(),
	       after_first);
	CHECK(pol_is_escalated(p, FP_B, NULL));
	pol_free(p);
}

TEST(test_reload_keeps_history)
{
	PolicyConfig c = defaults();
	Policy *p = pol_new(&c);
	PolIncident in = incident(FP_A, NULL, T0);
	const PolAction act[] = {{"restart_service", "x.service"}};

	c.max_age_usec = 7 * USEC_PER_DAY;
	c.cooldown_usec = 0;
	pol_set_config(p, &c);
	pol_attempt_started(p, FP_A, NULL, T0);
	pol_attempt_started(p, FP_A, NULL, T0 + 1);
	pol_heal_charged(p, act, 1, T0);
	CHECK(admit(p, &in, T0 + 2));
	/* Fewer attempts allowed: the two already made count. */
	c.max_attempts = 2;
	pol_set_config(p, &c);
	CHECK(!admit(p, &in, T0 + 2));
	CHECK_CONTAINS(reason, "2 attempts of fingerprint 1111222233334444");
	/* A longer cooldown counts from the attempt already made. */
	c.max_attempts = 3;
	c.cooldown_usec = 10 * USEC_PER_MINUTE;
	pol_set_config(p, &c);
	CHECK(!admit(p, &in, T0 + 1 + 5 * USEC_PER_MINUTE));
	CHECK_CONTAINS(reason, "for 5min more");
	/* A smaller budget: the heal already charged counts. */
	c.cooldown_usec = 0;
	c.max_heals_per_hour = 1;
	pol_set_config(p, &c);
	CHECK(!pol_may_run(p, "restart_service", 0, "y.service", T0 + 2, reason, sizeof reason));
	CHECK_CONTAINS(reason, "hourly budget of 1 heals spent");
	/* A smaller table keeps the newest entries, counting those it forgets. */
	for (uint64_t i = 0; i < 10; i++)
		pol_attempt_started(p, 100 + i, NULL, T0 + 10 + i);
	c.max_tracked = 4;
	pol_set_config(p, &c);
	CHECK_INT(pol_dropped(p), ==, 7); /* FP_A and 100..105 */
	c.max_attempts = 1;
	c.max_heals_per_hour = 10;
	pol_set_config(p, &c);
	in.fingerprint = 109;
	CHECK(!admit(p, &in, T0 + 30));
	in.fingerprint = 105;
	CHECK(admit(p, &in, T0 + 30));
	pol_free(p);
}

/* export file -> a journal in DIR/NAME; the directory, or NULL. */
static const char *make_journal(const char *export_path, const char *name)
{
	static char dir[256];
	char out[300];
	char *argv[] = {"/lib/systemd/systemd-journal-remote", "-o", out, (char *)export_path,
			NULL};
	ExOptions o = {.timeout_usec = 60 * USEC_PER_SEC};
	ExResult res = {0};
	bool ok;

	snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
	mkdir(dir, 0755);
	snprintf(out, sizeof out, "%s/x.journal", dir);
	ok = ex_run(argv, &o, &res) == 0 && res.exit_status == 0;
	CHECK_(ok, "journal-remote failed: %s", res.output ? res.output : "");
	ex_result_done(&res);
	return ok ? dir : NULL;
}

/*
 * Entries as journald writes them (trusted fields set by it, the rest by
 * the sender), each with the source it must be judged as.
 */
static const struct {
	const char *fields;
	PolSource want;
} cases[] = {
	{"_TRANSPORT=kernel\nSYSLOG_IDENTIFIER=kernel\nMESSAGE=EXT4-fs error (device sda1): "
	 "ext4_find_entry: reading directory lblock 0\n",
	 POL_SOURCE_KERNEL},
	{"_TRANSPORT=stdout\n_PID=1234\n_UID=33\n_COMM=nginx\n_EXE=/usr/sbin/nginx\n"
	 "_SYSTEMD_UNIT=nginx.service\nSYSLOG_IDENTIFIER=nginx\nMESSAGE=bind() failed\n",
	 POL_SOURCE_SERVICE},
	/* PID 1 about a service. */
	{"_TRANSPORT=journal\n_PID=1\n_UID=0\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_UNIT=init.scope\nUNIT=nginx.service\nSYSLOG_IDENTIFIER=systemd\n"
	 "MESSAGE=nginx.service: Failed with result 'exit-code'.\n",
	 POL_SOURCE_SERVICE},
	/* PID 1 about a socket, a mount, a session, a user's manager. */
	{"_TRANSPORT=journal\n_PID=1\n_UID=0\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_UNIT=init.scope\nUNIT=docker.socket\nMESSAGE=Failed to listen.\n",
	 POL_SOURCE_SERVICE},
	{"_TRANSPORT=journal\n_PID=1\n_UID=0\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_UNIT=init.scope\nUNIT=media-usb.mount\nMESSAGE=Failed to mount /media/usb.\n",
	 POL_SOURCE_UNITLESS},
	{"_TRANSPORT=journal\n_PID=1\n_UID=0\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_UNIT=init.scope\nUNIT=session-4.scope\nMESSAGE=session-4.scope: Failed.\n",
	 POL_SOURCE_SESSION},
	{"_TRANSPORT=journal\n_PID=1\n_UID=0\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_UNIT=init.scope\nUNIT=user@1000.service\nMESSAGE=user@1000.service: Failed.\n",
	 POL_SOURCE_USER_UNIT},
	/* A process of a user's unit. */
	{"_TRANSPORT=stdout\n_PID=4100\n_UID=1000\n_COMM=syncthing\n"
	 "_SYSTEMD_UNIT=user@1000.service\n_SYSTEMD_USER_UNIT=syncthing.service\n"
	 "MESSAGE=panic: crashed\n",
	 POL_SOURCE_USER_UNIT},
	/* A user's own manager naming a system unit's name: still the user's. */
	{"_TRANSPORT=journal\n_PID=900\n_UID=1000\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_UNIT=user@1000.service\n_SYSTEMD_USER_UNIT=init.scope\nUSER_UNIT=nginx.service\n"
	 "MESSAGE=nginx.service: Failed with result 'exit-code'.\n",
	 POL_SOURCE_USER_UNIT},
	/* root's own user@0.service manager: root-owned, but a user manager. */
	{"_TRANSPORT=journal\n_PID=901\n_UID=0\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_UNIT=user@0.service\n_SYSTEMD_USER_UNIT=init.scope\nUSER_UNIT=backup.service\n"
	 "MESSAGE=backup.service: Failed.\n",
	 POL_SOURCE_USER_UNIT},
	/*
	 * The tier-1b sandbox's root `systemd --user`, standing in for PID 1,
	 * and its unit's own output: the fields as measured there.
	 */
	{"_TRANSPORT=journal\n_PID=37\n_UID=0\n_COMM=systemd\n_EXE=/usr/lib/systemd/systemd\n"
	 "_SYSTEMD_CGROUP=/init.scope\n_SYSTEMD_UNIT=init.scope\nUSER_UNIT=app.service\n"
	 "MESSAGE=app.service: Failed with result 'exit-code'.\n",
	 POL_SOURCE_SERVICE},
	{"_TRANSPORT=stdout\n_PID=79\n_UID=0\n_COMM=sh\n_SYSTEMD_CGROUP=/app.slice/app.service\n"
	 "_SYSTEMD_UNIT=app.service\nMESSAGE=app: boom\n",
	 POL_SOURCE_SERVICE},
	/* A login session; it names a service and claims the kernel in vain. */
	{"_TRANSPORT=syslog\n_PID=4200\n_UID=1000\n_COMM=logger\n_SYSTEMD_UNIT=session-7.scope\n"
	 "_SYSTEMD_SESSION=7\nUNIT=nginx.service\nTRANSPORT=kernel\nSYSLOG_IDENTIFIER=nginx\n"
	 "MESSAGE=nginx: fatal, restart nginx.service\n",
	 POL_SOURCE_SESSION},
	/* No unit at all; a scope started by hand. */
	{"_TRANSPORT=syslog\n_PID=4300\n_UID=0\nSYSLOG_IDENTIFIER=cron\nMESSAGE=cannot fork\n",
	 POL_SOURCE_UNITLESS},
	{"_TRANSPORT=stdout\n_PID=4400\n_UID=0\n_SYSTEMD_UNIT=run-r0d1e2f.scope\n"
	 "MESSAGE=error: oops\n",
	 POL_SOURCE_UNITLESS},
};

TEST(test_classify_real_entries)
{
	char export[128];
	const char *dir;
	JrOpenOptions o = {.source = JR_SOURCE_DIRECTORY, .max_priority = 3};
	JrReader *r = NULL;
	JrEntry e;
	size_t n = 0;
	FILE *f;

	snprintf(export, sizeof export, "%s/classify.export", tmpdir);
	f = fopen(export, "we");
	if (!f)
		return;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		fprintf(f,
			"__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%zu\n_BOOT_ID="
			"0b6a0e4c1f2d4a5b8c9d0e1f2a3b4c5d\nPRIORITY=3\n%s\n",
			(unsigned long long)(T0 + i), 1000 + i, cases[i].fields);
	fclose(f);
	dir = make_journal(export, "classify");
	o.directory = dir;
	if (!dir || jr_open(&o, &r) < 0 || jr_seek_head(r) < 0) {
		CHECK(!"journal opened");
		jr_free(r);
		return;
	}
	while (n < ELEMENTSOF(cases) && jr_next(r, &e) > 0) {
		PolSource s = pol_classify(&e);

		CHECK_(s == cases[n].want, "entry %zu (%s): %s, not %s", n, e.message,
		       pol_source_name(s), pol_source_name(cases[n].want));
		jr_entry_done(&e);
		n++;
	}
	CHECK_INT(n, ==, ELEMENTSOF(cases));
	jr_free(r);
}

/* The same judgement on hand-made entries: nothing but the trusted fields counts. */
TEST(test_classify_fields)
{
	JrEntry e = {.unit = "nginx.service", .systemd_unit = "nginx.service"};

	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_SERVICE);
	e.identifier = "kernel";
	e.message = "Oops";
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_SERVICE);
	e = (JrEntry){.unit = "cups.path"};
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_SERVICE);
	e.unit = "logrotate.timer";
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_SERVICE);
	e.unit = "multi-user.target";
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_UNITLESS);
	e.unit = ".service";
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_UNITLESS);
	e.unit = "user-runtime-dir@1000.service";
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_SERVICE);
	/* root's manager under user@0.service, without _SYSTEMD_USER_UNIT (older systemd). */
	e = (JrEntry){.unit = "backup.service", .systemd_unit = "user@0.service", .uid = 0};
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_USER_UNIT);
	e = (JrEntry){.transport = "journal"};
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_UNITLESS);
	e.systemd_session = "c2";
	CHECK_INT(pol_classify(&e), ==, POL_SOURCE_SESSION);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/healer-policy-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 2;
	RUN(test_act_on_parse);
	RUN(test_disabled_and_act_on);
	RUN(test_max_age);
	RUN(test_cooldowns);
	RUN(test_attempts_in_window);
	RUN(test_budget_sliding_hour);
	RUN(test_action_cooldowns);
	RUN(test_escalation);
	RUN(test_escalation_marks_apart);
	RUN(test_bounded_tables);
	RUN(test_reload_keeps_history);
	RUN(test_classify_real_entries);
	RUN(test_classify_fields);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return harness_finish();
}
