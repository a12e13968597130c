/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A VM's daemon across its roles (see role.c for the state table).
 */
#ifndef US_ROLE_H
#define US_ROLE_H

#include "replicator/config.h"
#include "replicator/handover.h"
#include "replicator/primary.h"

/** @return "primary", "standby" or "none". */
const char *us_role_name(enum us_role r);

/**
 * Run the daemon of @cfg's VM, first as @first, then in whatever role each
 * role hands over to, until it is stopped.
 * @return 0 on a clean stop, or -errno with the cause logged.
 */
int us_role_run(const struct us_config *cfg, enum us_role first, const struct us_primary_opts *po);

#endif
