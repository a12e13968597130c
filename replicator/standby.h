/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby daemon: parks a QEMU on the replica RAM, receives epochs from
 * the primary, and takes over when the decision point says so.
 */
#ifndef US_STANDBY_H
#define US_STANDBY_H

#include "replicator/config.h"

/**
 * Run the standby until SIGTERM/SIGINT or a fatal error; tears everything
 * down (QEMU, replica file, sockets) before returning. After a promotion the
 * daemon keeps running the VM until it is stopped.
 * @return 0 on a clean stop, or -errno with the cause logged.
 */
int us_standby_run(const struct us_config *cfg);

#endif
