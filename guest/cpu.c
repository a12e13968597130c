/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest workload `cpu`: CPU-bound work that touches almost no memory (a
 * 64-bit mixing function over its own registers and a 4 KiB table), counted
 * in operations; every 100 ms of guest time it prints "us-cpu ops=TOTAL".
 * The guest's clock stands still while QEMU is stopped, so the rate is taken
 * on the host: TOTAL over the host's time between two lines. Protected beside
 * unprotected, that rate is the slowdown checkpointing costs a guest that
 * computes rather than writes (bench/cpu.sh).
 * Usage: cpu
 */
#include <config.h>

#include <stdint.h>

#include "guest/workload.h"

#define BATCH 16384 /* operations between looks at the clock */
#define REPORT_NS (US_WL_NS_PER_SEC / 10)
#define TABLE 512   /* 4 KiB of uint64_t: stays in the cache */

static uint64_t table[TABLE];

/* One batch of operations: a splitmix step and a table read each. */
static uint64_t batch(uint64_t x)
{
	uint64_t i, z;

	for (i = 0; i < BATCH; i++) {
		x += 0x9e3779b97f4a7c15ull;
		z = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		x ^= table[z % TABLE] + (z >> 31);
	}
	table[x % TABLE] = x; /* one word written per batch: a clean page mostly */
	return x;
}

int main(void)
{
	uint64_t x = 1, ops = 0, now, report;

	us_wl_print("us-cpu start");
	report = us_wl_now_ns();
	for (;;) {
		x = batch(x);
		ops += BATCH;
		now = us_wl_now_ns();
		if (now - report < REPORT_NS)
			continue;
		us_wl_print("us-cpu ops=%llu x=%llx", (unsigned long long)ops,
			    (unsigned long long)(x & 0xfff));
		report = now;
	}
}
