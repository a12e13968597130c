/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes the binary seed corpora of the fuzzers (tests/fuzz/NAME/seed-*)
 * with the real encoders, so each seed is a valid conversation the harness
 * takes far: a standby's sync and epochs, the channel's handshake, an NBD
 * client's session, a -netdev stream. `make fuzz-seeds` runs it over the
 * source tree; the text corpora (qmp, config) are written by hand.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lz4.h>
#include <xxhash.h>

#include "disk/nbd_proto.h"
#include "replicator/proto.h"

#define SEED_MAX (256u << 10)
#define VM "demo"
#define FUZZ_LINEAGE 0x7573667a7a6c696eull /* as in fuzz_receiver.c */

/* A seed being written: a flags byte, then messages. */
struct seed {
	unsigned char buf[SEED_MAX];
	size_t len;
	XXH3_state_t *sum;
	struct us_epoch_end end;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (!n)
		return;
	if (s->len + n > sizeof(s->buf)) {
		fprintf(stderr, "mkseeds: a seed outgrew %u bytes\n", SEED_MAX);
		exit(1);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void put_be(struct seed *s, uint64_t v, int bytes)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	put(s, b, bytes);
}

static void msg(struct seed *s, uint16_t type, uint64_t epoch, const void *body, uint32_t len)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION,
				.type = type,
				.len = len,
				.vm_id = us_proto_vm_id(VM),
				.epoch = epoch };
	unsigned char hdr[US_PROTO_HDR_SIZE];

	us_proto_hdr_encode(hdr, &h);
	put(s, hdr, sizeof(hdr));
	put(s, body, len);
}

static void save(const struct seed *s, const char *dir, const char *harness, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/seed-%s", dir, harness, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
		fprintf(stderr, "mkseeds: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void start(struct seed *s, unsigned char flags)
{
	s->len = 0;
	put(s, &flags, 1);
}

static void hello(struct seed *s, uint64_t lineage, uint64_t base, uint32_t flags)
{
	struct us_hello h = { .ram_size = 16 * US_PROTO_PAGE_SIZE,
			      .page_size = US_PROTO_PAGE_SIZE,
			      .flags = flags,
			      .vm_name = VM,
			      .accel = "tcg",
			      .disk_size = 64u << 10,
			      .lineage = lineage,
			      .base_epoch = base };
	char body[256];

	memset(h.nonce, 0x5a, sizeof(h.nonce)); /* fuzz_chanauth's fixed nonce */
	msg(s, US_MSG_HELLO, 0, body, (uint32_t)us_proto_hello_encode(body, &h));
	XXH3_64bits_reset(s->sum);
	memset(&s->end, 0, sizeof(s->end));
}

/* A message of the open epoch, counted and summed for its EPOCH_END. */
static void epoch_msg(struct seed *s, uint16_t type, uint64_t epoch, const void *body, uint32_t len,
		      uint64_t pages)
{
	msg(s, type, epoch, body, len);
	XXH3_64bits_update(s->sum, body, len);
	if (type == US_MSG_PAGES || type == US_MSG_PAGES_LZ4) {
		s->end.pages += pages;
		s->end.page_bytes += len;
	} else if (type == US_MSG_DISK) {
		s->end.disk_writes++;
		s->end.disk_bytes += len;
	} else {
		s->end.devstate_bytes += len;
	}
}

static void pages(struct seed *s, uint64_t epoch, uint64_t first, uint32_t count, int fill)
{
	static unsigned char body[US_PROTO_PAGES_DESC + 4 * US_PROTO_PAGE_SIZE];
	size_t n = us_proto_pages_desc_encode(body, first, count);

	memset(body + n, fill, (size_t)count * US_PROTO_PAGE_SIZE);
	epoch_msg(s, US_MSG_PAGES, epoch, body, (uint32_t)(n + count * US_PROTO_PAGE_SIZE), count);
}

/* PAGES_LZ4: @count pages of @fill, one LZ4 block (compress = lz4). */
static void pages_lz4(struct seed *s, uint64_t epoch, uint64_t first, uint32_t count, int fill)
{
	static char plain[4 * US_PROTO_PAGE_SIZE];
	static char body[US_PROTO_PAGES_DESC + LZ4_COMPRESSBOUND(sizeof(plain))];
	size_t n = us_proto_pages_desc_encode(body, first, count);
	int z;

	memset(plain, fill, (size_t)count * US_PROTO_PAGE_SIZE);
	plain[0] = 1; /* not all one byte */
	z = LZ4_compress_default(plain, body + n, (int)(count * US_PROTO_PAGE_SIZE),
				 (int)(sizeof(body) - n));
	epoch_msg(s, US_MSG_PAGES_LZ4, epoch, body, (uint32_t)(n + (size_t)z), count);
}

static void disk(struct seed *s, uint64_t epoch, uint64_t off, uint32_t len, uint32_t kind)
{
	static unsigned char body[US_PROTO_DISK_DESC + 8192];
	size_t n = us_proto_disk_desc_encode(body, off, len, kind);
	size_t data = kind == US_DISK_WRITE ? len : 0;

	memset(body + n, 0xd1, data);
	epoch_msg(s, US_MSG_DISK, epoch, body, (uint32_t)(n + data), 0);
}

static void devstate(struct seed *s, uint64_t epoch, uint32_t len)
{
	static unsigned char body[512];

	memset(body, 0xde, len);
	epoch_msg(s, US_MSG_DEVSTATE, epoch, body, len, 0);
}

static void end_epoch(struct seed *s, uint64_t epoch)
{
	char body[64];

	s->end.checksum = XXH3_64bits_digest(s->sum);
	msg(s, US_MSG_EPOCH_END, epoch, body, (uint32_t)us_proto_epoch_end_encode(body, &s->end));
	XXH3_64bits_reset(s->sum);
	memset(&s->end, 0, sizeof(s->end));
}

/* The sync (epoch 0) and one epoch after it, after the HELLO. */
static void sync_body(struct seed *s)
{
	pages(s, 0, 0, 2, 0x11);
	disk(s, 0, 0, 512, US_DISK_WRITE);
	devstate(s, 0, 100);
	end_epoch(s, 0);
	pages(s, 1, 3, 1, 0x22);
	disk(s, 1, 8192, 4096, US_DISK_ZEROES);
	disk(s, 1, 4096, 1024, US_DISK_WRITE);
	devstate(s, 1, 50);
	end_epoch(s, 1);
	msg(s, US_MSG_KEEPALIVE, 2, NULL, 0);
}

static void sync_and_epoch(struct seed *s)
{
	hello(s, 0x1234, US_EPOCH_NONE, 0);
	sync_body(s);
}

static void receiver_seeds(struct seed *s, const char *dir)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION - 1, .type = US_MSG_HELLO };
	unsigned char hdr[US_PROTO_HDR_SIZE];

	start(s, 0);
	sync_and_epoch(s);
	save(s, dir, "receiver", "sync-epoch");
	start(s, 4); /* the same, each body received where the receiver places it */
	sync_and_epoch(s);
	save(s, dir, "receiver", "placed");
	start(s, 2); /* the harness fixes EPOCH_END: a wrong sum still commits */
	hello(s, 0x1234, US_EPOCH_NONE, 0);
	pages(s, 0, 15, 1, 0x33);
	devstate(s, 0, 8);
	end_epoch(s, 0);
	save(s, dir, "receiver", "fixup");
	start(s, 1); /* holds epoch 3 of FUZZ_LINEAGE: a switchover needs no sync */
	hello(s, FUZZ_LINEAGE, 3, 0);
	pages(s, 4, 5, 4, 0x44);
	devstate(s, 4, 200);
	end_epoch(s, 4);
	save(s, dir, "receiver", "in-sync");
	start(s, 0); /* another release, then a torn epoch and a new connection */
	us_proto_hdr_encode(hdr, &h);
	put(s, hdr, sizeof(hdr));
	hello(s, 0x99, US_EPOCH_NONE, 0);
	pages(s, 0, 1, 1, 0x55);
	msg(s, US_MSG_ACK, 0, NULL, 0);
	sync_and_epoch(s);
	save(s, dir, "receiver", "version-torn");
	start(s, 0); /* compressed pages (protocol 8) in epoch 1 */
	hello(s, 0x1234, US_EPOCH_NONE, 0);
	pages(s, 0, 0, 2, 0x11);
	devstate(s, 0, 100);
	end_epoch(s, 0);
	pages_lz4(s, 1, 6, 3, 0x66);
	devstate(s, 1, 50);
	end_epoch(s, 1);
	save(s, dir, "receiver", "lz4");
}

static void chanauth_seeds(struct seed *s, const char *dir)
{
	struct us_challenge c;
	char body[128];

	memset(&c, 0x5a, sizeof(c));
	start(s, 2 | 4); /* keyed standby, the primary has the key: HELLO, AUTH, epochs */
	hello(s, 0x1234, US_EPOCH_NONE, US_HELLO_AUTH);
	msg(s, US_MSG_AUTH, 0, NULL, 0);
	sync_body(s);
	save(s, dir, "chanauth", "standby-keyed");
	start(s, 2); /* keyed standby, the primary cannot tag: refused after the CHALLENGE */
	hello(s, 0x1234, US_EPOCH_NONE, US_HELLO_AUTH);
	msg(s, US_MSG_AUTH, 0, NULL, 0);
	pages(s, 0, 0, 1, 0x11);
	save(s, dir, "chanauth", "standby-forged");
	start(s, 0); /* no key on the standby: a keyed HELLO refused, then a plain sync */
	hello(s, 0x1234, US_EPOCH_NONE, US_HELLO_AUTH);
	sync_and_epoch(s);
	save(s, dir, "chanauth", "standby-nokey");
	start(s, 1 | 2 | 4); /* keyed primary, the standby has the key */
	msg(s, US_MSG_CHALLENGE, 0, body, (uint32_t)us_proto_challenge_encode(body, &c));
	{
		struct us_hello_ok ok = { .committed = US_EPOCH_NONE, .staging_max = 1 << 20 };
		struct us_refuse r = { .code = US_REFUSE_BUSY, .reason = "busy" };
		unsigned char hashes[US_PROTO_HASHES_DESC + 2 * US_PROTO_HASH_LEN] = { 0 };

		msg(s, US_MSG_HELLO_OK, 0, body, (uint32_t)us_proto_hello_ok_encode(body, &ok));
		us_proto_hashes_desc_encode(hashes, 0, 2);
		msg(s, US_MSG_DISK_HASHES, 0, hashes, sizeof(hashes));
		msg(s, US_MSG_ACK, 0, NULL, 0);
		msg(s, US_MSG_REFUSE, 0, body, (uint32_t)us_proto_refuse_encode(body, &r));
	}
	save(s, dir, "chanauth", "primary-keyed");
	start(s, 1); /* unkeyed primary, a standby that challenges */
	msg(s, US_MSG_CHALLENGE, 0, body, (uint32_t)us_proto_challenge_encode(body, &c));
	save(s, dir, "chanauth", "primary-nokey");
}

/* NBD: the client's flags, options, then requests (disk/nbd_proto.h). */
static void nbd_opt(struct seed *s, uint32_t opt, const void *data, uint32_t len)
{
	put_be(s, NBD_MAGIC_OPT, 8);
	put_be(s, opt, 4);
	put_be(s, len, 4);
	put(s, data, len);
}

static void nbd_req(struct seed *s, uint16_t flags, uint16_t type, uint64_t off, uint32_t len)
{
	static unsigned char payload[8192];

	put_be(s, NBD_MAGIC_REQUEST, 4);
	put_be(s, flags, 2);
	put_be(s, type, 2);
	put_be(s, 0xc00c1e, 8);
	put_be(s, off, 8);
	put_be(s, len, 4);
	if (type == NBD_CMD_WRITE) {
		memset(payload, 0xab, len);
		put(s, payload, len);
	}
}

static void nbd_requests(struct seed *s)
{
	nbd_req(s, 0, NBD_CMD_WRITE, 4096, 4096);
	nbd_req(s, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0, 512);
	nbd_req(s, 0, NBD_CMD_READ, 0, 8192);
	nbd_req(s, 0, NBD_CMD_TRIM, 65536, 65536);
	nbd_req(s, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 4096, 1024);
	nbd_req(s, 0, NBD_CMD_FLUSH, 0, 0);
	nbd_req(s, 0, NBD_CMD_WRITE, (256u << 10) - 512, 1024); /* past the end */
	nbd_req(s, 0, NBD_CMD_DISC, 0, 0);
}

static void nbd_seeds(struct seed *s, const char *dir)
{
	static const unsigned char go[] = { 0, 0, 0, 4, 'd', 'i', 's', 'k', 0, 1, 0, 3 };

	s->len = 0;
	put_be(s, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES, 4);
	nbd_opt(s, NBD_OPT_LIST, NULL, 0);
	nbd_opt(s, NBD_OPT_INFO, go, sizeof(go));
	nbd_opt(s, 99, NULL, 0);
	nbd_opt(s, NBD_OPT_GO, go, sizeof(go));
	nbd_requests(s);
	save(s, dir, "nbd", "go");
	s->len = 0;
	put_be(s, NBD_FLAG_C_FIXED_NEWSTYLE, 4);
	nbd_opt(s, NBD_OPT_EXPORT_NAME, "disk", 4);
	nbd_requests(s);
	save(s, dir, "nbd", "export-name");
	s->len = 0;
	put_be(s, NBD_FLAG_C_FIXED_NEWSTYLE, 4);
	nbd_opt(s, NBD_OPT_ABORT, NULL, 0);
	save(s, dir, "nbd", "abort");
}

/* -netdev stream: caps, a program of ops, then frames (fuzz_relay.c). */
static void relay_seeds(struct seed *s, const char *dir)
{
	static const unsigned char prog[] = { 0x0c, 1, 0x0c, 2, 0x0c, 1, 3 | 2 << 2, 0xfc, 2 };
	static unsigned char frame[1600];
	int i;

	s->len = 0;
	put(s, "\x11", 1);
	put_be(s, sizeof(prog), 1);
	put(s, prog, sizeof(prog));
	for (i = 0; i < 12; i++) {
		memset(frame, i, sizeof(frame));
		put_be(s, 60 + i * 100, 4);
		put(s, frame, 60 + i * 100);
		if (i == 5)
			put_be(s, 0, 4); /* a zero length: malformed */
	}
	put_be(s, 9000, 4); /* truncated last frame */
	put(s, frame, 10);
	save(s, dir, "relay", "frames");
}

int main(int argc, char **argv)
{
	static struct seed s;

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR  (DIR/receiver/ ... get seed-* files)\n");
		return 2;
	}
	s.sum = XXH3_createState();
	receiver_seeds(&s, argv[1]);
	chanauth_seeds(&s, argv[1]);
	nbd_seeds(&s, argv[1]);
	relay_seeds(&s, argv[1]);
	XXH3_freeState(s.sum);
	return 0;
}
