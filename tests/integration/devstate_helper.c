/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device state with a real QEMU (TCG, SeaBIOS alone, no guest kernel), run by
 * test_devstate.sh, which gives a private directory and /dev/shm prefix and
 * removes them and any QEMU left behind. Checkpoints: stop, capture, cont,
 * several times; then the last state is restored into a second QEMU parked
 * with -incoming defer on a copy of the RAM file, which must run after cont.
 * Also: an early QEMU exit is reported with QEMU's own message.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "replicator/devstate.h"
#include "replicator/log.h"
#include "replicator/qemu.h"
#include "replicator/qmp.h"
#include "tests/lib/logcap.h"

#define MEM_BYTES (128ull << 20)
#define CHECKPOINTS 5
#define QMP_MS 5000
#define GUARD_NS (30ull * 1000000000ull)	/* hang guard for the loop */

static const char *dir, *shm;
static qb_loop_t *loop;

struct vm {
	struct us_vm_config cfg;
	char ram[PATH_MAX];
	char serial[PATH_MAX];
	struct us_qemu *qemu;
	struct us_qmp *qmp;
};

struct capture {
	int calls;
	int rc;
	double t_done;
	void *buf;
	size_t len;
};

static struct vm vm_a, vm_b;
static struct us_devstate *ds;
static struct capture cap;
static enum us_devstate_method method;

static double ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void make_ram(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, MEM_BYTES), 0);
	close(fd);
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	off_t off = 0;
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = sendfile(out, in, &off, 1 << 24)) > 0)
		;
	assert_int_equal(n, 0);
	assert_int_equal(off, (off_t)MEM_BYTES);
	close(in);
	close(out);
}

/* The test script kills what a pid file names if the helper itself dies. */
static void record_pid(const char *tag, pid_t pid)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pid", dir, tag);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
}

static void init_vm(struct vm *v, const char *tag)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->cfg.name, sizeof(v->cfg.name), "ds");
	v->cfg.mem_bytes = MEM_BYTES;
	v->cfg.vcpus = 1;
	snprintf(v->cfg.qemu, sizeof(v->cfg.qemu), "qemu-system-x86_64");
	snprintf(v->cfg.accel, sizeof(v->cfg.accel), "auto");
	snprintf(v->cfg.run_dir, sizeof(v->cfg.run_dir), "%s", dir);
	snprintf(v->ram, sizeof(v->ram), "%s-%s", shm, tag);
	snprintf(v->serial, sizeof(v->serial), "%s/%s.serial", dir, tag);
}

static struct us_qemu *start_vm(struct vm *v, enum us_qemu_mode mode, const char *tag)
{
	struct us_qemu_opts o = {
		.mode = mode, .ram_path = v->ram, .serial_log = v->serial, .tag = tag,
	};

	v->qemu = us_qemu_start(&v->cfg, &o);
	if (v->qemu)
		record_pid(tag, us_qemu_pid(v->qemu));
	return v->qemu;
}

static void stop_vm(struct vm *v)
{
	us_qmp_free(v->qmp);
	v->qmp = NULL;
	us_qemu_free(v->qemu);
	v->qemu = NULL;
	if (v->ram[0])
		unlink(v->ram);
}

static void connect_vm(struct vm *v)
{
	v->qmp = us_qmp_connect(loop, us_qemu_qmp_path(v->qemu));
	assert_non_null(v->qmp);
	assert_int_equal(us_devstate_prepare(v->qmp), 0);
}

static void call(struct vm *v, const char *cmd)
{
	char err[256];

	if (us_qmp_call(v->qmp, cmd, NULL, NULL, err, sizeof(err), QMP_MS) < 0)
		fail_msg("%s: %s", cmd, err);
}

static void expect_status(struct vm *v, const char *want)
{
	char err[256];
	json_t *ret;

	if (us_qmp_call(v->qmp, "query-status", NULL, &ret, err, sizeof(err), QMP_MS) < 0)
		fail_msg("query-status: %s", err);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), want);
	json_decref(ret);
}

static void on_captured(void *opaque, int rc, const void *buf, size_t len)
{
	struct capture *c = opaque;

	c->t_done = ms_now();
	c->calls++;
	c->rc = rc;
	free(c->buf);
	c->buf = NULL;
	c->len = len;
	if (rc == 0 && (c->buf = malloc(len)))
		memcpy(c->buf, buf, len);
	qb_loop_stop(loop);
}

static void on_guard(void *data)
{
	qb_loop_stop(loop);
}

static void capture_once(void)
{
	qb_loop_timer_handle guard;
	int before = cap.calls;

	assert_int_equal(us_devstate_capture(ds, on_captured, &cap), 0);
	assert_int_equal(us_devstate_capture(ds, on_captured, &cap), -EBUSY);
	qb_loop_timer_add(loop, QB_LOOP_LOW, GUARD_NS, NULL, on_guard, &guard);
	qb_loop_run(loop);
	qb_loop_timer_del(loop, guard);
	assert_int_equal(cap.calls, before + 1);
	assert_int_equal(cap.rc, 0);
	assert_non_null(cap.buf);
	assert_true(cap.len > 0);
}

static void checkpoints(struct vm *v, const char *how)
{
	double t0, t_cont, t_end;
	int i;

	for (i = 0; i < CHECKPOINTS; i++) {
		t0 = ms_now();
		call(v, "stop");
		capture_once();
		/* untimed; a migrate capture is done only once in postmigrate */
		expect_status(v, method == US_DEVSTATE_MIGRATE ? "postmigrate" : "paused");
		if (i == CHECKPOINTS - 1) {
			printf("# %s checkpoint %d: stop+capture %.2f ms, stream %zu bytes "
			       "(guest left stopped)\n", how, i, cap.t_done - t0, cap.len);
			break;
		}
		t_cont = ms_now();
		call(v, "cont");
		t_end = ms_now();
		printf("# %s checkpoint %d: stop+capture %.2f ms, cont %.2f ms, total %.2f ms, "
		       "stream %zu bytes\n", how, i, cap.t_done - t0, t_end - t_cont,
		       cap.t_done - t0 + t_end - t_cont, cap.len);
		expect_status(v, "running");
	}
}

static void test_capture_cont_restore(void)
{
	const char *how = method == US_DEVSTATE_MIGRATE ? "migrate" : "xen-save";
	char sock[PATH_MAX];
	double t0;

	init_vm(&vm_a, "a");
	make_ram(vm_a.ram);
	assert_non_null(start_vm(&vm_a, US_QEMU_RUN, "a"));
	connect_vm(&vm_a);
	expect_status(&vm_a, "running");
	snprintf(sock, sizeof(sock), "%s/ds.sock", dir);
	ds = us_devstate_new(loop, vm_a.qmp, sock);
	assert_non_null(ds);
	assert_int_equal(us_devstate_set_method(ds, method), 0);
	checkpoints(&vm_a, how);

	/* The guest is stopped: its RAM file and cap.buf are one consistent state. */
	init_vm(&vm_b, "b");
	copy_file(vm_a.ram, vm_b.ram);
	us_devstate_free(ds);
	ds = NULL;
	assert_true(access(sock, F_OK) < 0);
	strcat(sock, ".xen");
	assert_true(access(sock, F_OK) < 0);
	stop_vm(&vm_a);

	assert_non_null(start_vm(&vm_b, US_QEMU_INCOMING, "b"));
	connect_vm(&vm_b);
	expect_status(&vm_b, "inmigrate");
	snprintf(sock, sizeof(sock), "%s/in.sock", dir);
	t0 = ms_now();
	assert_int_equal(us_devstate_restore(vm_b.qmp, sock, cap.buf, cap.len, 10000), 0);
	printf("# %s restore: migrate-incoming to loaded %.2f ms\n", how, ms_now() - t0);
	expect_status(&vm_b, "paused");
	call(&vm_b, "cont");
	expect_status(&vm_b, "running");
	assert_int_equal(us_qemu_alive(vm_b.qemu), 1);
	stop_vm(&vm_b);
}

static void test_migrate_capture(void **state)
{
	method = US_DEVSTATE_MIGRATE;
	test_capture_cont_restore();
}

/* xen-save-devices-state: no RAM and no configuration section, same restore. */
static void test_xen_save_capture(void **state)
{
	method = US_DEVSTATE_XEN_SAVE;
	test_capture_cont_restore();
}

/* A corrupt stream is refused with QEMU's reason, not taken as loaded. */
static void test_restore_garbage(void **state)
{
	static const char junk[] = "this is not a QEMU migration stream";
	char sock[PATH_MAX];
	int i;

	init_vm(&vm_b, "g");
	make_ram(vm_b.ram);
	assert_non_null(start_vm(&vm_b, US_QEMU_INCOMING, "g"));
	connect_vm(&vm_b);
	snprintf(sock, sizeof(sock), "%s/in.sock", dir);
	us_logcap_clear();
	assert_int_equal(us_devstate_restore(vm_b.qmp, sock, junk, sizeof(junk), 10000), -EIO);
	assert_non_null(strstr(us_logcap_text(), "could not load the device state"));
	/* QEMU exits on a bad incoming stream; the launcher quotes its reason. */
	for (i = 0; i < 1000 && us_qemu_alive(vm_b.qemu); i++)
		usleep(10000);
	assert_int_equal(us_qemu_alive(vm_b.qemu), 0);
	assert_non_null(strstr(us_logcap_text(), "load of migration failed"));
	stop_vm(&vm_b);
}

static void expect_early_exit(struct vm *v, const char *tag, const char *quote)
{
	make_ram(v->ram);
	us_logcap_clear();
	assert_null(start_vm(v, US_QEMU_RUN, tag));
	assert_int_equal(errno, EIO);
	assert_non_null(strstr(us_logcap_text(), "exited with status 1 during start-up"));
	if (!strstr(us_logcap_text(), quote))
		fail_msg("log does not quote \"%s\":\n%s", quote, us_logcap_text());
	unlink(v->ram);
}

static void test_missing_kernel(void **state)
{
	struct vm *v = &vm_b;	/* teardown stops it if it starts after all */

	init_vm(v, "k");
	snprintf(v->cfg.kernel, sizeof(v->cfg.kernel), "%s/no-such-kernel", dir);
	expect_early_exit(v, "k", "no-such-kernel");
}

static void test_bad_option(void **state)
{
	struct vm *v = &vm_b;

	init_vm(v, "o");
	v->cfg.vcpus = 100000;
	expect_early_exit(v, "o", "100000");
}

static int teardown(void **state)
{
	us_devstate_free(ds);
	ds = NULL;
	stop_vm(&vm_a);
	stop_vm(&vm_b);
	free(cap.buf);
	memset(&cap, 0, sizeof(cap));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_migrate_capture, teardown),
		cmocka_unit_test_teardown(test_xen_save_capture, teardown),
		cmocka_unit_test_teardown(test_restore_garbage, teardown),
		cmocka_unit_test_teardown(test_missing_kernel, teardown),
		cmocka_unit_test_teardown(test_bad_option, teardown),
	};
	int rc;

	dir = getenv("US_TEST_DIR");
	shm = getenv("US_TEST_SHM");
	if (!dir || !shm) {
		fprintf(stderr, "run me through tests/integration/test_devstate.sh\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	us_log_init("devstate_helper", getenv("US_TEST_VERBOSE") ? LOG_DEBUG : LOG_WARNING, 0);
	us_logcap_start();
	loop = qb_loop_create();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	qb_loop_destroy(loop);
	us_logcap_stop();
	us_log_fini();
	return rc;
}
