/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The checks as the daemons use them: at start-up the host checks gate the
 * start (a FAIL refuses it, naming the check and its fix), the cluster
 * checks are only logged, and the accelerator is settled; in `status` the
 * cluster checks are shown again, re-run at most every few seconds.
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "check/accel.h"
#include "check/check_int.h"
#include "check/daemon.h"
#include "replicator/log.h"

#define STATUS_REFRESH_MS 5000

static void log_items(const struct us_check_report *r, int prio_fail)
{
	unsigned i;

	for (i = 0; i < r->n; i++) {
		const struct us_check_item *it = &r->item[i];

		if (it->level == US_CHECK_PASS)
			us_log(LOG_DEBUG, US_TAG_MAIN, "check %s: PASS: %s", it->name, it->detail);
		else
			us_log(it->level == US_CHECK_FAIL ? prio_fail : LOG_WARNING, US_TAG_MAIN,
			       "check %s: %s: %s; fix: %s", it->name,
			       us_check_level_name(it->level), it->detail, it->fix);
	}
}

int us_check_daemon_start(struct us_config *cfg, const char *role)
{
	const struct us_check_sys *sys = us_check_sys_real();
	struct us_check_report r = { 0 };
	const struct us_check_item *bad;

	us_check_host(cfg, role, sys, &r);
	log_items(&r, LOG_ERR);
	bad = us_check_first(&r, US_CHECK_FAIL);
	if (bad) {
		us_log(LOG_CRIT, US_TAG_MAIN,
		       "the %s refuses to start: host check %s failed: %s "
		       "(see `understudy check --host -c CONFIG`)",
		       role, bad->name, bad->detail);
		return -EHOSTDOWN;
	}
	memset(&r, 0, sizeof(r));
	us_check_cluster(cfg, role, 0, sys, &r);
	log_items(&r, LOG_WARNING);
	return us_accel_resolve(&cfg->vm, sys);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *us_check_daemon_status(const struct us_config *cfg, const char *role)
{
	static struct us_check_report r;
	static int64_t at = -STATUS_REFRESH_MS;
	json_t *o = json_object();
	char text[US_CHECK_TEXT + 8];
	unsigned i;

	if (now_ms() - at >= STATUS_REFRESH_MS) {
		memset(&r, 0, sizeof(r));
		us_check_cluster(cfg, role, 1, us_check_sys_real(), &r);
		at = now_ms();
	}
	for (i = 0; o && i < r.n; i++) {
		snprintf(text, sizeof(text), "%s: %s", us_check_level_name(r.item[i].level),
			 r.item[i].detail);
		json_object_set_new(o, r.item[i].name, json_string(text));
	}
	return o;
}
