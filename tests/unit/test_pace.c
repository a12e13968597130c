/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the checkpoint pacing (replicator/pace.c): a short pause
 * keeps the epoch interval, a long one gives the guest US_PACE_RUN_PER_PAUSE
 * times the pause to run before the next checkpoint, so checkpoints never
 * follow each other back to back, up to US_PACE_MAX_EPOCHS intervals.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "replicator/pace.h"

/* A 7 ms pause in a 50 ms epoch: the next checkpoint 50 ms after this one's start. */
static void test_short_pause_keeps_interval(void **state)
{
	(void)state;
	assert_int_equal(us_pace_delay_ms(1000, 1007, 50, 7000), 43);
}

/* A 30 ms pause: the guest runs 120 ms, not the 20 ms the interval left. */
static void test_long_pause_gives_the_guest_its_share(void **state)
{
	(void)state;
	assert_int_equal(us_pace_delay_ms(1000, 1030, 50, 30000), 120);
}

/* A pause past the interval: never 0 (the old back-to-back checkpoints). */
static void test_pause_past_interval_never_back_to_back(void **state)
{
	(void)state;
	assert_int_equal(us_pace_delay_ms(1000, 1100, 50, 100000), 400);
}

/* The share holds at the boundary and rounds a fraction of a ms up. */
static void test_boundary_and_rounding(void **state)
{
	uint64_t pause_us, now, delay;

	(void)state;
	for (pause_us = 0; pause_us <= 60000; pause_us += 250) {
		now = 1000 + pause_us / 1000;
		delay = us_pace_delay_ms(1000, now, 50, pause_us);
		assert_true(delay * 1000 >= pause_us * US_PACE_RUN_PER_PAUSE);
		assert_true(now + delay >= 1050);
	}
	assert_int_equal(us_pace_delay_ms(1000, 1012, 50, 12001), 49);
}

/* Epoch 0's pause (all of RAM, 1.3 s): the guest runs 10 intervals, not 5 s. */
/* The guest's share of running alone: what the disk's high-water checkpoint waits for. */
static void test_run_share(void **state)
{
	assert_int_equal(us_pace_run_ms(50, 32000), 128);
	assert_int_equal(us_pace_run_ms(50, 1), 1);
	assert_int_equal(us_pace_run_ms(50, 0), 0);
	assert_int_equal(us_pace_run_ms(50, 500000), 50 * US_PACE_MAX_EPOCHS);
}

static void test_stretch_is_capped(void **state)
{
	(void)state;
	assert_int_equal(us_pace_delay_ms(1000, 2300, 50, 1300000), 50 * US_PACE_MAX_EPOCHS);
	assert_int_equal(us_pace_delay_ms(1000, 1600, 100, 600000), 100 * US_PACE_MAX_EPOCHS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_pause_keeps_interval),
		cmocka_unit_test(test_long_pause_gives_the_guest_its_share),
		cmocka_unit_test(test_pause_past_interval_never_back_to_back),
		cmocka_unit_test(test_boundary_and_rounding),
		cmocka_unit_test(test_stretch_is_capped),
		cmocka_unit_test(test_run_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
