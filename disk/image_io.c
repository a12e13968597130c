/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writing to a disk image, the one way both sides do it: the primary's NBD
 * server for the guest's writes, TRIMs and WRITE_ZEROES, and the standby
 * applying the same changes to its replica. Zeroing prefers a hole (when
 * allowed) or an allocated zero range, and writes zeroes only where the
 * file system offers neither.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "disk/image.h"

#define ZERO_CHUNK 65536

int us_image_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_zeroes(int fd, uint64_t off, uint64_t len)
{
	static const char zero[ZERO_CHUNK];
	size_t n;
	int ret;

	for (; len; off += n, len -= n) {
		n = len < sizeof(zero) ? (size_t)len : sizeof(zero);
		ret = us_image_pwrite(fd, zero, n, off);
		if (ret)
			return ret;
	}
	return 0;
}

static int not_supported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL || err == ENODEV;
}

int us_image_zero(int fd, uint64_t off, uint64_t len, int may_punch)
{
	int keep = FALLOC_FL_KEEP_SIZE;

	if (may_punch && fallocate(fd, FALLOC_FL_PUNCH_HOLE | keep, (off_t)off, (off_t)len) == 0)
		return 0;
	if (may_punch && !not_supported(errno))
		return -errno;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | keep, (off_t)off, (off_t)len) == 0)
		return 0;
	if (!not_supported(errno))
		return -errno;
	return write_zeroes(fd, off, len);
}
