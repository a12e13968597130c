/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest workload `dirtier`: dirties a chosen number of distinct pages per
 * second, writing one word per page and cycling through its buffer, in 10 ms
 * slices; once a second it prints "us-dirtier pages/s=N" with the rate it
 * achieved. It gives the checkpoint engine a known, steady dirty rate.
 * SAME_PERCENT of the writes store the word the page already holds: the
 * page is dirtied but its content stays as it was (what the engine's
 * unchanged-page skip is for).
 * Usage: dirtier [PAGES_PER_SECOND [BUFFER_MIB [SAME_PERCENT]]] (defaults
 * 1000, 64 and 0).
 */
#include <config.h>

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest/workload.h"

#define SLICE_NS (US_WL_NS_PER_SEC / 100)
#define DEFAULT_RATE 1000
#define DEFAULT_MIB 64
#define MAX_RATE 10000000
#define MAX_MIB 65536

struct dirtier {
	volatile uint64_t *buf; /* the buffer, written one word per page */
	size_t page_words;      /* words per page */
	size_t npages;          /* pages in the buffer */
	size_t next;            /* next page to write */
	uint64_t stamp;         /* value written, new for every write */
	uint64_t rate;          /* pages per second asked for */
	uint64_t credit;        /* pages owed, in units of 1/1e9 page */
	uint64_t same;          /* percent of writes that keep the content */
};

/* touch: write @n pages, continuing where the last slice stopped. */
static void touch(struct dirtier *d, uint64_t n)
{
	while (n--) {
		volatile uint64_t *w = &d->buf[d->next * d->page_words];
		uint64_t v = *w;	/* what the page holds */

		if (++d->stamp % 100 >= d->same)
			v = d->stamp;	/* else dirtied, content unchanged */
		*w = v;
		if (++d->next == d->npages)
			d->next = 0;
	}
}

/* slice: pages due for @elapsed_ns; a backlog over 100 ms is dropped so a
 * stalled guest does not burst afterwards. @return pages written. */
static uint64_t slice(struct dirtier *d, uint64_t elapsed_ns)
{
	uint64_t cap = d->rate * (US_WL_NS_PER_SEC / 10);
	uint64_t n;

	if (elapsed_ns > US_WL_NS_PER_SEC / 10)
		elapsed_ns = US_WL_NS_PER_SEC / 10;
	d->credit += d->rate * elapsed_ns;
	if (d->credit > cap)
		d->credit = cap;
	n = d->credit / US_WL_NS_PER_SEC;
	d->credit -= n * US_WL_NS_PER_SEC;
	touch(d, n);
	return n;
}

static int parse_args(int argc, char **argv, uint64_t *rate, uint64_t *mib, uint64_t *same)
{
	*rate = DEFAULT_RATE;
	*mib = DEFAULT_MIB;
	*same = 0;
	if (argc > 1 && us_wl_parse_u64(argv[1], 0, MAX_RATE, rate) < 0)
		return -1;
	if (argc > 2 && us_wl_parse_u64(argv[2], 1, MAX_MIB, mib) < 0)
		return -1;
	if (argc > 3 && us_wl_parse_u64(argv[3], 0, 100, same) < 0)
		return -1;
	return 0;
}

static int map_buffer(struct dirtier *d, uint64_t mib)
{
	size_t len = mib << 20;
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	d->buf = p;
	d->page_words = sysconf(_SC_PAGESIZE) / sizeof(uint64_t);
	d->npages = len / sysconf(_SC_PAGESIZE);
	return 0;
}

int main(int argc, char **argv)
{
	struct dirtier d = { 0 };
	uint64_t mib, last, now, report, written = 0;

	if (parse_args(argc, argv, &d.rate, &mib, &d.same) < 0) {
		us_wl_print("us-dirtier: usage: dirtier [PAGES_PER_SECOND<=%d [MIB<=%d [SAME%%<=100]]]",
			    MAX_RATE, MAX_MIB);
		return 2;
	}
	if (map_buffer(&d, mib) < 0) {
		us_wl_print("us-dirtier: cannot map %llu MiB: lower us.dirty_mb",
			    (unsigned long long)mib);
		return 1;
	}
	us_wl_print("us-dirtier start rate=%llu mib=%llu same=%llu%%", (unsigned long long)d.rate,
		    (unsigned long long)mib, (unsigned long long)d.same);
	last = report = us_wl_now_ns();
	for (;;) {
		us_wl_sleep_until(last + SLICE_NS);
		now = us_wl_now_ns();
		written += slice(&d, now - last);
		last = now;
		if (now - report < US_WL_NS_PER_SEC)
			continue;
		us_wl_print("us-dirtier pages/s=%llu",
			    (unsigned long long)(written * US_WL_NS_PER_SEC / (now - report)));
		written = 0;
		report = now;
	}
}
