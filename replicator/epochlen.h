/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef US_EPOCHLEN_H
#define US_EPOCHLEN_H

#include <stdint.h>

/* The checkpoint interval in force: fixed, or adapted to the paused share. */
struct us_epochlen {
	unsigned fixed_ms;	 /* 0: epoch_ms = auto */
	unsigned share_pct;	 /* auto: the bound on the paused share of wall time */
	unsigned min_ms, max_ms; /* auto: the interval stays within these */
	unsigned cur_ms;	 /* the interval in force, start to start */
	uint64_t last_start_us;	 /* the previous checkpoint's start, 0 before one */
	double pause_us;	 /* moving average of the pause */
	double share;		 /* moving average of pause / interval, 0..1 */
};

void us_epochlen_init(struct us_epochlen *el, unsigned fixed_ms, unsigned share_pct,
		      unsigned min_ms, unsigned max_ms);
/* One checkpoint started at @start_us paused the guest @pause_us: the next
 * interval, in milliseconds from @start_us. */
unsigned us_epochlen_next(struct us_epochlen *el, uint64_t start_us, uint64_t pause_us);
/* The paused share of wall time, in tenths of a percent. */
unsigned us_epochlen_share_permille(const struct us_epochlen *el);

#endif
