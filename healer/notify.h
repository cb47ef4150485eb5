/* SPDX-License-Identifier: MIT */
#pragma once
/* Placeholder until the notifier lands: the daemon is written against this interface. */
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>
typedef struct Notifier Notifier;
int notify_new(sd_event *e, const char *url, Notifier **ret);
int notify_send(Notifier *n, const char *event, const char *text, cJSON *fields);
Notifier *notify_free(Notifier *n);
