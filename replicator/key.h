/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared key of the replication channel: `understudy keygen FILE`
 * writes one, [replication] key_file names it on both hosts.
 * The file holds 64 hex digits (32 random bytes) and a newline, mode 0600.
 */
#ifndef US_KEY_H
#define US_KEY_H

#include <stddef.h>

#include "rdma/auth.h"

/**
 * Write a fresh key to @path (created, never overwritten, mode 0600).
 * @return 0 or -errno with the cause in @why.
 */
int us_key_generate(const char *path, char *why, size_t len);

/**
 * Read the key at @path. Refused: a file others can read or write (-EPERM),
 * not a regular file, or not 64 hex digits (-EINVAL); @why says which and
 * the fix. @return 0 or -errno.
 */
int us_key_load(const char *path, struct us_auth_key *key, char *why, size_t len);

#endif
