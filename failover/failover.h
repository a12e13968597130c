/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Taking over: the one place that decides whether a standby promotes, and the
 * promotion itself (parked QEMU loads the last committed device state over the
 * replica RAM and continues).
 */
#ifndef US_FAILOVER_H
#define US_FAILOVER_H

#include <stddef.h>
#include <stdint.h>
#include "replicator/qmp.h"

enum us_trigger {
	US_TRIGGER_STREAM_LOST = 1,	/* the replication stream broke or went silent */
	US_TRIGGER_OPERATOR = 2,	/* `understudy promote` */
};

enum us_verdict {
	US_VERDICT_WAIT = 0,	/* stay standby */
	US_VERDICT_PROMOTE = 1,
	US_VERDICT_REFUSE = 2,	/* cannot promote (no committed epoch, ...) */
};

struct us_failover_input {
	enum us_trigger trigger;
	int promote_auto;	/* config: stream loss may promote by itself */
	uint64_t committed;	/* US_EPOCH_NONE if nothing to promote from */
	int active;		/* already promoted */
};

/**
 * The single decision point for promotion. Membership and fencing replace the
 * stream-loss rule here, nowhere else.
 * @return the verdict; @why says why in words for the log and the operator.
 */
enum us_verdict us_failover_decide(const struct us_failover_input *in, char *why, size_t whylen);

struct us_promote_args {
	struct us_qmp *qmp;		/* the parked QEMU, prepared for x-ignore-shared */
	const char *sock_path;		/* unix socket for migrate-incoming */
	const void *devstate;		/* committed device state */
	size_t devstate_len;
	int announce;			/* the VM has a NIC: announce-self after cont */
	int timeout_ms;
};

/**
 * Load the committed device state into the parked QEMU and continue the guest.
 * @return 0 or -errno with QEMU's error logged.
 */
int us_failover_promote(const struct us_promote_args *a);

#endif
