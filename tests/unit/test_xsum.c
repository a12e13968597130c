/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the epoch checksum's two loops (replicator/xsum.c): the
 * library's and the scalar one give libxxhash's XXH3-64 value for any
 * length and any split into updates, across resets; AUTO picks one of them.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <xxhash.h>

#include "replicator/xsum.h"

#define BYTES (300u << 10)

static unsigned char *data(void)
{
	static unsigned char buf[BYTES];
	uint64_t s = 0x243f6a8885a308d3ull;
	size_t i;

	for (i = 0; i < BYTES; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		buf[i] = (unsigned char)s;
	}
	return buf;
}

/* @len bytes in updates of @step (the last shorter) against XXH3_64bits. */
static void check_split(struct us_xsum *s, const unsigned char *buf, size_t len, size_t step)
{
	size_t off, n;

	us_xsum_reset(s);
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		us_xsum_update(s, buf + off, n);
	}
	assert_int_equal(us_xsum_digest(s), XXH3_64bits(buf, len));
}

static void check_loop(enum us_xsum_loop loop)
{
	static const size_t lens[] = { 0,   1,	  16,	17,    128,    129,  240,
				       241, 1024, 4096, 65536, 100003, BYTES };
	static const size_t steps[] = { 1, 7, 64, 4099, 16384, BYTES };
	const unsigned char *buf = data();
	struct us_xsum *s = us_xsum_new(loop);
	size_t i, j;

	assert_non_null(s);
	assert_int_equal(us_xsum_loop(s), loop);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++)
			if (steps[j] > 1 || lens[i] <= 4096)
				check_split(s, buf, lens[i], steps[j]);
	us_xsum_free(s);
}

static void test_lib(void **state)
{
	check_loop(US_XSUM_LIB);
}

static void test_scalar(void **state)
{
	check_loop(US_XSUM_SCALAR);
}

static void test_auto(void **state)
{
	struct us_xsum *a = us_xsum_new(US_XSUM_AUTO), *b = us_xsum_new(US_XSUM_AUTO);
	const unsigned char *buf = data();

	assert_non_null(a);
	assert_non_null(b);
	assert_true(us_xsum_loop(a) == US_XSUM_LIB || us_xsum_loop(a) == US_XSUM_SCALAR);
	assert_int_equal(us_xsum_loop(a), us_xsum_loop(b)); /* chosen once per process */
	check_split(a, buf, BYTES, 65536);
	us_xsum_free(a);
	us_xsum_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lib),
		cmocka_unit_test(test_scalar),
		cmocka_unit_test(test_auto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
