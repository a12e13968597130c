/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU launcher without running QEMU: the command line of both modes (same
 * machine and devices, only the RAM file, -incoming and -S differ), the
 * optional parts, refused paths, and a missing binary.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "replicator/log.h"
#include "replicator/qemu_int.h"
#include "tests/lib/logcap.h"

static void fill_vm(struct us_vm_config *vm)
{
	memset(vm, 0, sizeof(*vm));
	strcpy(vm->name, "vm1");
	vm->mem_bytes = 256ull << 20;
	vm->vcpus = 2;
	strcpy(vm->qemu, "qemu-system-x86_64");
	strcpy(vm->accel, "tcg");
	strcpy(vm->kernel, "/guest/bzImage");
	strcpy(vm->initrd, "/guest/initrd.img");
	strcpy(vm->append, "console=ttyS0 quiet");
	strcpy(vm->mac, "52:54:00:12:34:56");
	strcpy(vm->run_dir, "/run/understudy");
	strcpy(vm->shm_dir, "/dev/shm");
}

static void fill_opts(struct us_qemu_opts *o, enum us_qemu_mode mode, const char *ram)
{
	memset(o, 0, sizeof(*o));
	o->mode = mode;
	o->ram_path = ram;
	o->serial_log = "/run/understudy/vm1.serial";
	o->tag = mode == US_QEMU_RUN ? "primary" : "standby";
	o->netdev_sock = "/run/understudy/vm1-net.sock";
}

/* @return index of @arg followed by @val in @a, or -1. */
static int find_pair(const struct us_qemu_argv *a, const char *arg, const char *val)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (!strcmp(a->v[i], arg) && (!val || (i + 1 < a->n && !strcmp(a->v[i + 1], val))))
			return (int)i;
	return -1;
}

/* Remove the pair at @i (or the single arg when @pair is 0). */
static void drop(struct us_qemu_argv *a, int i, int pair)
{
	int k = pair ? 2 : 1, j;

	assert_true(i >= 0);
	for (j = 0; j < k; j++)
		free(a->v[i + j]);
	memmove(a->v + i, a->v + i + k, (a->n - i - k + 1) * sizeof(*a->v));
	a->n -= k;
}

static void test_modes_differ_only_in_ram_incoming_and_paused(void **state)
{
	struct us_vm_config vm;
	struct us_qemu_opts run, inc;
	struct us_qemu_argv a, b;
	size_t i;

	fill_vm(&vm);
	fill_opts(&run, US_QEMU_RUN, "/dev/shm/vm1-primary");
	run.start_paused = 1;
	fill_opts(&inc, US_QEMU_INCOMING, "/dev/shm/vm1-replica");
	inc.start_paused = 0;	/* parked QEMU gets -S regardless */
	assert_int_equal(us_qemu_build_argv(&vm, &run, "tcg", "/run/understudy/a.qmp", &a), 0);
	assert_int_equal(us_qemu_build_argv(&vm, &inc, "tcg", "/run/understudy/a.qmp", &b), 0);
	assert_int_equal(find_pair(&a, "-incoming", NULL), -1);
	drop(&a, find_pair(&a, "-S", NULL), 0);
	drop(&b, find_pair(&b, "-S", NULL), 0);
	drop(&b, find_pair(&b, "-incoming", "defer"), 1);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		if (strstr(a.v[i], "memory-backend-file")) {
			assert_non_null(strstr(a.v[i], "mem-path=/dev/shm/vm1-primary,"));
			assert_non_null(strstr(b.v[i], "mem-path=/dev/shm/vm1-replica,"));
			continue;
		}
		assert_string_equal(a.v[i], b.v[i]);
	}
	assert_null(a.v[a.n]);
	us_qemu_argv_free(&a);
	us_qemu_argv_free(&b);
}

static void test_full_command_line(void **state)
{
	struct us_vm_config vm;
	struct us_qemu_opts o;
	struct us_qemu_argv a;

	fill_vm(&vm);
	fill_opts(&o, US_QEMU_RUN, "/dev/shm/vm1-primary");
	assert_int_equal(us_qemu_build_argv(&vm, &o, "kvm", "/run/understudy/vm1-primary.qmp", &a), 0);
	assert_string_equal(a.v[0], "qemu-system-x86_64");
	assert_true(find_pair(&a, "-machine", "q35,memory-backend=ram0") > 0);
	assert_true(find_pair(&a, "-object", "memory-backend-file,id=ram0,size=268435456,"
			      "mem-path=/dev/shm/vm1-primary,share=on") > 0);
	assert_true(find_pair(&a, "-m", "256M") > 0);
	assert_true(find_pair(&a, "-smp", "2") > 0);
	assert_true(find_pair(&a, "-accel", "kvm") > 0);
	assert_true(find_pair(&a, "-global", "migration.send-configuration=off") > 0);
	assert_true(find_pair(&a, "-nodefaults", NULL) > 0);
	assert_true(find_pair(&a, "-vga", "none") > 0);
	assert_true(find_pair(&a, "-display", "none") > 0);
	assert_true(find_pair(&a, "-no-user-config", NULL) > 0);
	assert_true(find_pair(&a, "-serial", "file:/run/understudy/vm1.serial") > 0);
	assert_true(find_pair(&a, "-qmp", "unix:/run/understudy/vm1-primary.qmp,server=on,wait=off") > 0);
	assert_true(find_pair(&a, "-kernel", "/guest/bzImage") > 0);
	assert_true(find_pair(&a, "-initrd", "/guest/initrd.img") > 0);
	assert_true(find_pair(&a, "-append", "console=ttyS0 quiet") > 0);
	assert_true(find_pair(&a, "-netdev", "stream,id=net0,server=off,addr.type=unix,"
			      "addr.path=/run/understudy/vm1-net.sock") > 0);
	assert_true(find_pair(&a, "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,romfile=") > 0);
	assert_int_equal(find_pair(&a, "-drive", NULL), -1);
	assert_int_equal(find_pair(&a, "-S", NULL), -1);
	us_qemu_argv_free(&a);
}

static void test_optional_parts_left_out(void **state)
{
	struct us_vm_config vm;
	struct us_qemu_opts o;
	struct us_qemu_argv a;

	fill_vm(&vm);
	vm.kernel[0] = vm.initrd[0] = vm.append[0] = '\0';
	vm.qemu[0] = '\0';
	strcpy(vm.disk, "/var/lib/vm1.img");
	fill_opts(&o, US_QEMU_RUN, "/dev/shm/vm1-primary");
	o.netdev_sock = NULL;	/* MAC set, but no relay socket: no NIC */
	assert_int_equal(us_qemu_build_argv(&vm, &o, "tcg", "/tmp/x.qmp", &a), 0);
	assert_string_equal(a.v[0], US_QEMU_DEFAULT_BINARY);
	assert_int_equal(find_pair(&a, "-kernel", NULL), -1);
	assert_int_equal(find_pair(&a, "-initrd", NULL), -1);
	assert_int_equal(find_pair(&a, "-append", NULL), -1);
	assert_int_equal(find_pair(&a, "-netdev", NULL), -1);
	assert_int_equal(find_pair(&a, "-device", NULL), -1);
	assert_true(find_pair(&a, "-drive", "file=/var/lib/vm1.img,format=raw,if=virtio") > 0);
	us_qemu_argv_free(&a);
}

/* A replicated disk: QEMU's NBD client on the daemon's server, not the image. */
static void test_disk_through_nbd(void **state)
{
	struct us_vm_config vm;
	struct us_qemu_opts o;
	struct us_qemu_argv a;

	fill_vm(&vm);
	strcpy(vm.disk, "/var/lib/vm1.img");
	fill_opts(&o, US_QEMU_INCOMING, "/dev/shm/vm1-standby");
	o.disk_sock = "/run/understudy/vm1-disk.sock";
	assert_int_equal(us_qemu_build_argv(&vm, &o, "tcg", "/tmp/x.qmp", &a), 0);
	assert_int_equal(find_pair(&a, "-drive", NULL), -1);
	assert_true(find_pair(&a, "-blockdev", "driver=nbd,node-name=disk0,server.type=unix,"
			      "server.path=/run/understudy/vm1-disk.sock,export=disk0") > 0);
	assert_true(find_pair(&a, "-device", "virtio-blk-pci,drive=disk0") > 0);
	us_qemu_argv_free(&a);
	o.disk_sock = "/run/a,b.sock";
	assert_int_equal(us_qemu_build_argv(&vm, &o, "tcg", "/tmp/x.qmp", &a), -EINVAL);
	us_qemu_argv_free(&a);
}

static void test_comma_in_path_refused(void **state)
{
	struct us_vm_config vm;
	struct us_qemu_opts o;
	struct us_qemu_argv a;

	fill_vm(&vm);
	fill_opts(&o, US_QEMU_RUN, "/dev/shm/vm1,primary");
	us_logcap_clear();
	assert_int_equal(us_qemu_build_argv(&vm, &o, "tcg", "/tmp/x.qmp", &a), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "/dev/shm/vm1,primary contains a comma"));
	us_qemu_argv_free(&a);
	fill_opts(&o, US_QEMU_RUN, "/dev/shm/vm1");
	vm.mem_bytes = 1000;
	assert_int_equal(us_qemu_build_argv(&vm, &o, "tcg", "/tmp/x.qmp", &a), -EINVAL);
	us_qemu_argv_free(&a);
}

/* @return 1 if /proc/cpuinfo names vmx or svm (a crude look; check/kvm.c is exact). */
static int cpu_virt(void)
{
	char line[8192];
	int yes = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && !yes && fgets(line, sizeof(line), f))
		yes = strncmp(line, "flags", 5) == 0 && (strstr(line, " vmx") || strstr(line, " svm"));
	if (f)
		fclose(f);
	return yes;
}

/* "auto" never picks a KVM that cannot run a guest: not without /dev/kvm, and
 * not on a host (like these CI machines) whose /dev/kvm opens but whose CPU
 * offers no vmx/svm. test_check.c covers every reason with fakes. */
static void test_pick_accel(void **state)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	const char *a = us_qemu_pick_accel("auto");

	assert_string_equal(us_qemu_pick_accel("tcg"), "tcg");
	assert_string_equal(us_qemu_pick_accel("kvm"), "kvm");
	assert_true(strcmp(a, "kvm") == 0 || strcmp(a, "tcg") == 0);
	if (fd < 0 || !cpu_virt())
		assert_string_equal(a, "tcg");
	if (fd >= 0)
		close(fd);
}

static char run_dir[] = "/tmp/us-test-qemu-XXXXXX";

static int make_run_dir(void **state)
{
	strcpy(run_dir, "/tmp/us-test-qemu-XXXXXX");
	return mkdtemp(run_dir) ? 0 : -1;
}

/* Also after a failed assertion: the launcher's log file, then the directory. */
static int remove_run_dir(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/vm1-primary.log", run_dir);
	unlink(path);
	return rmdir(run_dir);
}

static void test_missing_binary(void **state)
{
	struct us_vm_config vm;
	struct us_qemu_opts o;
	struct us_qemu *q;

	fill_vm(&vm);
	strcpy(vm.qemu, "/nonexistent/qemu-system-x86_64");
	strcpy(vm.run_dir, run_dir);
	fill_opts(&o, US_QEMU_RUN, "/dev/shm/unused");
	us_logcap_clear();
	q = us_qemu_start(&vm, &o);
	assert_null(q);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(us_logcap_text(), "/nonexistent/qemu-system-x86_64 not found"));
	assert_non_null(strstr(us_logcap_text(), "qemu-system-x86"));
	us_qemu_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes_differ_only_in_ram_incoming_and_paused),
		cmocka_unit_test(test_full_command_line),
		cmocka_unit_test(test_optional_parts_left_out),
		cmocka_unit_test(test_comma_in_path_refused),
		cmocka_unit_test(test_pick_accel),
		cmocka_unit_test(test_disk_through_nbd),
		cmocka_unit_test_setup_teardown(test_missing_binary, make_run_dir, remove_run_dir),
	};
	int rc;

	us_log_init("test_qemu", LOG_CRIT, 0);
	us_logcap_start();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	us_logcap_stop();
	us_log_fini();
	return rc;
}
