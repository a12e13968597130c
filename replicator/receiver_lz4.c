/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby's side of compressed pages (PAGES_LZ4, [replication]
 * compress = lz4 on the primary): the LZ4 block is decompressed, with the
 * bounds-checked decoder, into a PAGES body (descriptor and pages) and from
 * there it goes exactly as a PAGES message would: straight to the replica
 * in epoch 0, staged until EPOCH_END verifies in any later epoch. The
 * epoch's checksum and byte count cover the message as it came.
 */
#include <config.h>

#include <errno.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replicator/receiver_int.h"

/* The scratch body: a descriptor and a whole run, made once. */
static char *unz_buf(struct us_receiver *rx)
{
	if (!rx->unz)
		rx->unz =
			malloc(US_PROTO_PAGES_DESC + (size_t)US_PROTO_MAX_RUN * US_PROTO_PAGE_SIZE);
	return rx->unz;
}

static int unpack(struct us_receiver *rx, const struct us_pages *m, size_t zlen, char *why,
		  size_t whylen)
{
	int want = (int)(m->count * US_PROTO_PAGE_SIZE), got;
	char *out = unz_buf(rx);

	if (!out) {
		snprintf(why, whylen, "no memory to decompress PAGES_LZ4");
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -ENOMEM, why);
	}
	us_proto_pages_desc_encode(out, m->first, m->count);
	got = LZ4_decompress_safe(m->data, out + US_PROTO_PAGES_DESC, (int)zlen, want);
	if (got != want) {
		snprintf(why, whylen,
			 "PAGES_LZ4 run %lu+%u does not decompress to its %d bytes (%d)",
			 (unsigned long)m->first, m->count, want, got);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	}
	return 0;
}

int us_rx_on_pages_lz4(struct us_receiver *rx, const struct us_msg_hdr *h, const void *body,
		       char *why, size_t whylen)
{
	uint64_t npages = rx->cfg.ram_size / US_PROTO_PAGE_SIZE;
	struct us_pages m;
	size_t zlen, plain;
	int rc;

	if (us_proto_pages_lz4_decode(body, h->len, &m, &zlen, why, whylen) < 0)
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -EBADMSG, why);
	if (m.first >= npages || m.count > npages - m.first) {
		snprintf(why, whylen, "PAGES_LZ4 run %lu+%u lies outside guest RAM of %lu pages",
			 (unsigned long)m.first, m.count, (unsigned long)npages);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -ERANGE, why);
	}
	rc = unpack(rx, &m, zlen, why, whylen);
	if (rc < 0)
		return rc;
	plain = (size_t)m.count * US_PROTO_PAGE_SIZE;
	if (h->epoch == 0) {
		memcpy((char *)rx->cfg.replica + m.first * US_PROTO_PAGE_SIZE,
		       rx->unz + US_PROTO_PAGES_DESC, plain);
		rx->st.sync_pages += m.count;
	} else if (us_buf_append(&rx->pages, rx->unz, US_PROTO_PAGES_DESC + plain) < 0) {
		snprintf(why, whylen,
			 "epoch %lu exceeds the staging cap of %lu bytes; "
			 "raise staging_max or shorten epoch_ms",
			 (unsigned long)h->epoch, (unsigned long)rx->cfg.staging_max);
		return us_rx_refuse(rx, US_REFUSE_PROTOCOL, -ENOBUFS, why);
	}
	us_rx_sum(rx, body, h->len);
	rx->n_pages += m.count;
	rx->n_page_bytes += h->len;
	return 0;
}
