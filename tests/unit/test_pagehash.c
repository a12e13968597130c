/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the unchanged-page table (replicator/pagehash.c): a page
 * sent again with what it held is recognised, a one-bit change is not, a
 * forgotten table knows nothing, a page out of range is always "changed",
 * and two tables draw different keys (a guest cannot precompute the hash).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "replicator/pagehash.h"
#include "replicator/proto.h"

static uint8_t page[US_PROTO_PAGE_SIZE];

static void unchanged_and_changed(void **state)
{
	struct us_pagehash h;

	memset(page, 0xa5, sizeof(page));
	assert_int_equal(us_pagehash_init(&h, 16), 0);
	assert_int_equal(us_pagehash_unchanged(&h, 3, page), 0); /* never sent */
	assert_int_equal(us_pagehash_unchanged(&h, 3, page), 1);
	assert_int_equal(us_pagehash_unchanged(&h, 4, page), 0); /* another page */
	page[4095] ^= 1;
	assert_int_equal(us_pagehash_unchanged(&h, 3, page), 0);
	assert_int_equal(us_pagehash_unchanged(&h, 3, page), 1); /* recorded */
	page[4095] ^= 1;
	assert_int_equal(us_pagehash_unchanged(&h, 3, page), 0); /* back: changed */
	us_pagehash_forget(&h);
	assert_int_equal(us_pagehash_unchanged(&h, 3, page), 0);
	assert_int_equal(us_pagehash_unchanged(&h, 16, page), 0); /* out of range */
	assert_int_equal(us_pagehash_unchanged(&h, 16, page), 0);
	us_pagehash_free(&h);
}

static void keys_differ(void **state)
{
	struct us_pagehash a, b;

	memset(page, 0, sizeof(page));
	assert_int_equal(us_pagehash_init(&a, 1), 0);
	assert_int_equal(us_pagehash_init(&b, 1), 0);
	us_pagehash_unchanged(&a, 0, page);
	us_pagehash_unchanged(&b, 0, page);
	assert_memory_not_equal(a.sum[0], b.sum[0], US_PAGEHASH_LEN);
	us_pagehash_free(&a);
	us_pagehash_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unchanged_and_changed),
		cmocka_unit_test(keys_differ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
