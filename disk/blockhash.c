/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Block hashes (see blockhash.h), with nettle's SHA-256.
 */
#include <config.h>

#include <errno.h>
#include <unistd.h>
#include <nettle/sha2.h>

#include "disk/blockhash.h"
#include "replicator/proto.h"

void us_blockhash(const void *data, size_t len, unsigned char *out)
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

uint64_t us_blockhash_blocks(uint64_t size)
{
	return (size + US_PROTO_HASH_BLOCK - 1) / US_PROTO_HASH_BLOCK;
}

int64_t us_blockhash_read(int fd, uint64_t size, uint64_t block, void *buf, unsigned char *out)
{
	uint64_t off = block * US_PROTO_HASH_BLOCK;
	size_t len = size - off < US_PROTO_HASH_BLOCK ? size - off : US_PROTO_HASH_BLOCK;
	ssize_t n;

	if (off >= size)
		return -ERANGE;
	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	us_blockhash(buf, len, out);
	return (int64_t)len;
}
