/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the guest workloads (counter, dirtier, service): the
 * monotonic clock, absolute sleeps and whole-line console output. The
 * workloads are linked statically by guest/build.sh, not by automake.
 */
#ifndef US_GUEST_WORKLOAD_H
#define US_GUEST_WORKLOAD_H

#include <stdint.h>

#define US_WL_NS_PER_SEC UINT64_C(1000000000)

/** @return CLOCK_MONOTONIC in nanoseconds. */
uint64_t us_wl_now_ns(void);

/** Sleep until CLOCK_MONOTONIC reaches @deadline_ns. @return 0 or -errno. */
int us_wl_sleep_until(uint64_t deadline_ns);

/**
 * Print one line to stdout (the serial console) with a single write(2), so
 * lines of different workloads never interleave. @return 0 or -errno.
 */
int us_wl_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * Parse a decimal argument in [@min, @max] into @out.
 * @return 0 or -EINVAL.
 */
int us_wl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
