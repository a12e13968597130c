/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small TCP line server for the guest workloads: a client sends request
 * lines (anything ending in \n) and gets one reply line per request, made by
 * a callback, over a few connections served at once with poll(2). The same
 * protocol as guest/service.c, so tests/tools/reqclient talks to any of them.
 */
#ifndef US_GUEST_LINESERVER_H
#define US_GUEST_LINESERVER_H

#include <stddef.h>
#include <stdint.h>

/**
 * Make the reply to one request line into @reply (at most @cap bytes,
 * ending in \n). @return its length, or -errno to close the connection.
 */
typedef int (*us_wl_line_fn)(void *ctx, char *reply, size_t cap);

/**
 * Listen on TCP @port and answer every request line with @fn, forever.
 * @return -errno when the port cannot be opened; never returns otherwise.
 */
int us_wl_serve_lines(uint64_t port, us_wl_line_fn fn, void *ctx);

#endif
