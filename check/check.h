/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Preflight checks, as virt-host-validate does for libvirt: each check gives
 * PASS, WARN or FAIL, what it found, and for anything short of PASS the fix.
 * Host checks (kernel, accelerator, QEMU, shm_dir, memory, bridge) gate a
 * daemon's start; cluster checks (corosync, quorum, fence command, RDMA,
 * the replication address) change over time and are only reported.
 */
#ifndef US_CHECK_H
#define US_CHECK_H

#include <stdio.h>
#include <jansson.h>

#include "replicator/config.h"

#define US_CHECK_MAX 32
#define US_CHECK_TEXT 320

enum us_check_level {
	US_CHECK_PASS = 0,
	US_CHECK_WARN = 1,
	US_CHECK_FAIL = 2,
};

struct us_check_item {
	char name[24]; /* "kernel.uffd-wp-async", ... */
	enum us_check_level level;
	char detail[US_CHECK_TEXT]; /* what was found */
	char fix[US_CHECK_TEXT];    /* what to do, "" on PASS */
};

struct us_check_report {
	struct us_check_item item[US_CHECK_MAX];
	unsigned n;
};

struct us_check_sys;

/** The probe of the machine this runs on (tests pass fakes). */
const struct us_check_sys *us_check_sys_real(void);

/**
 * Run the host checks for @cfg in @role ("primary", "standby" or NULL for
 * either) through @sys, appending to @r.
 */
void us_check_host(const struct us_config *cfg, const char *role, const struct us_check_sys *sys,
		   struct us_check_report *r);

/**
 * Run the cluster checks. @in_daemon: the caller is the VM's daemon, which
 * holds the replication address itself (its bind is not tried).
 */
void us_check_cluster(const struct us_config *cfg, const char *role, int in_daemon,
		      const struct us_check_sys *sys, struct us_check_report *r);

/** @return the worst level in @r. */
enum us_check_level us_check_worst(const struct us_check_report *r);

/** @return the first item at @level, or NULL. */
const struct us_check_item *us_check_first(const struct us_check_report *r,
					   enum us_check_level level);

/** One line per check ("PASS name: detail", then "      fix: ..."). */
void us_check_print(const struct us_check_report *r, FILE *f);

/** @return {"ok": bool, "checks": [{name, result, detail, fix}]}, new ref. */
json_t *us_check_json(const struct us_check_report *r);

/** "PASS", "WARN" or "FAIL". */
const char *us_check_level_name(enum us_check_level level);

#endif
