/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Asynchronous QMP client on the libqb event loop: commands in flight with a
 * callback each, events dispatched to listeners by name, JSON by jansson.
 * QEMU's own error class and description reach the caller unchanged.
 */
#ifndef US_QMP_H
#define US_QMP_H

#include <jansson.h>
#include <qb/qbloop.h>
#include <stddef.h>
#include <stdint.h>

struct us_qmp;

/*
 * Reply to one command. On success @ret is the "return" value (borrowed) and
 * @err is NULL. On a QMP error @ret is NULL and @err is "Class: description".
 * On a lost connection @ret is NULL and @err says so.
 */
typedef void (*us_qmp_reply_fn)(void *opaque, json_t *ret, const char *err);

/* One event; @data borrowed, may be NULL. */
typedef void (*us_qmp_event_fn)(void *opaque, const char *event, json_t *data);

/* The connection closed or broke. */
typedef void (*us_qmp_closed_fn)(void *opaque);

/**
 * Connect to the QMP unix socket @path, read the greeting and negotiate
 * capabilities (blocking, bounded by a few seconds), then run on @loop.
 * @return the client, or NULL with errno set.
 */
struct us_qmp *us_qmp_connect(qb_loop_t *loop, const char *path);

/** Call @fn on close; one handler. */
void us_qmp_on_closed(struct us_qmp *q, us_qmp_closed_fn fn, void *opaque);

/**
 * Add a listener for event @name ("*" for all).
 * @return 0 or -ENOMEM.
 */
int us_qmp_on_event(struct us_qmp *q, const char *name, us_qmp_event_fn fn, void *opaque);

/**
 * Inside an event listener: the event's timestamp, microseconds on QEMU's
 * realtime clock (its "timestamp" member), 0 if it had none. Two events'
 * difference is QEMU's own measure of the time between them.
 */
uint64_t us_qmp_event_us(const struct us_qmp *q);

/** Remove the listener added with exactly these @fn and @opaque. */
void us_qmp_off_event(struct us_qmp *q, us_qmp_event_fn fn, void *opaque);

/**
 * Send @cmd with @args (reference stolen, may be NULL); @fn (may be NULL)
 * runs from the loop when the reply arrives.
 * @return 0 or -errno (-EPIPE: connection gone).
 */
int us_qmp_send(struct us_qmp *q, const char *cmd, json_t *args,
		us_qmp_reply_fn fn, void *opaque);

/**
 * Send @cmd and wait for its reply without running the loop (events arriving
 * meanwhile are still dispatched). For start-up, promotion and tear-down.
 * @ret (may be NULL) receives a new reference to the "return" value.
 * @err (may be NULL) receives QEMU's error text.
 * @return 0, -EIO on a QMP error, -ETIMEDOUT after @timeout_ms, -errno.
 */
int us_qmp_call(struct us_qmp *q, const char *cmd, json_t *args, json_t **ret,
		char *err, size_t errlen, int timeout_ms);

/** Close and free; pending callbacks get an error. NULL-safe. */
void us_qmp_free(struct us_qmp *q);

#endif
