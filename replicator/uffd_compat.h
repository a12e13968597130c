/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel definitions dirty tracking needs that Debian 12's linux-libc-dev
 * (6.1) predates: asynchronous userfaultfd write-protect (Linux 6.7) and the
 * PAGEMAP_SCAN ioctl on /proc/PID/pagemap (Linux 6.7). Values are the kernel
 * UAPI's (include/uapi/linux/userfaultfd.h and fs.h); each is guarded so
 * newer headers win.
 */
#ifndef US_UFFD_COMPAT_H
#define US_UFFD_COMPAT_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#ifndef PAGEMAP_SCAN

/* One run of pages with the same categories, [start, end) in bytes. */
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

/* Argument of PAGEMAP_SCAN; size is sizeof(struct pm_scan_arg). */
struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING (1 << 0)	/* write-protect the pages reported */
#endif
#ifndef PM_SCAN_CHECK_WPASYNC
#define PM_SCAN_CHECK_WPASYNC (1 << 1)	/* fail on a page without async WP */
#endif
#ifndef PAGE_IS_WPALLOWED
#define PAGE_IS_WPALLOWED (1 << 0)
#endif
#ifndef PAGE_IS_WRITTEN
#define PAGE_IS_WRITTEN (1 << 1)
#endif

_Static_assert(sizeof(struct page_region) == 24, "page_region is 3 x u64");
_Static_assert(sizeof(struct pm_scan_arg) == 96, "pm_scan_arg is 12 x u64");

#endif
