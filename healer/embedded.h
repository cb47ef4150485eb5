/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The shipped examples, built into the binary (tools/embed.py): what Healer
 * uses when the default /etc/healer files do not exist, so that it runs on
 * a fresh machine with nothing configured. An explicitly named file that is
 * missing is always an error instead.
 */

#include <stddef.h>

extern const char embedded_whitelist_conf[];
extern const size_t embedded_whitelist_conf_len;
extern const char embedded_rules_conf[];
extern const size_t embedded_rules_conf_len;

/*
 * The dashboard (api/dashboard/), served by the API as it is: no build step,
 * no file read at run time. Each array ends in a NUL that _len leaves out.
 */
extern const char dashboard_index_html[];
extern const size_t dashboard_index_html_len;
extern const char dashboard_js[];
extern const size_t dashboard_js_len;
extern const char dashboard_css[];
extern const size_t dashboard_css_len;
