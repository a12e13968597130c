/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The promotion decision (see failover.h). For now a broken or silent
 * replication stream decides when automatic promotion is configured; the
 * membership issue makes it a suspicion only, here.
 */
#include <config.h>

#include <stdio.h>

#include "failover/failover.h"
#include "replicator/proto.h"

enum us_verdict us_failover_decide(const struct us_failover_input *in, char *why, size_t whylen)
{
	if (in->active) {
		snprintf(why, whylen, "already active");
		return US_VERDICT_REFUSE;
	}
	if (in->committed == US_EPOCH_NONE) {
		snprintf(why, whylen, "no committed epoch yet: the initial sync never completed, "
			 "there is no consistent state to resume from");
		return US_VERDICT_REFUSE;
	}
	if (in->trigger == US_TRIGGER_OPERATOR) {
		snprintf(why, whylen, "operator request");
		return US_VERDICT_PROMOTE;
	}
	if (!in->promote_auto) {
		snprintf(why, whylen, "[failover] promote = manual: waiting for `understudy promote`");
		return US_VERDICT_WAIT;
	}
	snprintf(why, whylen, "replication stream from the primary lost");
	return US_VERDICT_PROMOTE;
}
