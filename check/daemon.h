/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The checks in the daemons: the start-up gate and the status summary.
 */
#ifndef US_CHECK_DAEMON_H
#define US_CHECK_DAEMON_H

#include <jansson.h>

#include "replicator/config.h"

/**
 * Run the host checks for @role and refuse on a FAIL; log the cluster checks
 * (never refusing on them); settle @cfg->vm.accel to "kvm" or "tcg".
 * @return 0, -EHOSTDOWN (a host check failed), or -ENODEV (accel = kvm unusable),
 * each logged with its cause and fix.
 */
int us_check_daemon_start(struct us_config *cfg, const char *role);

/** @return {check name: "LEVEL: detail"} for the cluster checks, new reference. */
json_t *us_check_daemon_status(const struct us_config *cfg, const char *role);

#endif
