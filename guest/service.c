/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest workload `service`: a TCP server on port 7777 that keeps one counter
 * in memory for all its clients. Every request line (anything ending in \n)
 * increments it and is answered with the new value as a decimal line, so a
 * client sees 1, 2, 3... and any lost or repeated state after a failover
 * shows as a gap or a repeat. The serving is guest/lineserver.c's.
 * Usage: service [PORT].
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "guest/lineserver.h"
#include "guest/workload.h"

#define DEFAULT_PORT 7777

/* One request: the shared counter, incremented, as the reply line. */
static int next_value(void *ctx, char *reply, size_t cap)
{
	uint64_t *counter = ctx;

	return snprintf(reply, cap, "%llu\n", (unsigned long long)++*counter);
}

int main(int argc, char **argv)
{
	static uint64_t counter; /* the one state every client shares */
	uint64_t port = DEFAULT_PORT;
	int rc;

	if (argc > 1 && us_wl_parse_u64(argv[1], 1, 65535, &port) < 0) {
		us_wl_print("us-service: usage: service [PORT]");
		return 2;
	}
	us_wl_print("us-service listening on %llu", (unsigned long long)port);
	rc = us_wl_serve_lines(port, next_value, &counter);
	us_wl_print("us-service: cannot listen on port %llu: %s", (unsigned long long)port,
		    strerror(-rc));
	return 1;
}
