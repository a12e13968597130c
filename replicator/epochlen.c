/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How long an epoch lasts. With a fixed epoch_ms the interval from one
 * checkpoint's start to the next is that. With epoch_ms = auto it is the
 * shortest interval that keeps the guest's paused share of wall time under
 * pause_share: the pause P of a checkpoint over the interval E is the share,
 * so E = P / share, with P a moving average (one slow pause must not double
 * the next epoch, a run of them must). Short epochs hold the guest's output
 * for less time, so the interval never goes above what the share needs, and
 * it stays within [epoch_ms_min, epoch_ms_max]: the latter bounds how long
 * a client's reply can be held. The pause grows with the interval (more
 * pages dirty), which this loop follows one checkpoint at a time.
 */
#include <config.h>

#include "replicator/epochlen.h"

#define EL_WEIGHT 0.2 /* of the newest sample in each moving average */

void us_epochlen_init(struct us_epochlen *el, unsigned fixed_ms, unsigned share_pct,
		      unsigned min_ms, unsigned max_ms)
{
	*el = (struct us_epochlen){
		.fixed_ms = fixed_ms, .share_pct = share_pct, .min_ms = min_ms, .max_ms = max_ms
	};
	el->cur_ms = fixed_ms ? fixed_ms : min_ms;
}

static double average(double avg, double sample, int first)
{
	return first ? sample : avg + EL_WEIGHT * (sample - avg);
}

static unsigned clamp(double ms, unsigned lo, unsigned hi)
{
	if (ms < lo)
		return lo;
	return ms > hi ? hi : (unsigned)(ms + 0.5);
}

unsigned us_epochlen_next(struct us_epochlen *el, uint64_t start_us, uint64_t pause_us)
{
	int first = el->last_start_us == 0;

	if (!first && start_us > el->last_start_us) {
		double share = (double)pause_us / (double)(start_us - el->last_start_us);

		el->share = average(el->share, share > 1 ? 1 : share, el->share == 0);
	}
	el->pause_us = average(el->pause_us, (double)pause_us, first);
	el->last_start_us = start_us;
	if (!el->fixed_ms && el->share_pct)
		el->cur_ms = clamp(el->pause_us * 100.0 / el->share_pct / 1000.0, el->min_ms,
				   el->max_ms);
	return el->cur_ms;
}

unsigned us_epochlen_share_permille(const struct us_epochlen *el)
{
	return (unsigned)(el->share * 1000.0 + 0.5);
}
