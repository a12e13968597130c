/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Promotion: the parked "-incoming defer" QEMU already maps the replica RAM;
 * load the committed device state, continue the guest, announce its MAC.
 * The announce (QMP announce-self: a RARP from the NIC's MAC, and a guest
 * announce where virtio-net offers it) is what moves the MAC to this host's
 * port in the LAN's switches; it does not undo a takeover when it fails.
 */
#include <config.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "failover/failover.h"
#include "replicator/devstate.h"
#include "replicator/log.h"

/*
 * QEMU's own defaults for the announce after a migration (migrate-set-
 * parameters announce-*): announce-self has no defaults and refuses a call
 * without them ("Parameter 'initial' is missing"). Five rounds, the first
 * 50 ms after the call, each 100 ms later than the one before, at most 550 ms.
 */
enum {
	US_ANNOUNCE_INITIAL_MS = 50,
	US_ANNOUNCE_MAX_MS = 550,
	US_ANNOUNCE_ROUNDS = 5,
	US_ANNOUNCE_STEP_MS = 100,
};

/* Announce the guest's MAC on the LAN; @return 0 or -errno, QEMU's error in @err. */
static int announce_self(struct us_qmp *qmp, char *err, size_t errlen, int timeout_ms)
{
	json_t *args;

	args = json_pack("{s:i, s:i, s:i, s:i}",
			 "initial", US_ANNOUNCE_INITIAL_MS, "max", US_ANNOUNCE_MAX_MS,
			 "rounds", US_ANNOUNCE_ROUNDS, "step", US_ANNOUNCE_STEP_MS);
	if (!args) {
		snprintf(err, errlen, "out of memory for its arguments");
		return -ENOMEM;
	}
	return us_qmp_call(qmp, "announce-self", args, NULL, err, errlen, timeout_ms);
}

int us_failover_promote(const struct us_promote_args *a)
{
	char err[256] = "";
	int rc;

	/* Flushes the guest saw acknowledged may be in this host's page cache only. */
	if (a->disk_fd >= 0 && fdatasync(a->disk_fd) < 0) {
		rc = -errno;
		us_log(LOG_CRIT, US_TAG_FAILOVER, "cannot sync the replica image to stable storage: "
		       "%s", strerror(-rc));
		return rc;
	}
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
	if (a->announce)
		us_failover_announce(a->qmp, a->timeout_ms);
	return 0;
}

void us_failover_announce(struct us_qmp *qmp, int timeout_ms)
{
	char err[256] = "";

	if (announce_self(qmp, err, sizeof(err), timeout_ms) < 0)
		us_log(LOG_WARNING, US_TAG_FAILOVER, "announce-self failed (%s): the LAN learns the "
		       "MAC's new port from the guest's next frame", err);
}
