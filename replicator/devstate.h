/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device state of a stopped guest, without its RAM: QMP "migrate" to a unix
 * socket this process listens on, with x-ignore-shared so the shared RAM block
 * is skipped; and the reverse on a parked "-incoming defer" QEMU.
 */
#ifndef US_DEVSTATE_H
#define US_DEVSTATE_H

#include <stddef.h>
#include <qb/qbloop.h>
#include "replicator/qmp.h"

struct us_devstate;

/* How us_devstate_capture saves; both streams load with us_devstate_restore. */
enum us_devstate_method {
	US_DEVSTATE_MIGRATE = 0,	/* "migrate" to our unix socket (default) */
	US_DEVSTATE_XEN_SAVE = 1,	/* "xen-save-devices-state" to a file: shorter
					 * pause, needs the standby QEMU started by
					 * us_qemu_start (its -S and -global flags) */
};

/* Capture finished: @rc 0 and @buf/@len valid until the next capture, or -errno. */
typedef void (*us_devstate_done_fn)(void *opaque, int rc, const void *buf, size_t len);

/**
 * Turn on migration capabilities x-ignore-shared and events on @qmp
 * (blocking). Needed on both the primary and the parked standby QEMU.
 * @return 0 or -errno with QEMU's error logged.
 */
int us_devstate_prepare(struct us_qmp *qmp);

/**
 * Listen on unix socket @sock_path for QEMU's migration stream.
 * @return the capturer, or NULL with errno set.
 */
struct us_devstate *us_devstate_new(qb_loop_t *loop, struct us_qmp *qmp, const char *sock_path);

/**
 * Choose the capture method for the next captures.
 * @return 0, -EBUSY during a capture, -EINVAL for an unknown method.
 */
int us_devstate_set_method(struct us_devstate *d, enum us_devstate_method m);

/**
 * With the guest stopped: migrate to our socket, collect the stream, wait for
 * MIGRATION "completed" and runstate "postmigrate" (or, with
 * US_DEVSTATE_XEN_SAVE, save to SOCK_PATH.xen and read it back), then call
 * @done. The caller then sends "cont". One capture at a time.
 * @return 0 if started, -EBUSY, -errno.
 */
int us_devstate_capture(struct us_devstate *d, us_devstate_done_fn done, void *opaque);

/** Stop listening, remove the socket (and SOCK_PATH.xen); NULL-safe. */
void us_devstate_free(struct us_devstate *d);

/**
 * On a QEMU started with -incoming defer (after us_devstate_prepare): load
 * @buf as its device state through unix socket @sock_path and wait, bounded by
 * @timeout_ms, until the load completed. The guest stays paused.
 * @return 0 or -errno with the cause logged.
 */
int us_devstate_restore(struct us_qmp *qmp, const char *sock_path,
			const void *buf, size_t len, int timeout_ms);

#endif
