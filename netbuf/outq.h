/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The output-commit queue: frames the guest sent, held per epoch until the
 * standby acknowledges that epoch, then released in the order they were
 * sent. Bounded in bytes and frames: a full queue refuses a frame (the caller
 * stops reading from QEMU), it never drops one it accepted.
 */
#ifndef US_OUTQ_H
#define US_OUTQ_H

#include <stddef.h>
#include <stdint.h>

struct us_outq;

struct us_outq_stats {
	uint64_t queued_frames;		/* held now */
	uint64_t queued_bytes;
	uint64_t released_frames;	/* since start */
	uint64_t released_bytes;
};

/* Emit one released frame; 0, or -errno (counted, the frame is gone). */
typedef int (*us_outq_emit_fn)(void *opaque, const void *frame, size_t len);

/** @return a queue capped at @max_bytes and @max_frames, or NULL (errno). */
struct us_outq *us_outq_new(uint64_t max_bytes, uint64_t max_frames);

/** Free, dropping held frames; NULL-safe. */
void us_outq_free(struct us_outq *q);

/** @return 1 if one more frame of @len bytes fits, else 0. */
int us_outq_room(const struct us_outq *q, size_t len);

/**
 * Hold a copy of @frame in the open (not yet sealed) epoch.
 * @return 0, -ENOBUFS when full, -ENOMEM.
 */
int us_outq_push(struct us_outq *q, const void *frame, size_t len);

/** Every frame held and not yet sealed belongs to epoch @epoch. */
void us_outq_seal(struct us_outq *q, uint64_t epoch);

/**
 * Release, in order, every frame of a sealed epoch <= @epoch.
 * @return the number of frames emitted.
 */
size_t us_outq_release(struct us_outq *q, uint64_t epoch, us_outq_emit_fn emit, void *opaque);

/** Release everything, sealed or not (degraded mode). @return frames. */
size_t us_outq_flush(struct us_outq *q, us_outq_emit_fn emit, void *opaque);

void us_outq_stats(const struct us_outq *q, struct us_outq_stats *st);

#endif
