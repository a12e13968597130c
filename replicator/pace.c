/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pacing of the primary's checkpoints. The epoch interval counts from one
 * checkpoint's start to the next, so a pause longer than the interval left
 * the guest almost no time to run: the next "stop" went out as soon as
 * "cont" was answered. That is what a guest writing its disk met: QMP stop
 * drains and flushes the disk, the pause grew past 50 ms on a busy host,
 * and back-to-back checkpoints let dd run a few milliseconds per epoch
 * (bench/disk.sh: protected sequential writes at 13 % of unprotected).
 * So the guest always runs US_PACE_RUN_PER_PAUSE times as long as it was
 * paused: checkpoints take at most a fifth of its time however long they
 * get, and the epoch stretches instead (output waits longer, never the
 * guest's work). Short pauses keep the configured interval. The stretch
 * stops at US_PACE_MAX_EPOCHS intervals: the pause of a sync's epoch 0
 * (all of RAM copied) is seconds long, and an epoch after it that ran four
 * times that long grew so large that its ACK came past peer_timeout_ms on
 * a loaded host (bench/disk.sh lost its standby so).
 */
#include <config.h>

#include "replicator/pace.h"

uint64_t us_pace_run_ms(uint64_t epoch_ms, uint64_t pause_us)
{
	uint64_t run_ms = (pause_us * US_PACE_RUN_PER_PAUSE + 999) / 1000;

	return run_ms > epoch_ms * US_PACE_MAX_EPOCHS ? epoch_ms * US_PACE_MAX_EPOCHS : run_ms;
}

uint64_t us_pace_delay_ms(uint64_t start_ms, uint64_t now_ms, uint64_t epoch_ms, uint64_t pause_us)
{
	uint64_t next = start_ms + epoch_ms;
	uint64_t run_ms = us_pace_run_ms(epoch_ms, pause_us);

	if (next < now_ms + run_ms)
		next = now_ms + run_ms;
	return next - now_ms;
}
