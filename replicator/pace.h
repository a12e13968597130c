/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * When the primary takes its next checkpoint (see pace.c): at the epoch
 * interval, but never before the guest has run several times as long as the
 * last checkpoint paused it.
 */
#ifndef US_PACE_H
#define US_PACE_H

#include <stdint.h>

/* The guest runs at least this many times the last pause between checkpoints... */
#define US_PACE_RUN_PER_PAUSE 4
/* ...but never longer than this many epoch intervals (epoch 0's pause copies all RAM). */
#define US_PACE_MAX_EPOCHS 10

/**
 * @epoch_ms: the configured interval; @pause_us: how long the last
 * checkpoint held the guest stopped. @return how long the guest must run
 * before the next checkpoint: US_PACE_RUN_PER_PAUSE times the pause, at
 * most US_PACE_MAX_EPOCHS intervals.
 */
uint64_t us_pace_run_ms(uint64_t epoch_ms, uint64_t pause_us);

/**
 * @start_ms: when the last checkpoint began (QMP stop sent), monotonic;
 * @now_ms: now, the guest just resumed; @epoch_ms: the configured interval;
 * @pause_us: how long that checkpoint held the guest stopped.
 * @return the delay in ms before the next checkpoint.
 */
uint64_t us_pace_delay_ms(uint64_t start_ms, uint64_t now_ms, uint64_t epoch_ms, uint64_t pause_us);

#endif
