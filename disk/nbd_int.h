/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private to the NBD server (disk/nbd.c, disk/nbd_handshake.c): the server's
 * control block, its limits, and the socket I/O both halves share.
 */
#ifndef US_NBD_INT_H
#define US_NBD_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/nbd.h"
#include "disk/nbd_proto.h"

#define NBD_NAME_MAX 4096	     /* longest export name (NBD strings) */
#define NBD_OPT_DATA_MAX 8192	     /* longest option we read */
#define NBD_DISCARD_CHUNK (1u << 16) /* payload dropped at a time */
#define NBD_BLOCK_MIN 1u
#define NBD_BLOCK_PREFERRED 4096u

#define NBD_TX_FLAGS                                                                               \
	(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |       \
	 NBD_FLAG_SEND_WRITE_ZEROES)

/* Returned by handlers: the client is done (ABORT handled, DISC). */
#define NBD_DONE 1

struct us_nbd {
	pthread_t thread;
	int thread_started;
	int listen_fd; /* the unix socket QEMU connects to */
	int stop_fd;   /* eventfd, readable once us_nbd_stop wants the thread gone */
	int conn_fd;   /* the current client, -1 between clients */
	int image_fd;  /* the caller's */
	uint64_t size;
	char *sock_path;
	char *export_name;
	const struct us_nbd_ops *ops;
	void *opaque;
	int no_zeroes;	  /* client negotiated NBD_FLAG_C_NO_ZEROES */
	uint64_t changes; /* atomic: changes applied (and a new client), bumped before the reply */
	uint64_t synced;  /* atomic: the changes the last fdatasync covers (under sync_lock) */
	int defer;    /* atomic: answer FLUSH at once, its fdatasync owed (us_nbd_defer_flush) */
	int owed;     /* atomic: a FLUSH was answered while deferred (us_nbd_take_owed) */
	uint8_t *buf; /* request payload, grown to the largest READ/WRITE */
	size_t buf_size;
	uint8_t opt[NBD_OPT_DATA_MAX];
	pthread_mutex_t lock;	   /* guards stats */
	pthread_mutex_t ops_lock;  /* guards ops and opaque: swapped at a role change */
	pthread_mutex_t sync_lock; /* orders updates of synced */
	struct us_nbd_stats stats;
};

/* Read exactly @len bytes from the client: 0, -ECONNRESET when it closes
 * first, -ESHUTDOWN when us_nbd_stop asks the thread to end, or -errno. */
int nbd_recv_full(struct us_nbd *s, void *buf, size_t len);

/* Send @len bytes to the client: 0, -ESHUTDOWN or -errno. */
int nbd_send_full(struct us_nbd *s, const void *buf, size_t len);

/* The fixed newstyle handshake (disk/nbd_handshake.c): 0 once the client
 * chose the export (transmission follows), else -errno and the connection
 * is to be closed (the reason is logged). */
int nbd_handshake(struct us_nbd *s);

/* The control block, not listening, no thread (disk/nbd.c; us_nbd_start
 * builds on it, the NBD fuzzer serves one socketpair with it): NULL with
 * errno set, or the server; nbd_free undoes it. */
struct us_nbd *nbd_new(const char *sock_path, const char *export_name, int image_fd, uint64_t size);
void nbd_free(struct us_nbd *s);

/* Serve the client on @fd until it leaves (handshake, then requests), on
 * the calling thread; closes @fd. */
void nbd_serve_client(struct us_nbd *s, int fd);

#endif
