/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sets of guest pages as sorted runs of consecutive page indices: what dirty
 * tracking produces, what an epoch sends and what the standby applies.
 */
#ifndef US_RUNS_H
#define US_RUNS_H

#include <stddef.h>
#include <stdint.h>

struct us_run {
	uint64_t first;		/* page index from the start of guest RAM */
	uint64_t count;		/* pages in the run, >= 1 */
};

struct us_runs {
	struct us_run *v;	/* sorted by first, non-overlapping, non-adjacent */
	size_t n;		/* runs in v */
	size_t cap;		/* allocated entries in v */
	uint64_t pages;		/* sum of count over all runs */
};

/** Empty set, no allocation. */
void us_runs_init(struct us_runs *r);

/** Forget every run, keep the allocation. */
void us_runs_clear(struct us_runs *r);

/** Free the allocation; NULL-safe. */
void us_runs_free(struct us_runs *r);

/**
 * Add pages [first, first+count). Runs may arrive in any order and overlap;
 * the set stays sorted and coalesced.
 * @return 0, -EINVAL for count 0 or overflow, -ENOMEM.
 */
int us_runs_add(struct us_runs *r, uint64_t first, uint64_t count);

/** @return 0 if every page is below @npages, else -ERANGE. */
int us_runs_check_bound(const struct us_runs *r, uint64_t npages);

#endif
