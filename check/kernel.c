/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel checks: dirty tracking needs asynchronous userfaultfd write-protect
 * and the PAGEMAP_SCAN ioctl (both Linux 6.7), and the daemon attaches to
 * QEMU with ptrace to inject the userfaultfd, which Yama may forbid.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_int.h"
#include "replicator/uffd_compat.h"

#define KERNEL_FIX "run Linux 6.7 or later (Debian: a backports or newer kernel)"

static void release(const struct us_check_sys *sys, char *buf, size_t len)
{
	if (sys->read_file("/proc/sys/kernel/osrelease", buf, len) < 0)
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = 0;
}

static void check_uffd(const struct us_check_sys *sys, const char *rel, struct us_check_report *r)
{
	const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	uint64_t got = 0;
	int rc = sys->uffd_api(want, &got);

	if (rc == 0 && (got & want) == want)
		us_check_add(r, "kernel.uffd-wp-async", US_CHECK_PASS, NULL,
			     "userfaultfd offers asynchronous write-protect (Linux %s)", rel);
	else if (rc < 0 && rc != -EINVAL)
		us_check_add(r, "kernel.uffd-wp-async", US_CHECK_FAIL,
			     "build the kernel with CONFIG_USERFAULTFD and run the daemon as root",
			     "userfaultfd is not available: %s", strerror(-rc));
	else
		us_check_add(r, "kernel.uffd-wp-async", US_CHECK_FAIL, KERNEL_FIX,
			     "Linux %s lacks asynchronous userfaultfd write-protect "
			     "(UFFD_FEATURE_WP_ASYNC), which dirty tracking needs",
			     rel);
}

static void check_scan(const struct us_check_sys *sys, const char *rel, struct us_check_report *r)
{
	int rc = sys->pagemap_scan();

	if (rc == -ENOTTY)
		us_check_add(r, "kernel.pagemap-scan", US_CHECK_FAIL, KERNEL_FIX,
			     "Linux %s has no PAGEMAP_SCAN ioctl on /proc/PID/pagemap, which "
			     "dirty tracking needs",
			     rel);
	else if (rc < 0)
		us_check_add(r, "kernel.pagemap-scan", US_CHECK_FAIL, "mount /proc",
			     "cannot try PAGEMAP_SCAN: %s", strerror(-rc));
	else
		us_check_add(r, "kernel.pagemap-scan", US_CHECK_PASS, NULL,
			     "/proc/PID/pagemap answers PAGEMAP_SCAN");
}

static void check_ptrace(const struct us_check_sys *sys, struct us_check_report *r)
{
	char buf[16];
	int scope;

	if (sys->read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) < 0) {
		us_check_add(r, "kernel.ptrace", US_CHECK_PASS, NULL,
			     "no Yama LSM: ptrace of QEMU is allowed");
		return;
	}
	scope = atoi(buf);
	if (scope >= 3)
		us_check_add(r, "kernel.ptrace", US_CHECK_FAIL,
			     "set kernel.yama.ptrace_scope = 1 "
			     "in /etc/sysctl.d/ and reboot (scope 3 cannot be lowered at run time)",
			     "Yama's ptrace_scope is %d: no process may attach to QEMU to inject "
			     "the userfaultfd",
			     scope);
	else
		us_check_add(r, "kernel.ptrace", US_CHECK_PASS, NULL,
			     "Yama's ptrace_scope is %d: root (CAP_SYS_PTRACE) may attach to QEMU",
			     scope);
}

void us_check_kernel(const struct us_check_sys *sys, struct us_check_report *r)
{
	char rel[128];

	release(sys, rel, sizeof(rel));
	check_uffd(sys, rel, r);
	check_scan(sys, rel, r);
	check_ptrace(sys, r);
}
