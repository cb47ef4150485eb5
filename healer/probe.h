/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A plain HTTP GET to loopback, on the loop, for the `http URL` check: is
 * the service on this host answering? Only http:// on 127.0.0.0/8, [::1]
 * or localhost (never looked up) is accepted, so a check can never be
 * turned into a request to another host. Only the status line is read.
 */

#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Probe Probe;

/*
 * Called once from the loop: status is the HTTP status (100..599), or
 * -ETIMEDOUT (no answer in time), -EBADMSG (no HTTP status line), or
 * another -errno (-ECONNREFUSED ...); why is one line describing it.
 */
typedef void (*probe_done_fn)(int status, const char *why, void *userdata);

/*
 * Starts a GET of url. Returns 0 and *ret (owned by the caller, freed with
 * probe_free() at the latest after done ran), -EPERM for a URL that is not
 * http:// on loopback, or -errno; done is not called then.
 */
int probe_http(sd_event *e, const char *url, uint64_t timeout_usec, probe_done_fn done,
	       void *userdata, Probe **ret);

/* Closes the connection; done is not called after. Takes NULL, returns NULL. */
Probe *probe_free(Probe *p);
