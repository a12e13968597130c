/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of heartbeat/fence.c: a real fence "agent" (a shell script in a
 * temporary directory that records each call and its node argument) that
 * succeeds, fails once, always fails, hangs past the timeout, or does not
 * exist; cancelling a running attempt; and the two-node promotion rule.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "heartbeat/fence.h"
#include "replicator/log.h"

#define GUARD_NS (20ULL * 1000000000ULL)	/* loop guard: a hung test fails, not hangs */

static const char script[] =
	"#!/bin/sh\n"
	"# fence.sh DIR MODE NODE\n"
	"echo $$ > \"$1/pid\"\n"
	"echo \"$3\" >> \"$1/calls\"\n"
	"case $2 in\n"
	"ok) exit 0 ;;\n"
	"flaky) [ -e \"$1/once\" ] && exit 0; : > \"$1/once\"; exit 1 ;;\n"
	"hang) exec sleep 60 ;;\n"
	"esac\n"
	"exit 1\n";

struct run {
	qb_loop_t *loop;
	char dir[64];
	char cmd[256];
	int done;
	int rc;
	char node[64];
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct run *r = calloc(1, sizeof(*r));
	char path[128];

	assert_non_null(r);
	strcpy(r->dir, "/tmp/us-test-fence-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(path, sizeof(path), "%s/fence.sh", r->dir);
	write_file(path, script);
	r->loop = qb_loop_create();
	assert_non_null(r->loop);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct run *r = *state;
	const char *names[] = { "fence.sh", "calls", "pid", "once" };
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, names[i]);
		unlink(path);
	}
	rmdir(r->dir);
	qb_loop_destroy(r->loop);
	free(r);
	return 0;
}

static void on_done(void *opaque, const char *node, int rc)
{
	struct run *r = opaque;

	r->done++;
	r->rc = rc;
	snprintf(r->node, sizeof(r->node), "%s", node);
	qb_loop_stop(r->loop);
}

static void on_guard(void *data)
{
	qb_loop_stop(data);
}

/* Fence "hB" with the script in MODE; returns the fencing object (freed by caller). */
static struct us_fence *fence_mode(struct run *r, const char *mode, struct us_fence_opts *o)
{
	struct us_fence *f;

	snprintf(r->cmd, sizeof(r->cmd), "/bin/sh %s/fence.sh %s %s", r->dir, r->dir, mode);
	o->command = r->cmd;
	f = us_fence_start(r->loop, o, "hB", on_done, r);
	assert_non_null(f);
	assert_int_equal(r->done, 0);	/* never called from us_fence_start */
	return f;
}

static void run_loop(struct run *r)
{
	qb_loop_timer_handle guard = 0;

	qb_loop_timer_add(r->loop, QB_LOOP_LOW, GUARD_NS, r->loop, on_guard, &guard);
	qb_loop_run(r->loop);
	qb_loop_timer_del(r->loop, guard);
}

static int count_calls(struct run *r)
{
	char path[128], line[64];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/calls", r->dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		assert_string_equal(line, "hB\n");	/* the node name is the last argument */
		n++;
	}
	fclose(f);
	return n;
}

static pid_t last_pid(struct run *r)
{
	char path[128];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/pid", r->dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	return pid;
}

static void test_succeeds(void **state)
{
	struct run *r = *state;
	struct us_fence_opts o = { .timeout_ms = 10000 };
	struct us_fence *f = fence_mode(r, "ok", &o);

	run_loop(r);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->rc, 0);
	assert_string_equal(r->node, "hB");
	assert_int_equal(count_calls(r), 1);
	us_fence_free(f);
}

static void test_fails_then_succeeds(void **state)
{
	struct run *r = *state;
	struct us_fence_opts o = { .timeout_ms = 10000, .attempts = 3, .backoff_ms = 10 };
	struct us_fence *f = fence_mode(r, "flaky", &o);

	run_loop(r);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->rc, 0);
	assert_int_equal(count_calls(r), 2);
	us_fence_free(f);
}

static void test_always_fails(void **state)
{
	struct run *r = *state;
	struct us_fence_opts o = { .timeout_ms = 10000, .attempts = 3, .backoff_ms = 5 };
	struct us_fence *f = fence_mode(r, "fail", &o);

	run_loop(r);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->rc, -EIO);
	assert_int_equal(count_calls(r), 3);
	us_fence_free(f);
}

static void test_hangs_past_timeout(void **state)
{
	struct run *r = *state;
	struct us_fence_opts o = { .timeout_ms = 200, .attempts = 2, .backoff_ms = 10 };
	struct us_fence *f = fence_mode(r, "hang", &o);

	run_loop(r);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->rc, -ETIMEDOUT);
	assert_int_equal(count_calls(r), 2);
	assert_int_equal(kill(last_pid(r), 0), -1);	/* the hung agent was killed and reaped */
	assert_int_equal(errno, ESRCH);
	us_fence_free(f);
}

static void test_not_found(void **state)
{
	struct run *r = *state;
	struct us_fence_opts o = { .command = "/nonexistent/fence_agent --flag", .attempts = 5 };
	struct us_fence *f = us_fence_start(r->loop, &o, "hB", on_done, r);

	assert_non_null(f);
	run_loop(r);
	assert_int_equal(r->done, 1);
	assert_int_equal(r->rc, -ENOENT);
	us_fence_free(f);
}

static void on_cancel(void *data)
{
	struct run *r = data;

	qb_loop_stop(r->loop);
}

static void test_cancel_kills(void **state)
{
	struct run *r = *state;
	struct us_fence_opts o = { .timeout_ms = 60000 };
	struct us_fence *f = fence_mode(r, "hang", &o);
	qb_loop_timer_handle t = 0;
	pid_t pid;

	while (count_calls(r) == 0) {	/* until the agent runs */
		qb_loop_timer_add(r->loop, QB_LOOP_HIGH, 20 * 1000000ULL, r, on_cancel, &t);
		qb_loop_run(r->loop);
	}
	pid = last_pid(r);
	us_fence_free(f);
	assert_int_equal(r->done, 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_empty_command(void **state)
{
	struct run *r = *state;
	struct us_fence_opts o = { .command = "   " };

	assert_null(us_fence_start(r->loop, &o, "hB", on_done, r));
	assert_int_equal(errno, EINVAL);
}

static void test_two_node_rule(void **state)
{
	char why[512];

	assert_int_equal(us_fence_policy(2, NULL, 0, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "split brain"));
	assert_int_equal(us_fence_policy(2, "", 0, why, sizeof(why)), -EPERM);
	assert_int_equal(us_fence_policy(2, NULL, 1, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "override"));
	assert_int_equal(us_fence_policy(2, "fence_lab", 0, why, sizeof(why)), 0);
	assert_int_equal(us_fence_policy(3, NULL, 0, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_succeeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fails_then_succeeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_always_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hangs_past_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_kills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_command, setup, teardown),
		cmocka_unit_test(test_two_node_rule),
	};

	us_log_init("test_fence", LOG_WARNING, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
