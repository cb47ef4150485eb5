/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Starts tests/llm/fake_llm.py as a real child on the loop (the executor
 * runs it, so it dies with the test) and waits for its port file.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "healer/executor.h"

typedef struct FakeLlm {
	ExChild *child;
	char base_url[64];
	char log_path[PATH_MAX];
} FakeLlm;

static inline void fake_llm_exited(ExChild *c, const ExResult *r, void *userdata)
{
	(void)c;
	(void)userdata;
	fprintf(stderr, "fake LLM server exited early (%d/%d): %s\n", r->exit_status,
		r->term_signal, r->output);
}

/* key may be NULL (any key accepted). Returns 0, or a negative errno. */
static inline int fake_llm_start(sd_event *ev, const char *tmpdir, const char *key, FakeLlm *f)
{
	char script[PATH_MAX + 32], data[PATH_MAX], port_file[PATH_MAX];
	char *argv[] = {
		"/usr/bin/python3",   script,	   "--port-file", port_file, "--log", f->log_path,
		key ? "--key" : NULL, (char *)key, NULL};
	const char *d = getenv("HEALER_TEST_DATA");
	ExOptions o = {.timeout_usec = 600 * USEC_PER_SEC};

	if (!realpath(d ? d : "tests/data", data))
		return -ENOENT;
	snprintf(script, sizeof script, "%s/../llm/fake_llm.py", data);
	snprintf(port_file, sizeof port_file, "%s/port", tmpdir);
	snprintf(f->log_path, sizeof f->log_path, "%s/requests.log", tmpdir);
	if (ex_spawn(ev, argv, &o, fake_llm_exited, NULL, &f->child) < 0)
		return -EIO;
	for (int i = 0; i < 500; i++) {
		char *buf = NULL;
		size_t len;
		uint64_t port;

		if (util_read_file(port_file, 64, &buf, &len) == 0) {
			buf[strcspn(buf, "\n")] = '\0';
			if (util_parse_u64(buf, 1, 65535, &port) < 0) {
				free(buf);
				return -EINVAL;
			}
			snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%u",
				 (unsigned)port);
			free(buf);
			return 0;
		}
		sd_event_run(ev, 10 * USEC_PER_MSEC);
	}
	return -ETIMEDOUT;
}
