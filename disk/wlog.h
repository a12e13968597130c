/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's log of guest disk writes, filled by the NBD server's thread
 * and cut into epochs by the checkpoint (while the guest is stopped, so the
 * cut is exactly the writes QEMU's `stop` drained). Its memory is bounded:
 * past a high-water mark it asks the engine for an early checkpoint (past a
 * hard mark if the engine deferred it, us_wlog_escalate); past the
 * cap a write waits (its reply held) only while earlier epochs' writes are
 * still being sent, never on the epoch being built, whose cut `stop` needs.
 * The copies live in memory the log keeps and reuses (disk/segpool.h): the
 * high-water mark's worth mapped when recording starts, up to about the cap
 * as writes need it, all of it unmapped when recording stops.
 */
#ifndef US_DISK_WLOG_H
#define US_DISK_WLOG_H

#include <stddef.h>
#include <stdint.h>

struct us_wlog;
struct us_seg;

struct us_wlog_entry {
	uint64_t offset;
	uint64_t length;
	uint32_t kind;	    /* US_DISK_WRITE or US_DISK_ZEROES */
	char *data;	    /* US_DISK_WRITE: @length bytes, else NULL */
	struct us_seg *seg; /* the log's: where @data lies (disk/segpool.h) */
};

/* One epoch's writes, in the order they reached the image. */
struct us_wlog_batch {
	struct us_wlog_entry *v;
	size_t n;
	uint64_t bytes; /* data bytes held */
};

/**
 * @high_water: bytes of the open epoch that ask for an early checkpoint;
 * @cap: bytes held (open epoch + batches not yet released) past which a
 * write waits for a release. @return the log, or NULL with errno set.
 */
struct us_wlog *us_wlog_new(uint64_t high_water, uint64_t cap);

/** Free; NULL-safe. No thread may be in us_wlog_add. */
void us_wlog_free(struct us_wlog *l);

/**
 * Start (1) or stop (0) recording. Stopped, writes are not kept: the image
 * itself is what a full sync sends. Any thread.
 */
void us_wlog_record(struct us_wlog *l, int on);

/**
 * Record a write (the NBD server's thread, after it reached the image and
 * before its reply). Copies @data, unless it is us_wlog_reserve's memory.
 * May wait while the cap is reached and
 * earlier batches are held. @return 0 or -ENOMEM (the log then stops
 * recording and us_wlog_failed() says so: the replica needs a full resync).
 */
int us_wlog_add(struct us_wlog *l, uint32_t kind, uint64_t offset, uint64_t length,
		const void *data);

/**
 * Memory for the data of the next us_wlog_add of @length bytes, so that the
 * NBD server receives the write's payload straight into the log: waits for
 * room as us_wlog_add does. us_wlog_add given this pointer as @data copies
 * nothing; us_wlog_unused gives it back when the write is not applied. One
 * at a time (the NBD thread). @return NULL when not recording or out of
 * memory: the caller then uses its own memory, which us_wlog_add copies.
 */
void *us_wlog_reserve(struct us_wlog *l, uint64_t length);

/** The memory of us_wlog_reserve was not used (the write failed). NULL-safe. */
void us_wlog_unused(struct us_wlog *l, void *data);

/** Move everything recorded so far into @out (the engine, guest stopped). */
void us_wlog_cut(struct us_wlog *l, struct us_wlog_batch *out);

/** The batch was sent (drained): free it and wake a waiting writer. NULL-safe @b->v. */
void us_wlog_release(struct us_wlog *l, struct us_wlog_batch *b);

/**
 * @return an fd that is readable while the open epoch is past the high-water
 * mark (the engine then checkpoints early); read nothing from it.
 */
int us_wlog_fd(const struct us_wlog *l);

/**
 * The engine saw the high-water mark but will checkpoint a little later
 * (the guest has not yet run its share since the last pause): the fd turns
 * readable again only past the hard mark, halfway from the high-water mark
 * to the cap, where the checkpoint can wait no longer. The next cut returns
 * to the high-water mark.
 */
void us_wlog_escalate(struct us_wlog *l);

/** @return the hard mark's bytes (us_wlog_escalate). */
uint64_t us_wlog_hard_mark(const struct us_wlog *l);

/** Counters: bytes in the open epoch, held in all, writes that waited. */
void us_wlog_stats(struct us_wlog *l, uint64_t *open_bytes, uint64_t *held, uint64_t *waits);

/** @return 1 if a write could not be recorded (memory): resync needed. */
int us_wlog_failed(struct us_wlog *l);

#endif
