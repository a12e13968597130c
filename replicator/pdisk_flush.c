/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's disk flushes outside the guest's pause. QMP `stop` drains
 * the disk and then flushes it, so every checkpoint of a guest that wrote
 * used to pay an fdatasync of the epoch's writes inside the pause (a p99
 * `stop` of 80 ms under dd, bench/disk.sh). The NBD server now answers the
 * FLUSHes that come during a checkpoint's stop at once and a thread pays
 * them (disk/flusher.c) while the guest runs on. What a guest was told is
 * on stable storage still is before anyone outside hears of it: the output
 * of that epoch and later waits for the flusher as well as for the ACK.
 *
 *   stop sent         defer: a FLUSH is answered unsynced, owed
 *   stop answered     no more deferring; a FLUSH owed: kick the flusher;
 *                     epoch n's output, and every later one's, waits for it
 *   ACK(m)            output of epochs <= min(m, first waiting - 1) goes
 *   flusher done(k)   kicks <= k are paid; once that is the last kick,
 *                     the output up to the ACKs goes (kicks are numbered
 *                     apart from epochs, which start over with a session)
 *   output unheld     (degraded, suspended, seeking, switchover, stop):
 *                     the owed fdatasync is paid at once, on this thread
 *
 * Only while the output is held (a relay in buffered mode): with it passing,
 * the guest's flushes are paid before their reply, as unprotected.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "disk/flusher.h"
#include "disk/nbd.h"
#include "replicator/log.h"
#include "replicator/pdisk.h"

void us_pdisk_flusher_up(struct us_pdisk *d)
{
	d->holding = 0;
	if (!d->nbd)
		return;
	d->flusher = us_flusher_new(d->nbd);
	if (!d->flusher)
		us_log(LOG_WARNING, US_TAG_PRIMARY,
		       "no thread for the disk's flushes (%s): each checkpoint's pause pays them",
		       strerror(errno));
}

int us_pdisk_flusher_fd(const struct us_pdisk *d)
{
	return d->flusher ? us_flusher_fd(d->flusher) : -1;
}

void us_pdisk_stopping(struct us_pdisk *d, int output_held)
{
	if (d->nbd)
		us_nbd_defer_flush(d->nbd, output_held && d->flusher);
}

void us_pdisk_stopped(struct us_pdisk *d, uint64_t epoch)
{
	if (!d->flusher)
		return;
	us_nbd_defer_flush(d->nbd, 0);
	if (!us_nbd_take_owed(d->nbd))
		return;
	us_flusher_kick(d->flusher, ++d->kicks);
	if (!d->holding)
		d->hold_from = epoch;
	d->holding = 1;
	d->flushes_deferred++;
}

int us_pdisk_flushed(struct us_pdisk *d)
{
	uint64_t t;
	int err;

	if (!d->flusher || us_flusher_done(d->flusher, &t, &err) <= 0)
		return 0;
	if (err < 0)
		return err;
	if (d->holding && t >= d->kicks)
		d->holding = 0; /* else the flusher syncs again at once, for the later kicks */
	return 0;
}

uint64_t us_pdisk_output_limit(const struct us_pdisk *d, uint64_t acked)
{
	if (acked == US_EPOCH_NONE || !d->holding)
		return acked;
	if (d->hold_from == 0)
		return US_EPOCH_NONE;
	return acked < d->hold_from ? acked : d->hold_from - 1;
}

int us_pdisk_settle(struct us_pdisk *d)
{
	int rc;

	if (!d->holding)
		return 0;
	rc = us_nbd_sync(d->nbd);
	if (rc == 0)
		d->holding = 0;
	return rc;
}

void us_pdisk_flusher_down(struct us_pdisk *d)
{
	int rc = us_pdisk_settle(d);

	if (rc < 0)
		us_log(LOG_CRIT, US_TAG_PRIMARY, "fdatasync of the disk image failed: %s",
		       strerror(-rc));
	us_flusher_free(d->flusher);
	d->flusher = NULL;
}
