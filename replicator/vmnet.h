/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The VM's network as configured: the relay for its NIC (none without a MAC),
 * with the same socket and tap naming on the primary and the standby.
 */
#ifndef US_VMNET_H
#define US_VMNET_H

#include <stddef.h>
#include "netbuf/relay.h"
#include "replicator/config.h"

/**
 * Start the relay for @c's NIC in @mode; *@out stays NULL and @sock "" when
 * the VM has no NIC. @sock receives the unix socket path QEMU must use.
 * @return 0 or -errno with the cause logged.
 */
int us_vmnet_start(qb_loop_t *loop, const struct us_config *c, enum us_relay_mode mode,
		   struct us_relay **out, char *sock, size_t socklen);

/** Add the relay's counters to a status object (nothing for NULL). */
void us_vmnet_status(const struct us_relay *r, void *json_object);

#endif
