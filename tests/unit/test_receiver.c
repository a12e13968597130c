/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the standby's staging and commit (replicator/receiver.c):
 * good epochs reach the replica after their ACK; a torn, duplicate, future,
 * foreign, truncated, corrupted or oversized epoch is refused with a reason
 * and leaves the replica and the committed device state byte-for-byte as they
 * were. The "primary" is this test, speaking encoded messages; replies go to
 * a recording fake of the transport.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>
#include <lz4.h>
#include <xxhash.h>

#include "replicator/log.h"
#include "replicator/proto.h"
#include "replicator/receiver.h"

#define NPAGES 64
#define PG US_PROTO_PAGE_SIZE
#define DISK_SIZE (256u << 10)
#define DISK_STAGING (64u << 10)

struct fixture {
	struct us_receiver *rx;
	char *replica;
	char *snapshot;
	int disk_fd;			/* the replica image: a memfd */
	char *disk_snapshot;
	uint16_t sent[64];		/* types sent back, in order */
	uint64_t sent_epoch[64];
	int nsent;
	struct us_refuse refuse;	/* last REFUSE */
	uint64_t committed_cb;
	/* the epoch being built by the test */
	XXH3_state_t *sum;
	uint64_t pages, page_bytes, dev_bytes, disk_writes, disk_bytes;
	uint64_t vm_id;
	uint64_t hello_disk;		/* the disk size our HELLO announces */
	uint32_t hello_keepalive;	/* the keepalive_ms our HELLO promises */
};

static uint32_t keepalive_max;		/* the next setup's receiver: keepalive_max_ms */

static int fake_send(void *opaque, uint16_t type, uint64_t epoch, const void *body, size_t len)
{
	struct fixture *f = opaque;
	char why[64];

	f->sent[f->nsent] = type;
	f->sent_epoch[f->nsent++] = epoch;
	if (type == US_MSG_REFUSE)
		assert_int_equal(us_proto_refuse_decode(body, len, &f->refuse, why, sizeof(why)), 0);
	return 0;
}

static void fake_committed(void *opaque, uint64_t epoch)
{
	((struct fixture *)opaque)->committed_cb = epoch;
}

static int setup(void **state)
{
	static const struct us_receiver_ops ops = { .send = fake_send, .committed = fake_committed };
	struct fixture *f = calloc(1, sizeof(*f));
	struct us_receiver_cfg cfg = { .vm_name = "demo", .accel = "tcg", .ram_size = NPAGES * PG,
				       .staging_max = 8 * (PG + 16), .devstate_max = 1 << 20,
				       .disk_size = DISK_SIZE, .disk_staging_max = DISK_STAGING,
				       .keepalive_max_ms = keepalive_max };

	f->replica = calloc(NPAGES, PG);
	f->snapshot = malloc(NPAGES * PG);
	f->sum = XXH3_createState();
	f->vm_id = us_proto_vm_id("demo");
	f->hello_disk = DISK_SIZE;
	f->disk_fd = memfd_create("replica-image", MFD_CLOEXEC);
	assert_true(f->disk_fd >= 0);
	assert_int_equal(ftruncate(f->disk_fd, DISK_SIZE), 0);
	f->disk_snapshot = malloc(DISK_SIZE);
	cfg.disk_fd = f->disk_fd;
	cfg.replica = f->replica;
	f->rx = us_receiver_new(&cfg, &ops, f);
	assert_non_null(f->rx);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	us_receiver_free(f->rx);
	XXH3_freeState(f->sum);
	free(f->replica);
	free(f->snapshot);
	free(f->disk_snapshot);
	close(f->disk_fd);
	free(f);
	return 0;
}

/* Feed one message: header encoded and decoded as the transport would. */
static int feed(struct fixture *f, uint16_t type, uint64_t vm_id, uint64_t epoch,
		const void *body, uint32_t len)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION, .type = type, .len = len,
				.vm_id = vm_id, .epoch = epoch }, d;
	unsigned char wire[US_PROTO_HDR_SIZE];
	char why[256];
	int rc;

	us_proto_hdr_encode(wire, &h);
	rc = us_proto_hdr_decode(wire, &d, why, sizeof(why));
	assert_int_equal(rc, 0);
	return us_receiver_input(f->rx, rc, &d, body, why, sizeof(why));
}

static int hello_accel(struct fixture *f, const char *name, uint64_t ram, const char *accel)
{
	struct us_hello h = { .ram_size = ram, .page_size = PG, .disk_size = f->hello_disk,
			      .keepalive_ms = f->hello_keepalive };
	char body[160];

	strcpy(h.vm_name, name);
	strcpy(h.accel, accel);
	return feed(f, US_MSG_HELLO, us_proto_vm_id(name), 0, body, us_proto_hello_encode(body, &h));
}

static int hello(struct fixture *f, const char *name, uint64_t ram)
{
	return hello_accel(f, name, ram, "tcg");
}

/* HELLO of VM "demo" from a primary of run @lineage going on from @base. */
static int hello_from(struct fixture *f, uint64_t lineage, uint64_t base)
{
	struct us_hello h = { .ram_size = NPAGES * PG, .page_size = PG, .disk_size = f->hello_disk,
			      .lineage = lineage, .base_epoch = base };
	char body[160];

	strcpy(h.vm_name, "demo");
	strcpy(h.accel, "tcg");
	return feed(f, US_MSG_HELLO, us_proto_vm_id("demo"), 0, body,
		    us_proto_hello_encode(body, &h));
}

static uint64_t committed(struct fixture *f)
{
	struct us_receiver_stats st;

	us_receiver_stats(f->rx, &st);
	return st.committed;
}

static void begin(struct fixture *f)
{
	XXH3_64bits_reset(f->sum);
	f->pages = f->page_bytes = f->dev_bytes = f->disk_writes = f->disk_bytes = 0;
}

/* DISK of @len bytes at @off: every byte = @fill, or zeroes (@kind). */
static int disk(struct fixture *f, uint64_t epoch, uint64_t off, uint32_t len, uint32_t kind,
		int fill)
{
	size_t blen = US_PROTO_DISK_DESC + (kind == US_DISK_WRITE ? len : 0);
	char *body = malloc(blen);
	int rc;

	us_proto_disk_desc_encode(body, off, len, kind);
	memset(body + US_PROTO_DISK_DESC, fill, blen - US_PROTO_DISK_DESC);
	XXH3_64bits_update(f->sum, body, blen);
	f->disk_writes++;
	f->disk_bytes += blen;
	rc = feed(f, US_MSG_DISK, f->vm_id, epoch, body, blen);
	free(body);
	return rc;
}

/* The replica image's bytes [off, off+len). */
static void image(struct fixture *f, uint64_t off, size_t len, char *out)
{
	assert_int_equal(pread(f->disk_fd, out, len, (off_t)off), (ssize_t)len);
}

/* PAGES of @count pages from @first, every byte = @fill. */
static int pages(struct fixture *f, uint64_t epoch, uint64_t first, uint32_t count, int fill)
{
	size_t len = US_PROTO_PAGES_DESC + (size_t)count * PG;
	char *body = malloc(len);
	int rc;

	us_proto_pages_desc_encode(body, first, count);
	memset(body + US_PROTO_PAGES_DESC, fill, (size_t)count * PG);
	XXH3_64bits_update(f->sum, body, len);
	f->pages += count;
	f->page_bytes += len;
	rc = feed(f, US_MSG_PAGES, f->vm_id, epoch, body, len);
	free(body);
	return rc;
}

/* One PAGES message of two runs: 1 page at @a, 2 at @b, filled @fill; @bad
 * gives the second run a page count larger than the body holds. */
static int two_runs(struct fixture *f, uint64_t epoch, uint64_t a, uint64_t b, int fill, int bad)
{
	size_t len = 2 * US_PROTO_PAGES_DESC + 3 * PG, off = US_PROTO_PAGES_DESC + PG;
	char *body = malloc(len);
	int rc;

	memset(body, fill, len);
	us_proto_pages_desc_encode(body, a, 1);
	us_proto_pages_desc_encode(body + off, b, bad ? 3 : 2);
	XXH3_64bits_update(f->sum, body, len);
	f->pages += 3;
	f->page_bytes += len;
	rc = feed(f, US_MSG_PAGES, f->vm_id, epoch, body, len);
	free(body);
	return rc;
}

/* PAGES_LZ4 of @count pages from @first, page i's bytes = @fill + i; @flip
 * XORs a byte of the compressed block (a corrupted block). */
static int pages_lz4(struct fixture *f, uint64_t epoch, uint64_t first, uint32_t count, int fill,
		     int flip)
{
	size_t plain = (size_t)count * PG;
	char *data = malloc(plain), *body = malloc(US_PROTO_PAGES_DESC + LZ4_compressBound(plain));
	uint32_t i;
	int z, rc;

	for (i = 0; i < count; i++)
		memset(data + (size_t)i * PG, fill + (int)i, PG);
	z = LZ4_compress_default(data, body + US_PROTO_PAGES_DESC, (int)plain,
				 LZ4_compressBound(plain));
	assert_true(z > 0 && (size_t)z < plain);
	body[US_PROTO_PAGES_DESC + z / 2] ^= flip;
	us_proto_pages_desc_encode(body, first, count);
	XXH3_64bits_update(f->sum, body, US_PROTO_PAGES_DESC + z);
	f->pages += count;
	f->page_bytes += US_PROTO_PAGES_DESC + z;
	rc = feed(f, US_MSG_PAGES_LZ4, f->vm_id, epoch, body, US_PROTO_PAGES_DESC + z);
	free(data);
	free(body);
	return rc;
}

static int devstate(struct fixture *f, uint64_t epoch, const char *text)
{
	XXH3_64bits_update(f->sum, text, strlen(text));
	f->dev_bytes += strlen(text);
	return feed(f, US_MSG_DEVSTATE, f->vm_id, epoch, text, strlen(text));
}

static int end(struct fixture *f, uint64_t epoch, uint64_t checksum_xor)
{
	struct us_epoch_end e = { .pages = f->pages, .page_bytes = f->page_bytes,
				  .devstate_bytes = f->dev_bytes, .disk_writes = f->disk_writes,
				  .disk_bytes = f->disk_bytes,
				  .checksum = XXH3_64bits_digest(f->sum) ^ checksum_xor };
	char body[64];

	return feed(f, US_MSG_EPOCH_END, f->vm_id, epoch, body, us_proto_epoch_end_encode(body, &e));
}

/* Handshake, epoch 0 (all pages = 1) and epoch 1 (pages 3..5 = 2). */
static void commit_two_epochs(struct fixture *f)
{
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);
	assert_int_equal(f->sent[0], US_MSG_HELLO_OK);
	begin(f);
	assert_int_equal(pages(f, 0, 0, NPAGES, 1), 0);
	assert_int_equal(disk(f, 0, 0, DISK_SIZE, US_DISK_WRITE, 1), 0);
	assert_int_equal(devstate(f, 0, "dev0"), 0);
	assert_int_equal(end(f, 0, 0), 0);
	begin(f);
	assert_int_equal(pages(f, 1, 3, 3, 2), 0);
	assert_int_equal(disk(f, 1, 8192, 4096, US_DISK_WRITE, 2), 0);
	assert_int_equal(devstate(f, 1, "dev1"), 0);
	assert_int_equal(end(f, 1, 0), 0);
	memcpy(f->snapshot, f->replica, NPAGES * PG);
	image(f, 0, DISK_SIZE, f->disk_snapshot);
}

/* The replica RAM and image hold what commit_two_epochs left. */
static void assert_bytes_untouched(struct fixture *f)
{
	char *now = malloc(DISK_SIZE);

	assert_memory_equal(f->replica, f->snapshot, NPAGES * PG);
	image(f, 0, DISK_SIZE, now);
	assert_memory_equal(now, f->disk_snapshot, DISK_SIZE);
	free(now);
}

/* ... and epoch 1 is still the committed one, with its device state. */
static void assert_untouched(struct fixture *f)
{
	struct us_receiver_stats st;
	size_t len;
	const char *dev = us_receiver_devstate(f->rx, &len);

	assert_bytes_untouched(f);
	us_receiver_stats(f->rx, &st);
	assert_true(st.committed == 1);
	assert_int_equal(len, 4);
	assert_memory_equal(dev, "dev1", 4);
}

static void assert_refused(struct fixture *f, uint32_t code, const char *words)
{
	assert_int_equal(f->sent[f->nsent - 1], US_MSG_REFUSE);
	assert_int_equal(f->refuse.code, code);
	assert_non_null(strstr(f->refuse.reason, words));
}

/* A standby of decide = silence (keepalive_max_ms 100) refuses a primary
 * promising rarer keepalives, or none, naming the fix; 100 passes. */
static void keepalive_promise_checked(void **state)
{
	struct fixture *f = *state;
	static const uint32_t bad[] = { 0, 101, 250 };
	size_t i;

	for (i = 0; i < 3; i++) {
		f->hello_keepalive = bad[i];
		assert_int_not_equal(hello(f, "demo", NPAGES * PG), 0);
		assert_refused(f, US_REFUSE_LIVENESS, "this standby needs <= 100");
		assert_non_null(strstr(f->refuse.reason, "set decide and silence_ms alike on both"));
	}
	f->hello_keepalive = 100;
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);
	assert_int_equal(f->sent[f->nsent - 1], US_MSG_HELLO_OK);
}

static int setup_silence(void **state)
{
	int rc;

	keepalive_max = 100;
	rc = setup(state);
	keepalive_max = 0;
	return rc;
}

static void good_epochs_commit(void **state)
{
	struct fixture *f = *state;
	struct us_receiver_stats st;
	int i;

	commit_two_epochs(f);
	assert_int_equal(f->sent[1], US_MSG_ACK);
	assert_true(f->sent_epoch[1] == 0);
	assert_int_equal(f->sent[2], US_MSG_ACK);
	assert_true(f->sent_epoch[2] == 1);
	assert_true(f->committed_cb == 1);
	for (i = 0; i < NPAGES; i++)
		assert_int_equal(f->replica[i * PG], (i >= 3 && i < 6) ? 2 : 1);
	us_receiver_stats(f->rx, &st);
	assert_true(st.epochs == 2 && st.pages == NPAGES + 3);
	assert_untouched(f);
}

static void staged_not_applied_before_end(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, 10, 1, 9), 0);
	assert_int_equal(f->replica[10 * PG], 1);	/* staged only */
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 0), 0);
	assert_int_equal(f->replica[10 * PG], 9);
}

/* A PAGES message of several runs (protocol 9): staged whole, every run applied at EPOCH_END. */
static void multi_run_pages_applied(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(two_runs(f, 2, 10, 20, 7, 0), 0);
	assert_int_equal(f->replica[10 * PG], 1);	/* staged only */
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 0), 0);
	assert_int_equal(f->replica[10 * PG], 7);
	assert_int_equal(f->replica[20 * PG + PG - 1], 7);
	assert_int_equal(f->replica[21 * PG + PG - 1], 7);
	assert_int_equal(f->replica[11 * PG], 1);
	assert_int_equal(f->replica[22 * PG], 1);
}

/* A later run of a PAGES message that overruns the body refuses the whole message. */
static void multi_run_overrun_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(two_runs(f, 2, 10, 20, 7, 1), -EBADMSG);
	assert_refused(f, US_REFUSE_PROTOCOL, "longer than the rest");
	assert_untouched(f);
}

/* Compressed pages (compress = lz4): staged like PAGES and applied at the
 * verified EPOCH_END, beside plain PAGES in the same epoch. */
static void lz4_pages_staged_then_applied(void **state)
{
	struct fixture *f = *state;
	int i;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages_lz4(f, 2, 10, 4, 20, 0), 0);
	assert_int_equal(pages(f, 2, 30, 1, 9), 0);
	assert_int_equal(f->replica[10 * PG], 1); /* staged only */
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 0), 0);
	assert_true(committed(f) == 2);
	for (i = 0; i < 4; i++) {
		assert_int_equal(f->replica[(10 + i) * PG], 20 + i);
		assert_int_equal(f->replica[(10 + i) * PG + PG - 1], 20 + i);
	}
	assert_int_equal(f->replica[30 * PG], 9);
}

/* A block that does not decompress to its pages is refused, naming why;
 * nothing is applied. */
static void lz4_corrupt_block_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages_lz4(f, 2, 10, 4, 20, 0x55), -EBADMSG);
	assert_refused(f, US_REFUSE_PROTOCOL, "does not decompress");
	assert_untouched(f);
}

/* ... as is a block no smaller than its pages, and one outside RAM. */
static void lz4_bad_runs_refused(void **state)
{
	struct fixture *f = *state;
	char body[US_PROTO_PAGES_DESC + PG + 8];

	commit_two_epochs(f);
	begin(f);
	us_proto_pages_desc_encode(body, 10, 1);
	memset(body + US_PROTO_PAGES_DESC, 0, sizeof(body) - US_PROTO_PAGES_DESC);
	assert_int_equal(feed(f, US_MSG_PAGES_LZ4, f->vm_id, 2, body, sizeof(body)), -EBADMSG);
	assert_refused(f, US_REFUSE_PROTOCOL, "no smaller than its pages");
	assert_untouched(f);
}

static void lz4_out_of_range_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages_lz4(f, 2, NPAGES - 2, 4, 20, 0), -ERANGE);
	assert_refused(f, US_REFUSE_PROTOCOL, "outside guest RAM");
	assert_untouched(f);
}

static void torn_epoch_discarded(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, 0, 8, 7), 0);
	us_receiver_reset(f->rx);	/* the primary died mid-transfer */
	assert_untouched(f);
	/* a new primary run starts a sync: from its HELLO on, nothing is promotable */
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);
	assert_true(committed(f) == US_EPOCH_NONE);
	size_t len;
	assert_null(us_receiver_devstate(f->rx, &len));
	assert_bytes_untouched(f);
	/* and the sync's epoch 0 is what it expects next, not epoch 2 */
	begin(f);
	assert_int_equal(pages(f, 2, 0, 1, 7), -EPROTO);
}

/* A switchover: the new primary goes on from the epoch this replica holds. */
static void switchover_hello_in_sync(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	us_receiver_reset(f->rx);
	us_receiver_adopt(f->rx, 77, 1, "dev1", 4);
	assert_true(us_receiver_lineage(f->rx) == 77);
	assert_int_equal(hello_from(f, 77, 1), 0);
	assert_true(committed(f) == 1);		/* still promotable: no sync */
	begin(f);
	assert_int_equal(pages(f, 2, 5, 1, 4), 0);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 0), 0);
	assert_true(committed(f) == 2);
	assert_int_equal(f->replica[5 * PG], 4);
}

/* Another run, or another base epoch: a full sync, the committed epoch dropped. */
static void switchover_hello_mismatch(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	us_receiver_reset(f->rx);
	us_receiver_adopt(f->rx, 77, 1, "dev1", 4);
	assert_int_equal(hello_from(f, 78, 1), 0);	/* another lineage */
	assert_true(committed(f) == US_EPOCH_NONE);
	us_receiver_reset(f->rx);
	us_receiver_adopt(f->rx, 77, 1, "dev1", 4);
	assert_int_equal(hello_from(f, 77, 0), 0);	/* an older base */
	assert_true(committed(f) == US_EPOCH_NONE);
	us_receiver_reset(f->rx);
	us_receiver_adopt(f->rx, 0, 1, "dev1", 4);
	assert_int_equal(hello_from(f, 0, 1), 0);	/* no lineage never matches */
	assert_true(committed(f) == US_EPOCH_NONE);
	assert_bytes_untouched(f);
}

static void duplicate_epoch_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 1, 3, 3, 5), -EPROTO);
	assert_refused(f, US_REFUSE_PROTOCOL, "replays an old epoch");
	assert_untouched(f);
}

static void future_epoch_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 7, 3, 1, 5), -EPROTO);
	assert_refused(f, US_REFUSE_PROTOCOL, "from the future");
	assert_untouched(f);
}

static void foreign_vm_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, 3, 1, 5), 0);
	f->vm_id ^= 1;
	assert_int_equal(devstate(f, 2, "evil"), -EINVAL);
	assert_refused(f, US_REFUSE_VM, "another VM");
	assert_untouched(f);
}

static void truncated_pages_refused(void **state)
{
	struct fixture *f = *state;
	char body[US_PROTO_PAGES_DESC + PG];

	commit_two_epochs(f);
	us_proto_pages_desc_encode(body, 4, 2);	/* announces 2 pages, carries 1 */
	memset(body + US_PROTO_PAGES_DESC, 6, PG);
	assert_int_equal(feed(f, US_MSG_PAGES, f->vm_id, 2, body, sizeof(body)), -EBADMSG);
	assert_refused(f, US_REFUSE_PROTOCOL, "longer than the rest");
	assert_untouched(f);
}

static void corrupted_epoch_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, 3, 2, 8), 0);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 0x1), -EBADMSG);
	assert_refused(f, US_REFUSE_PROTOCOL, "checksum");
	assert_untouched(f);
}

/* On an authenticated link the tags check every byte: EPOCH_END carries no
 * XXH3 sum (0) and the receiver does not compute one (off such a link a
 * wrong sum is refused: corrupted_epoch_refused). */
static void authenticated_link_unsummed(void **state)
{
	struct fixture *f = *state;
	struct us_receiver_stats st;

	us_receiver_set_authenticated(f->rx, 1);
	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, 3, 1, 8), 0);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, XXH3_64bits_digest(f->sum)), 0); /* sends checksum 0 */
	us_receiver_stats(f->rx, &st);
	assert_true(st.committed == 2);
	assert_int_equal(f->replica[3 * PG], 8);
}

static void incomplete_epoch_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, 3, 2, 8), 0);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	f->pages++;	/* EPOCH_END announces a page that never came */
	assert_int_equal(end(f, 2, 0), -EBADMSG);
	assert_refused(f, US_REFUSE_PROTOCOL, "incomplete");
	assert_untouched(f);
}

static void staging_cap_enforced(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, 0, 8, 3), 0);	/* exactly the cap */
	assert_int_equal(pages(f, 2, 8, 1, 3), -ENOBUFS);
	assert_refused(f, US_REFUSE_PROTOCOL, "staging cap");
	assert_untouched(f);
}

static void out_of_range_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(pages(f, 2, NPAGES - 1, 2, 3), -ERANGE);
	assert_refused(f, US_REFUSE_PROTOCOL, "outside guest RAM");
	assert_untouched(f);
}

static void hello_mismatches_refused(void **state)
{
	struct fixture *f = *state;
	struct us_msg_hdr h = { .version = 9, .type = US_MSG_HELLO, .len = 64 };
	char why[256];

	assert_int_equal(hello(f, "other", NPAGES * PG), -EINVAL);
	assert_refused(f, US_REFUSE_VM, "VM 'other'");
	assert_int_equal(hello(f, "demo", 2 * NPAGES * PG), -EINVAL);
	assert_refused(f, US_REFUSE_VM, "memory");
	f->hello_disk = DISK_SIZE / 2;
	assert_int_equal(hello(f, "demo", NPAGES * PG), -EINVAL);
	assert_refused(f, US_REFUSE_VM, "disk sizes differ: primary 131072 bytes, standby 262144");
	f->hello_disk = DISK_SIZE;
	assert_int_equal(hello_accel(f, "demo", NPAGES * PG, "kvm"), -EINVAL);
	assert_refused(f, US_REFUSE_ACCEL, "accelerators differ: primary kvm, standby tcg");
	assert_int_equal(us_receiver_input(f->rx, -EPROTONOSUPPORT, &h, NULL, why, sizeof(why)),
			 -EPROTONOSUPPORT);
	assert_refused(f, US_REFUSE_VERSION, "version 9");
	begin(f);
	assert_int_equal(pages(f, 0, 0, 1, 1), -EPROTO);	/* before HELLO */
	assert_refused(f, US_REFUSE_PROTOCOL, "before HELLO");
}

/* A keepalive between and inside epochs changes nothing and is no epoch. */
static void keepalive_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct us_receiver_stats st;

	commit_two_epochs(f);
	assert_int_equal(feed(f, US_MSG_KEEPALIVE, f->vm_id, 2, NULL, 0), 0);
	us_receiver_stats(f->rx, &st);
	assert_true(st.receiving == US_EPOCH_NONE);	/* no epoch opened */
	begin(f);
	assert_int_equal(pages(f, 2, 1, 1, 7), 0);
	assert_int_equal(feed(f, US_MSG_KEEPALIVE, f->vm_id, 99, NULL, 0), 0);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 0), 0);	/* the epoch is whole and verified */
	us_receiver_stats(f->rx, &st);
	assert_true(st.committed == 2);
}

/* Disk writes of an epoch reach the image only at its EPOCH_END, in order. */
static void disk_staged_until_end(void **state)
{
	struct fixture *f = *state;
	char buf[4096], want[4096];

	commit_two_epochs(f);
	image(f, 8192, 4096, buf);
	memset(want, 2, sizeof(want));
	assert_memory_equal(buf, want, 4096);	/* epoch 1's write landed */
	begin(f);
	assert_int_equal(disk(f, 2, 4096, 4096, US_DISK_WRITE, 3), 0);
	assert_int_equal(disk(f, 2, 4096, 2048, US_DISK_ZEROES, 0), 0);	/* later, same range */
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_untouched(f);			/* staged, not applied */
	assert_int_equal(end(f, 2, 0), 0);
	image(f, 4096, 4096, buf);
	memset(want, 0, 2048);
	memset(want + 2048, 3, 2048);
	assert_memory_equal(buf, want, 4096);
}

/* DISK @len bytes of @fill at @off, its body received where us_receiver_place says. */
static int disk_placed(struct fixture *f, uint64_t epoch, uint64_t off, uint32_t len, int fill)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION, .type = US_MSG_DISK,
				.len = US_PROTO_DISK_DESC + len, .vm_id = f->vm_id, .epoch = epoch };
	char *body = us_receiver_place(f->rx, &h), why[256];

	assert_non_null(body);
	us_proto_disk_desc_encode(body, off, len, US_DISK_WRITE);
	memset(body + US_PROTO_DISK_DESC, fill, len);
	XXH3_64bits_update(f->sum, body, h.len);
	f->disk_writes++;
	f->disk_bytes += h.len;
	return us_receiver_input(f->rx, 0, &h, body, why, sizeof(why));
}

/*
 * DISK bodies received in place (the transport's place callback) are staged
 * without a copy and applied at EPOCH_END in order with the copied ones;
 * epoch 0 and a DISK of another epoch get no place; a placed body that is
 * refused leaves the image as it was.
 */
static void disk_placed_staged(void **state)
{
	struct fixture *f = *state;
	struct us_msg_hdr h = { .version = US_PROTO_VERSION, .type = US_MSG_DISK,
				.len = US_PROTO_DISK_DESC + 4096, .vm_id = f->vm_id };
	char buf[12288], want[12288];

	commit_two_epochs(f);
	assert_null(us_receiver_place(f->rx, &h));	/* epoch 0 goes to the image */
	h.epoch = 3;
	assert_null(us_receiver_place(f->rx, &h));	/* not the epoch expected */
	begin(f);
	assert_int_equal(disk_placed(f, 2, 4096, 8192, 4), 0);
	assert_int_equal(disk(f, 2, 8192, 2048, US_DISK_WRITE, 5), 0);	/* copied, between */
	assert_int_equal(disk_placed(f, 2, 12288, 4096, 6), 0);
	assert_untouched(f);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 0), 0);
	image(f, 4096, sizeof(buf), buf);
	memset(want, 4, 8192);
	memset(want + 4096, 5, 2048);
	memset(want + 8192, 6, 4096);
	assert_memory_equal(buf, want, sizeof(buf));
	image(f, 0, DISK_SIZE, f->disk_snapshot);
	begin(f);
	assert_int_equal(disk_placed(f, 3, DISK_SIZE - 4096, 8192, 7), -ERANGE);
	assert_refused(f, US_REFUSE_PROTOCOL, "outside the replica image");
	assert_bytes_untouched(f);
}

/* A torn, duplicate, future, corrupted or incomplete epoch leaves the image as it was. */
static void disk_bad_epochs_untouched(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(disk(f, 2, 0, 4096, US_DISK_WRITE, 9), 0);
	us_receiver_reset(f->rx);		/* torn: the connection ended */
	assert_untouched(f);
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);	/* a new sync */
	assert_true(committed(f) == US_EPOCH_NONE);
	assert_bytes_untouched(f);
	teardown(state);
	setup(state);
	f = *state;
	commit_two_epochs(f);
	begin(f);
	assert_int_equal(disk(f, 1, 0, 4096, US_DISK_WRITE, 9), -EPROTO);	/* duplicate */
	assert_refused(f, US_REFUSE_PROTOCOL, "replays an old epoch");
	assert_untouched(f);
}

static void disk_corrupt_epoch_untouched(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(disk(f, 2, 0, 4096, US_DISK_WRITE, 9), 0);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	assert_int_equal(end(f, 2, 1), -EBADMSG);	/* checksum off by one bit */
	assert_refused(f, US_REFUSE_PROTOCOL, "fails its checksum");
	assert_untouched(f);
	f->nsent = 0;
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);	/* a new sync */
	assert_true(committed(f) == US_EPOCH_NONE);
	assert_bytes_untouched(f);
}

static void disk_incomplete_epoch_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(disk(f, 2, 0, 4096, US_DISK_WRITE, 9), 0);
	assert_int_equal(devstate(f, 2, "dev2"), 0);
	f->disk_writes++;			/* announce one more than sent */
	assert_int_equal(end(f, 2, 0), -EBADMSG);
	assert_refused(f, US_REFUSE_PROTOCOL, "disk writes");
	assert_untouched(f);
}

static void disk_future_epoch_refused(void **state)
{
	struct fixture *f = *state;

	commit_two_epochs(f);
	begin(f);
	assert_int_equal(disk(f, 3, 0, 4096, US_DISK_WRITE, 9), -EPROTO);	/* future */
	assert_refused(f, US_REFUSE_PROTOCOL, "is from the future");
	assert_untouched(f);
}

static void disk_range_and_cap(void **state)
{
	struct fixture *f = *state;
	int i, rc = 0;

	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);
	begin(f);
	assert_int_equal(disk(f, 0, DISK_SIZE - 4096, 8192, US_DISK_WRITE, 9), -ERANGE);
	assert_refused(f, US_REFUSE_PROTOCOL, "outside the replica image");
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);
	begin(f);
	assert_int_equal(pages(f, 0, 0, NPAGES, 1), 0);
	assert_int_equal(devstate(f, 0, "dev0"), 0);
	assert_int_equal(end(f, 0, 0), 0);
	begin(f);
	for (i = 0; i < 20 && rc == 0; i++)	/* 20 x 4 KiB over a 64 KiB cap */
		rc = disk(f, 1, (uint64_t)i * 4096, 4096, US_DISK_WRITE, 5);
	assert_int_equal(rc, -ENOBUFS);
	assert_refused(f, US_REFUSE_PROTOCOL, "disk_staging_max");
}

static void no_devstate_before_commit(void **state)
{
	struct fixture *f = *state;
	size_t len;

	assert_null(us_receiver_devstate(f->rx, &len));
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);
	begin(f);
	assert_int_equal(pages(f, 0, 0, 4, 1), 0);
	us_receiver_reset(f->rx);	/* torn initial sync */
	assert_null(us_receiver_devstate(f->rx, &len));
	assert_int_equal(hello(f, "demo", NPAGES * PG), 0);	/* may start over */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(good_epochs_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(staged_not_applied_before_end, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_epoch_discarded, setup, teardown),
		cmocka_unit_test_setup_teardown(multi_run_pages_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(multi_run_overrun_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(lz4_pages_staged_then_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(lz4_corrupt_block_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(lz4_bad_runs_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(lz4_out_of_range_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_epoch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(future_epoch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(foreign_vm_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(truncated_pages_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupted_epoch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(incomplete_epoch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(authenticated_link_unsummed, setup, teardown),
		cmocka_unit_test_setup_teardown(staging_cap_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(out_of_range_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(hello_mismatches_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(no_devstate_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(disk_staged_until_end, setup, teardown),
		cmocka_unit_test_setup_teardown(disk_placed_staged, setup, teardown),
		cmocka_unit_test_setup_teardown(keepalive_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(switchover_hello_in_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(switchover_hello_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(disk_bad_epochs_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(disk_corrupt_epoch_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(disk_incomplete_epoch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(disk_future_epoch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(disk_range_and_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(keepalive_promise_checked, setup_silence, teardown),
	};

	us_log_init("test_receiver", LOG_CRIT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
