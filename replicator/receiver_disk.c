/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby's disk half of the receiver: DISK messages of an epoch are
 * staged in order (bodies as they came, under a cap) and written to the
 * replica image only after EPOCH_END verified the whole epoch and its ACK
 * went out, exactly as pages are; the initial sync (epoch 0) writes straight
 * to the image. A torn, duplicate, future or corrupted epoch therefore
 * leaves the image byte for byte as it was.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "disk/image.h"
#include "replicator/log.h"
#include "replicator/receiver_int.h"

/* Write one decoded DISK message to the replica image. */
int us_rx_disk_apply_one(int fd, const struct us_disk *m)
{
	if (m->kind == US_DISK_WRITE)
		return us_image_pwrite(fd, m->data, m->length, m->offset);
	return us_image_zero(fd, m->offset, m->length, 0);
}

int us_rx_on_disk(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		  char *why, size_t whylen)
{
	struct us_disk m;
	int rc;

	if (us_proto_disk_decode(body, h->len, &m, why, whylen) < 0)
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	if (rx->cfg.disk_fd < 0 || m.offset + m.length > rx->cfg.disk_size) {
		snprintf(why, whylen, "DISK write %lu+%u lies outside the replica image of %lu bytes",
			 (unsigned long)m.offset, m.length, (unsigned long)rx->cfg.disk_size);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -ERANGE, why);
	}
	if (h->epoch == 0) {
		rc = us_rx_disk_apply_one(rx->cfg.disk_fd, &m);
		if (rc < 0) {
			rx->st.disk_failed = 1;
			snprintf(why, whylen, "cannot write the replica image: %s", strerror(-rc));
			return us_rx_refuse(rx, US_REFUSE_STATE, rc, why);
		}
		rx->st.sync_disk_bytes += m.length;
		us_rx_sum(rx, body, h->len);
	} else if (us_rx_stage(rx, &rx->disk, body, h->len) < 0) {
		snprintf(why, whylen, "disk writes of epoch %lu exceed the staging cap of %lu "
			 "bytes; raise disk_staging_max", (unsigned long)h->epoch,
			 (unsigned long)rx->cfg.disk_staging_max);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -ENOBUFS, why);
	}
	rx->n_disk++;
	rx->n_disk_bytes += h->len;
	return 0;
}

/* After the epoch's ACK: every staged write, in the order it came. */
int us_rx_disk_apply_staged(struct us_receiver *rx)
{
	const char *p = rx->disk.data, *end;
	struct us_disk m;
	uint32_t len, kind;
	int rc;

	if (!rx->disk.len)
		return 0; /* nothing staged: data may be NULL, and NULL + 0 is undefined */
	end = p + rx->disk.len;
	while (p < end) {
		memcpy(&len, p + 8, sizeof(len));
		memcpy(&kind, p + 12, sizeof(kind));
		len = US_PROTO_DISK_DESC + (le32toh(kind) == US_DISK_WRITE ? le32toh(len) : 0);
		us_proto_disk_decode(p, len, &m, NULL, 0);	/* checked when staged */
		rc = us_rx_disk_apply_one(rx->cfg.disk_fd, &m);
		if (rc < 0)
			return rc;
		rx->st.disk_bytes += m.length;
		p += len;
	}
	return 0;
}
