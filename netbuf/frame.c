/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Splitting QEMU's -netdev stream into frames (frame.h), apart from the
 * sockets and the tap of the relay so that its unit test and its fuzzer
 * drive exactly the code the relay runs.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "netbuf/frame.h"
#include "replicator/log.h"

enum us_frame_result us_frame_next(const unsigned char *buf, size_t len, size_t *flen,
				   size_t *total)
{
	uint32_t n;

	if (len < 4)
		return US_FRAME_NEED_MORE;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	*flen = n;
	*total = 4 + (size_t)n;
	if (n == 0 || n > US_RELAY_MAX_FRAME)
		return US_FRAME_BAD;
	return len >= *total ? US_FRAME_OK : US_FRAME_NEED_MORE;
}

int us_frame_rx_split(struct us_frame_rx *rx, us_frame_fn fn, void *opaque)
{
	size_t pos = 0, flen, total, n;
	enum us_frame_result fr;
	int rc = 0;

	while (pos < rx->len) {
		if (rx->skip) {
			n = rx->skip < rx->len - pos ? rx->skip : rx->len - pos;
			rx->skip -= n;
			pos += n;
			continue;
		}
		fr = us_frame_next(rx->buf + pos, rx->len - pos, &flen, &total);
		if (fr == US_FRAME_NEED_MORE)
			break;
		if (fr == US_FRAME_BAD) {
			rx->malformed++;
			us_log(LOG_WARNING, US_TAG_NET,
			       "dropping a malformed frame of %zu bytes from QEMU", flen);
			rx->skip = total;
			continue;
		}
		rc = fn(opaque, rx->buf + pos + 4, flen);
		if (rc == -ENOBUFS)
			break;
		pos += total;
	}
	memmove(rx->buf, rx->buf + pos, rx->len - pos);
	rx->len -= pos;
	return rc == -ENOBUFS ? -ENOBUFS : 0;
}

void us_frame_rx_end(struct us_frame_rx *rx)
{
	if (rx->len || rx->skip)
		rx->malformed++; /* a truncated last frame */
	rx->len = rx->skip = 0;
}
