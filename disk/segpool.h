/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory for the primary's write log (disk/wlog.c): pieces handed out in
 * order from large segments, which are kept and handed out again once every
 * piece in them is given back, instead of a malloc and a free per write.
 * On this machine a 1 MiB copy into freshly mapped memory cost ten times
 * one into memory already touched (page faults and page walks, see
 * bench/pagecopy), and every guest write paid it on its way to the reply.
 * Not thread-safe: the caller holds its own lock.
 */
#ifndef US_DISK_SEGPOOL_H
#define US_DISK_SEGPOOL_H

#include <stddef.h>

struct us_segpool;
struct us_seg;

/**
 * Segments of @seg_bytes; free ones are kept while the pool maps at most
 * @keep_bytes in all, unmapped beyond. @return the pool, or NULL (errno).
 */
struct us_segpool *us_segpool_new(size_t seg_bytes, size_t keep_bytes);

/** Unmap everything; NULL-safe. Every piece handed out is gone with it. */
void us_segpool_free(struct us_segpool *p);

/**
 * @len bytes (a piece longer than a segment gets a mapping of its own).
 * *@seg is what us_segpool_put takes back. @return the piece, or NULL when
 * no memory could be mapped.
 */
void *us_segpool_get(struct us_segpool *p, size_t len, struct us_seg **seg);

/** Give a piece back; its segment is reused once all of its pieces are. */
void us_segpool_put(struct us_segpool *p, struct us_seg *seg);

/**
 * Map and fault in free segments until @bytes are mapped, ahead of the
 * pieces that will need them. @return 0, or -ENOMEM with what could be.
 */
int us_segpool_prefill(struct us_segpool *p, size_t bytes);

/** Unmap the segments no piece uses (the log stopped recording). */
void us_segpool_trim(struct us_segpool *p);

/**
 * @size bytes (rounded up to huge pages) at a huge page boundary, advised
 * for huge pages and faulted in: for any large buffer filled anew each
 * epoch. @return the mapping (munmap it with its rounded size,
 * us_segpool_huge_size), or NULL.
 */
void *us_segpool_map_huge(size_t size);

/** @return @size rounded up to whole huge pages, as us_segpool_map_huge maps it. */
size_t us_segpool_huge_size(size_t size);

/** @return bytes mapped now, in use or kept. */
size_t us_segpool_mapped(const struct us_segpool *p);

#endif
