/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "harness.h"
#include "common/util.h"
#include "healer/config.h"
#include "healer/policy.h"
#include "journal/journal.h"

static char tmpdir[64];

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "we");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

TEST(test_defaults)
{
	Config *c = cfg_new();
	char *errors = NULL;

	CHECK_INT(c->provider, ==, CFG_PROVIDER_RULES);
	CHECK_INT(c->min_priority, ==, 3);
	CHECK_INT(c->lookback_usec, ==, 5 * USEC_PER_MINUTE);
	CHECK_INT(c->window_usec, ==, 10 * USEC_PER_MINUTE);
	CHECK_INT(c->timeout_usec, ==, 30 * USEC_PER_SEC);
	CHECK_STR(c->api_listen, "127.0.0.1:8099");
	CHECK_STR(c->whitelist, "/etc/healer/whitelist.conf");
	CHECK(c->redact);
	CHECK_INT(cfg_finish(c, &errors), ==, 0);
	CHECK(c->model == NULL && c->base_url == NULL);
	/* A missing optional file is fine; a missing required one is not. */
	CHECK_INT(cfg_load(c, "/nonexistent/healer.conf", false, &errors), ==, 0);
	CHECK_INT(cfg_load(c, "/nonexistent/healer.conf", true, &errors), ==, -ENOENT);
	CHECK_CONTAINS(errors, "/nonexistent/healer.conf: No such file");
	free(errors);
	cfg_free(c);
}

TEST(test_example_file)
{
	Config *c = cfg_new();
	char *errors = NULL;

	CHECK_INT(cfg_load(c, "examples/healer.conf", true, &errors), ==, 0);
	CHECK_(errors == NULL, "%s", errors);
	CHECK_INT(cfg_finish(c, &errors), ==, 0);
	CHECK_INT(c->provider, ==, CFG_PROVIDER_RULES);
	CHECK_INT(c->context_bytes, ==, 8192);
	cfg_free(c);
}

TEST(test_llm_only_and_provider_defaults)
{
	static const char text[] = "# only [llm]\n[llm]\nprovider = gemini\ntimeout = 10s\n";
	Config *c = cfg_new();
	char *errors = NULL;

	CHECK_INT(cfg_parse(c, "t.conf", text, sizeof text - 1, &errors), ==, 0);
	CHECK_INT(cfg_finish(c, &errors), ==, 0);
	CHECK_INT(c->provider, ==, CFG_PROVIDER_GEMINI);
	CHECK_STR(c->model, "gemini-2.5-flash");
	CHECK_STR(c->base_url, "https://generativelanguage.googleapis.com");
	CHECK_INT(c->timeout_usec, ==, 10 * USEC_PER_SEC);
	cfg_free(c);
}

TEST(test_errors_all_at_once)
{
	static const char text[] = "[llm]\nprovider = skynet\ntimeout = forever\nmax_retries = 99\n"
				   "colour = blue\napi_key = sk-1\n[journal]\nmin_priority = loud\n"
				   "window = 0\n[nope]\nlookback = 5min\nredact = maybe\n";
	Config *c = cfg_new();
	char *errors = NULL;

	CHECK_INT(cfg_parse(c, "t.conf", text, sizeof text - 1, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "t.conf:2: provider: must be rules, gemini, openrouter or openai");
	CHECK_CONTAINS(errors, "t.conf:3: timeout: must be a time span from 1s to 10min");
	CHECK_CONTAINS(errors, "t.conf:4: max_retries: must be a number from 0 to 10");
	CHECK_CONTAINS(errors, "t.conf:5: unknown key 'colour' in [llm]");
	CHECK_CONTAINS(errors, "t.conf:6: API keys do not belong in the config file");
	CHECK_CONTAINS(errors, "t.conf:8: min_priority: must be a priority");
	CHECK_CONTAINS(errors, "t.conf:9: window: must be a time span from 1s to 1d");
	CHECK_CONTAINS(errors, "t.conf:10: unknown section [nope]");
	/* The keys of a refused section are not read: no error for lines 11 and 12. */
	CHECK(errors && !strstr(errors, "t.conf:11:") && !strstr(errors, "t.conf:12:"));
	free(errors);
	cfg_free(c);
}

TEST(test_finish_rules)
{
	static const char *const bad[] = {"[llm]\nprovider = openai\n",
					  "[llm]\nprovider = openai\nbase_url = http://x:1/v1\n",
					  "[llm]\nprovider = gemini\nmodel = a/b\n",
					  "[llm]\nprovider = gemini\nbase_url = https://u:p@host\n",
					  "[llm]\nprovider = openrouter\nmodel = a b\n",
					  "[llm]\nresponse_format = grammar\n"};
	static const char *const why[] = {
		"base_url is required", "must be https://", "holds no '/'",
		"must not name a user", "holds ' '",	    "must be json_object or json_schema"};
	static const char ok[] =
		"[llm]\nprovider = openai\nbase_url = http://127.0.0.1:11434/v1\nmodel = llama3\n"
		"response_format = json_schema\n";

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		Config *c = cfg_new();
		char *errors = NULL;

		CHECK_INT(cfg_parse(c, "t", bad[i], strlen(bad[i]), &errors), ==, 0);
		CHECK_INT(cfg_finish(c, &errors), ==, -EINVAL);
		CHECK_CONTAINS(errors, why[i]);
		free(errors);
		cfg_free(c);
	}
	{
		Config *c = cfg_new();
		char *errors = NULL;

		CHECK_INT(cfg_parse(c, "t", ok, sizeof ok - 1, &errors), ==, 0);
		CHECK_INT(cfg_finish(c, &errors), ==, 0);
		CHECK_STR(c->response_format, "json_schema");
		cfg_free(c);
	}
}

TEST(test_env_and_keys)
{
	char *env[] = {"HEALER_LLM_PROVIDER=openrouter",
		       "HEALER_JOURNAL_WINDOW=2min",
		       "OPENROUTER_API_KEY=sk-or-1",
		       "HEALER_API_LISTEN=127.0.0.1:9000",
		       "PATH=/bin",
		       NULL};
	char *bad_env[] = {"HEALER_LLM_TIMEOUT=never", NULL};
	Config *c = cfg_new();
	char *errors = NULL, *kerr = NULL;
	const char *key;

	CHECK_INT(cfg_apply_env(c, env, &errors), ==, 0);
	CHECK_INT(c->provider, ==, CFG_PROVIDER_OPENROUTER);
	CHECK_INT(c->window_usec, ==, 2 * USEC_PER_MINUTE);
	CHECK_STR(c->api_listen, "127.0.0.1:9000");
	CHECK_INT(cfg_apply_env(c, bad_env, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "environment HEALER_LLM_TIMEOUT: must be a time span");
	free(errors);
	CHECK_INT(cfg_load_api_key(c, env, &kerr), ==, 1);
	CHECK_STR(c->api_key, "sk-or-1");

	/* A key file: 0600 taken, group- or world-readable refused. */
	key = write_file("key", "sk-file-2\n", 0600);
	free(c->api_key_file);
	c->api_key_file = strdup(key);
	CHECK_INT(cfg_load_api_key(c, env, &kerr), ==, 1);
	CHECK_STR(c->api_key, "sk-file-2");
	chmod(key, 0640);
	CHECK_INT(cfg_load_api_key(c, env, &kerr), ==, -EPERM);
	CHECK_CONTAINS(kerr, "mode 0600 or stricter");
	free(kerr);
	write_file("key", "sk bad\n", 0600);
	CHECK_INT(cfg_load_api_key(c, env, &kerr), ==, -EINVAL);
	free(kerr);
	cfg_free(c);
}

TEST(test_file_permissions)
{
	Config *c = cfg_new();
	char *errors = NULL;
	const char *p = write_file("healer.conf", "[llm]\nprovider = rules\n", 0666);

	CHECK_INT(cfg_load(c, p, true, &errors), ==, -EPERM);
	CHECK_CONTAINS(errors, "writable by others");
	free(errors);
	chmod(p, 0644);
	CHECK_INT(cfg_load(c, p, true, &errors), ==, 0);
	cfg_free(c);
}

TEST(test_dump_hides_key)
{
	Config *c = cfg_new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	c->api_key = strdup("sk-very-secret");
	cfg_dump(c, f);
	fclose(f);
	CHECK_CONTAINS(buf, "provider = rules");
	CHECK_CONTAINS(buf, "api key: loaded (not shown)");
	CHECK(!strstr(buf, "sk-very-secret"));
	free(buf);
	cfg_free(c);
}

TEST(test_daemon_defaults)
{
	Config *c = cfg_new();

	CHECK(c->enabled);
	CHECK_INT(c->act_on, ==, POL_ACT_ON_DEFAULT);
	CHECK(c->auto_execute);
	CHECK(!c->dry_run);
	CHECK_INT(c->max_age_usec, ==, 5 * USEC_PER_MINUTE);
	CHECK_INT(c->max_attempts, ==, 3);
	CHECK_INT(c->attempt_window_usec, ==, USEC_PER_HOUR);
	CHECK_INT(c->cooldown_usec, ==, 5 * USEC_PER_MINUTE);
	CHECK_INT(c->max_heals_per_hour, ==, 10);
	CHECK_INT(c->max_concurrent_analyses, ==, 2);
	CHECK_INT(c->max_queued, ==, 100);
	CHECK_INT(c->settle_usec, ==, 5 * USEC_PER_SEC);
	CHECK_INT(c->verify_window_usec, ==, 30 * USEC_PER_SEC);
	CHECK_INT(c->escalate_after, ==, 3);
	CHECK_INT(c->escalate_window_usec, ==, 10 * USEC_PER_MINUTE);
	CHECK_INT(c->approval_timeout_usec, ==, USEC_PER_HOUR);
	CHECK_INT(c->retention_usec, ==, 30 * USEC_PER_DAY);
	CHECK_INT(c->source, ==, JR_SOURCE_SYSTEM);
	CHECK(c->source_arg == NULL);
	CHECK_STR(c->state_dir, "/var/lib/healer");
	CHECK(c->api_token_file == NULL);
	CHECK(!c->api_public_reads);
	CHECK(c->notify_webhook == NULL);
	cfg_free(c);
}

/* Every bound, just inside (taken) and just outside (an error at its line). */
TEST(test_daemon_bounds)
{
	static const char ok[] = "[healer]\nmax_attempts = 100\nattempt_window = 7d\ncooldown = 0\n"
				 "max_heals_per_hour = 1000\nmax_concurrent_analyses = 16\n"
				 "max_queued = 10000\nsettle = 0\nverify_window = 1h\n"
				 "escalate_after = 1\nescalate_window = 1s\napproval_timeout = 7d\n"
				 "retention = 3650d\nmax_age = 1s\nenabled = no\ndry_run = yes\n"
				 "auto_execute = off\n[api]\npublic_reads = yes\n"
				 "token_file = /etc/healer/api.token\n";
	static const char bad[] =
		"[healer]\nmax_attempts = 0\nmax_attempts = 101\n"
		"attempt_window = 0\ncooldown = 1d 1s\nmax_heals_per_hour = 0\n"
		"max_concurrent_analyses = 17\nmax_queued = 10001\n"
		"settle = 10min 1s\nverify_window = 1h 1s\nescalate_after = 101\n"
		"escalate_window = 8d\napproval_timeout = 999ms\nretention = 59min\n"
		"max_age = 7d 1us\nenabled = maybe\n[api]\npublic_reads = sometimes\n"
		"token_file = api.token\n";
	static const char *const want[] = {
		"t.conf:2: max_attempts: must be a number from 1 to 100",
		"t.conf:3: 'max_attempts' set twice",
		"t.conf:3: max_attempts: must be a number from 1 to 100",
		"t.conf:4: attempt_window: must be a time span from 1s to 7d",
		"t.conf:5: cooldown: must be a time span from 0 to 1d",
		"t.conf:6: max_heals_per_hour: must be a number from 1 to 1000",
		"t.conf:7: max_concurrent_analyses: must be a number from 1 to 16",
		"t.conf:8: max_queued: must be a number from 1 to 10000",
		"t.conf:9: settle: must be a time span from 0 to 10min",
		"t.conf:10: verify_window: must be a time span from 1s to 1h",
		"t.conf:11: escalate_after: must be a number from 1 to 100",
		"t.conf:12: escalate_window: must be a time span from 1s to 7d",
		"t.conf:13: approval_timeout: must be a time span from 1s to 7d",
		"t.conf:14: retention: must be a time span from 1h to 3650d",
		"t.conf:15: max_age: must be a time span from 1s to 7d",
		"t.conf:16: enabled: must be yes or no",
		"t.conf:18: public_reads: must be yes or no",
		"t.conf:19: token_file: must be an absolute path",
	};
	Config *c = cfg_new();
	char *errors = NULL;

	CHECK_INT(cfg_parse(c, "t.conf", ok, sizeof ok - 1, &errors), ==, 0);
	CHECK_(errors == NULL, "%s", errors);
	CHECK_INT(c->max_attempts, ==, 100);
	CHECK_INT(c->cooldown_usec, ==, 0);
	CHECK_INT(c->retention_usec, ==, 3650 * USEC_PER_DAY);
	CHECK(!c->enabled && c->dry_run && !c->auto_execute && c->api_public_reads);
	CHECK_STR(c->api_token_file, "/etc/healer/api.token");
	cfg_free(c);
	c = cfg_new();
	CHECK_INT(cfg_parse(c, "t.conf", bad, sizeof bad - 1, &errors), ==, -EINVAL);
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		CHECK_CONTAINS(errors, want[i]);
	/* A refused value leaves the default. */
	CHECK_INT(c->max_attempts, ==, 3);
	free(errors);
	cfg_free(c);
}

TEST(test_dedupe_window_alias)
{
	static const char both[] = "[journal]\nwindow = 2min\ndedupe_window = 3min\n";
	static const char bad[] = "[journal]\nwindow = 2d\n";
	char *env[] = {"HEALER_JOURNAL_DEDUPE_WINDOW=4min", NULL};
	char *old_env[] = {"HEALER_JOURNAL_WINDOW=5min", NULL};
	Config *c = cfg_new();
	char *errors = NULL;

	CHECK_INT(cfg_parse(c, "t", "[journal]\nwindow = 2min\n", 21, &errors), ==, 0);
	CHECK_INT(c->window_usec, ==, 2 * USEC_PER_MINUTE);
	CHECK_INT(cfg_parse(c, "t", "[journal]\ndedupe_window = 3min\n", 28, &errors), ==, 0);
	CHECK_INT(c->window_usec, ==, 3 * USEC_PER_MINUTE);
	/* One key under two names: set twice. */
	CHECK_INT(cfg_parse(c, "t", both, sizeof both - 1, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "t:3: 'dedupe_window' set twice");
	free(errors);
	/* An error names the key as it was written. */
	CHECK_INT(cfg_parse(c, "t", bad, sizeof bad - 1, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "t:2: window: must be a time span from 1s to 1d");
	free(errors);
	CHECK_INT(cfg_apply_env(c, env, &errors), ==, 0);
	CHECK_INT(c->window_usec, ==, 4 * USEC_PER_MINUTE);
	CHECK_INT(cfg_apply_env(c, old_env, &errors), ==, 0);
	CHECK_INT(c->window_usec, ==, 5 * USEC_PER_MINUTE);
	CHECK_INT(cfg_key_reloadable("journal", "window"), ==, 1);
	cfg_free(c);
}

TEST(test_act_on)
{
	static const struct {
		const char *text;
		unsigned mask;
	} ok[] = {
		{"services kernel", POL_ACT_ON_DEFAULT},
		{"all", POL_ACT_ON_ALL},
		{"sessions, kernel", (1u << POL_SOURCE_SESSION) | (1u << POL_SOURCE_KERNEL)},
		{"services user-units unitless", (1u << POL_SOURCE_SERVICE) |
							 (1u << POL_SOURCE_USER_UNIT) |
							 (1u << POL_SOURCE_UNITLESS)},
		{"", 0},
	};
	static const char bad[] = "[healer]\nact_on = services kernels\n";
	char *env[] = {"HEALER_HEALER_ACT_ON=all", NULL};

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		Config *c = cfg_new();
		char text[128], *errors = NULL;
		int n = snprintf(text, sizeof text, "[healer]\nact_on = %s\n", ok[i].text);

		CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, 0);
		CHECK_(c->act_on == ok[i].mask, "'%s': %#x, not %#x", ok[i].text, c->act_on,
		       ok[i].mask);
		cfg_free(c);
	}
	{
		Config *c = cfg_new();
		char *errors = NULL;

		CHECK_INT(cfg_parse(c, "t", bad, sizeof bad - 1, &errors), ==, -EINVAL);
		CHECK_CONTAINS(errors, "t:2: act_on: unknown source 'kernels' (services, kernel, "
				       "user-units, sessions, unitless or all)");
		CHECK_INT(c->act_on, ==, POL_ACT_ON_DEFAULT);
		free(errors);
		CHECK_INT(cfg_apply_env(c, env, &errors), ==, 0);
		CHECK_INT(c->act_on, ==, POL_ACT_ON_ALL);
		cfg_free(c);
	}
}

TEST(test_journal_source)
{
	static const char *const bad[] = {
		"journal",	"System",	  "directory:",		 "directory:var/log",
		"namespace:",	"namespace:../x", "namespace:a/b",	 "namespace:-x",
		"namespace:.x", "namespace:a b",  "files:/tmp/x.journal"};
	char long_ns[300] = "namespace:";
	Config *c = cfg_new();
	char *errors = NULL, text[400];
	int n;

	n = snprintf(text, sizeof text, "[journal]\nsource = directory:/var/log/remote\n");
	CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, 0);
	CHECK_INT(c->source, ==, JR_SOURCE_DIRECTORY);
	CHECK_STR(c->source_arg, "/var/log/remote");
	n = snprintf(text, sizeof text, "[journal]\nsource = namespace:healer-test_1.a@b:c\n");
	CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, 0);
	CHECK_INT(c->source, ==, JR_SOURCE_NAMESPACE);
	CHECK_STR(c->source_arg, "healer-test_1.a@b:c");
	n = snprintf(text, sizeof text, "[journal]\nsource = system\n");
	CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, 0);
	CHECK_INT(c->source, ==, JR_SOURCE_SYSTEM);
	CHECK(c->source_arg == NULL);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		n = snprintf(text, sizeof text, "[journal]\nsource = %s\n", bad[i]);
		CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, -EINVAL);
		CHECK_CONTAINS(errors, "t:2: source: ");
		free(errors);
		CHECK_INT(c->source, ==, JR_SOURCE_SYSTEM);
	}
	/* 222 bytes is journald's longest name; 223 is refused. */
	memset(long_ns + 10, 'n', 222);
	n = snprintf(text, sizeof text, "[journal]\nsource = %s\n", long_ns);
	CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, 0);
	long_ns[10 + 222] = 'n';
	n = snprintf(text, sizeof text, "[journal]\nsource = %s\n", long_ns);
	CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, -EINVAL);
	CHECK_CONTAINS(errors, "namespace: needs a name of 1 to 222");
	free(errors);
	{
		char *env[] = {"HEALER_JOURNAL_SOURCE=namespace:web", NULL};

		CHECK_INT(cfg_apply_env(c, env, &errors), ==, 0);
		CHECK_STR(c->source_arg, "web");
	}
	cfg_free(c);
}

TEST(test_api_listen)
{
	static const char *const good[] = {"127.0.0.1:8099",  "0.0.0.0:1",
					   "[::1]:65535",     "[::]:80",
					   "[fe80::1:2]:443", "unix:/run/healer/api.sock"};
	static const char *const bad[] = {
		"localhost:8099", "127.0.0.1",	 "127.0.0.1:0", "127.0.0.1:65536", "::1:8099",
		"[::1]8099",	  "[::1]",	 "127.1:80",	"unix:relative",   "127.0.0.1:80x",
		"[127.0.0.1]:80", "1.2.3.4:+80", ":8099",	"[::1]:",	   "unix:"};
	char path[200] = "unix:/";

	for (size_t i = 0; i < ELEMENTSOF(good) + ELEMENTSOF(bad) + 2; i++) {
		bool want_ok = i < ELEMENTSOF(good) || i == ELEMENTSOF(good) + ELEMENTSOF(bad);
		const char *v = i < ELEMENTSOF(good)			 ? good[i]
				: i < ELEMENTSOF(good) + ELEMENTSOF(bad) ? bad[i - ELEMENTSOF(good)]
									 : path;
		Config *c = cfg_new();
		char text[300], *errors = NULL;
		int n;

		/* The longest UNIX socket path (107 bytes), then one byte more. */
		n = i == ELEMENTSOF(good) + ELEMENTSOF(bad) ? 106 : 107;
		memset(path + 6, 'p', (size_t)n);
		path[6 + n] = '\0';
		n = snprintf(text, sizeof text, "[api]\nlisten = %s\n", v);
		CHECK_(cfg_parse(c, "t", text, (size_t)n, &errors) == (want_ok ? 0 : -EINVAL),
		       "listen = %s: %s", v, errors ? errors : "taken");
		if (want_ok)
			CHECK_STR(c->api_listen, v);
		else
			CHECK_CONTAINS(errors, "t:2: listen: ");
		free(errors);
		cfg_free(c);
	}
}

TEST(test_notify_webhook)
{
	static const char *const good[] = {"https://hooks.example.com/T0/B1/XyZzy?x=1",
					   "http://127.0.0.1:9000/hook", "http://[::1]/h",
					   "http://localhost"};
	static const char *const bad[] = {
		"http://example.com/hook", "ftp://example.com/",    "https://",
		"https:///path",	   "https://user:pw@host/", "http://127.0.0.1.evil.com/",
		"https://host/a b",	   "HTTPS://host/",	    "hooks.example.com"};
	Config *c;
	char text[200], *errors = NULL, *buf = NULL;
	size_t len = 0;
	FILE *f;
	int n;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		c = cfg_new();
		n = snprintf(text, sizeof text, "[notify]\nwebhook = %s\n", good[i]);
		CHECK_INT(cfg_parse(c, "t", text, (size_t)n, &errors), ==, 0);
		CHECK_STR(c->notify_webhook, good[i]);
		cfg_free(c);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		c = cfg_new();
		n = snprintf(text, sizeof text, "[notify]\nwebhook = %s\n", bad[i]);
		CHECK_(cfg_parse(c, "t", text, (size_t)n, &errors) == -EINVAL, "webhook = %s taken",
		       bad[i]);
		CHECK_CONTAINS(errors, "t:2: webhook: ");
		free(errors);
		cfg_free(c);
	}
	/* Its path and query hold the token of many webhooks: a dump shows the host only. */
	c = cfg_new();
	c->notify_webhook = strdup(good[0]);
	f = open_memstream(&buf, &len);
	cfg_dump(c, f);
	fclose(f);
	CHECK_CONTAINS(buf, "webhook = https://hooks.example.com/... (rest not shown)");
	CHECK(!strstr(buf, "XyZzy"));
	free(buf);
	cfg_free(c);
}

TEST(test_reloadable)
{
	static const char *const fixed[][2] = {{"healer", "state_dir"},
					       {"journal", "source"},
					       {"api", "listen"},
					       {"api", "token_file"}};
	static const char *const live[][2] = {{"healer", "cooldown"},  {"healer", "act_on"},
					      {"healer", "whitelist"}, {"journal", "dedupe_window"},
					      {"llm", "provider"},     {"api", "public_reads"},
					      {"notify", "webhook"}};
	Config *a = cfg_new(), *b = cfg_new();
	char *changes;

	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		CHECK_INT(cfg_key_reloadable(fixed[i][0], fixed[i][1]), ==, 0);
	for (size_t i = 0; i < ELEMENTSOF(live); i++)
		CHECK_INT(cfg_key_reloadable(live[i][0], live[i][1]), ==, 1);
	CHECK_INT(cfg_key_reloadable("healer", "nope"), ==, -ENOENT);
	CHECK_INT(cfg_key_reloadable("nope", "listen"), ==, -ENOENT);
	CHECK(cfg_unreloadable_changes(a, b) == NULL);
	/* Reloadable changes are not listed. */
	b->cooldown_usec = 1;
	b->act_on = 0;
	free(b->whitelist);
	b->whitelist = strdup("/tmp/w.conf");
	CHECK(cfg_unreloadable_changes(a, b) == NULL);
	free(b->api_listen);
	b->api_listen = strdup("[::1]:8099");
	b->source = JR_SOURCE_NAMESPACE;
	b->source_arg = strdup("web");
	free(b->state_dir);
	b->state_dir = strdup("/srv/healer");
	changes = cfg_unreloadable_changes(a, b);
	CHECK_STR(changes, "healer.state_dir journal.source api.listen");
	free(changes);
	/* The same source kind with another argument is a change too; NULL vs set as well. */
	a->source = JR_SOURCE_NAMESPACE;
	a->source_arg = strdup("db");
	a->api_token_file = strdup("/etc/healer/api.token");
	free(a->api_listen);
	a->api_listen = strdup("[::1]:8099");
	free(a->state_dir);
	a->state_dir = strdup("/srv/healer");
	changes = cfg_unreloadable_changes(a, b);
	CHECK_STR(changes, "journal.source api.token_file");
	free(changes);
	cfg_free(a);
	cfg_free(b);
}

/* The keys as cfg_dump lists them: "section.name" each, in table order. */
static size_t dumped_keys(char keys[][64], size_t max)
{
	Config *c = cfg_new();
	char *buf = NULL, section[32] = "";
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&buf, &len);

	cfg_dump(c, f);
	fclose(f);
	for (char *line = buf, *next; line && *line; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '[')
			snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"),
				 line + 1);
		else if (line[0] != '#' && (eq = strstr(line, " = ")) && n < max)
			snprintf(keys[n++], 64, "%s.%.*s", section, (int)(eq - line), line);
	}
	free(buf);
	cfg_free(c);
	return n;
}

/*
 * Every key of the brief is in the table, the environment knows each by
 * its HEALER_SECTION_KEY name, and examples/healer.conf and
 * man/healer.conf.5 show each one.
 */
TEST(test_every_key_everywhere)
{
	static const char *const expected[] = {"healer.whitelist",
					       "healer.state_dir",
					       "healer.enabled",
					       "healer.act_on",
					       "healer.auto_execute",
					       "healer.dry_run",
					       "healer.max_age",
					       "healer.max_attempts",
					       "healer.attempt_window",
					       "healer.cooldown",
					       "healer.max_heals_per_hour",
					       "healer.max_concurrent_analyses",
					       "healer.max_queued",
					       "healer.settle",
					       "healer.verify_window",
					       "healer.escalate_after",
					       "healer.escalate_window",
					       "healer.approval_timeout",
					       "healer.retention",
					       "journal.source",
					       "journal.min_priority",
					       "journal.lookback",
					       "journal.dedupe_window",
					       "journal.context_lines",
					       "journal.context_bytes",
					       "api.listen",
					       "api.token_file",
					       "api.public_reads",
					       "notify.webhook"};
	char keys[80][64], *example = NULL, *man = NULL;
	size_t n = dumped_keys(keys, 80), len;

	CHECK_INT(util_read_file("examples/healer.conf", 1 << 20, &example, &len), ==, 0);
	CHECK_INT(util_read_file("man/healer.conf.5", 1 << 20, &man, &len), ==, 0);
	for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
		bool found = false;

		for (size_t j = 0; j < n && !found; j++)
			found = strcmp(keys[j], expected[i]) == 0;
		CHECK_(found, "%s is not in the table", expected[i]);
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = strchr(keys[i], '.') + 1;
		char var[96], assign[128], want[160], *errors = NULL;
		char *env[] = {assign, NULL};
		Config *c = cfg_new();

		/* An invalid value is refused under the key's own variable. */
		snprintf(var, sizeof var, "HEALER_%s", keys[i]);
		for (char *v = var; *v; v++)
			*v = *v == '.' ? '_' : (char)toupper((unsigned char)*v);
		snprintf(assign, sizeof assign, "%s=\x01", var);
		snprintf(want, sizeof want, "environment %s: ", var);
		CHECK_INT(cfg_apply_env(c, env, &errors), ==, -EINVAL);
		CHECK_CONTAINS(errors, want);
		free(errors);
		cfg_free(c);
		snprintf(want, sizeof want, "\n#%s = ", name);
		CHECK_(example && strstr(example, want), "examples/healer.conf lacks '#%s = '",
		       name);
		snprintf(want, sizeof want, ".BI \"%s = ", name);
		CHECK_(man && strstr(man, want), "man/healer.conf.5 lacks '%s'", want);
	}
	free(example);
	free(man);
}

/*
 * examples/healer.conf with every "#key = value" line made live parses
 * without an error and gives the defaults: the example cannot drift.
 */
TEST(test_example_shows_defaults)
{
	Config *def = cfg_new(), *c = cfg_new();
	char *text = NULL, *errors = NULL, *a = NULL, *b = NULL;
	size_t len = 0, la = 0, lb = 0;
	FILE *f;

	CHECK_INT(util_read_file("examples/healer.conf", 1 << 20, &text, &len), ==, 0);
	if (!text)
		return;
	for (char *p = text; (p = strstr(p, "\n#")); p++)
		if (p[2] != ' ' && p[2] != '\n' && p[2] != '#')
			p[1] = ' ';
	CHECK_INT(cfg_parse(c, "example", text, len, &errors), ==, 0);
	CHECK_(errors == NULL, "%s", errors);
	f = open_memstream(&a, &la);
	cfg_dump(def, f);
	fclose(f);
	f = open_memstream(&b, &lb);
	cfg_dump(c, f);
	fclose(f);
	/* Lines whose default is empty show an example value instead; the rest match. */
	for (char *l = a, *m = b, *ln, *mn; l && m && *l; l = ln, m = mn) {
		ln = strchr(l, '\n');
		mn = strchr(m, '\n');
		if (ln)
			*ln++ = '\0';
		if (mn)
			*mn++ = '\0';
		if (!strstr(l, " = \t"))
			CHECK_STR(m, l);
	}
	free(a);
	free(b);
	free(text);
	cfg_free(c);
	cfg_free(def);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/healer-cfg-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 2;
	RUN(test_defaults);
	RUN(test_example_file);
	RUN(test_llm_only_and_provider_defaults);
	RUN(test_errors_all_at_once);
	RUN(test_finish_rules);
	RUN(test_env_and_keys);
	RUN(test_file_permissions);
	RUN(test_dump_hides_key);
	RUN(test_daemon_defaults);
	RUN(test_daemon_bounds);
	RUN(test_dedupe_window_alias);
	RUN(test_act_on);
	RUN(test_journal_source);
	RUN(test_api_listen);
	RUN(test_notify_webhook);
	RUN(test_reloadable);
	RUN(test_every_key_everywhere);
	RUN(test_example_shows_defaults);
	unlink(write_file("key", "", 0600));
	unlink(write_file("healer.conf", "", 0600));
	rmdir(tmpdir);
	return harness_finish();
}
