/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sorted, coalesced runs of page indices (see runs.h). Dirty scans deliver
 * runs in ascending order, so appending after the last run is the fast path;
 * anything else is placed by binary search and merged with every run it
 * overlaps or touches.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replicator/runs.h"

#define RUNS_FIRST_CAP 16

static uint64_t run_end(const struct us_run *run)
{
	return run->first + run->count;
}

void us_runs_init(struct us_runs *r)
{
	memset(r, 0, sizeof(*r));
}

void us_runs_clear(struct us_runs *r)
{
	r->n = 0;
	r->pages = 0;
}

void us_runs_free(struct us_runs *r)
{
	if (!r)
		return;
	free(r->v);
	us_runs_init(r);
}

static int grow_runs(struct us_runs *r)
{
	size_t cap = r->cap ? r->cap * 2 : RUNS_FIRST_CAP;
	struct us_run *v;

	if (cap < r->cap || cap > SIZE_MAX / sizeof(*v))
		return -ENOMEM;
	v = realloc(r->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->v = v;
	r->cap = cap;
	return 0;
}

/* Index of the first run that ends at or after @first (may touch it). */
static size_t find_touching(const struct us_runs *r, uint64_t first)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (run_end(&r->v[mid]) < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int insert_run(struct us_runs *r, size_t at, uint64_t first, uint64_t count)
{
	int rc;

	if (r->n == r->cap) {
		rc = grow_runs(r);
		if (rc < 0)
			return rc;
	}
	memmove(&r->v[at + 1], &r->v[at], (r->n - at) * sizeof(r->v[0]));
	r->v[at].first = first;
	r->v[at].count = count;
	r->n++;
	r->pages += count;
	return 0;
}

/* Merge [first, end) with runs i..j-1, which all overlap or touch it. */
static void merge_runs(struct us_runs *r, size_t i, size_t j, uint64_t first, uint64_t end)
{
	uint64_t last_end = run_end(&r->v[j - 1]);
	size_t k;

	for (k = i; k < j; k++)
		r->pages -= r->v[k].count;
	if (r->v[i].first < first)
		first = r->v[i].first;
	if (last_end > end)
		end = last_end;
	r->v[i].first = first;
	r->v[i].count = end - first;
	r->pages += end - first;
	memmove(&r->v[i + 1], &r->v[j], (r->n - j) * sizeof(r->v[0]));
	r->n -= j - i - 1;
}

int us_runs_add(struct us_runs *r, uint64_t first, uint64_t count)
{
	uint64_t end;
	size_t i, j;

	if (count == 0 || first > UINT64_MAX - count)
		return -EINVAL;
	end = first + count;
	if (r->n == 0 || first > run_end(&r->v[r->n - 1]))
		return insert_run(r, r->n, first, count);
	i = find_touching(r, first);
	for (j = i; j < r->n && r->v[j].first <= end; j++)
		;
	if (i == j)
		return insert_run(r, i, first, count);
	merge_runs(r, i, j, first, end);
	return 0;
}

int us_runs_check_bound(const struct us_runs *r, uint64_t npages)
{
	if (r->n && run_end(&r->v[r->n - 1]) > npages)
		return -ERANGE;
	return 0;
}
