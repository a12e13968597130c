/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper: a libqb custom log target that keeps messages in memory.
 * Threads log too (the NBD server's): the text is kept under a lock, and
 * us_logcap_text hands out a copy taken under it. */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <syslog.h>
#include <qb/qblog.h>

#include "tests/lib/logcap.h"

#define LOGCAP_SIZE 65536

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char text[LOGCAP_SIZE];
static char snapshot[LOGCAP_SIZE];
static size_t used;
static int target = -1;

static void keep_message(int32_t t, struct qb_log_callsite *cs,
			 struct timespec *ts, const char *msg)
{
	size_t n = strlen(msg);

	if (n + 2 > sizeof(text))
		return;
	pthread_mutex_lock(&lock);
	if (used + n + 2 > sizeof(text))
		used = 0;	/* full: start over, the newest lines matter */
	memcpy(text + used, msg, n);
	text[used + n] = '\n';
	used += n + 1;
	text[used] = '\0';
	pthread_mutex_unlock(&lock);
}

int us_logcap_start(void)
{
	target = qb_log_custom_open(keep_message, NULL, NULL, NULL);
	if (target < 0)
		return target;
	qb_log_filter_ctl(target, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
	qb_log_ctl(target, QB_LOG_CONF_ENABLED, QB_TRUE);
	us_logcap_clear();
	return 0;
}

const char *us_logcap_text(void)
{
	pthread_mutex_lock(&lock);
	memcpy(snapshot, text, used + 1);
	pthread_mutex_unlock(&lock);
	return snapshot;
}

void us_logcap_clear(void)
{
	pthread_mutex_lock(&lock);
	used = 0;
	text[0] = '\0';
	pthread_mutex_unlock(&lock);
}

void us_logcap_stop(void)
{
	if (target >= 0)
		qb_log_custom_close(target);
	target = -1;
}
