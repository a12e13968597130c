/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the page-run set (replicator/runs.c): ordering, overlap and
 * adjacency coalescing, page counting, argument checks, growth, clear and
 * free. Pure logic, no kernel involved; each result is also checked against
 * a simple bitmap model where that is clearer than listing runs.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replicator/runs.h"

static void assert_run(const struct us_runs *r, size_t i, uint64_t first, uint64_t count)
{
	assert_true(i < r->n);
	assert_int_equal(r->v[i].first, first);
	assert_int_equal(r->v[i].count, count);
}

/* Sorted, non-overlapping, non-adjacent, and pages is the sum of counts. */
static void assert_invariants(const struct us_runs *r)
{
	uint64_t pages = 0;
	size_t i;

	assert_true(r->n <= r->cap);
	for (i = 0; i < r->n; i++) {
		assert_true(r->v[i].count >= 1);
		if (i > 0)
			assert_true(r->v[i - 1].first + r->v[i - 1].count < r->v[i].first);
		pages += r->v[i].count;
	}
	assert_int_equal(pages, r->pages);
}

static void test_init_is_empty(void **state)
{
	struct us_runs r;

	memset(&r, 0xa5, sizeof(r));
	us_runs_init(&r);
	assert_null(r.v);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.cap, 0);
	assert_int_equal(r.pages, 0);
	assert_int_equal(us_runs_check_bound(&r, 0), 0);
	us_runs_free(&r);
}

static void test_add_in_order(void **state)
{
	struct us_runs r;

	us_runs_init(&r);
	assert_int_equal(us_runs_add(&r, 1, 2), 0);
	assert_int_equal(us_runs_add(&r, 10, 1), 0);
	assert_int_equal(us_runs_add(&r, 20, 5), 0);
	assert_int_equal(r.n, 3);
	assert_run(&r, 0, 1, 2);
	assert_run(&r, 1, 10, 1);
	assert_run(&r, 2, 20, 5);
	assert_int_equal(r.pages, 8);
	assert_invariants(&r);
	us_runs_free(&r);
}

static void test_add_out_of_order(void **state)
{
	struct us_runs r;

	us_runs_init(&r);
	assert_int_equal(us_runs_add(&r, 50, 2), 0);
	assert_int_equal(us_runs_add(&r, 10, 1), 0);
	assert_int_equal(us_runs_add(&r, 30, 3), 0);
	assert_int_equal(us_runs_add(&r, 0, 1), 0);
	assert_int_equal(r.n, 4);
	assert_run(&r, 0, 0, 1);
	assert_run(&r, 1, 10, 1);
	assert_run(&r, 2, 30, 3);
	assert_run(&r, 3, 50, 2);
	assert_int_equal(r.pages, 7);
	assert_invariants(&r);
	us_runs_free(&r);
}

static void test_overlap_coalesces(void **state)
{
	struct us_runs r;

	us_runs_init(&r);
	assert_int_equal(us_runs_add(&r, 10, 10), 0);	/* 10..19 */
	assert_int_equal(us_runs_add(&r, 15, 10), 0);	/* overlaps the tail */
	assert_int_equal(r.n, 1);
	assert_run(&r, 0, 10, 15);
	assert_int_equal(us_runs_add(&r, 5, 7), 0);	/* overlaps the head */
	assert_run(&r, 0, 5, 20);
	assert_int_equal(us_runs_add(&r, 12, 3), 0);	/* inside */
	assert_int_equal(r.n, 1);
	assert_run(&r, 0, 5, 20);
	assert_int_equal(r.pages, 20);
	assert_invariants(&r);
	us_runs_free(&r);
}

static void test_overlap_swallows_many(void **state)
{
	struct us_runs r;
	uint64_t i;

	us_runs_init(&r);
	for (i = 0; i < 10; i++)
		assert_int_equal(us_runs_add(&r, 100 + i * 10, 2), 0);
	assert_int_equal(us_runs_add(&r, 1000, 1), 0);
	assert_int_equal(r.n, 11);
	/* 105..154 swallows the runs at 110..150, leaves 100 and 160.. alone. */
	assert_int_equal(us_runs_add(&r, 105, 50), 0);
	assert_int_equal(r.n, 7);
	assert_run(&r, 0, 100, 2);
	assert_run(&r, 1, 105, 50);
	for (i = 0; i < 4; i++)
		assert_run(&r, 2 + i, 160 + i * 10, 2);
	assert_run(&r, 6, 1000, 1);
	assert_int_equal(r.pages, 2 + 50 + 4 * 2 + 1);
	assert_invariants(&r);
	us_runs_free(&r);
}

static void test_adjacent_coalesces(void **state)
{
	struct us_runs r;

	us_runs_init(&r);
	assert_int_equal(us_runs_add(&r, 10, 5), 0);	/* 10..14 */
	assert_int_equal(us_runs_add(&r, 15, 5), 0);	/* right after */
	assert_int_equal(us_runs_add(&r, 5, 5), 0);	/* right before */
	assert_int_equal(r.n, 1);
	assert_run(&r, 0, 5, 15);
	assert_int_equal(us_runs_add(&r, 30, 1), 0);
	assert_int_equal(us_runs_add(&r, 21, 9), 0);	/* 21..29 touches the run at 30 */
	assert_int_equal(r.n, 2);
	assert_run(&r, 0, 5, 15);
	assert_run(&r, 1, 21, 10);
	assert_int_equal(us_runs_add(&r, 20, 1), 0);	/* fills the last gap */
	assert_int_equal(r.n, 1);
	assert_run(&r, 0, 5, 26);
	assert_int_equal(r.pages, 26);
	assert_invariants(&r);
	us_runs_free(&r);
}

static void test_duplicates_count_once(void **state)
{
	struct us_runs r;
	int i;

	us_runs_init(&r);
	for (i = 0; i < 100; i++)
		assert_int_equal(us_runs_add(&r, 42, 1), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.pages, 1);
	us_runs_free(&r);
}

static void test_rejects_bad_arguments(void **state)
{
	struct us_runs r;

	us_runs_init(&r);
	assert_int_equal(us_runs_add(&r, 5, 0), -EINVAL);
	assert_int_equal(us_runs_add(&r, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(us_runs_add(&r, UINT64_MAX - 1, UINT64_MAX), -EINVAL);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.pages, 0);
	/* The largest representable end is accepted. */
	assert_int_equal(us_runs_add(&r, UINT64_MAX - 3, 3), 0);
	assert_run(&r, 0, UINT64_MAX - 3, 3);
	us_runs_free(&r);
}

static void test_check_bound(void **state)
{
	struct us_runs r;

	us_runs_init(&r);
	assert_int_equal(us_runs_add(&r, 0, 4), 0);
	assert_int_equal(us_runs_add(&r, 90, 10), 0);	/* last page is 99 */
	assert_int_equal(us_runs_check_bound(&r, 100), 0);
	assert_int_equal(us_runs_check_bound(&r, 99), -ERANGE);
	assert_int_equal(us_runs_check_bound(&r, 0), -ERANGE);
	us_runs_free(&r);
}

/* Many runs in scrambled order: growth keeps every run and the model agrees. */
static void test_many_runs_grow(void **state)
{
	enum { N = 20000 };
	struct us_runs r;
	uint64_t i, k;

	us_runs_init(&r);
	for (i = 0; i < N; i++) {
		k = (i * 7919) % N;		/* a permutation of 0..N-1 */
		assert_int_equal(us_runs_add(&r, k * 3, 1), 0);
	}
	assert_int_equal(r.n, N);
	assert_true(r.cap >= N);
	assert_int_equal(r.pages, N);
	for (i = 0; i < N; i++)
		assert_run(&r, i, i * 3, 1);
	/* Filling every gap leaves one run. */
	for (i = 0; i < N - 1; i++)
		assert_int_equal(us_runs_add(&r, i * 3 + 1, 2), 0);
	assert_int_equal(r.n, 1);
	assert_run(&r, 0, 0, (N - 1) * 3 + 1);
	assert_invariants(&r);
	us_runs_free(&r);
}

/* Random adds against a bitmap model: every run page is set, and the
 * page totals agree, so the set equals the model. */
static void test_matches_bitmap_model(void **state)
{
	enum { SPAN = 2048 };
	unsigned char model[SPAN] = { 0 };
	struct us_runs r;
	uint64_t first, count, i, pages = 0;
	size_t j;
	int round;

	srand(12345);
	us_runs_init(&r);
	for (round = 0; round < 3000; round++) {
		first = (uint64_t)rand() % SPAN;
		count = 1 + (uint64_t)rand() % 8;
		if (first + count > SPAN)
			count = SPAN - first;
		assert_int_equal(us_runs_add(&r, first, count), 0);
		for (i = first; i < first + count; i++)
			model[i] = 1;
	}
	for (j = 0; j < r.n; j++)
		for (i = r.v[j].first; i < r.v[j].first + r.v[j].count; i++)
			assert_int_equal(model[i], 1);
	for (i = 0; i < SPAN; i++)
		pages += model[i];
	assert_int_equal(r.pages, pages);
	assert_invariants(&r);
	us_runs_free(&r);
}

static void test_clear_keeps_allocation(void **state)
{
	struct us_runs r;
	struct us_run *v;
	size_t cap;
	uint64_t i;

	us_runs_init(&r);
	for (i = 0; i < 100; i++)
		assert_int_equal(us_runs_add(&r, i * 2, 1), 0);
	v = r.v;
	cap = r.cap;
	us_runs_clear(&r);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.pages, 0);
	assert_ptr_equal(r.v, v);
	assert_int_equal(r.cap, cap);
	assert_int_equal(us_runs_add(&r, 7, 1), 0);
	assert_ptr_equal(r.v, v);
	assert_run(&r, 0, 7, 1);
	us_runs_free(&r);
	assert_null(r.v);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.cap, 0);
}

static void test_free_null_safe(void **state)
{
	struct us_runs r;

	us_runs_free(NULL);
	us_runs_init(&r);
	us_runs_free(&r);
	us_runs_free(&r);		/* twice is harmless too */
	assert_null(r.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_empty),
		cmocka_unit_test(test_add_in_order),
		cmocka_unit_test(test_add_out_of_order),
		cmocka_unit_test(test_overlap_coalesces),
		cmocka_unit_test(test_overlap_swallows_many),
		cmocka_unit_test(test_adjacent_coalesces),
		cmocka_unit_test(test_duplicates_count_once),
		cmocka_unit_test(test_rejects_bad_arguments),
		cmocka_unit_test(test_check_bound),
		cmocka_unit_test(test_many_runs_grow),
		cmocka_unit_test(test_matches_bitmap_model),
		cmocka_unit_test(test_clear_keeps_allocation),
		cmocka_unit_test(test_free_null_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
