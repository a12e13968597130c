/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby daemon: parks a QEMU on the replica RAM, receives epochs from
 * the primary, and takes over when the decision point says so.
 */
#ifndef US_STANDBY_H
#define US_STANDBY_H

#include "replicator/config.h"

struct us_handover;

/**
 * Run the standby on @h's loop until SIGTERM/SIGINT or a fatal error; tears everything
 * down (QEMU, replica file, sockets) before returning. After a promotion
 * with [failover] reprotect = auto (or `understudy reprotect`) it returns 0
 * with the running QEMU and what it is connected to moved into @h and
 * h->next = US_ROLE_PRIMARY; otherwise it runs the VM until stopped.
 * @return 0 on a clean stop, or -errno with the cause logged.
 */
int us_standby_run(const struct us_config *cfg, struct us_handover *h);

#endif
