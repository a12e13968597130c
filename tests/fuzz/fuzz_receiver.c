/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness of what a hostile primary reaches on a standby: the
 * protocol's decoders (replicator/proto.c) with the real receiver state
 * machine behind them (receiver.c, receiver_disk.c, receiver_lz4.c), over
 * an in-memory replica RAM and a memfd replica image. Beyond crashes it
 * checks the standby's promise: the replica and its image change only by
 * an accepted page or disk write of the initial sync or by a verified
 * EPOCH_END, and a refused message leaves the committed epoch and its
 * device state as they were.
 *
 * Input: one byte of flags, then the bytes a primary sends (messages of
 * proto.h, framed as on TCP; a refusal or a bad header closes the
 * connection and the rest is the next connection's).
 *   flag 1: the standby starts out holding epoch 3 of lineage FUZZ_LINEAGE
 *           (a switchover's old primary), so a HELLO can skip the sync;
 *   flag 2: the harness writes the true counts and checksum into each
 *           EPOCH_END, so the fuzzer gets past the checksum to the commit;
 *   flag 4: each body the receiver gives a place (us_receiver_place, as
 *           the TCP transport asks for large ones) is received there.
 */
#include <config.h>

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "replicator/proto.h"
#include "replicator/receiver.h"
#include "tests/fuzz/fuzz.h"

#define NPAGES 16
#define PG US_PROTO_PAGE_SIZE
#define DISK_SIZE (64u << 10)
#define FUZZ_LINEAGE 0x7573667a7a6c696eull
#define FLAG_ADOPT 1
#define FLAG_FIXUP 2
#define FLAG_PLACE 4

struct fz {
	struct us_receiver *rx;
	char replica[NPAGES * PG];
	char before[NPAGES * PG];
	char disk_before[DISK_SIZE];
	int disk_fd;
	int fixup;
	int place; /* FLAG_PLACE */
	/* what the receiver has taken of the open epoch, for FLAG_FIXUP */
	XXH3_state_t *sum;
	uint64_t pages, page_bytes, dev_bytes, disk_writes, disk_bytes;
};

static int disk_fd = -1;
static XXH3_state_t *sum_state;

static int fake_send(void *opaque, uint16_t type, uint64_t epoch, const void *body, size_t len)
{
	struct us_refuse r;
	char why[64];

	if (type == US_MSG_REFUSE)
		us_fuzz_assert("the standby's REFUSE decodes",
			       us_proto_refuse_decode(body, len, &r, why, sizeof(why)) == 0);
	return 0;
}

static void open_epoch(struct fz *f)
{
	XXH3_64bits_reset(f->sum);
	f->pages = f->page_bytes = f->dev_bytes = f->disk_writes = f->disk_bytes = 0;
}

static void closed(void *opaque)
{
	struct fz *f = opaque;

	us_receiver_reset(f->rx);
	open_epoch(f);
}

/* The epoch's body as the receiver counted it, when it took it. */
static void count_body(struct fz *f, const struct us_msg_hdr *h, const void *body)
{
	struct us_pages p;
	size_t zlen;

	if (h->type == US_MSG_HELLO || h->type == US_MSG_EPOCH_END) {
		open_epoch(f);
		return;
	}
	if (h->type != US_MSG_PAGES && h->type != US_MSG_PAGES_LZ4 && h->type != US_MSG_DISK &&
	    h->type != US_MSG_DEVSTATE)
		return;
	XXH3_64bits_update(f->sum, body, h->len);
	if (h->type == US_MSG_PAGES) {
		size_t off = 0;
		uint64_t n = 0;
		int rc;

		while ((rc = us_proto_pages_next(body, h->len, &off, &p, NULL, 0)) > 0)
			n += p.count;
		if (rc == 0) {
			f->pages += n;
			f->page_bytes += h->len;
		}
	} else if (h->type == US_MSG_PAGES_LZ4 &&
		   us_proto_pages_lz4_decode(body, h->len, &p, &zlen, NULL, 0) == 0) {
		f->pages += p.count;
		f->page_bytes += h->len;
	} else if (h->type == US_MSG_DISK) {
		f->disk_writes++;
		f->disk_bytes += h->len;
	} else if (h->type == US_MSG_DEVSTATE) {
		f->dev_bytes += h->len;
	}
}

/* FLAG_FIXUP: an EPOCH_END that tells the truth about its epoch. */
static void fix_end(struct fz *f, const struct us_msg_hdr *h, const void *body, void *out)
{
	struct us_epoch_end e = {
		.pages = f->pages,
		.page_bytes = f->page_bytes,
		.devstate_bytes = f->dev_bytes,
		.disk_writes = f->disk_writes,
		.disk_bytes = f->disk_bytes,
		.checksum = XXH3_64bits_digest(f->sum),
	};

	us_proto_epoch_end_encode(out, &e);
}

static uint64_t devstate_sum(const struct us_receiver *rx)
{
	size_t len;
	const void *d = us_receiver_devstate(rx, &len);

	return d ? XXH3_64bits(d, len) ^ len : 0;
}

static void snapshot(struct fz *f)
{
	memcpy(f->before, f->replica, sizeof(f->before));
	us_fuzz_assert("read the replica image",
		       pread(f->disk_fd, f->disk_before, DISK_SIZE, 0) == DISK_SIZE);
}

static int changed(const struct fz *f)
{
	static char now[DISK_SIZE];

	us_fuzz_assert("read the replica image", pread(f->disk_fd, now, DISK_SIZE, 0) == DISK_SIZE);
	return memcmp(f->before, f->replica, sizeof(f->before)) != 0 ||
	       memcmp(f->disk_before, now, DISK_SIZE) != 0;
}

static void check_after(struct fz *f, int rc, const struct us_msg_hdr *h,
			const struct us_receiver_stats *st0, uint64_t dev0)
{
	struct us_receiver_stats st;
	int sync_write = (h->type == US_MSG_PAGES || h->type == US_MSG_PAGES_LZ4 ||
			  h->type == US_MSG_DISK) &&
			 h->epoch == 0;

	us_receiver_stats(f->rx, &st);
	if (changed(f))
		us_fuzz_assert("the replica changed only by a sync write or a verified epoch",
			       rc == 0 && (sync_write || h->type == US_MSG_EPOCH_END));
	if (rc < 0) {
		us_fuzz_assert("a refusal keeps the committed epoch",
			       st.committed == st0->committed);
		us_fuzz_assert("a refusal keeps the device state", devstate_sum(f->rx) == dev0);
	}
	if (rc == 0 && h->type == US_MSG_EPOCH_END)
		us_fuzz_assert("a verified EPOCH_END commits its epoch", st.committed == h->epoch);
}

static int on_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct fz *f = opaque;
	struct us_receiver_stats st0;
	char why[256], end[64], *at;
	uint64_t dev0;
	int rc;

	if (f->fixup && hdr_rc == 0 && h->type == US_MSG_EPOCH_END) {
		fix_end(f, h, body, end);
		body = end;
	}
	if (f->place && hdr_rc == 0 && (at = us_receiver_place(f->rx, h)) != NULL) {
		memcpy(at, body, h->len);
		body = at;
	}
	us_receiver_stats(f->rx, &st0);
	dev0 = devstate_sum(f->rx);
	snapshot(f);
	rc = us_receiver_input(f->rx, hdr_rc, h, body, why, sizeof(why));
	check_after(f, rc, h, &st0, dev0);
	if (rc < 0) {
		us_fuzz_assert("a refusal says why", why[0] != 0);
		return 1;
	}
	count_body(f, h, body);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	us_fuzz_log_init("fuzz_receiver");
	disk_fd = us_fuzz_memfd("replica-image", NULL, 0);
	sum_state = XXH3_createState();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct us_receiver_ops ops = { .send = fake_send };
	static const char devstate[] = "device state of epoch 3";
	static struct fz f;
	struct us_receiver_cfg cfg = { .vm_name = "demo",
				       .accel = "tcg",
				       .ram_size = NPAGES * PG,
				       .staging_max = 8 * (PG + US_PROTO_PAGES_DESC),
				       .devstate_max = 64u << 10,
				       .disk_size = DISK_SIZE,
				       .disk_staging_max = 32u << 10 };

	if (size < 1)
		return 0;
	memset(f.replica, 0, sizeof(f.replica));
	us_fuzz_assert("size the replica image",
		       ftruncate(disk_fd, 0) == 0 && ftruncate(disk_fd, DISK_SIZE) == 0);
	cfg.replica = f.replica;
	cfg.disk_fd = f.disk_fd = disk_fd;
	f.sum = sum_state;
	f.fixup = !!(data[0] & FLAG_FIXUP);
	f.place = !!(data[0] & FLAG_PLACE);
	f.rx = us_receiver_new(&cfg, &ops, &f);
	us_fuzz_assert("us_receiver_new", f.rx != NULL);
	if (data[0] & FLAG_ADOPT)
		us_receiver_adopt(f.rx, FUZZ_LINEAGE, 3, devstate, sizeof(devstate));
	open_epoch(&f);
	us_fuzz_frames(data + 1, size - 1, on_msg, closed, &f);
	us_receiver_free(f.rx);
	return 0;
}
