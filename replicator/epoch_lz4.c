/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary's side of compressed pages ([replication] compress = lz4): a
 * run of dirty pages is compressed as one LZ4 block after the guest
 * resumes, and sent as PAGES_LZ4 when that saves at least an eighth of its
 * bytes; otherwise the caller sends it as plain PAGES. LZ4 was chosen by
 * bench/wire: it halves a page-cache workload's bytes at a fifth of zstd's
 * CPU per page, and gains nothing on random data, so it is for links
 * slower than the CPU (off by default).
 */
#include <config.h>

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>

#include "replicator/primary_int.h"

#define RUN_MAX_BYTES ((size_t)US_PROTO_MAX_RUN * US_PROTO_PAGE_SIZE)

static char *zbuf(struct us_primary *p)
{
	if (!p->zbuf)
		p->zbuf = malloc(US_PROTO_PAGES_DESC + (size_t)LZ4_compressBound(RUN_MAX_BYTES));
	return p->zbuf;
}

int us_epoch_send_lz4(struct us_primary *p, uint64_t first, uint32_t count, const void *data)
{
	size_t plain = (size_t)count * US_PROTO_PAGE_SIZE, len;
	char *out = zbuf(p);
	int z;

	if (!out)
		return 0; /* no memory for it: sent plain */
	z = LZ4_compress_default(data, out + US_PROTO_PAGES_DESC, (int)plain,
				 LZ4_compressBound(RUN_MAX_BYTES));
	if (z <= 0 || (size_t)z > plain - plain / 8)
		return 0;
	us_proto_pages_desc_encode(out, first, count);
	len = US_PROTO_PAGES_DESC + (size_t)z;
	if (!p->unsummed)
		XXH3_64bits_update(p->sum, out, len);
	p->n_pages += count;
	p->n_page_bytes += len;
	p->lz4_saved_bytes += plain + US_PROTO_PAGES_DESC - len;
	return us_transport_send_msg(p->tx, US_MSG_PAGES_LZ4, p->epoch, out, len) < 0 ? -EIO : 1;
}
