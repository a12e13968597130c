/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's disk (replicator/pdisk.c): when the batch cut at a
 * checkpoint may be freed. A drain frees only a batch whose DISK messages
 * were queued; one between the cut and the epoch's send (a SUSPEND queued
 * during the checkpoint) must leave it to be sent. The transport's DISK send
 * is wrapped to see what goes out (no transport: NULL is never used).
 * Early checkpoints are counted in status and logged at most every 10 s.
 * A FLUSH deferred in a checkpoint's stop holds that epoch's output, and the
 * later ones', until the flusher thread paid it (the NBD server's calls are
 * wrapped: the test says what is owed and how fdatasync ends).
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "replicator/pdisk.h"
#include "replicator/log.h"
#include "tests/lib/logcap.h"

static struct {
	int calls;
	uint64_t epoch, offset, len;
	char first;
} sent;

int __wrap_us_transport_send_disk(struct us_transport *t, uint64_t epoch, uint64_t offset,
				  uint32_t kind, const void *data, uint64_t len);

int __wrap_us_transport_send_disk(struct us_transport *t, uint64_t epoch, uint64_t offset,
				  uint32_t kind, const void *data, uint64_t len)
{
	sent.calls++;
	sent.epoch = epoch;
	sent.offset = offset;
	sent.len = len;
	sent.first = kind == US_DISK_WRITE ? *(const char *)data : 0;
	return 0;
}

static int defer_on, owed, sync_rc;
static volatile int sync_calls;

void __wrap_us_nbd_defer_flush(struct us_nbd *s, int on);
int __wrap_us_nbd_take_owed(struct us_nbd *s);
int __wrap_us_nbd_sync(struct us_nbd *s);

void __wrap_us_nbd_defer_flush(struct us_nbd *s, int on)
{
	defer_on = on;
}

int __wrap_us_nbd_take_owed(struct us_nbd *s)
{
	int o = owed;

	owed = 0;
	return o;
}

int __wrap_us_nbd_sync(struct us_nbd *s) /* the flusher's thread too */
{
	__sync_fetch_and_add(&sync_calls, 1);
	return __atomic_load_n(&sync_rc, __ATOMIC_SEQ_CST);
}

static char block[4096];

static uint64_t held(struct us_pdisk *d)
{
	uint64_t open, h, waits;

	us_wlog_stats(d->wlog, &open, &h, &waits);
	return h;
}

/* A disk without image or server: just the write log, recording. */
static void disk_with_one_write(struct us_pdisk *d)
{
	memset(d, 0, sizeof(*d));
	memset(&sent, 0, sizeof(sent));
	d->wlog = us_wlog_new(1 << 20, 4 << 20);
	assert_non_null(d->wlog);
	us_pdisk_record(d, 1);
	memset(block, 7, sizeof(block));
	assert_int_equal(us_wlog_add(d->wlog, US_DISK_WRITE, 8192, sizeof(block), block), 0);
}

/* stop, cut, SUSPEND queued and drained, then the epoch's send: the write goes. */
static void drain_before_send_keeps_the_batch(void **state)
{
	XXH3_state_t *sum = XXH3_createState();
	struct us_pdisk d;

	disk_with_one_write(&d);
	XXH3_64bits_reset(sum);
	us_pdisk_cut(&d);
	us_pdisk_drained(&d); /* the SUSPEND's drain */
	assert_int_equal(d.batch.n, 1);
	assert_int_equal(held(&d), sizeof(block));
	assert_int_equal(us_pdisk_send(&d, NULL, 7, sum), 0);
	assert_int_equal(sent.calls, 1);
	assert_true(sent.epoch == 7 && sent.offset == 8192 && sent.len == sizeof(block));
	assert_int_equal(sent.first, 7);
	assert_int_equal(d.n_writes, 1);
	us_pdisk_drained(&d); /* the epoch's own drain frees it */
	assert_null(d.batch.v);
	assert_int_equal(held(&d), 0);
	us_pdisk_down(&d);
	XXH3_freeState(sum);
}

/* The next cut frees a sent batch the transport never reported drained. */
static void cut_frees_the_previous_batch(void **state)
{
	XXH3_state_t *sum = XXH3_createState();
	struct us_pdisk d;

	disk_with_one_write(&d);
	XXH3_64bits_reset(sum);
	us_pdisk_cut(&d);
	assert_int_equal(us_pdisk_send(&d, NULL, 3, sum), 0);
	us_pdisk_cut(&d);
	assert_int_equal(d.batch.n, 0);
	assert_int_equal(held(&d), 0);
	us_pdisk_drained(&d); /* an empty cut batch: nothing to free, nothing lost */
	us_pdisk_down(&d);
	XXH3_freeState(sum);
}

static int lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static uint64_t status_field(struct us_pdisk *d, const char *key)
{
	json_t *j = us_pdisk_status(d);
	uint64_t v = (uint64_t)json_integer_value(json_object_get(j, key));

	json_decref(j);
	return v;
}

/* Ten early checkpoints a second for 12 s: two log lines, every one counted. */
static void early_checkpoints_counted_and_logged_sparsely(void **state)
{
	struct us_pdisk d;
	const char *text;

	disk_with_one_write(&d);
	us_log_init("test_pdisk", LOG_CRIT, 0);
	assert_int_equal(us_logcap_start(), 0);
	for (int i = 0; i < 120; i++)
		us_pdisk_note_early(&d, i % 4 == 3, 10 + i, 5000 + 100 * (uint64_t)i);
	text = us_logcap_text();
	assert_int_equal(lines(text, "checkpoint now"), 2);
	assert_non_null(strstr(text, "epoch 10 passed the high-water mark (half of disk_log_max)"));
	assert_non_null(strstr(text, "epoch 110 passed the high-water mark"));
	assert_non_null(strstr(text, "(99 more since the last such line)"));
	assert_int_equal(status_field(&d, "early_checkpoints"), 120);
	assert_int_equal(status_field(&d, "early_at_hard_mark"), 30);
	us_logcap_stop();
	us_log_fini();
	us_pdisk_down(&d);
}

/* A checkpoint's stop for @epoch; @owes: the server answered a FLUSH unsynced. */
static void checkpoint(struct us_pdisk *d, int held, uint64_t epoch, int owes)
{
	us_pdisk_stopping(d, held);
	assert_int_equal(defer_on, held);
	owed = owes;
	us_pdisk_stopped(d, epoch);
	assert_int_equal(defer_on, 0);
}

/* Wait for the flusher to report; @return what us_pdisk_flushed returns. */
static int flushed(struct us_pdisk *d)
{
	struct pollfd p = { .fd = us_pdisk_flusher_fd(d), .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
	return us_pdisk_flushed(d);
}

static void output_waits_for_the_deferred_flush(void **state)
{
	struct us_pdisk d;

	memset(&d, 0, sizeof(d));
	sync_rc = 0;
	d.nbd = (struct us_nbd *)&d; /* never used: its calls are wrapped */
	us_pdisk_flusher_up(&d);
	assert_non_null(d.flusher);
	checkpoint(&d, 1, 5, 0); /* nothing owed: the ACK alone releases */
	assert_int_equal(us_pdisk_output_limit(&d, 5), 5);
	assert_int_equal(us_pdisk_output_limit(&d, US_EPOCH_NONE), US_EPOCH_NONE);
	checkpoint(&d, 1, 6, 1); /* owed: epoch 6 on waits for the flusher */
	assert_int_equal(us_pdisk_output_limit(&d, 6), 5);
	assert_int_equal(us_pdisk_output_limit(&d, 4), 4);
	assert_int_equal(flushed(&d), 0);
	assert_int_equal(us_pdisk_output_limit(&d, 6), 6);
	checkpoint(&d, 1, 7, 1); /* two owed before the first is reported */
	checkpoint(&d, 1, 8, 1);
	assert_int_equal(us_pdisk_output_limit(&d, 8), 6);
	for (int i = 0; i < 2 && us_pdisk_output_limit(&d, 8) != 8; i++) {
		assert_int_equal(flushed(&d), 0);
		/* a sync that covers 7 only holds 8, and with it 7: its turn comes at once */
		assert_true(us_pdisk_output_limit(&d, 8) == 6 || us_pdisk_output_limit(&d, 8) == 8);
	}
	assert_int_equal(us_pdisk_output_limit(&d, 8), 8);
	checkpoint(&d, 0, 9, 0); /* output not held (degraded): no deferring */
	__atomic_store_n(&sync_rc, -EIO, __ATOMIC_SEQ_CST);
	checkpoint(&d, 1, 10, 1);
	assert_int_equal(flushed(&d), -EIO); /* the caller stops; the output stays held */
	assert_int_equal(us_pdisk_output_limit(&d, 10), 9);
	assert_int_equal(us_pdisk_settle(&d), -EIO);
	assert_int_equal(us_pdisk_output_limit(&d, 10), 9);
	__atomic_store_n(&sync_rc, 0, __ATOMIC_SEQ_CST);
	assert_int_equal(us_pdisk_settle(&d), 0); /* paid on this thread: output unheld */
	assert_int_equal(us_pdisk_output_limit(&d, 10), 10);
	assert_int_equal(d.flushes_deferred, 4); /* status shows it (no write log here) */
	us_pdisk_flusher_down(&d);
	assert_null(d.flusher);
	d.nbd = NULL;
	us_pdisk_down(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(drain_before_send_keeps_the_batch),
		cmocka_unit_test(cut_frees_the_previous_batch),
		cmocka_unit_test(early_checkpoints_counted_and_logged_sparsely),
		cmocka_unit_test(output_waits_for_the_deferred_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
