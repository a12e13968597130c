/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Is KVM usable for a guest? A /dev/kvm that opens is not enough: a host
 * with nested virtualization half offered (or VT-x/AMD-V off in firmware,
 * or a container handed the device node) opens it, creates VMs, and then
 * QEMU hangs after SeaBIOS. So, as virt-host-validate does, the CPU must
 * also advertise vmx or svm. The accelerator check, and the one place that
 * turns `accel = auto` into kvm or tcg with one line saying why.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check/accel.h"
#include "check/check_int.h"
#include "replicator/log.h"

#define CPUINFO_MAX 65536

/* @return 1 if the first "flags" line has @flag as a word, -1 if no such line. */
static int cpu_flag(const char *cpuinfo, const char *flag)
{
	const char *line = cpuinfo, *end, *p;
	size_t n = strlen(flag);

	while (line && strncmp(line, "flags", 5) != 0) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (!line)
		return -1;
	end = strchrnul(line, '\n');
	for (p = line; (p = strstr(p, flag)) && p < end; p += n)
		if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || p[n] == 0))
			return 1;
	return 0;
}

static int why_dev(const struct us_kvm_facts *f, char *why, size_t len)
{
	if (f->open_err == -ENOENT)
		snprintf(why, len,
			 "/dev/kvm is missing (kvm module not loaded, or no "
			 "virtualization in this CPU)");
	else if (f->open_err)
		snprintf(why, len, "/dev/kvm cannot be opened read-write: %s",
			 strerror(-f->open_err));
	else if (f->api_version != US_CHECK_KVM_API)
		snprintf(why, len, "/dev/kvm speaks API version %d, not %d", f->api_version,
			 US_CHECK_KVM_API);
	else if (f->create_vm_err)
		snprintf(why, len, "/dev/kvm cannot create a VM: %s", strerror(-f->create_vm_err));
	else
		return 1;
	return 0;
}

int us_check_kvm_usable(const struct us_kvm_facts *f, const char *cpuinfo, char *why, size_t len)
{
	if (!why_dev(f, why, len))
		return 0;
	if (cpuinfo && cpu_flag(cpuinfo, "vmx") == 0 && cpu_flag(cpuinfo, "svm") == 0) {
		snprintf(why, len,
			 "/dev/kvm is present but the CPU offers no vmx/svm "
			 "(nested virtualization off?)");
		return 0;
	}
	snprintf(why, len, "/dev/kvm works and the CPU offers %s",
		 cpuinfo && cpu_flag(cpuinfo, "svm") == 1 ? "svm" : "vmx");
	return 1;
}

/* @return 1 usable, 0 not; @why says which. */
static int probe_kvm(const struct us_check_sys *sys, char *why, size_t len)
{
	static char cpuinfo[CPUINFO_MAX];
	struct us_kvm_facts f = { 0 };

	sys->kvm(&f);
	if (sys->read_file("/proc/cpuinfo", cpuinfo, sizeof(cpuinfo)) < 0)
		return us_check_kvm_usable(&f, NULL, why, len);
	return us_check_kvm_usable(&f, cpuinfo, why, len);
}

#define KVM_FIX                                                                                    \
	"enable VT-x/AMD-V (firmware, or nested virtualization for a VM host) "                    \
	"and load kvm_intel or kvm_amd; or set [vm] accel = tcg (slow)"

void us_check_accel(const struct us_config *cfg, const struct us_check_sys *sys,
		    struct us_check_report *r)
{
	char why[256];
	int ok;

	if (strcmp(cfg->vm.accel, "tcg") == 0) {
		us_check_add(r, "accel", US_CHECK_PASS, NULL, "tcg, as configured (no KVM needed)");
		return;
	}
	ok = probe_kvm(sys, why, sizeof(why));
	if (ok)
		us_check_add(r, "accel", US_CHECK_PASS, NULL, "kvm: %s", why);
	else if (strcmp(cfg->vm.accel, "kvm") == 0)
		us_check_add(r, "accel", US_CHECK_FAIL, KVM_FIX, "accel = kvm but %s", why);
	else
		us_check_add(r, "accel", US_CHECK_WARN, KVM_FIX " to silence this",
			     "accel auto: tcg: %s", why);
}

int us_accel_resolve(struct us_vm_config *vm, const struct us_check_sys *sys)
{
	char why[256];

	if (strcmp(vm->accel, "tcg") == 0)
		return 0;
	if (probe_kvm(sys, why, sizeof(why))) {
		if (strcmp(vm->accel, "auto") == 0)
			us_log(LOG_NOTICE, US_TAG_MAIN, "accel auto: kvm: %s", why);
		snprintf(vm->accel, sizeof(vm->accel), "kvm");
		return 0;
	}
	if (strcmp(vm->accel, "kvm") == 0) {
		us_log(LOG_ERR, US_TAG_MAIN,
		       "accel = kvm, but KVM cannot run a guest here: %s; fix: " KVM_FIX, why);
		return -ENODEV;
	}
	us_log(LOG_WARNING, US_TAG_MAIN, "accel auto: tcg: %s", why);
	snprintf(vm->accel, sizeof(vm->accel), "tcg");
	return 0;
}
