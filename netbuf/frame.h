/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The framing of QEMU's "-netdev stream": each Ethernet frame is a 4-byte
 * big-endian length and the frame, no vnet header. What QEMU wrote is split
 * here, in the order it came, into whole frames; a zero or over-long length
 * is skipped as one malformed record, a partial frame waits for the rest.
 */
#ifndef US_FRAME_H
#define US_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define US_RELAY_MAX_FRAME 9216u /* jumbo MTU plus headroom */
#define US_FRAME_RX_CAP (4 * (US_RELAY_MAX_FRAME + 4))

enum us_frame_result { US_FRAME_NEED_MORE = 0, US_FRAME_OK = 1, US_FRAME_BAD = 2 };

/**
 * Look at the start of a -netdev stream: a frame is 4 bytes of big-endian
 * length and the frame. OK: the frame is at @buf+4, *@flen bytes, the record
 * *@total bytes. BAD: a zero or over-long length; skip *@total bytes (which may
 * be more than @len) to stay in step with the stream.
 */
enum us_frame_result us_frame_next(const unsigned char *buf, size_t len, size_t *flen,
				   size_t *total);

/* Bytes read from the stream and not yet split into frames. */
struct us_frame_rx {
	unsigned char buf[US_FRAME_RX_CAP];
	size_t len;	    /* bytes in buf */
	size_t skip;	    /* bytes of a malformed record still to discard */
	uint64_t malformed; /* zero-length, oversized or truncated records */
};

/* One whole frame: 0 taken, -ENOBUFS: not taken, stop here and keep it. */
typedef int (*us_frame_fn)(void *opaque, const unsigned char *frame, size_t len);

/**
 * Hand every whole frame in @rx to @fn, in order, and drop what was taken;
 * a partial frame stays for the next read. Always room for one more frame
 * after this returns 0.
 * @return 0, or -ENOBUFS when @fn refused a frame (it stays first in @rx).
 */
int us_frame_rx_split(struct us_frame_rx *rx, us_frame_fn fn, void *opaque);

/** The stream ended: a partial frame left is counted malformed and dropped. */
void us_frame_rx_end(struct us_frame_rx *rx);

#endif
