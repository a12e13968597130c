/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The write log: epochs cut in order with their data copied, nothing kept
 * while not recording, the high-water signal, and back-pressure that makes a
 * writer wait only while earlier batches are held (never on the open epoch
 * alone, whose cut needs the writer's reply), with a real second thread.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/wlog.h"
#include "replicator/proto.h"

static char block[4096];

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void cut_in_order_with_copies(void **state)
{
	struct us_wlog *l = us_wlog_new(1 << 20, 4 << 20);
	struct us_wlog_batch b;

	assert_non_null(l);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0); /* not recording */
	us_wlog_record(l, 1);
	memset(block, 7, sizeof(block));
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 8192, 4096, block), 0);
	memset(block, 9, sizeof(block)); /* the log kept its own copy */
	assert_int_equal(us_wlog_add(l, US_DISK_ZEROES, 0, 1 << 20, NULL), 0);
	us_wlog_cut(l, &b);
	assert_int_equal(b.n, 2);
	assert_true(b.v[0].offset == 8192 && b.v[0].kind == US_DISK_WRITE && b.v[0].data[0] == 7);
	assert_true(b.v[1].kind == US_DISK_ZEROES && b.v[1].data == NULL);
	assert_true(b.bytes == 4096);
	us_wlog_release(l, &b);
	us_wlog_cut(l, &b);
	assert_int_equal(b.n, 0); /* the next epoch starts empty */
	us_wlog_release(l, &b);
	us_wlog_free(l);
}

/* Reserved memory filled in place is taken without a copy; memory given
 * back, or reserved while not recording, leaves nothing in the log. */
static void reserved_taken_in_place(void **state)
{
	struct us_wlog *l = us_wlog_new(1 << 20, 4 << 20);
	struct us_wlog_batch b;
	char *p, *q;

	assert_null(us_wlog_reserve(l, 4096)); /* not recording */
	us_wlog_record(l, 1);
	p = us_wlog_reserve(l, 4096);
	assert_non_null(p);
	memset(p, 3, 4096);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, p), 0);
	q = us_wlog_reserve(l, 8192);
	assert_non_null(q);
	us_wlog_unused(l, q); /* the write failed */
	memset(block, 4, sizeof(block));
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 4096, 4096, block), 0); /* copied */
	us_wlog_cut(l, &b);
	assert_int_equal(b.n, 2);
	assert_ptr_equal(b.v[0].data, p);
	assert_true(b.v[0].data[0] == 3 && b.v[1].data[0] == 4 && b.v[1].data != block);
	assert_true(b.bytes == 8192);
	us_wlog_release(l, &b);
	p = us_wlog_reserve(l, 4096);
	us_wlog_record(l, 0); /* stopped between the reserve and the add */
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, p), 0);
	us_wlog_cut(l, &b);
	assert_int_equal(b.n, 0);
	us_wlog_release(l, &b);
	us_wlog_free(l);
}

static void high_water_signals_until_cut(void **state)
{
	struct us_wlog *l = us_wlog_new(8192, 1 << 20);
	struct us_wlog_batch b;

	us_wlog_record(l, 1);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	assert_false(readable(us_wlog_fd(l)));
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 4096, 4096, block), 0);
	assert_true(readable(us_wlog_fd(l)));
	us_wlog_cut(l, &b);
	assert_false(readable(us_wlog_fd(l)));
	us_wlog_release(l, &b);
	us_wlog_free(l);
}

/* Deferred (escalated), the fd is quiet until the hard mark; a cut goes back to the high-water mark. */
static void escalated_signals_at_hard_mark(void **state)
{
	struct us_wlog *l = us_wlog_new(8192, 16384);
	struct us_wlog_batch b;

	assert_int_equal(us_wlog_hard_mark(l), 12288);
	us_wlog_record(l, 1);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 4096, 4096, block), 0);
	assert_true(readable(us_wlog_fd(l)));
	us_wlog_escalate(l);
	assert_false(readable(us_wlog_fd(l)));
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 8192, 4096, block), 0);
	assert_true(readable(us_wlog_fd(l)));
	us_wlog_cut(l, &b);
	assert_false(readable(us_wlog_fd(l)));
	us_wlog_release(l, &b);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 4096, 4096, block), 0);
	assert_true(readable(us_wlog_fd(l)));
	us_wlog_free(l);
}

/* Escalated past the hard mark already: readable at once. */
static void escalated_past_hard_mark_signals_at_once(void **state)
{
	struct us_wlog *l = us_wlog_new(4096, 8192);

	us_wlog_record(l, 1);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 4096, 4096, block), 0);
	us_wlog_escalate(l);
	assert_true(readable(us_wlog_fd(l)));
	us_wlog_free(l);
}

static void stop_recording_drops(void **state)
{
	struct us_wlog *l = us_wlog_new(1 << 20, 1 << 20);
	struct us_wlog_batch b;
	uint64_t open, held, waits;

	us_wlog_record(l, 1);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	us_wlog_record(l, 0); /* the standby is gone: a full sync will follow */
	us_wlog_stats(l, &open, &held, &waits);
	assert_true(open == 0);
	us_wlog_cut(l, &b);
	assert_int_equal(b.n, 0);
	us_wlog_release(l, &b);
	us_wlog_free(l);
}

struct writer {
	struct us_wlog *l;
	int done;
};

static void *write_one(void *arg)
{
	struct writer *w = arg;

	us_wlog_add(w->l, US_DISK_WRITE, 0, 4096, block);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int done_within(struct writer *w, int ms)
{
	while (ms-- > 0 && !__atomic_load_n(&w->done, __ATOMIC_SEQ_CST))
		usleep(1000);
	return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST);
}

/* Held batches past the cap: the writer waits for their release. */
static void writer_waits_for_release(void **state)
{
	struct us_wlog *l = us_wlog_new(1 << 20, 8192);
	struct writer w = { .l = l };
	struct us_wlog_batch b;
	uint64_t open, held, waits;
	pthread_t t;

	us_wlog_record(l, 1);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	us_wlog_cut(l, &b); /* 8 KiB held, being sent */
	assert_int_equal(pthread_create(&t, NULL, write_one, &w), 0);
	assert_false(done_within(&w, 200)); /* waits: the cap is reached */
	us_wlog_release(l, &b);
	assert_true(done_within(&w, 5000));
	pthread_join(t, NULL);
	us_wlog_stats(l, &open, &held, &waits);
	assert_true(waits == 1 && held == 0 && open == 4096);
	us_wlog_free(l);
}

/* The open epoch alone past the cap never makes a writer wait. */
static void open_epoch_never_blocks(void **state)
{
	struct us_wlog *l = us_wlog_new(4096, 8192);
	struct writer w = { .l = l };
	pthread_t t;
	int i;

	us_wlog_record(l, 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(us_wlog_add(l, US_DISK_WRITE, 0, 4096, block), 0);
	assert_int_equal(pthread_create(&t, NULL, write_one, &w), 0);
	assert_true(done_within(&w, 5000));
	pthread_join(t, NULL);
	assert_true(readable(us_wlog_fd(l))); /* but it asks for an early cut */
	us_wlog_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cut_in_order_with_copies),
		cmocka_unit_test(reserved_taken_in_place),
		cmocka_unit_test(high_water_signals_until_cut),
		cmocka_unit_test(escalated_signals_at_hard_mark),
		cmocka_unit_test(escalated_past_hard_mark_signals_at_once),
		cmocka_unit_test(stop_recording_drops),
		cmocka_unit_test(writer_waits_for_release),
		cmocka_unit_test(open_epoch_never_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
