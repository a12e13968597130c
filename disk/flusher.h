/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A thread that pays the FLUSHes an NBD server answered while its owner
 * deferred them (us_nbd_defer_flush): the fdatasync runs beside the daemon's
 * main thread, which learns of its end from an eventfd in its poll loop.
 */
#ifndef US_FLUSHER_H
#define US_FLUSHER_H

#include <stdint.h>

struct us_flusher;
struct us_nbd;

/** A flusher for @nbd's image. @return it, its thread waiting, or NULL with errno set. */
struct us_flusher *us_flusher_new(struct us_nbd *nbd);

/** Readable once a sync asked for by us_flusher_kick ended (us_flusher_done reads it). */
int us_flusher_fd(const struct us_flusher *f);

/**
 * Sync @nbd's image, covering every change it applied before this call:
 * now, or once the sync in progress ends. @ticket comes back from
 * us_flusher_done with the sync that covers this call; tickets only grow.
 */
void us_flusher_kick(struct us_flusher *f, uint64_t ticket);

/**
 * After us_flusher_fd polled readable: @return 1 and the ticket of the last
 * kick the ended sync covers in *@ticket, and in *@err 0 or the -errno of
 * the first failed fdatasync (it stays); 0 when no sync ended since.
 */
int us_flusher_done(struct us_flusher *f, uint64_t *ticket, int *err);

/** Wait for a sync in progress, end the thread, free @f. NULL is a no-op. */
void us_flusher_free(struct us_flusher *f);

#endif
