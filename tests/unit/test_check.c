/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The preflight checks against a fake machine: every probe (/dev/kvm, cpuinfo,
 * userfaultfd, PAGEMAP_SCAN, QEMU's answers, statfs, meminfo, interfaces,
 * corosync, RDMA, rlimits, sockets) is answered by this file, so each
 * outcome a real host can give (this CI host's half-working /dev/kvm, an old
 * kernel, an old QEMU, a full tmpfs, ...) is asserted with its words. The
 * real probes run in tests/integration/check.sh.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <cmocka.h>

#include "check/accel.h"
#include "check/check_int.h"
#include "replicator/log.h"
#include "replicator/uffd_compat.h"
#include "tests/lib/logcap.h"

#define FLAGS_VMX "processor\t: 0\nflags\t\t: fpu vme sse2 vmx ssse3\nbugs\t\t:\n"
#define FLAGS_NONE "processor\t: 0\nflags\t\t: fpu vme sse2 ssse3 hypervisor\n"

/* The fake machine; reset to a good host before each test. */
static struct {
	struct us_kvm_facts kvm;
	const char *cpuinfo;
	const char *yama; /* NULL: no Yama */
	uint64_t uffd_features;
	int uffd_rc, scan_rc;
	int qemu_missing, qemu_major, qemu_minor, no_stream, no_xen_save, no_share;
	uint64_t shm_avail, mem_avail_kib;
	int netif;
	int cs_rc;
	struct us_cs_facts cs;
	int exec_rc, rdma_rc;
	uint64_t memlock;
	int bind_rc, resolve_rc;
} m;

static int fake_read_file(const char *path, char *buf, size_t len)
{
	const char *text = NULL;

	if (strcmp(path, "/proc/cpuinfo") == 0)
		text = m.cpuinfo;
	else if (strcmp(path, "/proc/sys/kernel/yama/ptrace_scope") == 0)
		text = m.yama;
	else if (strcmp(path, "/proc/sys/kernel/osrelease") == 0)
		text = "6.1.0-fake\n";
	else if (strcmp(path, "/proc/meminfo") == 0) {
		snprintf(buf, len, "MemTotal: 999999 kB\nMemAvailable: %llu kB\n",
			 (unsigned long long)m.mem_avail_kib);
		return 0;
	}
	if (!text)
		return -ENOENT;
	snprintf(buf, len, "%s", text);
	return 0;
}

static void fake_kvm(struct us_kvm_facts *f)
{
	*f = m.kvm;
}

static int fake_uffd_api(uint64_t want, uint64_t *got)
{
	*got = m.uffd_features;
	return m.uffd_rc;
}

static int fake_scan(void)
{
	return m.scan_rc;
}

static int fake_space(const char *dir, uint64_t *avail, int *tmpfs)
{
	*avail = m.shm_avail;
	*tmpfs = 1;
	return strcmp(dir, "/nonexistent") == 0 ? -ENOENT : 0;
}

static int fake_file_size(const char *path, uint64_t *bytes)
{
	return -ENOENT;
}

/* QEMU's QMP session, as QEMU 7.2 answers it, less what the test removed. */
static int fake_run(char *const argv[], const char *input, char *out, size_t len)
{
	if (m.qemu_missing)
		return -ENOENT;
	if (strcmp(argv[1], "-netdev") == 0) {
		snprintf(out, len, "Available netdev backend types:\nsocket\n%sdgram\ntap\n",
			 m.no_stream ? "" : "stream\n");
		return 0;
	}
	snprintf(out, len,
		 "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": %d, \"major\": "
		 "%d}}}}\n{\"return\": {}}\n"
		 "{\"return\": [{\"state\": false, \"capability\": \"x-ignore-shared\"}]}\n"
		 "{\"return\": [{\"name\": \"memory-backend-file\"}]}\n"
		 "{\"return\": [{\"name\": \"%s\"}, {\"name\": \"mem-path\"}]}\n"
		 "{\"event\": \"SOMETHING\"}\n"
		 "{\"return\": [{\"name\": \"%s\"}, {\"name\": \"cont\"}]}\n{\"return\": {}}\n",
		 m.qemu_minor, m.qemu_major, m.no_share ? "size" : "share",
		 m.no_xen_save ? "stop" : "xen-save-devices-state");
	return 0;
}

static int fake_netif(const char *name)
{
	return m.netif;
}

static int fake_corosync(const char *node, struct us_cs_facts *f)
{
	*f = m.cs;
	return m.cs_rc;
}

static int fake_executable(const char *path)
{
	return m.exec_rc;
}

static int fake_rdma(const char *host, char *dev, size_t len)
{
	snprintf(dev, len, "rxe0");
	return m.rdma_rc;
}

static int fake_memlock(uint64_t *bytes)
{
	*bytes = m.memlock;
	return 0;
}

static int fake_bind(const char *hostport)
{
	return m.bind_rc;
}

static int fake_resolve(const char *hostport)
{
	return m.resolve_rc;
}

static const struct us_check_sys fake = {
	.read_file = fake_read_file,
	.kvm = fake_kvm,
	.uffd_api = fake_uffd_api,
	.pagemap_scan = fake_scan,
	.space = fake_space,
	.file_size = fake_file_size,
	.run = fake_run,
	.netif = fake_netif,
	.corosync = fake_corosync,
	.executable = fake_executable,
	.rdma_dev = fake_rdma,
	.memlock = fake_memlock,
	.bind_addr = fake_bind,
	.resolve = fake_resolve,
};

static struct us_config cfg;
static struct us_check_report rep;

static int good_host(void **state)
{
	memset(&m, 0, sizeof(m));
	m.kvm.api_version = US_CHECK_KVM_API;
	m.cpuinfo = FLAGS_VMX;
	m.yama = "1\n";
	m.uffd_features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	m.qemu_major = 7;
	m.qemu_minor = 2;
	m.shm_avail = 8ull << 30;
	m.mem_avail_kib = 8ull << 20;
	m.netif = 1;
	m.cs = (struct us_cs_facts){ .quorate = 1,
				     .local_nodeid = 1,
				     .local_name = "hA",
				     .node_nodeid = 1,
				     .node_joined = 1,
				     .members = 2 };
	m.memlock = UINT64_MAX;
	us_config_defaults(&cfg);
	snprintf(cfg.node, sizeof(cfg.node), "hA");
	snprintf(cfg.vm.mac, sizeof(cfg.vm.mac), "52:54:00:12:34:56");
	snprintf(cfg.bridge, sizeof(cfg.bridge), "br0");
	snprintf(cfg.fence_command, sizeof(cfg.fence_command), "/usr/sbin/fence_lab --x");
	snprintf(cfg.peer, sizeof(cfg.peer), "10.0.0.2:7300");
	memset(&rep, 0, sizeof(rep));
	us_logcap_clear();
	return 0;
}

/* The item @name exists, has @level, and its detail (or fix) holds @words. */
static void expect(const char *name, enum us_check_level level, const char *words)
{
	const struct us_check_item *it = us_check_find(&rep, name);

	if (!it)
		fail_msg("no check named %s", name);
	if (it->level != level || (words && !strstr(it->detail, words) && !strstr(it->fix, words)))
		fail_msg("%s: %s '%s' (fix '%s'), expected %s with '%s'", name,
			 us_check_level_name(it->level), it->detail, it->fix,
			 us_check_level_name(level), words ? words : "");
	if (level != US_CHECK_PASS && !it->fix[0])
		fail_msg("%s is %s without a fix", name, us_check_level_name(level));
}

static void all_pass_on_a_good_host(void **state)
{
	us_check_host(&cfg, "standby", &fake, &rep);
	us_check_cluster(&cfg, "standby", 0, &fake, &rep);
	if (us_check_worst(&rep) != US_CHECK_PASS) {
		us_check_print(&rep, stderr);
		fail_msg("a good host has a check short of PASS");
	}
	expect("accel", US_CHECK_PASS, "kvm: /dev/kvm works and the CPU offers vmx");
	expect("qemu.version", US_CHECK_PASS, "QEMU 7.2.1");
	expect("qemu.features", US_CHECK_PASS, "-netdev stream");
	expect("corosync.node", US_CHECK_PASS, "node 'hA' (1) is a member");
}

static void accel_no_vmx_svm(void **state)
{
	m.cpuinfo = FLAGS_NONE;
	us_check_accel(&cfg, &fake, &rep);
	expect("accel", US_CHECK_WARN,
	       "accel auto: tcg: /dev/kvm is present but the CPU offers "
	       "no vmx/svm (nested virtualization off?)");
	snprintf(cfg.vm.accel, sizeof(cfg.vm.accel), "kvm");
	memset(&rep, 0, sizeof(rep));
	us_check_accel(&cfg, &fake, &rep);
	expect("accel", US_CHECK_FAIL,
	       "accel = kvm but /dev/kvm is present but the CPU offers no vmx/svm");
}

static void accel_resolve_logs_once(void **state)
{
	m.cpuinfo = FLAGS_NONE;
	assert_int_equal(us_accel_resolve(&cfg.vm, &fake), 0);
	assert_string_equal(cfg.vm.accel, "tcg");
	assert_non_null(strstr(us_logcap_text(), "accel auto: tcg: /dev/kvm is present but the "
						 "CPU offers no vmx/svm (nested virtualization "
						 "off?)"));
	snprintf(cfg.vm.accel, sizeof(cfg.vm.accel), "kvm");
	us_logcap_clear();
	assert_int_equal(us_accel_resolve(&cfg.vm, &fake), -ENODEV);
	assert_non_null(strstr(us_logcap_text(), "accel = kvm, but KVM cannot run a guest here"));
	m.cpuinfo = FLAGS_VMX;
	snprintf(cfg.vm.accel, sizeof(cfg.vm.accel), "auto");
	assert_int_equal(us_accel_resolve(&cfg.vm, &fake), 0);
	assert_string_equal(cfg.vm.accel, "kvm");
	m.cpuinfo = "processor : 0\nflags : fpu svm\n";
	snprintf(cfg.vm.accel, sizeof(cfg.vm.accel), "tcg");
	assert_int_equal(us_accel_resolve(&cfg.vm, &fake), 0);
	assert_string_equal(cfg.vm.accel, "tcg"); /* tcg asked: not probed */
}

static void accel_dev_kvm_outcomes(void **state)
{
	char why[256];

	m.kvm.open_err = -ENOENT;
	assert_int_equal(us_check_kvm_usable(&m.kvm, FLAGS_VMX, why, sizeof(why)), 0);
	assert_string_equal(why, "/dev/kvm is missing (kvm module not loaded, or no "
				 "virtualization in this CPU)");
	m.kvm.open_err = -EACCES;
	assert_int_equal(us_check_kvm_usable(&m.kvm, FLAGS_VMX, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "cannot be opened read-write: Permission denied"));
	m.kvm.open_err = 0;
	m.kvm.api_version = 11;
	assert_int_equal(us_check_kvm_usable(&m.kvm, FLAGS_VMX, why, sizeof(why)), 0);
	assert_string_equal(why, "/dev/kvm speaks API version 11, not 12");
	m.kvm.api_version = 12;
	m.kvm.create_vm_err = -EINVAL;
	assert_int_equal(us_check_kvm_usable(&m.kvm, FLAGS_VMX, why, sizeof(why)), 0);
	assert_string_equal(why, "/dev/kvm cannot create a VM: Invalid argument");
	m.kvm.create_vm_err = 0;
	/* "vmx" only as a word of the flags line: not inside another flag */
	assert_int_equal(us_check_kvm_usable(&m.kvm, "flags : fpu xvmxy\n", why, sizeof(why)), 0);
	assert_int_equal(us_check_kvm_usable(&m.kvm, "flags : fpu vmx\n", why, sizeof(why)), 1);
}

static void kernel_without_pagemap_scan(void **state)
{
	m.scan_rc = -ENOTTY;
	us_check_kernel(&fake, &rep);
	expect("kernel.pagemap-scan", US_CHECK_FAIL, "Linux 6.1.0-fake has no PAGEMAP_SCAN");
	expect("kernel.pagemap-scan", US_CHECK_FAIL, "Linux 6.7 or later");
	expect("kernel.uffd-wp-async", US_CHECK_PASS, NULL);
}

static void kernel_without_wp_async(void **state)
{
	m.uffd_features = UFFD_FEATURE_WP_UNPOPULATED;
	m.yama = "3\n";
	us_check_kernel(&fake, &rep);
	expect("kernel.uffd-wp-async", US_CHECK_FAIL, "lacks asynchronous userfaultfd");
	expect("kernel.ptrace", US_CHECK_FAIL, "ptrace_scope is 3");
	memset(&rep, 0, sizeof(rep));
	m.uffd_rc = -ENOSYS;
	m.yama = NULL;
	us_check_kernel(&fake, &rep);
	expect("kernel.uffd-wp-async", US_CHECK_FAIL, "userfaultfd is not available");
	expect("kernel.ptrace", US_CHECK_PASS, "no Yama");
}

static void qemu_old_or_missing(void **state)
{
	m.qemu_major = 6;
	us_check_qemu(&cfg, &fake, &rep);
	expect("qemu.version", US_CHECK_FAIL, "is QEMU 6.2.1, older than 7.2");
	memset(&rep, 0, sizeof(rep));
	m.qemu_missing = 1;
	us_check_qemu(&cfg, &fake, &rep);
	expect("qemu.version", US_CHECK_FAIL, "QEMU binary qemu-system-x86_64 not found");
	assert_null(us_check_find(&rep, "qemu.features"));
}

static void qemu_lacking_features(void **state)
{
	m.no_stream = 1;
	m.no_share = 1;
	us_check_qemu(&cfg, &fake, &rep);
	expect("qemu.features", US_CHECK_FAIL,
	       "lacks memory-backend-file's share=on, -netdev stream");
	memset(&rep, 0, sizeof(rep));
	m.no_stream = m.no_share = 0;
	m.no_xen_save = 1;
	us_check_qemu(&cfg, &fake, &rep); /* devstate = xen-save, the default */
	expect("qemu.features", US_CHECK_FAIL, "lacks xen-save-devices-state");
	cfg.devstate_xen = 0;
	memset(&rep, 0, sizeof(rep));
	us_check_qemu(&cfg, &fake, &rep);
	expect("qemu.features", US_CHECK_PASS, NULL); /* devstate = migrate */
}

static void shm_dir_too_small(void **state)
{
	m.shm_avail = 100ull << 20;
	us_check_resources(&cfg, "primary", &fake, &rep);
	expect("shm_dir", US_CHECK_FAIL,
	       "/dev/shm has 100 MiB free, the guest's RAM file needs 256 MiB");
	memset(&rep, 0, sizeof(rep));
	snprintf(cfg.vm.shm_dir, sizeof(cfg.vm.shm_dir), "/nonexistent");
	us_check_resources(&cfg, "primary", &fake, &rep);
	expect("shm_dir", US_CHECK_FAIL, "/nonexistent: No such file or directory");
}

static void memory_short_for_staging(void **state)
{
	m.mem_avail_kib = 300 << 10; /* 300 MiB: the RAM file fits, staging does not */
	us_check_resources(&cfg, "primary", &fake, &rep);
	expect("memory", US_CHECK_PASS, NULL);
	memset(&rep, 0, sizeof(rep));
	us_check_resources(&cfg, "standby", &fake, &rep);
	expect("memory", US_CHECK_FAIL, "300 MiB available, the standby needs 514 MiB");
}

static void bridge_missing(void **state)
{
	m.netif = -ENOENT;
	us_check_resources(&cfg, NULL, &fake, &rep);
	expect("bridge", US_CHECK_FAIL, "bridge br0 does not exist");
	expect("bridge", US_CHECK_FAIL, "ip link add br0 type bridge");
	memset(&rep, 0, sizeof(rep));
	m.netif = 0;
	us_check_resources(&cfg, NULL, &fake, &rep);
	expect("bridge", US_CHECK_FAIL, "br0 is a network interface but not a bridge");
}

static void corosync_outcomes(void **state)
{
	m.cs_rc = -ENOTCONN;
	us_check_cluster(&cfg, "standby", 0, &fake, &rep);
	expect("corosync", US_CHECK_FAIL, "corosync does not answer");
	assert_null(us_check_find(&rep, "corosync.quorum"));
	memset(&rep, 0, sizeof(rep));
	m.cs_rc = 0;
	m.cs.quorate = 0;
	m.cs.node_nodeid = 0;
	us_check_cluster(&cfg, "standby", 0, &fake, &rep);
	expect("corosync.quorum", US_CHECK_FAIL, "not quorate");
	expect("corosync.node", US_CHECK_FAIL, "node 'hA' is not in corosync's nodelist");
	memset(&rep, 0, sizeof(rep));
	m.cs.node_nodeid = 2;
	us_check_cluster(&cfg, "standby", 0, &fake, &rep);
	expect("corosync.node", US_CHECK_FAIL,
	       "node 'hA' is corosync node 2, but this host is node 1 'hA'");
	memset(&rep, 0, sizeof(rep));
	m.cs.node_nodeid = 1;
	m.cs.node_joined = 0;
	us_check_cluster(&cfg, "standby", 0, &fake, &rep);
	expect("corosync.node", US_CHECK_FAIL, "is not in the membership");
	memset(&rep, 0, sizeof(rep));
	cfg.membership = 0;
	us_check_cluster(&cfg, "standby", 0, &fake, &rep);
	assert_null(us_check_find(&rep, "corosync"));
}

static void fence_outcomes(void **state)
{
	m.exec_rc = -ENOENT;
	us_check_cluster(&cfg, "primary", 0, &fake, &rep);
	expect("fence", US_CHECK_FAIL, "fence command /usr/sbin/fence_lab cannot run");
	memset(&rep, 0, sizeof(rep));
	cfg.fence_command[0] = 0;
	us_check_cluster(&cfg, "primary", 0, &fake, &rep);
	expect("fence", US_CHECK_WARN, "split brain");
}

static void rdma_and_address_outcomes(void **state)
{
	cfg.transport = US_TRANSPORT_RDMA;
	m.rdma_rc = -ENODEV;
	m.memlock = 64 << 10;
	m.bind_rc = -EADDRINUSE;
	us_check_cluster(&cfg, "standby", 0, &fake, &rep);
	expect("rdma.device", US_CHECK_FAIL, "no RDMA device for 0.0.0.0: No such device");
	expect("rdma.memlock", US_CHECK_FAIL, "RLIMIT_MEMLOCK is 64 KiB");
	expect("replication.listen", US_CHECK_FAIL, "0.0.0.0:7300 cannot be bound");
	memset(&rep, 0, sizeof(rep));
	cfg.transport = US_TRANSPORT_AUTO;
	us_check_cluster(&cfg, "standby", 1, &fake, &rep);
	expect("rdma.device", US_CHECK_WARN, "(transport auto: TCP)");
	expect("replication.listen", US_CHECK_PASS, "listening on 0.0.0.0:7300");
	memset(&rep, 0, sizeof(rep));
	m.resolve_rc = -EHOSTUNREACH;
	us_check_cluster(&cfg, "primary", 0, &fake, &rep);
	expect("replication.peer", US_CHECK_FAIL, "standby 10.0.0.2:7300 cannot be resolved");
	assert_null(us_check_find(&rep, "replication.listen"));
}

static void report_forms(void **state)
{
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	json_t *j;

	m.netif = -ENOENT;
	us_check_resources(&cfg, NULL, &fake, &rep);
	us_check_print(&rep, f);
	fclose(f);
	assert_non_null(strstr(buf, "FAIL  bridge"));
	assert_non_null(strstr(buf, "fix: create it"));
	assert_non_null(strstr(buf, "PASS  shm_dir"));
	j = us_check_json(&rep);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(j, "checks")), rep.n);
	json_decref(j);
	assert_int_equal(us_check_worst(&rep), US_CHECK_FAIL);
	assert_string_equal(us_check_first(&rep, US_CHECK_FAIL)->name, "bridge");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(all_pass_on_a_good_host, good_host),
		cmocka_unit_test_setup(accel_no_vmx_svm, good_host),
		cmocka_unit_test_setup(accel_resolve_logs_once, good_host),
		cmocka_unit_test_setup(accel_dev_kvm_outcomes, good_host),
		cmocka_unit_test_setup(kernel_without_pagemap_scan, good_host),
		cmocka_unit_test_setup(kernel_without_wp_async, good_host),
		cmocka_unit_test_setup(qemu_old_or_missing, good_host),
		cmocka_unit_test_setup(qemu_lacking_features, good_host),
		cmocka_unit_test_setup(shm_dir_too_small, good_host),
		cmocka_unit_test_setup(memory_short_for_staging, good_host),
		cmocka_unit_test_setup(bridge_missing, good_host),
		cmocka_unit_test_setup(corosync_outcomes, good_host),
		cmocka_unit_test_setup(fence_outcomes, good_host),
		cmocka_unit_test_setup(rdma_and_address_outcomes, good_host),
		cmocka_unit_test_setup(report_forms, good_host),
	};

	us_log_init("test_check", LOG_CRIT, 0);
	us_logcap_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
