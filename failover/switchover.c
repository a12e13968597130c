/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Planned switchover, the primary's side: the VM moves to the standby, which
 * resumes it from an acknowledged epoch, and this host becomes its standby
 * with no sync (its RAM file and image are that epoch, byte for byte).
 *
 *   state      event                        action
 *   protected  `understudy switchover`      at the next checkpoint keep the
 *                                           guest stopped        -> switching
 *   switching  ACK(n) of that epoch         SWITCHOVER(n)        -> handing
 *   handing    SWITCHED(n)                  hand RAM, disk, NIC and epoch n's
 *                                           device state to the standby role;
 *                                           this QEMU stops
 *   switching  stream lost (no ACK)         in doubt: the guest stays stopped
 *   or handing                              until membership and the fence
 *                                           decide (loss.c): the standby
 *                                           fenced -> cont here, unprotected
 *   handing    REFUSE                       the standby did not take it: cont
 *                                           here; the standby counts as lost
 *
 * The new primary's side: standby.c (SWITCHOVER) and primary.c (resume).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/nbd.h"
#include "failover/failover.h"
#include "replicator/handover.h"
#include "replicator/log.h"
#include "replicator/primary_int.h"

static uint64_t now_us(void)
{
	return us_epoch_now_us();
}

int us_primary_switchover(struct us_primary *p, struct us_ctl_req *req, char *why, size_t len)
{
	if (p->switch_req || p->phase == PH_SWITCHING || p->phase == PH_HANDING) {
		snprintf(why, len, "a switchover is already under way");
		return -EALREADY;
	}
	if (!p->tx || p->lost) {
		snprintf(why, len, "no standby is connected (%s): nothing changed",
			 p->seeking ? "the VM runs unprotected" : "the link is down");
		return -ENOTCONN;
	}
	if (p->seeking || p->degraded || p->acked == US_EPOCH_NONE) {
		snprintf(why, len,
			 "the standby is not in sync yet (state %s): wait until status "
			 "says protected; nothing changed",
			 us_primary_state_name(p));
		return -EAGAIN;
	}
	if (p->suspended) {
		snprintf(why, len, "protection is suspended: run resume-protection first");
		return -EBUSY;
	}
	if (p->phase == PH_PAUSED || p->pause_wanted) {
		snprintf(why, len, "the guest is held by `understudy pause`: resume it first");
		return -EBUSY;
	}
	p->switch_req = req;
	p->switch_wanted = 1;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "switchover of VM '%s' to %s: the guest stops at the "
	       "next epoch boundary",
	       p->cfg->vm.name, us_transport_peer(p->tx));
	return 0;
}

int us_primary_switch_hold(struct us_primary *p, const void *dev, size_t len)
{
	if (!p->switch_wanted || !p->tx)
		return 0;
	p->switch_wanted = 0;
	free(p->switch_dev);
	p->switch_dev = malloc(len);
	if (!p->switch_dev) {
		us_log(LOG_ERR, US_TAG_PRIMARY, "switchover: no memory for the device state");
		if (p->switch_req)
			us_ctl_reply_error(p->switch_req, "out of memory; nothing changed");
		p->switch_req = NULL;
		return 0;
	}
	memcpy(p->switch_dev, dev, len);
	p->switch_dev_len = len;
	p->switch_epoch = p->epoch - 1;
	p->switch_stop_us = p->cur.start_ms * 1000; /* when "stop" went to QEMU */
	p->phase = PH_SWITCHING;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "switchover: guest stopped at epoch %lu; waiting for its "
	       "ACK",
	       (unsigned long)p->switch_epoch);
	return 1;
}

void us_primary_switch_acked(struct us_primary *p, uint64_t epoch)
{
	char body[8];
	uint64_t us;

	if (p->phase != PH_SWITCHING || epoch != p->switch_epoch)
		return;
	if (us_primary_settle_output(p) < 0)
		return; /* the output a flush holds would go to the new primary's host unpaid */
	us = now_us() - p->switch_stop_us;
	memcpy(body, &us, sizeof(us));
	if (p->handoff ? us_transport_send_msg(p->tx, US_MSG_HANDOFF, epoch, NULL, 0) < 0
		       : us_transport_send_msg(p->tx, US_MSG_SWITCHOVER, epoch, body,
					       sizeof(body)) < 0) {
		us_primary_lost_standby(p, "cannot send SWITCHOVER");
		return;
	}
	p->phase = PH_HANDING;
}

/* The guest runs here again: the switchover did not happen. */
void us_primary_switch_abort(struct us_primary *p, const char *why)
{
	char err[160] = "";

	if (p->phase != PH_SWITCHING && p->phase != PH_HANDING)
		return;
	us_log(LOG_WARNING, US_TAG_PRIMARY,
	       "switchover abandoned: %s; the guest resumes on this "
	       "host",
	       why);
	if (p->switch_req) {
		snprintf(err, sizeof(err), "switchover abandoned: %s; the VM runs on here", why);
		us_ctl_reply_error(p->switch_req, err);
		p->switch_req = NULL;
	}
	p->phase = p->tx ? PH_IDLE : PH_DEGRADED;
	p->handoff = p->handed_off = 0;
	if (us_qmp_call(p->qmp, "cont", NULL, NULL, err, sizeof(err), 5000) < 0)
		us_log(LOG_CRIT, US_TAG_PRIMARY,
		       "QEMU refused cont after the switchover was "
		       "abandoned: %s",
		       err);
	if (p->tx)
		us_epoch_schedule(p, 0);
}

/* The standby took the VM: this daemon becomes its standby. */
int us_primary_switched(struct us_primary *p, uint64_t epoch)
{
	struct us_handover *h = p->h;
	uint64_t pause_ms = (now_us() - p->switch_stop_us) / 1000;

	if (p->phase != PH_HANDING || epoch != p->switch_epoch) {
		us_primary_lost_standby(p, "SWITCHED out of turn");
		return 1;
	}
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "SWITCHOVER: VM '%s' runs on %s from epoch %lu; this host "
	       "becomes its standby (guest stopped here %lu ms ago)",
	       p->cfg->vm.name, us_transport_peer(p->tx), (unsigned long)epoch,
	       (unsigned long)pause_ms);
	if (p->switch_req)
		us_ctl_reply(p->switch_req,
			     json_pack("{s:b, s:I, s:s}", "ok", 1, "epoch", (json_int_t)epoch, "to",
				       us_transport_peer(p->tx)));
	p->switch_req = NULL;
	h->next = US_ROLE_STANDBY;
	h->epoch = epoch;
	h->lineage = p->lineage;
	h->devstate = p->switch_dev;
	h->devstate_len = p->switch_dev_len;
	p->switch_dev = NULL;
	h->ram = p->ram;
	p->ram.fd = -1;
	p->ram.map = NULL;
	h->relay = p->relay;
	p->relay = NULL;
	if (h->relay) {
		us_relay_detach_qemu(h->relay); /* this QEMU goes; a parked one comes */
		us_relay_set_mode(h->relay, US_RELAY_INACTIVE);
	}
	snprintf(h->net_sock, sizeof(h->net_sock), "%s", p->net_sock);
	us_primary_unwatch_disk(p);
	us_pdisk_give(&p->disk, &h->img, &h->nbd, h->disk_sock, sizeof(h->disk_sock));
	p->phase = PH_HANDED;
	p->handoff = p->handed_off = 0;
	p->switches++;
	qb_loop_stop(p->loop); /* the stream closes with the role: the standby goes on */
	return 0;
}

/* ---- the new primary: the guest was handed over stopped ---- */

int us_primary_switch_resume(struct us_primary *p)
{
	char err[256] = "";
	uint64_t t0 = now_us();

	if (us_qmp_call(p->qmp, "cont", NULL, NULL, err, sizeof(err), 10000) < 0) {
		us_log(LOG_CRIT, US_TAG_PRIMARY,
		       "switchover: QEMU refused to continue the guest: %s", err);
		return -EIO;
	}
	p->switch_pause_ms += (now_us() - t0) / 1000;
	p->switches++;
	us_log(LOG_NOTICE, US_TAG_FAILOVER,
	       "SWITCHOVER: VM '%s' runs on this host from epoch %lu; "
	       "the guest was paused %lu ms; output held until the old primary, now the standby, "
	       "acknowledges epoch %lu",
	       p->cfg->vm.name, (unsigned long)p->acked, (unsigned long)p->switch_pause_ms,
	       (unsigned long)p->epoch);
	if (p->cfg->vm.mac[0])
		us_failover_announce(p->qmp, 5000);
	return 0;
}

int us_primary_switch_standby(struct us_primary *p, uint64_t committed)
{
	p->switch_waiting = 0;
	if (committed == p->base_epoch) {
		us_log(LOG_NOTICE, US_TAG_PRIMARY,
		       "standby %s holds epoch %lu: VM '%s' protected "
		       "from epoch %lu on, with no sync",
		       us_transport_peer(p->tx), (unsigned long)committed, p->cfg->vm.name,
		       (unsigned long)p->epoch);
		p->base_epoch = US_EPOCH_NONE;
		p->phase = PH_IDLE;
		us_epoch_schedule(p, 0);
		return 0;
	}
	us_log(LOG_WARNING, US_TAG_PRIMARY,
	       "standby %s does not hold epoch %lu (it holds %ld): a "
	       "full sync, the VM unprotected until it commits",
	       us_transport_peer(p->tx), (unsigned long)p->base_epoch, (long)committed);
	p->base_epoch = US_EPOCH_NONE;
	p->seeking = 1;
	p->degraded = 1;
	p->seek_since_ms = now_us() / 1000;
	us_primary_pass_output(p);
	return us_primary_seek_synced(p, 0);
}
