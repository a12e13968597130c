/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resource checks: room in shm_dir for the guest's RAM file (either role),
 * memory for the standby's staging (on the heap) and the RAM file itself
 * when shm_dir is tmpfs, and the bridge the VM's tap joins.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_int.h"

#define MIB(x) ((unsigned long long)((x) >> 20))

/* A RAM file left by a run (or the running daemon) is replaced: its room counts. */
static uint64_t existing_ram(const struct us_config *cfg, const struct us_check_sys *sys)
{
	static const char *const suffix[] = { ".ram", ".replica" };
	uint64_t total = 0, bytes;
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/understudy-%s%s", cfg->vm.shm_dir, cfg->vm.name,
			 suffix[i]);
		if (sys->file_size(path, &bytes) == 0)
			total += bytes;
	}
	return total;
}

static void check_shm(const struct us_config *cfg, const struct us_check_sys *sys, uint64_t reuse,
		      int *tmpfs, struct us_check_report *r)
{
	uint64_t avail = 0;
	int rc = sys->space(cfg->vm.shm_dir, &avail, tmpfs);

	if (rc < 0) {
		us_check_add(r, "shm_dir", US_CHECK_FAIL,
			     "create it (a tmpfs such as /dev/shm) or set [daemon] shm_dir",
			     "%s: %s", cfg->vm.shm_dir, strerror(-rc));
		return;
	}
	if (avail + reuse < cfg->vm.mem_bytes)
		us_check_add(r, "shm_dir", US_CHECK_FAIL,
			     "make room there, enlarge the tmpfs "
			     "(mount -o remount,size=...), reserve huge pages for a hugetlbfs "
			     "(/proc/sys/vm/nr_hugepages) or point [daemon] shm_dir elsewhere",
			     "%s has %llu MiB free, the guest's RAM file needs %llu MiB",
			     cfg->vm.shm_dir, MIB(avail + reuse), MIB(cfg->vm.mem_bytes));
	else
		us_check_add(r, "shm_dir", US_CHECK_PASS, NULL,
			     "%s has %llu MiB free for a %llu MiB RAM file%s", cfg->vm.shm_dir,
			     MIB(avail + reuse), MIB(cfg->vm.mem_bytes),
			     *tmpfs ? "" : " (not tmpfs: slower)");
}

/* @return MemAvailable in bytes, or 0 if /proc/meminfo says nothing. */
static uint64_t mem_available(const struct us_check_sys *sys)
{
	char buf[8192];
	const char *p;

	if (sys->read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "MemAvailable:");
	return p ? strtoull(p + 13, NULL, 10) << 10 : 0;
}

static uint64_t staging_bytes(const struct us_config *cfg, const char *role)
{
	if (role && strcmp(role, "standby") != 0)
		return 0;
	return cfg->staging_max ? cfg->staging_max : cfg->vm.mem_bytes + cfg->vm.mem_bytes / 128;
}

static void check_memory(const struct us_config *cfg, const char *role,
			 const struct us_check_sys *sys, uint64_t reuse, int tmpfs,
			 struct us_check_report *r)
{
	uint64_t avail = mem_available(sys), need = staging_bytes(cfg, role);

	if (tmpfs && cfg->vm.mem_bytes > reuse)
		need += cfg->vm.mem_bytes - reuse;
	if (!avail)
		us_check_add(r, "memory", US_CHECK_WARN, "mount /proc",
			     "/proc/meminfo has no MemAvailable: memory not checked");
	else if (avail < need)
		us_check_add(r, "memory", US_CHECK_FAIL,
			     "free memory, add RAM, or lower [replication] staging_max",
			     "%llu MiB available, the %s needs %llu MiB (RAM file%s)", MIB(avail),
			     role ? role : "daemon", MIB(need),
			     staging_bytes(cfg, role) ? " and staging" : "");
	else
		us_check_add(r, "memory", US_CHECK_PASS, NULL,
			     "%llu MiB available, %llu MiB needed", MIB(avail), MIB(need));
}

static void check_bridge(const struct us_config *cfg, const struct us_check_sys *sys,
			 struct us_check_report *r)
{
	char fix[160];
	int rc;

	if (!cfg->vm.mac[0] || !cfg->bridge[0]) {
		us_check_add(r, "bridge", US_CHECK_PASS, NULL, "%s",
			     cfg->vm.mac[0] ? "no [net] bridge: the tap is left unattached"
					    : "the VM has no NIC");
		return;
	}
	rc = sys->netif(cfg->bridge);
	if (rc == 1)
		us_check_add(r, "bridge", US_CHECK_PASS, NULL, "bridge %s exists", cfg->bridge);
	else if (rc == 0)
		us_check_add(r, "bridge", US_CHECK_FAIL, "name a bridge in [net] bridge",
			     "%s is a network interface but not a bridge", cfg->bridge);
	snprintf(fix, sizeof(fix),
		 "create it (ip link add %s type bridge; ip link set %s up; "
		 "or in /etc/network/interfaces) or fix [net] bridge",
		 cfg->bridge, cfg->bridge);
	if (rc < 0)
		us_check_add(r, "bridge", US_CHECK_FAIL, fix, "bridge %s does not exist",
			     cfg->bridge);
}

void us_check_resources(const struct us_config *cfg, const char *role,
			const struct us_check_sys *sys, struct us_check_report *r)
{
	uint64_t reuse = existing_ram(cfg, sys);
	int tmpfs = 0;

	check_shm(cfg, sys, reuse, &tmpfs, r);
	check_memory(cfg, role, sys, reuse, tmpfs, r);
	check_bridge(cfg, sys, r);
}
