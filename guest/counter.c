/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest workload `counter`: every 100 ms it increments a 64-bit value kept in
 * one global record (see guest/counter.h) and then prints "us-counter N" on
 * the console, so each value is printed once and in order. The host finds
 * the record in the guest's RAM file by its magic (built here at run time)
 * and its check word, and compares the value with the serial log: that is
 * how tests see that a replica's memory matches what the guest last did.
 */
#include <config.h>

#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>

#include "guest/counter.h"
#include "guest/workload.h"

#define TICK_NS (US_WL_NS_PER_SEC / 10)

/* volatile: every update must land in guest RAM, in this order. Aligned so
 * that it never straddles two pages, which need not be adjacent in RAM. */
static volatile struct us_counter_record record
	__attribute__((aligned(sizeof(struct us_counter_record))));

/* build_magic: decode the magic straight into the record; the key is read
 * at run time so the compiler cannot fold the plain bytes into the binary. */
static void build_magic(void)
{
	static const uint8_t encoded[US_COUNTER_MAGIC_LEN] = US_COUNTER_MAGIC_ENCODED;
	static volatile uint8_t key = US_COUNTER_MAGIC_KEY;
	size_t i;

	for (i = 0; i < US_COUNTER_MAGIC_LEN; i++)
		record.magic[i] = encoded[i] ^ key;
}

/* advance: the value and its check change together. */
static uint64_t advance(void)
{
	uint64_t v = record.value + 1;

	record.value = v;
	record.check = v ^ US_COUNTER_CHECK_KEY;
	return v;
}

int main(void)
{
	uint64_t next, now;

	/* Locked (and, with the init's sysctl, never compacted) so the kernel
	 * never moves the record and leaves a stale copy in freed RAM. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		us_wl_print("us-counter: mlockall failed, the record may move");
	record.check = US_COUNTER_CHECK_KEY;
	build_magic();
	us_wl_print("us-counter start");
	next = us_wl_now_ns();
	for (;;) {
		next += TICK_NS;
		if (us_wl_sleep_until(next) < 0)
			return 1;
		us_wl_print("us-counter %llu", (unsigned long long)advance());
		/* after a long stall, resume the 100 ms rhythm instead of bursting */
		now = us_wl_now_ns();
		if (now > next + TICK_NS)
			next = now;
	}
}
