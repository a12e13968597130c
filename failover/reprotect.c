/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Protecting a running VM again. A primary whose guest runs unprotected (a
 * promoted standby's, or one whose standby was lost for good) looks for a
 * standby at [replication] peer, syncs it while the guest runs and is
 * protected once that sync, its epoch 0, is acknowledged:
 *
 *   state        event                           action
 *   unprotected  retry timer                     connect to the peer, HELLO
 *   unprotected  HELLO_OK                        re-arm dirty tracking, log disk
 *                                                writes, stream RAM and disk
 *                                                (epoch 0)               -> syncing
 *   syncing      epoch 0's stop                  output is held from here on
 *   syncing      stream lost, epoch 0 not sent   the standby holds nothing it
 *                                                could promote: no fence; output
 *                                                passes again; retry  -> unprotected
 *   syncing      stream lost, epoch 0 sent       as a protected primary (loss.c):
 *                                                held output, fence, degrade
 *   syncing      ACK(0)                          output committed per epoch
 *                                                                      -> protected
 *   protected    verdict degrade (loss.c)        reprotect = auto: -> unprotected
 *   degraded     `understudy reprotect`          -> unprotected
 *
 * Until ACK(0) nothing the guest says is held, as before the sync: a
 * standby without a committed epoch can never be promoted, so there is
 * nothing to roll back to.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replicator/log.h"
#include "replicator/primary_int.h"

#define RETRY_MS 1000

static uint64_t now_ms(void)
{
	return us_epoch_now_us() / 1000;
}

void us_primary_seek(struct us_primary *p, const char *why)
{
	p->seeking = 1;
	p->seek_sent = 0;
	p->suspended = 0;
	p->degraded = 1;
	p->lost = 0;
	p->seek_since_ms = now_ms();
	us_primary_pass_output(p);
	if (p->phase != PH_CHECKPOINT)
		p->phase = PH_CONNECTING;
	us_primary_peer_renew(p);
	us_log(LOG_WARNING, US_TAG_PRIMARY,
	       "VM '%s' runs UNPROTECTED (%s); looking for a standby "
	       "at %s%s%s to protect it again",
	       p->cfg->vm.name, why, p->cfg->peer, p->cfg->peer_node[0] ? ", node " : "",
	       p->cfg->peer_node);
	us_primary_connect_later(p, 0);
}

int us_primary_seek_synced(struct us_primary *p, uint64_t standby_pages)
{
	int rc = 0;

	p->epoch = 0;
	p->acked = US_EPOCH_NONE;
	memset(p->hist, 0, sizeof(p->hist));
	if (p->sync_resume && standby_pages) {
		/* pages sent before the break and written since are still marked
		 * dirty (no scan since the sync began): epoch 0's scan sends them */
		if (standby_pages < p->sync_next)
			p->sync_next = standby_pages;
		us_log(LOG_NOTICE, US_TAG_PRIMARY,
		       "standby %s holds the first %lu MiB of the "
		       "broken-off sync: it goes on from there",
		       us_transport_peer(p->tx),
		       (unsigned long)(p->sync_next * US_PROTO_PAGE_SIZE >> 20));
	} else {
		/* pages written from here on are caught by epoch 0's scan, the rest by the sync */
		p->sync_next = 0;
		us_runs_clear(&p->runs);
		rc = us_dirty_scan(p->dirty, &p->runs);
		us_runs_clear(&p->runs);
	}
	p->sync_resume = 0;
	if (rc < 0) {
		us_log(LOG_CRIT, US_TAG_DIRTY, "cannot re-arm dirty tracking for the sync: %s",
		       strerror(-rc));
		us_primary_lost_standby(p, "dirty tracking failed");
		return rc;
	}
	us_pdisk_record(&p->disk, 1);
	p->syncs++;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "standby %s accepted VM '%s'; syncing it while the guest "
	       "runs (sync %lu of this daemon)",
	       us_transport_peer(p->tx), p->cfg->vm.name, (unsigned long)p->syncs);
	us_primary_sync_start(p);
	return 0;
}

void us_primary_seek_cut(struct us_primary *p)
{
	if (p->seeking && p->relay)
		us_relay_set_mode(p->relay, US_RELAY_BUFFERED);
}

void us_primary_seek_done(struct us_primary *p)
{
	p->seeking = 0;
	p->degraded = 0;
	p->lost = 0;
	p->last_why[0] = 0;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "PROTECTED AGAIN: standby %s holds epoch 0 of VM '%s', "
	       "%lu ms after protection was lost; output is committed per epoch again",
	       p->tx ? us_transport_peer(p->tx) : "?", p->cfg->vm.name,
	       (unsigned long)(now_ms() - p->seek_since_ms));
	if (p->peer)
		us_peer_announce(p->peer, US_HB_ROLE_PRIMARY, 0);
	us_primary_member_check(p);
}

int us_primary_seek_lost(struct us_primary *p, const char *why)
{
	int syncing = p->phase == PH_SYNC || p->phase == PH_CHECKPOINT;

	/* the first sync after start: epoch 0 not queued yet (p->epoch moves past 0 then) */
	if (!p->seeking && (p->acked != US_EPOCH_NONE || p->epoch != 0 || !syncing))
		return 0;
	if (p->seeking && p->seek_sent)
		return 0;
	if (!p->seeking) {
		p->seeking = 1;
		p->degraded = 1;
		p->seek_since_ms = now_ms();
	}
	p->sync_resume = syncing && p->sync_next > 0;
	us_log(LOG_WARNING, US_TAG_PRIMARY,
	       "LOST THE STANDBY during the sync (%s): it holds "
	       "nothing it could promote, so it is not fenced; VM '%s' runs unprotected, its "
	       "output passing, and the sync goes on when a standby answers",
	       why, p->cfg->vm.name);
	us_transport_free(p->tx);
	p->tx = NULL;
	us_pdisk_unreplicated(&p->disk);
	us_primary_pass_output(p);
	if (p->phase != PH_CHECKPOINT)
		p->phase = PH_CONNECTING;
	us_primary_connect_later(p, RETRY_MS);
	return 1;
}

int us_primary_reprotect(struct us_primary *p, char *why, size_t len)
{
	if (p->seeking) {
		snprintf(why, len, "already %s",
			 p->tx ? "syncing a standby"
			       : "looking for a standby at [replication] peer");
		return -EALREADY;
	}
	if (!p->degraded) {
		snprintf(why, len, "VM '%s' is %s: nothing to reprotect", p->cfg->vm.name,
			 p->lost ? "holding its output until the lost standby is known gone"
				 : "protected");
		return -EBUSY;
	}
	us_primary_seek(p, "operator request (`understudy reprotect`)");
	return 0;
}
