/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the pause's split copy (replicator/copier.c): spans of
 * uneven sizes copied by 1 to 4 threads arrive whole and in place, over
 * many rounds on the same workers, and nothing outside the spans is
 * written.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replicator/copier.h"

#define SRC_LEN (1u << 20)

static void round_trip(struct us_copier *c, unsigned seed, size_t nspans)
{
	char *src = malloc(SRC_LEN), *dst = malloc(SRC_LEN), *want = malloc(SRC_LEN);
	struct us_copy_span v[64];
	size_t i, off = 0;

	srand(seed);
	for (i = 0; i < SRC_LEN; i++)
		src[i] = (char)rand();
	memset(dst, 0x5a, SRC_LEN);
	memset(want, 0x5a, SRC_LEN);
	for (i = 0; i < nspans; i++) {
		size_t len = 1 + (size_t)rand() % (SRC_LEN / 128), gap = (size_t)rand() % 64;

		if (off + gap + len > SRC_LEN)
			break;
		v[i] = (struct us_copy_span){ dst + off + gap, src + off, len };
		memcpy(want + off + gap, src + off, len);
		off += gap + len;
	}
	us_copier_run(c, v, i);
	assert_memory_equal(dst, want, SRC_LEN);
	free(src);
	free(dst);
	free(want);
}

static void copies_whole_spans(void **state)
{
	unsigned t, r;

	for (t = 1; t <= 4; t++) {
		struct us_copier *c = us_copier_new(t);

		assert_non_null(c);
		assert_int_equal(us_copier_threads(c), t);
		for (r = 0; r < 20; r++)
			round_trip(c, t * 100 + r, 1 + r * 3);
		round_trip(c, 7, 0); /* nothing to copy */
		us_copier_free(c);
	}
	round_trip(NULL, 9, 10); /* no copier: the caller alone */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copies_whole_spans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
