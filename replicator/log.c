/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libqb logging set-up shared by the daemon, the command-line tool and the
 * tests: a tag name per subsystem in every line, the blackbox ring for daemons.
 * One recursive mutex serialises every us_log(): a daemon logs from more than
 * one thread, and libqb's logging is thread-safe only in its threaded mode,
 * which writes lines late (or never, if the process is killed).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <syslog.h>
#include <qb/qblog.h>

#include "replicator/log.h"

static const char *const tag_names[US_TAG_MAX] = {
	[US_TAG_MAIN] = "main", [US_TAG_QMP] = "qmp", [US_TAG_QEMU] = "qemu",
	[US_TAG_DIRTY] = "dirty", [US_TAG_PROTO] = "proto", [US_TAG_NET] = "net",
	[US_TAG_PRIMARY] = "primary", [US_TAG_STANDBY] = "standby",
	[US_TAG_FAILOVER] = "failover", [US_TAG_RDMA] = "rdma", [US_TAG_HB] = "heartbeat",
	[US_TAG_CTL] = "ctl", [US_TAG_DISK] = "disk",
};

static int blackbox_on;
static pthread_mutex_t log_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

void us_log_lock(void)
{
	pthread_mutex_lock(&log_lock);
}

void us_log_unlock(void)
{
	pthread_mutex_unlock(&log_lock);
}

static const char *tag_to_name(uint32_t tag)
{
	if (tag < US_TAG_MAX && tag_names[tag])
		return tag_names[tag];
	return "-";
}

int us_log_init(const char *ident, int level, int blackbox)
{
	qb_log_init(ident, LOG_DAEMON, LOG_INFO);
	qb_log_tags_stringify_fn_set(tag_to_name);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	qb_log_format_set(QB_LOG_STDERR, "%t %N %-8g %p: %b");
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	if (!blackbox)
		return 0;
	qb_log_filter_ctl(QB_LOG_BLACKBOX, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
	if (qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 1024 * 1024) < 0 ||
	    qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE) < 0)
		return -EIO;
	blackbox_on = 1;
	return 0;
}

void us_log_set_level(int level)
{
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
}

void us_log_fini(void)
{
	qb_log_fini();
	blackbox_on = 0;
}
