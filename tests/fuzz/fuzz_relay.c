/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness of the network relay's guest side: the -netdev stream
 * framing (netbuf/frame.c, as netbuf/relay.c runs it) with the real
 * output-commit queue (netbuf/outq.c) behind it, under small caps so the
 * queue fills and reading stops, as it does for the relay. Checks output
 * commit against a reference parse of the same bytes: every well-formed
 * frame leaves, once, in the order sent, unchanged, and only after its
 * epoch is released (or in passthrough); only a parked standby (INACTIVE)
 * drops frames; every malformed record is counted.
 *
 * Input: byte 0 sets the queue's caps; byte 1 is the length L of a program
 * of L op bytes that follows; the rest is what QEMU writes. Each op: low two
 * bits the kind, the rest its argument:
 *   0 read (arg+1)*64 bytes of the stream;  1 seal the open epoch;
 *   2 release sealed epochs up to (last sealed - arg%4);  3 mode = arg%3.
 * After the program the rest of the stream is read, then it ends and
 * everything held is released.
 */
#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "netbuf/frame.h"
#include "netbuf/outq.h"
#include "netbuf/relay.h"
#include "tests/fuzz/fuzz.h"

enum { TAKEN = 1, LEFT = 2, DROPPED = 3 };

struct ref_frame {
	size_t off, len; /* of the frame's bytes in the stream */
	int state;	 /* 0 until split out, then TAKEN, LEFT or DROPPED */
};

struct fz {
	const uint8_t *stream;
	size_t size, fed;
	struct ref_frame ref[8192];
	size_t nref, next_in, next_out;
	uint64_t ref_malformed;
	struct us_frame_rx rx;
	struct us_outq *q;
	enum us_relay_mode mode;
	uint64_t sealed; /* epochs sealed so far: 1..sealed */
	int blocked;
};

static struct fz f;

/* The frames of @s, parsed on their own: the reference. */
static void reference(struct fz *z)
{
	size_t pos = 0;
	uint32_t n;

	z->nref = 0;
	z->ref_malformed = 0;
	while (z->size - pos >= 4) {
		n = (uint32_t)z->stream[pos] << 24 | (uint32_t)z->stream[pos + 1] << 16 |
		    (uint32_t)z->stream[pos + 2] << 8 | z->stream[pos + 3];
		if (n == 0 || n > US_RELAY_MAX_FRAME) {
			z->ref_malformed++;
			if (z->size - pos < 4 + (size_t)n)
				z->ref_malformed++; /* its skip outlives the stream */
			pos = z->size - pos < 4 + (size_t)n ? z->size : pos + 4 + n;
			continue;
		}
		if (z->size - pos < 4 + (size_t)n)
			break;
		z->ref[z->nref].off = pos + 4;
		z->ref[z->nref].state = 0;
		z->ref[z->nref++].len = n;
		pos += 4 + n;
	}
	if (pos < z->size)
		z->ref_malformed++; /* a truncated last frame */
}

static int same(const struct ref_frame *r, const void *frame, size_t len)
{
	return r->len == len && memcmp(f.stream + r->off, frame, len) == 0;
}

/* A frame leaves for the tap: the next one sent, in order, unchanged. */
static int emit(void *opaque, const void *frame, size_t len)
{
	while (f.next_out < f.next_in && f.ref[f.next_out].state == DROPPED)
		f.next_out++;
	us_fuzz_assert("only frames taken leave",
		       f.next_out < f.next_in && f.ref[f.next_out].state == TAKEN);
	us_fuzz_assert("frames leave in order, unchanged", same(&f.ref[f.next_out], frame, len));
	f.ref[f.next_out++].state = LEFT;
	return 0;
}

/* relay.c's outbound(): the same decisions, in the same modes. */
static int outbound(void *opaque, const unsigned char *frame, size_t len)
{
	int rc = 0;

	us_fuzz_assert("no frame beyond the reference", f.next_in < f.nref);
	us_fuzz_assert("frames are split as sent", same(&f.ref[f.next_in], frame, len));
	if (f.mode == US_RELAY_INACTIVE) {
		f.ref[f.next_in].state = DROPPED; /* a parked standby's relay */
	} else if (f.mode == US_RELAY_PASSTHROUGH) {
		f.ref[f.next_in++].state = TAKEN;
		return emit(NULL, frame, len);
	} else {
		rc = us_outq_push(f.q, frame, len);
		us_fuzz_assert("the queue takes or refuses a frame", rc == 0 || rc == -ENOBUFS);
		if (rc == -ENOBUFS)
			return rc;
		f.ref[f.next_in].state = TAKEN;
	}
	f.next_in++;
	return 0;
}

static void split(void)
{
	f.blocked = us_frame_rx_split(&f.rx, outbound, NULL) == -ENOBUFS;
}

/* Read up to @n bytes of the stream, as on_qemu() does; not while blocked. */
static void feed(size_t n)
{
	size_t room = US_FRAME_RX_CAP - f.rx.len;

	if (f.blocked)
		return;
	if (n > f.size - f.fed)
		n = f.size - f.fed;
	if (n > room)
		n = room;
	memcpy(f.rx.buf + f.rx.len, f.stream + f.fed, n);
	f.rx.len += n;
	f.fed += n;
	split();
}

static void release(uint64_t epoch)
{
	us_outq_release(f.q, epoch, emit, NULL);
	if (f.blocked && us_outq_room(f.q, US_RELAY_MAX_FRAME))
		split();
}

static void set_mode(enum us_relay_mode mode)
{
	f.mode = mode;
	if (mode != US_RELAY_PASSTHROUGH)
		return;
	us_outq_flush(f.q, emit, NULL);
	if (f.blocked)
		split();
}

static void run_op(uint8_t op)
{
	unsigned arg = op >> 2;

	switch (op & 3) {
	case 0: feed(((size_t)arg + 1) * 64); break;
	case 1: us_outq_seal(f.q, ++f.sealed); break;
	case 2:
		if (f.sealed > arg % 4)
			release(f.sealed - arg % 4);
		break;
	default: set_mode((enum us_relay_mode)(arg % 3));
	}
}

/* The rest of the stream, an ACK whenever the queue blocks, then its end. */
static void finish(void)
{
	while (f.fed < f.size || f.blocked) {
		feed(4096);
		if (f.blocked) {
			us_outq_seal(f.q, ++f.sealed);
			release(f.sealed);
		}
	}
	us_frame_rx_end(&f.rx);
	us_outq_seal(f.q, ++f.sealed);
	release(f.sealed);
	set_mode(US_RELAY_PASSTHROUGH);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	us_fuzz_log_init("fuzz_relay");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t proglen, i;

	if (size < 2 || size - 2 < data[1] || size > 32768) /* f.ref holds its frames */
		return 0;
	proglen = data[1];
	memset(&f, 0, offsetof(struct fz, ref));
	f.stream = data + 2 + proglen;
	f.size = size - 2 - proglen;
	f.nref = f.next_in = f.next_out = 0;
	f.rx.len = f.rx.skip = f.rx.malformed = 0;
	f.mode = US_RELAY_BUFFERED;
	f.sealed = 0;
	f.blocked = 0;
	reference(&f);
	/* caps as small as a frame: full queues, blocked reads */
	f.q = us_outq_new(US_RELAY_MAX_FRAME + (data[0] & 0xf) * 4096u, 1 + (data[0] >> 4));
	us_fuzz_assert("us_outq_new", f.q != NULL);
	for (i = 0; i < proglen; i++)
		run_op(data[2 + i]);
	finish();
	us_fuzz_assert("the stream drains once everything is released", !f.blocked);
	us_fuzz_assert("every well-formed frame was split out", f.next_in == f.nref);
	for (i = 0; i < f.nref; i++)
		us_fuzz_assert("every well-formed frame left, or was dropped while parked",
			       f.ref[i].state == LEFT || f.ref[i].state == DROPPED);
	us_fuzz_assert("every malformed record is counted", f.rx.malformed == f.ref_malformed);
	us_outq_free(f.q);
	return 0;
}
