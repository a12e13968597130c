/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NBD server that is the protected VM's disk: QEMU's stock NBD client
 * (-blockdev driver=nbd,server.type=unix,...) reads and writes the image
 * through it, and every change it applies (WRITE, TRIM, WRITE_ZEROES) is
 * reported to the daemon through a callback, so that it can be replicated.
 * The server runs in a thread of its own with its own poll loop, so it keeps
 * answering while the daemon's main thread is blocked (QEMU does its NBD
 * handshake before it answers QMP, and QMP `stop` waits for the disk's
 * replies). One client at a time; a new one is accepted when it leaves.
 */
#ifndef US_NBD_H
#define US_NBD_H

#include <stdint.h>

/* Largest READ or WRITE the server accepts (NBD_INFO_BLOCK_SIZE maximum). */
#define US_NBD_MAX_PAYLOAD (32u << 20)

struct us_nbd;

enum us_nbd_change {
	US_NBD_WRITE = 1,  /* data holds the bytes written */
	US_NBD_ZEROES = 2, /* TRIM or WRITE_ZEROES: the range now reads as zeroes */
};

struct us_nbd_ops {
	/**
	 * A change reached the image (and stable storage, when the client
	 * asked for FUA); its reply has not been sent yet. Runs on the
	 * server's thread, never on the caller's: share data with the rest
	 * of the daemon under a lock. Blocking here holds the client's reply
	 * (back-pressure). @data is the payload for US_NBD_WRITE (valid only
	 * during the call), NULL for US_NBD_ZEROES. A request that fails is
	 * not reported. May be NULL.
	 */
	void (*wrote)(void *opaque, enum us_nbd_change kind, uint64_t offset, uint64_t length,
		      const void *data);
	/**
	 * Where to receive the payload of a WRITE of @length bytes, so that
	 * @wrote gets that memory as @data and need not copy it; NULL: the
	 * server's own buffer. Memory that @wrote does not get (the write
	 * failed, or the client vanished) goes back through @unused. The
	 * server holds its callback lock from @payload to @wrote or @unused,
	 * so us_nbd_set_ops waits for the write. Both may be NULL.
	 */
	void *(*payload)(void *opaque, uint64_t length);
	void (*unused)(void *opaque, void *data);
};

struct us_nbd_stats {
	uint64_t connections;	/* clients accepted */
	uint64_t requests;	/* transmission requests handled */
	uint64_t bytes_read;	/* READ payload sent */
	uint64_t bytes_written; /* WRITE payload applied */
	uint64_t errors;	/* requests answered with an error */
};

/**
 * Listen on the unix socket @sock_path and serve @image_fd (read-write,
 * @size bytes, still owned by the caller; keep it open until us_nbd_stop)
 * as the one export @export_name; "" from a client also selects it.
 * A stale socket file at @sock_path is replaced; a live one is refused.
 * @ops (may be NULL) and @opaque are kept, not copied.
 * @return the server, its thread running, or NULL with errno set
 *	   (EADDRINUSE: another server listens there; ENAMETOOLONG: path).
 */
struct us_nbd *us_nbd_start(const char *sock_path, const char *export_name, int image_fd,
			    uint64_t size, const struct us_nbd_ops *ops, void *opaque);

/**
 * Stop serving: disconnect the client (a request in progress is answered
 * or, when only half received, dropped unapplied), join the thread, remove
 * the socket and free @s. NULL is a no-op.
 */
void us_nbd_stop(struct us_nbd *s);

/**
 * Replace the change callback (a daemon changing role: a standby's server
 * reports nothing, a primary's feeds its write log). Waits for a callback in
 * progress to return; the next change goes to the new one.
 */
void us_nbd_set_ops(struct us_nbd *s, const struct us_nbd_ops *ops, void *opaque);

/**
 * While @on, a FLUSH with changes to sync is answered at once, without its
 * fdatasync, and the fdatasync is owed (us_nbd_take_owed): for a checkpoint's
 * QMP `stop`, whose drain flushes the disk inside the guest's pause, by an
 * owner that holds every output that could depend on it until us_nbd_sync
 * paid it. Any thread.
 */
void us_nbd_defer_flush(struct us_nbd *s, int on);

/** 1 if a FLUSH was answered unsynced since the last call, else 0; clears it. */
int us_nbd_take_owed(struct us_nbd *s);

/**
 * fdatasync the image if anything changed through the server since the last
 * fdatasync that covered it. Any thread, also while the server serves.
 * @return 0, or -errno of fdatasync.
 */
int us_nbd_sync(struct us_nbd *s);

/** Copy the counters of @s into @st; safe from any thread. */
void us_nbd_stats(const struct us_nbd *s, struct us_nbd_stats *st);

#endif
