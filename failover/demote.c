/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pacemaker's demote and promote, the primary's side: a switchover cut in
 * two halves, so that between them no node runs the guest and Pacemaker's
 * monitors see one stopped primary and one standby, never two copies.
 *
 *   state        event                         action
 *   protected    `understudy demote`           at the next checkpoint keep the
 *                                              guest stopped        -> switching
 *   switching    ACK(n) of that epoch          HANDOFF(n)           -> handing
 *   handing      HANDOFF_OK(n)                 answer demote: the standby holds
 *                                              n and waits for its promote
 *   handing      SWITCHED(n) (the standby's    as a switchover (switchover.c):
 *                promote)                      this host becomes its standby
 *   unprotected  `understudy demote`           QMP stop; no epochs  -> demoted
 *   switching,   `understudy promote` here     cont: the guest runs on here and
 *   handing or                                 the next epoch tells the standby
 *   demoted                                    that the handoff is off
 *   handing      stream lost                   in doubt, as a switchover: held
 *                                              stopped until Pacemaker fences
 *                                              the standby (`degrade`) or
 *                                              promotes here
 *
 * The standby's side is in replicator/standby.c (HANDOFF, promote).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>

#include "replicator/log.h"
#include "replicator/primary_int.h"

static int protected_now(const struct us_primary *p)
{
	return p->tx && !p->lost && !p->seeking && !p->degraded && !p->suspended &&
	       p->acked != US_EPOCH_NONE && p->phase != PH_PAUSED && !p->pause_wanted;
}

/* No standby holds what the guest did: hold the guest here, stopped. */
static int demote_alone(struct us_primary *p, struct us_ctl_req *req)
{
	char err[160] = "";

	p->demoted = 1; /* before the stop: a checkpoint under way must not cont */
	if (us_qmp_call(p->qmp, "stop", NULL, NULL, err, sizeof(err), 5000) < 0) {
		p->demoted = 0;
		us_ctl_reply_error(req, err[0] ? err : "QEMU refused stop");
		return 0;
	}
	us_log(LOG_WARNING, US_TAG_PRIMARY,
	       "DEMOTED: VM '%s' had no standby in sync (state %s); its guest is held "
	       "stopped here until it is promoted again or stopped",
	       p->cfg->vm.name, us_primary_state_name(p));
	us_ctl_reply(req, json_pack("{s:b, s:b}", "ok", 1, "protected", 0));
	return 0;
}

int us_primary_demote(struct us_primary *p, struct us_ctl_req *req, char *why, size_t len)
{
	if (p->demoted || p->handed_off) {
		us_ctl_reply(
			req,
			json_pack("{s:b, s:I}", "ok", 1, "epoch",
				  (json_int_t)(p->demoted ? -1 : (json_int_t)p->switch_epoch)));
		return 0;
	}
	if (p->switch_req || p->phase == PH_SWITCHING || p->phase == PH_HANDING) {
		snprintf(why, len, "%s is already under way",
			 p->handoff ? "a demote" : "a switchover");
		return -EALREADY;
	}
	if (!protected_now(p))
		return demote_alone(p, req);
	p->handoff = 1;
	p->switch_req = req;
	p->switch_wanted = 1;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "demote of VM '%s': the guest stops at the next epoch boundary and waits "
	       "there for %s's promote",
	       p->cfg->vm.name, us_transport_peer(p->tx));
	return 0;
}

int us_primary_handoff_ok(struct us_primary *p, uint64_t epoch)
{
	if (!p->handoff || p->phase != PH_HANDING || epoch != p->switch_epoch) {
		us_primary_lost_standby(p, "HANDOFF_OK out of turn");
		return 1;
	}
	p->handed_off = 1;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "DEMOTED: VM '%s' stopped at epoch %lu, which %s holds; the guest resumes "
	       "where the next promote runs",
	       p->cfg->vm.name, (unsigned long)epoch, us_transport_peer(p->tx));
	if (p->switch_req)
		us_ctl_reply(p->switch_req,
			     json_pack("{s:b, s:I, s:s}", "ok", 1, "epoch", (json_int_t)epoch, "to",
				       us_transport_peer(p->tx)));
	p->switch_req = NULL;
	return 0;
}

int us_primary_undemote(struct us_primary *p, char *why, size_t len)
{
	char err[160] = "";

	if (p->demoted) {
		if (us_qmp_call(p->qmp, "cont", NULL, NULL, err, sizeof(err), 5000) < 0) {
			snprintf(why, len, "QEMU refused cont: %s", err);
			return -EIO;
		}
		p->demoted = 0;
		us_log(LOG_NOTICE, US_TAG_PRIMARY, "PROMOTED again: VM '%s' runs on here",
		       p->cfg->vm.name);
		if (p->tx && p->phase == PH_IDLE)
			us_epoch_schedule(p, 0);
		return 0;
	}
	if (!p->handoff)
		return 0; /* running here already */
	if (p->switch_req)
		us_ctl_reply_error(p->switch_req, "promoted again on this host before the "
						  "demote finished");
	p->switch_req = NULL;
	p->handoff = 0;
	p->handed_off = 0;
	us_primary_switch_abort(p, "promoted again on this host");
	return 0;
}
