/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest RAM files on tmpfs (/dev/shm) or, with [vm] hugepages, on hugetlbfs:
 * the primary's RAM, shared with QEMU, and the standby's replica. Created at full size up front, so a full /dev/shm
 * is an error at start-up, never a SIGBUS in the middle of an epoch.
 */
#ifndef US_RAMFILE_H
#define US_RAMFILE_H

#include <limits.h>
#include <stdint.h>

struct us_ramfile {
	char path[PATH_MAX];
	int fd;			/* -1 when closed; holds an exclusive flock */
	void *map;		/* shared mapping of the whole file */
	uint64_t size;
};

/**
 * Create (or take over a stale, unlocked) @path of @size bytes, allocate its
 * space and map it shared. @return 0, -EBUSY (locked by a running daemon),
 * -ENOSPC (not enough room, logged with the free space), -errno.
 */
int us_ramfile_create(struct us_ramfile *r, const char *path, uint64_t size);

/**
 * With @hugepages, check that @dir is a hugetlbfs mount (logged with the fix
 * when not). @return 0 or -EINVAL.
 */
int us_ramfile_check_dir(const char *dir, int hugepages);

/** Unmap, close and (if @remove) delete the file; safe on a closed one. */
void us_ramfile_close(struct us_ramfile *r, int remove);

#endif
