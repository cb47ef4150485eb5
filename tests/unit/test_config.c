/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "harness.h"
#include "common/util.h"
#include "healer/config.h"

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
		"must not hold",	"holds ' '",	    "must be json_object or json_schema"};
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
	unlink(write_file("key", "", 0600));
	unlink(write_file("healer.conf", "", 0600));
	rmdir(tmpdir);
	return harness_finish();
}
