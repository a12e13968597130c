/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a short-lived helper program for a check and capturing its output.
 */
#ifndef US_CHECK_RUN_H
#define US_CHECK_RUN_H

#include <stddef.h>

/**
 * Run @argv (looked up in PATH) with @input (or nothing) on stdin, its stdout
 * into @out (NUL-terminated, cut at @len - 1), stderr discarded; kill it
 * after @timeout_ms.
 * @return 0, -ENOENT (no such program), -ETIMEDOUT, or -errno.
 */
int us_check_run(char *const argv[], const char *input, char *out, size_t len, int timeout_ms);

#endif
