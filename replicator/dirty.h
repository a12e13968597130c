/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dirty-page tracking inside an unmodified QEMU: a userfaultfd created in
 * QEMU's address space (one injected syscall through ptrace), registered for
 * asynchronous write-protect over guest RAM, read and re-armed atomically with
 * the PAGEMAP_SCAN ioctl on /proc/PID/pagemap.
 */
#ifndef US_DIRTY_H
#define US_DIRTY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "replicator/runs.h"

struct us_dirty;

/**
 * Check that the running kernel has async userfaultfd write-protect and
 * PAGEMAP_SCAN. On failure @why (if not NULL) names the kernel needed.
 * @return 0, or -ENOSYS / -EPERM.
 */
int us_dirty_kernel_check(char *why, size_t whylen);

/**
 * Find the mapping of file @path in process @pid.
 * @return 0 with *addr, *len set; -ENOENT if not mapped; -errno.
 */
int us_dirty_find_mapping(pid_t pid, const char *path, uint64_t *addr, uint64_t *len);

/**
 * Start tracking writes to [addr, addr+len) of process @pid. Every page
 * counts as clean from this call on; the first scan returns pages written
 * after it. The target keeps running apart from one short ptrace stop.
 * @return the tracker, or NULL with errno set.
 */
struct us_dirty *us_dirty_attach(pid_t pid, uint64_t addr, uint64_t len);

/**
 * Add to @out (page indices relative to addr) every page written since the
 * previous scan or attach, and write-protect them again, atomically.
 * @return 0 or -errno.
 */
int us_dirty_scan(struct us_dirty *d, struct us_runs *out);

/**
 * Split every later scan across @threads threads (the caller's included),
 * each walking its own slice of the range; 1 scans on the caller alone.
 * The guest's vCPUs are stopped during the scan, so the cores are free.
 * @return 0, -EINVAL (0 or more than US_DIRTY_THREADS_MAX), -errno.
 */
int us_dirty_set_threads(struct us_dirty *d, unsigned threads);

#define US_DIRTY_THREADS_MAX 16

/** The scan threads `scan_threads = auto` picks for a range of @len bytes. */
unsigned us_dirty_auto_threads(uint64_t len);

/** Stop tracking and close the userfaultfd; NULL-safe. */
void us_dirty_free(struct us_dirty *d);

#endif
