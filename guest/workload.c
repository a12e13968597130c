/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Clock, sleep, console and argument helpers for the guest workloads. Lines
 * go out in one write(2) each: the tty layer keeps a single write whole, so
 * the serial log has one workload's line per line.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "guest/workload.h"

uint64_t us_wl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * US_WL_NS_PER_SEC + ts.tv_nsec;
}

int us_wl_sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / US_WL_NS_PER_SEC,
		.tv_nsec = deadline_ns % US_WL_NS_PER_SEC,
	};
	int ret;

	do
		ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	while (ret == EINTR);
	return -ret;
}

int us_wl_print(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	ssize_t n;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -EINVAL;
	if (len > (int)sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	do
		n = write(STDOUT_FILENO, line, len);
	while (n < 0 && errno == EINTR);
	return n == len ? 0 : -EIO;
}

int us_wl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
