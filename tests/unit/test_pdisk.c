/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's disk (replicator/pdisk.c): when the batch cut at a
 * checkpoint may be freed. A drain frees only a batch whose DISK messages
 * were queued; one between the cut and the epoch's send (a SUSPEND queued
 * during the checkpoint) must leave it to be sent. The transport's DISK send
 * is wrapped to see what goes out (no transport: NULL is never used).
 * Early checkpoints are counted in status and logged at most every 10 s.
 */
#include <config.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(drain_before_send_keeps_the_batch),
		cmocka_unit_test(cut_frees_the_previous_batch),
		cmocka_unit_test(early_checkpoints_counted_and_logged_sparsely),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
