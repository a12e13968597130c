/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest RAM files on tmpfs or hugetlbfs, created at full size, locked and
 * mapped with their page tables filled (see ramfile.h).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "replicator/log.h"
#include "replicator/ramfile.h"

static int is_hugetlbfs(const char *dir)
{
	struct statfs fs;

	return statfs(dir, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC;
}

static void log_nospace(const char *path, uint64_t size)
{
	struct statvfs vfs;
	char dir[PATH_MAX], *slash;
	unsigned long long avail = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (statvfs(dir, &vfs) == 0)
		avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	if (is_hugetlbfs(dir))
		us_log(LOG_ERR, US_TAG_MAIN, "not enough huge pages in %s for %llu MiB of guest RAM "
		       "(%llu MiB free): reserve more (echo N > /proc/sys/vm/nr_hugepages, N 2 MiB "
		       "pages) or lower [vm] memory", dir, (unsigned long long)(size >> 20),
		       avail >> 20);
	else
		us_log(LOG_ERR, US_TAG_MAIN, "not enough space in %s for %llu MiB of guest RAM (%llu "
		       "MiB free): free it, enlarge it (mount -o remount,size=... %s) or lower [vm] "
		       "memory", dir, (unsigned long long)(size >> 20), avail >> 20, dir);
}

int us_ramfile_check_dir(const char *dir, int hugepages)
{
	if (!hugepages || is_hugetlbfs(dir))
		return 0;
	us_log(LOG_ERR, US_TAG_MAIN, "[vm] hugepages = on, but %s is not a hugetlbfs mount: "
	       "mount one (mount -t hugetlbfs none /dev/hugepages), reserve pages "
	       "(/proc/sys/vm/nr_hugepages) and set [daemon] shm_dir to it, or set hugepages = off",
	       dir);
	return -EINVAL;
}

static int open_locked(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		us_log(LOG_ERR, US_TAG_MAIN, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		us_log(LOG_ERR, US_TAG_MAIN, "%s is in use by another understudy daemon: "
		       "stop it first or give this VM another name", path);
		close(fd);
		return -EBUSY;
	}
	return fd;
}

int us_ramfile_create(struct us_ramfile *r, const char *path, uint64_t size)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->size = size;
	rc = open_locked(path);
	if (rc < 0)
		return rc;
	r->fd = rc;
	if (ftruncate(r->fd, 0) < 0 || ftruncate(r->fd, size) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -posix_fallocate(r->fd, 0, size);
	if (rc == -ENOSPC)
		log_nospace(path, size);
	if (rc < 0)
		goto fail;
	/* page tables filled now: a fault in the pause costs more than a page's copy */
	r->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		rc = -errno;
		goto fail;
	}
	return 0;
fail:
	if (rc != -ENOSPC)
		us_log(LOG_ERR, US_TAG_MAIN, "cannot size %s: %s", path, strerror(-rc));
	us_ramfile_close(r, 1);
	return rc;
}

void us_ramfile_close(struct us_ramfile *r, int remove)
{
	if (r->map)
		munmap(r->map, r->size);
	r->map = NULL;
	if (r->fd < 0)
		return;
	if (remove && unlink(r->path) < 0 && errno != ENOENT)
		us_log(LOG_WARNING, US_TAG_MAIN, "cannot remove %s: %s", r->path, strerror(errno));
	close(r->fd);
	r->fd = -1;
}
