/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the checkpoint interval (replicator/epochlen.c): a fixed
 * epoch_ms is kept whatever the pause; epoch_ms = auto settles where the
 * paused share meets the bound, follows a pause that grows or shrinks,
 * stays within its range, and is not thrown by one slow pause. Pure logic,
 * driven by a simulated clock.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "replicator/epochlen.h"

/* Run @n checkpoints each pausing @pause_us, spaced as the engine would. */
static unsigned run(struct us_epochlen *el, uint64_t *now_us, int n, uint64_t pause_us)
{
	unsigned ms = el->cur_ms;

	for (int i = 0; i < n; i++) {
		ms = us_epochlen_next(el, *now_us, pause_us);
		*now_us += (uint64_t)ms * 1000;
	}
	return ms;
}

static void fixed_keeps_its_interval(void **state)
{
	struct us_epochlen el;
	uint64_t t = 1000000;

	us_epochlen_init(&el, 50, 10, 10, 500);
	assert_int_equal(run(&el, &t, 20, 30000), 50);
	/* 30 ms of pause in 50 ms epochs: the share is still measured */
	assert_in_range(us_epochlen_share_permille(&el), 590, 610);
}

static void auto_meets_the_share(void **state)
{
	struct us_epochlen el;
	uint64_t t = 1000000;

	us_epochlen_init(&el, 0, 10, 10, 500);
	/* 7 ms pauses under a 10 % bound: 70 ms epochs, 10 % paused */
	assert_int_equal(run(&el, &t, 40, 7000), 70);
	assert_in_range(us_epochlen_share_permille(&el), 95, 105);
	/* the same pauses under a 5 % bound need twice as long */
	el.share_pct = 5;
	assert_int_equal(run(&el, &t, 40, 7000), 140);
}

static void auto_follows_the_pause(void **state)
{
	struct us_epochlen el;
	uint64_t t = 1000000;

	us_epochlen_init(&el, 0, 10, 10, 500);
	run(&el, &t, 40, 5000);
	assert_int_equal(el.cur_ms, 50);
	assert_int_equal(run(&el, &t, 40, 12000), 120);
	assert_int_equal(run(&el, &t, 40, 3000), 30);
}

static void auto_stays_in_range(void **state)
{
	struct us_epochlen el;
	uint64_t t = 1000000;

	us_epochlen_init(&el, 0, 10, 20, 200);
	assert_int_equal(el.cur_ms, 20); /* the first epoch: the shortest */
	assert_int_equal(run(&el, &t, 40, 500), 20);
	assert_int_equal(run(&el, &t, 60, 90000), 200);
	/* at the cap the share is over the bound, and says so */
	assert_true(us_epochlen_share_permille(&el) > 100);
}

static void one_slow_pause_is_damped(void **state)
{
	struct us_epochlen el;
	uint64_t t = 1000000;
	unsigned after;

	us_epochlen_init(&el, 0, 10, 10, 500);
	run(&el, &t, 40, 7000);
	after = run(&el, &t, 1, 40000); /* one 40 ms stall */
	assert_true(after < 400);	/* not the 400 ms it alone would need */
	assert_true(after > 70);	/* but noticed */
	assert_int_equal(run(&el, &t, 40, 7000), 70);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fixed_keeps_its_interval), cmocka_unit_test(auto_meets_the_share),
		cmocka_unit_test(auto_follows_the_pause),   cmocka_unit_test(auto_stays_in_range),
		cmocka_unit_test(one_slow_pause_is_damped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
