/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Block hashes for the disk resync: SHA-256 (collision-resistant, since the
 * guest chooses what its disk holds) of each US_PROTO_HASH_BLOCK of an image.
 */
#ifndef US_DISK_BLOCKHASH_H
#define US_DISK_BLOCKHASH_H

#include <stddef.h>
#include <stdint.h>

/** SHA-256 of @len bytes at @data into @out (US_PROTO_HASH_LEN bytes). */
void us_blockhash(const void *data, size_t len, unsigned char *out);

/**
 * Read block @block of the image @fd of @size bytes into @buf (at least
 * US_PROTO_HASH_BLOCK bytes) and hash it.
 * @return the block's length (the last may be short), or -errno.
 */
int64_t us_blockhash_read(int fd, uint64_t size, uint64_t block, void *buf, unsigned char *out);

/** @return the number of hash blocks in an image of @size bytes. */
uint64_t us_blockhash_blocks(uint64_t size);

#endif
