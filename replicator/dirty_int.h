/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private state of a dirty-page tracker (see dirty.h), shared with its unit
 * tests, which shrink the scan vector to exercise the resume-after-full path.
 */
#ifndef US_DIRTY_INT_H
#define US_DIRTY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "replicator/runs.h"
#include "replicator/uffd_compat.h"

/* Regions one PAGEMAP_SCAN call may return: 96 KiB of page_region. */
#define US_DIRTY_VEC_MAX 4096

struct dirty_pool;

struct us_dirty {
	pid_t pid;			/* tracked process */
	int uffd;			/* our copy of its userfaultfd, -1 */
	int pagemap;			/* /proc/PID/pagemap, -1 */
	uint64_t addr;			/* tracked range, page aligned */
	uint64_t len;
	uint64_t pagesize;
	struct page_region *vec;	/* US_DIRTY_VEC_MAX entries */
	size_t veclen;			/* entries used per call, <= the above */
	struct dirty_pool *pool;	/* scan threads (dirty_threads.c), NULL: one */
};

/* Scan [start, end) of the tracked range into @out with @vec (veclen entries). */
int us_dirty_scan_range(struct us_dirty *d, uint64_t start, uint64_t end,
			struct page_region *vec, struct us_runs *out);
/* dirty_threads.c: the scan split across the pool's threads; NULL-safe free. */
int us_dirty_pool_scan(struct us_dirty *d, struct us_runs *out);
void us_dirty_pool_free(struct us_dirty *d);

#endif
