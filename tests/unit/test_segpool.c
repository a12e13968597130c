/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The write log's memory pool: pieces never overlap, a segment is reused
 * (same memory) once all its pieces are back, a piece longer than a segment
 * has its own mapping that goes with it, the pool keeps no more than its
 * bound, a trim unmaps what no piece uses, a prefill maps ahead of need.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "disk/segpool.h"

#define SEG (2u << 20)

static void pieces_do_not_overlap(void **state)
{
	struct us_segpool *p = us_segpool_new(SEG, 4 * SEG);
	struct us_seg *s[3];
	char *a, *b, *c;

	a = us_segpool_get(p, 100, &s[0]);
	b = us_segpool_get(p, 4096, &s[1]);
	c = us_segpool_get(p, SEG - 4096, &s[2]); /* does not fit: a second segment */
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	memset(a, 1, 100);
	memset(b, 2, 4096);
	memset(c, 3, SEG - 4096);
	assert_true(b >= a + 100);
	assert_true(a[99] == 1 && b[0] == 2 && b[4095] == 2);
	assert_ptr_equal(s[0], s[1]);
	assert_ptr_not_equal(s[1], s[2]);
	assert_int_equal(us_segpool_mapped(p), 2 * SEG);
	us_segpool_free(p);
}

static void segments_are_reused(void **state)
{
	struct us_segpool *p = us_segpool_new(SEG, 4 * SEG);
	struct us_seg *s1, *s2, *s3;
	char *a, *b, *c;

	a = us_segpool_get(p, SEG / 2, &s1);
	b = us_segpool_get(p, SEG / 2 + 4096, &s2); /* the first segment is left behind */
	us_segpool_put(p, s1);			    /* ... and is idle now */
	c = us_segpool_get(p, SEG / 2, &s3);	    /* the second is full: the first again */
	assert_ptr_equal(c, a);
	us_segpool_put(p, s2);
	us_segpool_put(p, s3);
	assert_int_equal(us_segpool_mapped(p), 2 * SEG); /* kept, within the bound */
	a = us_segpool_get(p, 64, &s1);			 /* the current one, from its start */
	assert_ptr_equal(a, c);
	us_segpool_put(p, s1);
	(void)b;
	us_segpool_free(p);
}

static void long_piece_has_its_own_mapping(void **state)
{
	struct us_segpool *p = us_segpool_new(SEG, 4 * SEG);
	struct us_seg *s;
	char *a = us_segpool_get(p, 3 * SEG + 1, &s);

	assert_non_null(a);
	a[3 * SEG] = 5;
	assert_true(us_segpool_mapped(p) > 3 * SEG);
	us_segpool_put(p, s);
	assert_int_equal(us_segpool_mapped(p), 0);
	us_segpool_free(p);
}

static void keeps_within_bound_and_trims(void **state)
{
	struct us_segpool *p = us_segpool_new(SEG, 2 * SEG);
	struct us_seg *s[4];
	int i;

	for (i = 0; i < 4; i++)
		assert_non_null(us_segpool_get(p, SEG, &s[i])); /* a segment each */
	assert_int_equal(us_segpool_mapped(p), 4 * SEG);
	for (i = 0; i < 4; i++)
		us_segpool_put(p, s[i]);
	assert_true(us_segpool_mapped(p) <= 2 * SEG);
	us_segpool_trim(p);
	assert_int_equal(us_segpool_mapped(p), 0);
	assert_non_null(us_segpool_get(p, 10, &s[0])); /* and maps again when asked */
	us_segpool_put(p, s[0]);
	assert_int_equal(us_segpool_prefill(p, 3 * SEG), 0); /* ahead of need, beyond the bound */
	assert_int_equal(us_segpool_mapped(p), 3 * SEG);
	for (i = 0; i < 3; i++) /* from what is mapped */
		assert_non_null(us_segpool_get(p, SEG, &s[i]));
	assert_int_equal(us_segpool_mapped(p), 3 * SEG);
	for (i = 0; i < 3; i++)
		us_segpool_put(p, s[i]);
	us_segpool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pieces_do_not_overlap),
		cmocka_unit_test(segments_are_reused),
		cmocka_unit_test(long_piece_has_its_own_mapping),
		cmocka_unit_test(keeps_within_bound_and_trims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
