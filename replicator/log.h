/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging for every understudy module: libqb's qb_log with one tag per
 * subsystem, stderr or syslog target, and the blackbox ring on so that a
 * crash leaves its last lines behind in /dev/shm (removed on clean exit).
 */
#ifndef US_LOG_H
#define US_LOG_H

#include <qb/qblog.h>

enum us_log_tag {
	US_TAG_MAIN = 0,
	US_TAG_QMP,
	US_TAG_QEMU,
	US_TAG_DIRTY,
	US_TAG_PROTO,
	US_TAG_NET,
	US_TAG_PRIMARY,
	US_TAG_STANDBY,
	US_TAG_FAILOVER,
	US_TAG_RDMA,
	US_TAG_HB,
	US_TAG_CTL,
	US_TAG_DISK,
	US_TAG_MAX
};

/* Serialises logging between threads (the disk's NBD server has its own):
 * libqb's logging is thread-safe only in its threaded mode. Recursive. */
void us_log_lock(void);
void us_log_unlock(void);

/* us_log(LOG_INFO, US_TAG_QMP, "fmt", ...): one line, tagged; any thread. */
#define us_log(prio, tag, ...)                     \
	do {                                       \
		us_log_lock();                     \
		qb_logt(prio, tag, __VA_ARGS__);   \
		us_log_unlock();                   \
	} while (0)

/**
 * Start logging for program @ident at @level (LOG_ERR..LOG_DEBUG) on stderr.
 * @blackbox: keep the in-memory ring (daemons); tools pass 0.
 * @return 0 or -errno.
 */
int us_log_init(const char *ident, int level, int blackbox);

/** Log to stderr at @level (LOG_ERR..LOG_DEBUG) from now on. */
void us_log_set_level(int level);

/** Stop logging and remove the blackbox ring. */
void us_log_fini(void);

#endif
