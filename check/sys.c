/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real probes behind the checks (see check_int.h): /dev/kvm's ioctls,
 * userfaultfd's API handshake, PAGEMAP_SCAN on our own pagemap, statfs,
 * /sys/class/net, corosync's quorum, cpg and cmap services, rdma-core's
 * address resolution, getrlimit, bind and getaddrinfo.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "check/check_int.h"
#include "check/probe.h"
#include "check/run.h"
#include "replicator/uffd_compat.h"

#define RUN_TIMEOUT_MS 10000

static int sys_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return 0;
}

static void sys_kvm(struct us_kvm_facts *f)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	f->open_err = fd < 0 ? -errno : 0;
	if (fd < 0)
		return;
	f->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (f->api_version < 0)
		f->api_version = -errno;
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	f->create_vm_err = vm < 0 ? -errno : 0;
	if (vm >= 0)
		close(vm);
	close(fd);
}

static int sys_uffd_api(uint64_t want, uint64_t *got)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), rc = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		rc = -errno;
		close(fd);
		/* ask again for nothing, to learn what it does offer */
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		api.api = UFFD_API;
		api.features = 0;
		if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0)
			api.features = 0;
	}
	if (fd >= 0)
		close(fd);
	*got = api.features;
	return rc == -EINVAL ? 0 : rc;
}

static int sys_pagemap_scan(void)
{
	static char page[4096] __attribute__((aligned(4096)));
	struct page_region vec[1];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)page,
		.end = (uintptr_t)page + 4096,
		.vec = (uintptr_t)vec,
		.vec_len = 1,
		.category_anyof_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, PAGEMAP_SCAN, &arg) < 0 && errno == ENOTTY)
		rc = -ENOTTY;
	close(fd);
	return rc;
}

/* A hugetlbfs without size= reports no blocks: its room is the free pool. */
static uint64_t hugetlb_pool_free(uint64_t pagesize)
{
	unsigned long long free = 0, resv = 0;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
		 (unsigned long long)(pagesize >> 10));
	f = fopen(path, "re");
	if (!f || fscanf(f, "%llu", &free) != 1)
		free = 0;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/resv_hugepages",
		 (unsigned long long)(pagesize >> 10));
	f = fopen(path, "re");
	if (!f || fscanf(f, "%llu", &resv) != 1)
		resv = 0;
	if (f)
		fclose(f);
	return free > resv ? (free - resv) * pagesize : 0;
}

static int sys_space(const char *dir, uint64_t *avail, int *tmpfs)
{
	struct statfs st;

	if (statfs(dir, &st) < 0)
		return -errno;
	*avail = (uint64_t)st.f_bavail * st.f_bsize;
	if (st.f_type == HUGETLBFS_MAGIC && st.f_blocks == 0)
		*avail = hugetlb_pool_free((uint64_t)st.f_bsize);
	*tmpfs = st.f_type == TMPFS_MAGIC;
	return 0;
}

static int sys_file_size(const char *path, uint64_t *bytes)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*bytes = (uint64_t)st.st_blocks * 512;
	return 0;
}

static int sys_run(char *const argv[], const char *input, char *out, size_t len)
{
	return us_check_run(argv, input, out, len, RUN_TIMEOUT_MS);
}

static int sys_netif(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	if (access(path, F_OK) < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", name);
	return access(path, F_OK) == 0;
}

static int sys_memlock(uint64_t *bytes)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return -errno;
	*bytes = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	return 0;
}

/* Split HOST:PORT (HOST may be empty or bracketed) and resolve it. */
static int lookup(const char *hostport, int passive, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	char host[256], *colon;
	int rc;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = 0;
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = 0;
		memmove(host, host + 1, strlen(host));
	}
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, res);
	if (rc == EAI_SYSTEM)
		return -errno;
	return rc ? -EHOSTUNREACH : 0;
}

static int sys_resolve(const char *hostport)
{
	struct addrinfo *res;
	int rc = lookup(hostport, 0, &res);

	if (rc == 0)
		freeaddrinfo(res);
	return rc;
}

static int sys_bind_addr(const char *hostport)
{
	struct addrinfo *res;
	int rc = lookup(hostport, 1, &res), fd, one = 1;

	if (rc < 0)
		return rc;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		rc = -errno;
	else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		 bind(fd, res->ai_addr, res->ai_addrlen) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return rc;
}

static const struct us_check_sys real = {
	.read_file = sys_read_file,
	.kvm = sys_kvm,
	.uffd_api = sys_uffd_api,
	.pagemap_scan = sys_pagemap_scan,
	.space = sys_space,
	.file_size = sys_file_size,
	.run = sys_run,
	.netif = sys_netif,
	.corosync = us_check_cs_probe,
	.executable = us_check_executable,
	.rdma_dev = us_check_rdma_probe,
	.memlock = sys_memlock,
	.bind_addr = sys_bind_addr,
	.resolve = sys_resolve,
};

const struct us_check_sys *us_check_sys_real(void)
{
	return &real;
}
