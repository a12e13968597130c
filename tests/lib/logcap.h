/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test helper: capture what understudy logs through libqb, so a test can
 * assert that an error message names its cause.
 */
#ifndef US_TEST_LOGCAP_H
#define US_TEST_LOGCAP_H

/** Start capturing every message (all tags, up to LOG_DEBUG). @return 0 or -errno. */
int us_logcap_start(void);

/** @return a copy of everything captured since the last clear, one message per
 * line, good until the next call. */
const char *us_logcap_text(void);

/** Forget what was captured. */
void us_logcap_clear(void);

/** Stop capturing. */
void us_logcap_stop(void);

#endif
