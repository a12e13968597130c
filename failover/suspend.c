/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Suspending protection for a while (a backup window, a noisy batch job)
 * without losing the standby: the guest runs unprotected, its output passes
 * at once, no epochs are taken, and dirty pages and disk writes go on being
 * tracked, so resuming sends only what changed.
 *
 *   state      event                           action
 *   protected  `understudy suspend-protection` SUSPEND(last sent epoch) to the
 *                                              standby, stop taking epochs
 *                                                               -> suspended
 *   suspended  SUSPEND_OK: the standby will    release all output (not before:
 *              not promote                     a standby that promoted not
 *                                              knowing would roll clients back)
 *   suspended  timer                           KEEPALIVE (loss.c): neither side
 *                                              takes the quiet for a loss
 *   suspended  `understudy resume-protection`, hold output again, checkpoint
 *              or the disk log past its        now: the one epoch carries every
 *              high-water mark                 page and disk write since
 *                                                               -> protected
 * The standby is promotable again once that epoch commits (standby.c).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>

#include "replicator/log.h"
#include "replicator/primary_int.h"

static uint64_t now_ms(void)
{
	return us_epoch_now_us() / 1000;
}

int us_primary_suspend(struct us_primary *p, char *why, size_t len)
{
	uint64_t last;

	if (p->suspended) {
		snprintf(why, len, "protection is already suspended");
		return -EALREADY;
	}
	if (!p->tx || p->lost || p->seeking || p->degraded || p->acked == US_EPOCH_NONE ||
	    (p->phase != PH_IDLE && p->phase != PH_CHECKPOINT)) {
		snprintf(why, len, "VM '%s' is not protected (state %s): nothing to suspend",
			 p->cfg->vm.name, us_primary_state_name(p));
		return -EINVAL;
	}
	if (p->switch_req || p->switch_wanted || p->pause_wanted) {
		snprintf(why, len, "a pause or switchover is under way");
		return -EBUSY;
	}
	/* the last epoch sent before the suspension: one being taken and not yet
	 * queued (p->epoch moves on once it is) still goes, with the disk writes
	 * its cut took (the SUSPEND's drain leaves them: pdisk.c) */
	last = p->phase == PH_CHECKPOINT && p->epoch == p->cur.epoch ? p->epoch : p->epoch - 1;
	if (us_transport_send_msg(p->tx, US_MSG_SUSPEND, last, NULL, 0) < 0) {
		snprintf(why, len, "cannot reach the standby");
		return -EIO;
	}
	p->suspended = 1;
	p->suspend_epoch = last;
	p->suspend_since_ms = now_ms();
	qb_loop_timer_del(p->loop, p->timer);
	p->due = 0;
	us_log(LOG_WARNING, US_TAG_PRIMARY,
	       "protection SUSPENDED for VM '%s' after epoch %lu: the "
	       "guest runs unprotected, its output released once the standby confirms; pages "
	       "and disk writes are still tracked, `understudy resume-protection` sends only "
	       "what changed",
	       p->cfg->vm.name, (unsigned long)last);
	return 0;
}

int us_primary_suspend_ok(struct us_primary *p, uint64_t epoch)
{
	if (!p->suspended || epoch != p->suspend_epoch)
		return 0; /* a resume overtook it: output stays committed */
	us_primary_pass_output(p);
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "the standby will not promote while suspended: output "
	       "released");
	return 0;
}

int us_primary_resume_protection(struct us_primary *p, const char *by, char *why, size_t len)
{
	if (!p->suspended) {
		snprintf(why, len, "protection is not suspended");
		return -EINVAL;
	}
	p->suspended = 0;
	if (!p->tx) {
		snprintf(why, len, "the standby was lost while protection was suspended");
		return 0; /* loss.c decides, as for any lost standby */
	}
	if (p->relay)
		us_relay_set_mode(p->relay, US_RELAY_BUFFERED);
	p->resume_epoch = p->epoch;
	p->resume_ms = now_ms();
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "protection of VM '%s' resumes (%s) after %lu ms "
	       "suspended: epoch %lu carries what changed meanwhile",
	       p->cfg->vm.name, by, (unsigned long)(now_ms() - p->suspend_since_ms),
	       (unsigned long)p->epoch);
	if (p->phase == PH_IDLE)
		us_epoch_start(p);
	return 0;
}

/* Epoch @epoch is built: if it is the one after a suspension, note its size. */
void us_primary_resume_sized(struct us_primary *p, uint64_t epoch, uint64_t ram, uint64_t disk)
{
	if (!p->resume_ms || epoch != p->resume_epoch)
		return;
	p->resume_ram_bytes = ram;
	p->resume_disk_bytes = disk;
}

void us_primary_resume_acked(struct us_primary *p, uint64_t epoch)
{
	if (!p->resume_ms || epoch != p->resume_epoch)
		return;
	us_log(LOG_NOTICE, US_TAG_PRIMARY,
	       "PROTECTED again after the suspension: epoch %lu (%lu "
	       "KiB of pages, %lu KiB of disk writes) committed %lu ms after resume-protection",
	       (unsigned long)epoch, (unsigned long)(p->resume_ram_bytes >> 10),
	       (unsigned long)(p->resume_disk_bytes >> 10),
	       (unsigned long)(now_ms() - p->resume_ms));
	p->resume_ms = 0;
}
