/* SPDX-License-Identifier: MIT */
/*
 * Test helper: a local process posing as the service manager on the system
 * bus. bus_fake UNIT RESULT sends what the manager sends when UNIT fails
 * (PropertiesChanged of org.freedesktop.systemd1.Service with Result, then
 * of org.freedesktop.systemd1.Unit with ActiveState=failed and a fresh
 * StateChangeTimestamp, on the unit's object path), once as a broadcast and
 * once addressed to every other connection on the bus, then exits 0 (1 when
 * the bus cannot be reached or a send fails).
 *
 * bus_fake --watch SECONDS subscribes to the manager and prints each unit
 * PropertiesChanged it receives (sender, path, interface, the string
 * properties and StateChangeTimestamp), for a look at what the manager sends.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#define UNIT_PATH "/org/freedesktop/systemd1/unit"

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int send_changed(sd_bus *bus, const char *path, const char *dest, const char *iface,
			const char *unit, const char *result)
{
	sd_bus_message *m = NULL;
	int r = sd_bus_message_new_signal(bus, &m, path, "org.freedesktop.DBus.Properties",
					  "PropertiesChanged");

	if (r >= 0 && dest)
		r = sd_bus_message_set_destination(m, dest);
	if (r >= 0 && strcmp(iface, "org.freedesktop.systemd1.Service") == 0)
		r = sd_bus_message_append(m, "sa{sv}as", iface, 1, "Result", "s", result, 0);
	else if (r >= 0)
		r = sd_bus_message_append(m, "sa{sv}as", iface, 4, "Id", "s", unit, "ActiveState",
					  "s", "failed", "SubState", "s", "failed",
					  "StateChangeTimestamp", "t", now_usec(), 0);
	if (r >= 0)
		r = sd_bus_send(bus, m, NULL);
	sd_bus_message_unref(m);
	return r;
}

static int fake(sd_bus *bus, const char *unit, const char *result)
{
	sd_bus_message *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char *path = NULL, **names = NULL;
	const char *self = NULL;
	int r, n = 0;

	r = sd_bus_path_encode(UNIT_PATH, unit, &path);
	if (r < 0)
		return r;
	(void)sd_bus_get_unique_name(bus, &self);
	r = send_changed(bus, path, NULL, "org.freedesktop.systemd1.Service", unit, result);
	if (r >= 0)
		r = send_changed(bus, path, NULL, "org.freedesktop.systemd1.Unit", unit, result);
	/* Then to each connection by its unique name: no match rule filters those. */
	if (r >= 0)
		r = sd_bus_list_names(bus, &names, NULL);
	for (size_t i = 0; r >= 0 && names && names[i]; i++) {
		if (names[i][0] != ':' || (self && strcmp(names[i], self) == 0))
			continue;
		r = send_changed(bus, path, names[i], "org.freedesktop.systemd1.Service", unit,
				 result);
		if (r >= 0)
			r = send_changed(bus, path, names[i], "org.freedesktop.systemd1.Unit", unit,
					 result);
		n++;
	}
	if (r >= 0)
		r = sd_bus_flush(bus);
	if (r >= 0)
		printf("sent to the bus and to %d connections\n", n);
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	free(path);
	sd_bus_message_unref(reply);
	sd_bus_error_free(&e);
	return r;
}

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	const char *iface = NULL, *name, *s;
	uint64_t t;
	int r;

	(void)userdata;
	(void)ret_error;
	if (sd_bus_message_read(m, "s", &iface) < 0)
		return 0;
	printf("%s %s %s:", sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "-",
	       sd_bus_message_get_path(m), iface);
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return 0;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (sd_bus_message_read(m, "s", &name) < 0)
			return 0;
		if (sd_bus_message_enter_container(m, 'v', "s") > 0) {
			if (sd_bus_message_read(m, "s", &s) > 0)
				printf(" %s=%s", name, s);
			(void)sd_bus_message_exit_container(m);
		} else if (strcmp(name, "StateChangeTimestamp") == 0 &&
			   sd_bus_message_enter_container(m, 'v', "t") > 0) {
			if (sd_bus_message_read(m, "t", &t) > 0)
				printf(" %s=%" PRIu64, name, t);
			(void)sd_bus_message_exit_container(m);
		} else {
			(void)sd_bus_message_skip(m, "v");
		}
		(void)sd_bus_message_exit_container(m);
	}
	printf("\n");
	fflush(stdout);
	return 0;
}

static int watch(sd_bus *bus, int seconds)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	uint64_t end = now_usec() + (uint64_t)seconds * 1000000ULL;
	int r;

	r = sd_bus_add_match(
		bus, NULL,
		"type='signal',sender='org.freedesktop.systemd1',"
		"interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
		"path_namespace='" UNIT_PATH "'",
		on_changed, NULL);
	if (r >= 0)
		r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				       "org.freedesktop.systemd1.Manager", "Subscribe", &e, NULL,
				       "");
	sd_bus_error_free(&e);
	printf("watching\n");
	fflush(stdout);
	while (r >= 0 && now_usec() < end) {
		r = sd_bus_process(bus, NULL);
		if (r == 0)
			r = sd_bus_wait(bus, 100000);
	}
	return r;
}

int main(int argc, char **argv)
{
	sd_bus *bus = NULL;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: bus_fake UNIT RESULT | bus_fake --watch SECONDS\n");
		return 2;
	}
	r = sd_bus_open_system(&bus);
	if (r >= 0)
		r = strcmp(argv[1], "--watch") == 0 ? watch(bus, (int)strtol(argv[2], NULL, 10))
						    : fake(bus, argv[1], argv[2]);
	if (r < 0)
		fprintf(stderr, "bus_fake: %s\n", strerror(-r));
	sd_bus_flush_close_unref(bus);
	return r < 0 ? 1 : 0;
}
