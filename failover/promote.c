/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Promotion: the parked "-incoming defer" QEMU already maps the replica RAM;
 * load the committed device state, continue the guest, announce its MAC.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "failover/failover.h"
#include "replicator/devstate.h"
#include "replicator/log.h"

int us_failover_promote(const struct us_promote_args *a)
{
	char err[256] = "";
	int rc;

	rc = us_devstate_restore(a->qmp, a->sock_path, a->devstate, a->devstate_len, a->timeout_ms);
	if (rc < 0) {
		us_log(LOG_CRIT, US_TAG_FAILOVER, "the parked QEMU could not load the device state: %s",
		       strerror(-rc));
		return rc;
	}
	rc = us_qmp_call(a->qmp, "cont", NULL, NULL, err, sizeof(err), a->timeout_ms);
	if (rc < 0) {
		us_log(LOG_CRIT, US_TAG_FAILOVER, "QEMU refused to continue the guest: %s", err);
		return rc;
	}
	if (a->announce && us_qmp_call(a->qmp, "announce-self", NULL, NULL, err, sizeof(err),
				       a->timeout_ms) < 0)
		us_log(LOG_WARNING, US_TAG_FAILOVER, "announce-self failed (%s): the LAN learns the "
		       "MAC's new port from the guest's next frame", err);
	return 0;
}
