/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dirty-page tracking inside an unmodified QEMU (see dirty.h and DESIGN.md).
 * The userfaultfd is created in the target by one injected syscall (inject.c)
 * and pulled over with pidfd_getfd; every ioctl on it then acts on the
 * target's mm. Async write-protect makes the kernel resolve a write to a
 * protected page at once and only mark it written; PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING reports the written pages and protects them again in
 * the same page-table walk, so no write can fall between report and re-arm.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "replicator/dirty.h"
#include "replicator/dirty_int.h"
#include "replicator/inject.h"
#include "replicator/log.h"

/*
 * UFFD_USER_MODE_ONLY: QEMU usually runs unprivileged, and with the default
 * vm.unprivileged_userfaultfd=0 the kernel only lets it create user-mode-only
 * userfaultfds. Writes by the kernel (read() into guest RAM) are still seen:
 * async write-protect resolves them before that restriction is looked at.
 */
#define DIRTY_UFFD_FLAGS (O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY)
#define DIRTY_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#define DIRTY_NEED "understudy needs Linux >= 6.7 with CONFIG_USERFAULTFD and PAGEMAP_SCAN"

/* ---- userfaultfd and PAGEMAP_SCAN, shared by the probe and the tracker ---- */

static int enable_wp_async(int uffd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = DIRTY_FEATURES };

	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		return -errno;
	if ((api.features & DIRTY_FEATURES) != DIRTY_FEATURES)
		return -ENOSYS;
	return 0;
}

static int register_wp(int uffd, uint64_t addr, uint64_t len)
{
	struct uffdio_register reg = {
		.range = { .start = addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	return 0;
}

static int protect_range(int uffd, uint64_t addr, uint64_t len)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = addr, .len = len },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
		return -errno;
	return 0;
}

/* One PAGEMAP_SCAN call: written pages in [start, end) into vec, re-armed. */
static long scan_once(int pagemap, uint64_t start, uint64_t end,
		      struct page_region *vec, size_t veclen, uint64_t *walk_end)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (uintptr_t)vec,
		.vec_len = veclen,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	long n = ioctl(pagemap, PAGEMAP_SCAN, &arg);

	if (n < 0)
		return -errno;
	*walk_end = arg.walk_end;
	return n;
}

/* ---- kernel check: the whole mechanism once, on a page of our own ---- */

static void say_why(char *why, size_t whylen, const char *lacks)
{
	struct utsname u;

	if (!why || !whylen)
		return;
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "(unknown)");
	snprintf(why, whylen, "kernel %s lacks %s; " DIRTY_NEED, u.release, lacks);
}

static int open_own_uffd(char *why, size_t whylen)
{
	long fd = syscall(__NR_userfaultfd, DIRTY_UFFD_FLAGS);

	if (fd >= 0)
		return (int)fd;
	if (errno == EPERM) {
		if (why && whylen)
			snprintf(why, whylen, "not allowed to create a userfaultfd:"
				 " run as root (CAP_SYS_PTRACE) or set vm.unprivileged_userfaultfd=1");
		return -EPERM;
	}
	say_why(why, whylen, "userfaultfd (CONFIG_USERFAULTFD)");
	return -ENOSYS;
}

/* Protect @page, write it, and expect exactly that page from one scan. */
static int probe_scan(int uffd, char *page, size_t pagesize, char *why, size_t whylen)
{
	struct page_region region;
	uint64_t start = (uintptr_t)page, walk_end;
	long n;
	int fd, rc;

	rc = register_wp(uffd, start, pagesize);
	if (rc == 0)
		rc = protect_range(uffd, start, pagesize);
	if (rc < 0) {
		say_why(why, whylen, "userfaultfd write-protect on anonymous memory");
		return -ENOSYS;
	}
	page[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = scan_once(fd, start, start + pagesize, &region, 1, &walk_end);
	close(fd);
	if (n == 1 && region.start == start)
		return 0;
	say_why(why, whylen, "the PAGEMAP_SCAN ioctl (or it missed a written page)");
	return -ENOSYS;
}

int us_dirty_kernel_check(char *why, size_t whylen)
{
	size_t pagesize = (size_t)sysconf(_SC_PAGESIZE);
	char *page = MAP_FAILED;
	int uffd, rc;

	uffd = open_own_uffd(why, whylen);
	if (uffd < 0)
		return uffd;
	rc = enable_wp_async(uffd);
	if (rc < 0) {
		say_why(why, whylen, "asynchronous userfaultfd write-protect (UFFD_FEATURE_WP_ASYNC)");
		rc = -ENOSYS;
		goto out;
	}
	page = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	rc = probe_scan(uffd, page, pagesize, why, whylen);
out:
	if (page != MAP_FAILED)
		munmap(page, pagesize);
	close(uffd);
	return rc;
}

/* ---- finding guest RAM in the target ---- */

struct map_line {
	uint64_t start, end, offset;
	const char *path;
};

static int parse_map_line(char *line, struct map_line *m)
{
	int pos = 0;
	size_t n;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %*s %*s%n",
		   &m->start, &m->end, &m->offset, &pos) != 3 || pos == 0)
		return -EINVAL;
	line += pos;
	line += strspn(line, " \t");
	n = strcspn(line, "\n");
	line[n] = '\0';
	m->path = line;
	return 0;
}

/* Extend the extent with @m if it continues it in memory and in the file. */
static int extends(const struct map_line *m, uint64_t *end, uint64_t *offset)
{
	if (m->start != *end || m->offset != *offset)
		return 0;
	*offset += m->end - m->start;
	*end = m->end;
	return 1;
}

static int scan_maps(FILE *f, const char *path, uint64_t *addr, uint64_t *len)
{
	struct map_line m;
	uint64_t start = 0, end = 0, offset = 0;
	char line[4096 + 256];
	int pieces = 0, others = 0;

	while (fgets(line, sizeof(line), f)) {
		if (parse_map_line(line, &m) < 0 || strcmp(m.path, path) != 0)
			continue;
		if (pieces && extends(&m, &end, &offset)) {
			pieces++;
		} else if (!pieces && m.offset == 0) {
			start = m.start;
			end = m.end;
			offset = m.end - m.start;
			pieces = 1;
		} else {
			others++;
		}
	}
	if (!pieces)
		return -ENOENT;
	if (pieces > 1)
		us_log(LOG_INFO, US_TAG_DIRTY, "%s is mapped in %d adjacent pieces;"
		       " tracking their extent", path, pieces);
	if (others)
		us_log(LOG_WARNING, US_TAG_DIRTY, "%s has %d more mapping(s) besides the one"
		       " at 0x%" PRIx64 "; writes through them are not tracked", path, others, start);
	*addr = start;
	*len = end - start;
	return 0;
}

int us_dirty_find_mapping(pid_t pid, const char *path, uint64_t *addr, uint64_t *len)
{
	char maps[64], *real;
	FILE *f;
	int rc;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	real = realpath(path, NULL);
	rc = scan_maps(f, real ? real : path, addr, len);
	free(real);
	fclose(f);
	return rc;
}

/* ---- the tracker ---- */

static int open_pagemap(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	return errno == ENOENT ? -ESRCH : -errno;
}

static int check_range(uint64_t addr, uint64_t len, uint64_t pagesize)
{
	if (len == 0 || addr > UINT64_MAX - len)
		return -EINVAL;
	if ((addr | len) & (pagesize - 1))
		return -EINVAL;
	return 0;
}

/* Register [addr, len) of the target for async write-protect, all clean. */
static int arm_tracker(struct us_dirty *d)
{
	int rc = enable_wp_async(d->uffd);

	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_DIRTY, "UFFDIO_API without WP_ASYNC: %s; " DIRTY_NEED,
		       strerror(-rc));
		return rc;
	}
	rc = register_wp(d->uffd, d->addr, d->len);
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_DIRTY, "UFFDIO_REGISTER of 0x%" PRIx64 "+0x%" PRIx64
		       " in pid %d: %s; the range must be one shared file mapping"
		       " (memory-backend-file,share=on) not already under a userfaultfd",
		       d->addr, d->len, (int)d->pid, strerror(-rc));
		return rc;
	}
	rc = protect_range(d->uffd, d->addr, d->len);
	if (rc < 0)
		us_log(LOG_ERR, US_TAG_DIRTY, "UFFDIO_WRITEPROTECT in pid %d: %s",
		       (int)d->pid, strerror(-rc));
	return rc;
}

static int open_tracker(struct us_dirty *d)
{
	int fd;

	fd = open_pagemap(d->pid);
	if (fd < 0)
		return fd;
	d->pagemap = fd;
	fd = us_inject_userfaultfd(d->pid, DIRTY_UFFD_FLAGS);
	if (fd < 0) {
		us_log(LOG_ERR, US_TAG_DIRTY, "cannot create a userfaultfd in pid %d: %s;"
		       " understudy must run as root or with CAP_SYS_PTRACE over QEMU,"
		       " and no other tracer (gdb, strace) may hold QEMU",
		       (int)d->pid, strerror(-fd));
		return fd;
	}
	d->uffd = fd;
	d->vec = calloc(US_DIRTY_VEC_MAX, sizeof(*d->vec));
	if (!d->vec)
		return -ENOMEM;
	d->veclen = US_DIRTY_VEC_MAX;
	return arm_tracker(d);
}

struct us_dirty *us_dirty_attach(pid_t pid, uint64_t addr, uint64_t len)
{
	struct us_dirty *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->pid = pid;
	d->uffd = d->pagemap = -1;
	d->addr = addr;
	d->len = len;
	d->pagesize = (uint64_t)sysconf(_SC_PAGESIZE);
	rc = check_range(addr, len, d->pagesize);
	if (rc == 0)
		rc = open_tracker(d);
	if (rc == 0)
		return d;
	us_dirty_free(d);
	errno = -rc;
	return NULL;
}

static int add_regions(const struct us_dirty *d, const struct page_region *vec,
		       struct us_runs *out, long n)
{
	const struct page_region *r;
	int rc;

	for (r = vec; r < vec + n; r++) {
		rc = us_runs_add(out, (r->start - d->addr) / d->pagesize,
				 (r->end - r->start) / d->pagesize);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int us_dirty_scan_range(struct us_dirty *d, uint64_t start, uint64_t end,
			struct page_region *vec, struct us_runs *out)
{
	uint64_t walk_end;
	long n;
	int rc;

	while (start < end) {
		n = scan_once(d->pagemap, start, end, vec, d->veclen, &walk_end);
		if (n < 0) {
			us_log(LOG_ERR, US_TAG_DIRTY, "PAGEMAP_SCAN of pid %d: %s%s", (int)d->pid,
			       strerror((int)-n), n == -EPERM ? " (part of the range is"
			       " no longer tracked: did QEMU remap guest RAM?)" : "");
			return (int)n;
		}
		rc = add_regions(d, vec, out, n);
		if (rc < 0)
			return rc;
		if (walk_end <= start || walk_end > end)
			return -EIO;
		start = walk_end;
	}
	return 0;
}

int us_dirty_scan(struct us_dirty *d, struct us_runs *out)
{
	if (d->pool)
		return us_dirty_pool_scan(d, out);
	return us_dirty_scan_range(d, d->addr, d->addr + d->len, d->vec, out);
}

void us_dirty_free(struct us_dirty *d)
{
	struct uffdio_range range;

	if (!d)
		return;
	us_dirty_pool_free(d);
	if (d->uffd >= 0) {
		range.start = d->addr;
		range.len = d->len;
		if (ioctl(d->uffd, UFFDIO_UNREGISTER, &range) < 0)
			us_log(LOG_INFO, US_TAG_DIRTY, "UFFDIO_UNREGISTER in pid %d: %s",
			       (int)d->pid, strerror(errno));
		close(d->uffd);
	}
	if (d->pagemap >= 0)
		close(d->pagemap);
	free(d->vec);
	free(d);
}
