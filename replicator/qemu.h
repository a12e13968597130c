/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting and stopping the stock QEMU that runs the protected guest: guest
 * RAM as a shared memory-backend-file, QMP on a unix socket, serial console to
 * a log file, no default devices. The same command line (bar RAM file and
 * -incoming) on both hosts, so the standby can load the primary's state.
 */
#ifndef US_QEMU_H
#define US_QEMU_H

#include <sys/types.h>
#include <qb/qbloop.h>
#include "replicator/vmconf.h"

struct us_qemu;

enum us_qemu_mode {
	US_QEMU_RUN = 0,	/* boot the guest */
	US_QEMU_INCOMING = 1,	/* park with -incoming defer, RAM from the file */
};

struct us_qemu_opts {
	enum us_qemu_mode mode;
	const char *ram_path;	/* existing file of vm->mem_bytes, shared */
	const char *serial_log;	/* file the serial console is written to */
	const char *tag;	/* names the QMP socket: RUN_DIR/NAME-TAG.qmp */
	const char *netdev_sock; /* unix socket for -netdev stream, or NULL */
	const char *disk_sock;	/* the daemon's NBD server for [vm] disk, or NULL:
				 * QEMU then opens the image itself (unreplicated) */
	int start_paused;	/* RUN mode: -S, the caller sends "cont" */
	int no_wait;		/* return once spawned; poll us_qemu_ready() */
	qb_loop_t *loop;	/* the caller's loop, for the start-up QMP probe; NULL: a
				 * private one (tools only: destroying a qb loop closes
				 * libqb's process-wide signal pipe, a daemon's SIGTERM) */
};

/**
 * Start QEMU and wait (bounded, ~10 s) until its QMP socket accepts.
 * A missing binary, a bad option or an early exit is logged with QEMU's own
 * stderr text.
 * @return the handle, or NULL with errno set (ENOENT: no QEMU binary).
 */
struct us_qemu *us_qemu_start(const struct us_vm_config *vm, const struct us_qemu_opts *o);

/**
 * For a QEMU started with no_wait: 0 once its main loop answers QMP (a short
 * blocking wait once the socket accepts), -EAGAIN while it is starting,
 * -EIO (it exited) or -ETIMEDOUT, logged.
 */
int us_qemu_ready(struct us_qemu *q, qb_loop_t *loop);

/** @return QEMU's pid. */
pid_t us_qemu_pid(const struct us_qemu *q);

/** @return the path of QEMU's QMP unix socket. */
const char *us_qemu_qmp_path(const struct us_qemu *q);

/**
 * @return 1 if QEMU still runs, 0 if it exited (reaping it and logging
 * how), never blocks.
 */
int us_qemu_alive(struct us_qemu *q);

/**
 * Kill QEMU (SIGTERM, then SIGKILL after a grace period), reap it, remove its
 * sockets and free the handle; NULL-safe. The RAM file is the caller's.
 */
void us_qemu_free(struct us_qemu *q);

#endif
