/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the image's state record (disk/imgstate.c), which the
 * Pacemaker agent's cold start rule reads: write and read back, a torn
 * (mid-sync) image refused, a damaged record refused, the freshness order,
 * and the writer's rate limit (a change of synced or released is written at
 * once). Real files in a temporary directory, removed after each test.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/imgstate.h"
#include "replicator/log.h"

static char dir[] = "/tmp/us-test-imgstate-XXXXXX";
static char disk[256];

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	return 0;
}

static int teardown(void **state)
{
	char path[300];

	us_imgstate_path(disk, path, sizeof(path));
	unlink(path);
	rmdir(dir);
	strcpy(dir, "/tmp/us-test-imgstate-XXXXXX");
	return 0;
}

static void round_trip(void **state)
{
	struct us_imgstate w = {
		.lineage = 0xabcdef0123456789ULL, .epoch = 4242, .released = 1, .synced = 1
	};
	struct us_imgstate r = { 0 };
	char why[256] = "";

	assert_int_equal(us_imgstate_read(disk, &r), -ENOENT);
	assert_int_equal(us_imgstate_check(disk, why, sizeof(why)), 0); /* never replicated */
	assert_int_equal(us_imgstate_write(disk, &w), 0);
	assert_true(w.time_ms > 0);
	assert_int_equal(us_imgstate_read(disk, &r), 0);
	assert_true(r.lineage == w.lineage);
	assert_int_equal(r.epoch, 4242);
	assert_int_equal(r.released, 1);
	assert_int_equal(r.synced, 1);
	assert_true(r.time_ms == w.time_ms);
	assert_int_equal(us_imgstate_check(disk, why, sizeof(why)), 0);
}

static void torn_refused(void **state)
{
	struct us_imgstate w = { .epoch = -1, .synced = 0 };
	char why[256] = "";

	assert_int_equal(us_imgstate_write(disk, &w), 0);
	assert_int_equal(us_imgstate_check(disk, why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "mid-sync"));
}

static void damaged_refused(void **state)
{
	struct us_imgstate r;
	char path[300], why[256] = "";
	FILE *f;

	us_imgstate_path(disk, path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("understudy-image 1 lineage=zz epoch=\n", f);
	fclose(f);
	assert_int_equal(us_imgstate_read(disk, &r), -EBADMSG);
	assert_int_equal(us_imgstate_check(disk, why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "unreadable"));
}

static void freshness(void **state)
{
	struct us_imgstate a = { .lineage = 1, .epoch = 10, .synced = 1, .time_ms = 1000 };
	struct us_imgstate b = a;

	assert_int_equal(us_imgstate_cmp(&a, &b), 0); /* a pair stopped in step: tie */
	b.released = 1;
	assert_true(us_imgstate_cmp(&b, &a) > 0); /* output left beyond the same epoch */
	b = a;
	b.epoch = 3; /* a resync restarted epochs: only the clock orders them */
	b.time_ms = 2000;
	assert_true(us_imgstate_cmp(&b, &a) > 0);
	assert_true(us_imgstate_cmp(&a, &b) < 0);
	b.synced = 0; /* torn is never fresher */
	assert_true(us_imgstate_cmp(&b, &a) < 0);
	b = a;
	b.lineage = 2;
	assert_int_equal(us_imgstate_cmp(&a, &b), 0); /* same time, other run: no order */
}

static void writer_rate(void **state)
{
	struct us_imgstate_writer w = { 0 };
	struct us_imgstate now = { .lineage = 7, .epoch = 1, .synced = 1 }, r;

	us_imgstate_note(&w, disk, &now, 0);
	assert_int_equal(us_imgstate_read(disk, &r), 0);
	assert_int_equal(r.epoch, 1);
	now.epoch = 2; /* within a second: not written */
	us_imgstate_note(&w, disk, &now, 0);
	assert_int_equal(us_imgstate_read(disk, &r), 0);
	assert_int_equal(r.epoch, 1);
	now.released = 1; /* released changes: at once */
	us_imgstate_note(&w, disk, &now, 0);
	assert_int_equal(us_imgstate_read(disk, &r), 0);
	assert_int_equal(r.epoch, 2);
	assert_int_equal(r.released, 1);
	now.epoch = 3; /* forced: a clean stop */
	us_imgstate_note(&w, disk, &now, 1);
	assert_int_equal(us_imgstate_read(disk, &r), 0);
	assert_int_equal(r.epoch, 3);
	us_imgstate_note(&w, "", &now, 1); /* no disk: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_refused, setup, teardown),
		cmocka_unit_test(freshness),
		cmocka_unit_test_setup_teardown(writer_rate, setup, teardown),
	};

	us_log_init("test_imgstate", LOG_CRIT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
