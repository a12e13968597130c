/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness of the authenticated channel's handshake and tags, as a
 * hostile peer reaches them: replicator/chanauth.c (HELLO held, CHALLENGE,
 * AUTH) and rdma/transport_auth.c (a tag in every message's header, checked
 * before anyone acts on it), on a transport whose sends go nowhere, with
 * the real receiver behind on the standby's side (as replicator/standby.c
 * wires them) and the protocol's decoders behind on the primary's. The
 * nonces are fixed (us_auth_random is wrapped), so that:
 *
 * Input: byte 0 flags, then the peer's messages as on the wire.
 *   flag 1: this side is the primary (it sent a HELLO first), else the standby;
 *   flag 2: this side has the key FUZZ_KEY (else it has none);
 *   flag 4: the peer holds the key too: the harness writes the true proof
 *           into a CHALLENGE and the true tag into each message's header
 *           once the channel is up, so the fuzzer reaches past the
 *           handshake into tagged traffic.
 * Checks: no message reaches the receiver (standby) or its decoder
 * (primary) on a keyed side before the channel is authenticated.
 */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include "rdma/auth.h"
#include "rdma/transport_int.h"
#include "replicator/chanauth.h"
#include "replicator/proto.h"
#include "replicator/receiver.h"
#include "tests/fuzz/fuzz.h"

#define FLAG_PRIMARY 1
#define FLAG_KEYED 2
#define FLAG_PEER_KEYED 4
#define NPAGES 16 /* the HELLO of the seeds: 16 pages, a 64 KiB disk */
#define DISK_SIZE (64u << 10)

int __wrap_us_auth_random(void *out, size_t len);

struct fz {
	struct us_transport t;
	struct us_chanauth a;
	struct us_receiver *rx;
	int primary, peer_keyed;
	struct us_auth_session peer; /* the peer's side of the channel, for FLAG_PEER_KEYED */
	int peer_on;
	unsigned char nonce_s[US_AUTH_NONCE_LEN]; /* the CHALLENGE's, as last sent */
	char replica[NPAGES * US_PROTO_PAGE_SIZE];
};

static struct fz f;
static int disk_fd = -1;
static const struct us_auth_key fuzz_key = { .k = "understudy fuzz key, 32 bytes.." };

/* Fixed nonces: the harness can play a peer that holds the key. */
int __wrap_us_auth_random(void *out, size_t len)
{
	memset(out, 0x5a, len);
	return 0;
}

static int fake_send_msg(struct us_transport *t, uint16_t type, uint64_t epoch, const void *body,
			 size_t len)
{
	struct us_challenge c;
	struct us_hello h;

	if (type != US_MSG_CHALLENGE || !f.peer_keyed)
		return 0;
	/* the standby challenged: the peer (a primary with the key) goes on */
	us_fuzz_assert("the CHALLENGE and the held HELLO decode",
		       us_proto_challenge_decode(body, len, &c, NULL, 0) == 0 &&
			       us_proto_hello_decode(f.a.hello, f.a.hello_len, &h, NULL, 0) == 0);
	us_auth_session_init(&f.peer, &fuzz_key, h.nonce, c.nonce, 1);
	f.peer_on = 1;
	return 0;
}

static int fake_send_body(struct us_transport *t, uint16_t type, uint64_t epoch, const void *desc,
			  size_t desc_len, const void *data, size_t len)
{
	return 0;
}

static int fake_busy(const struct us_transport *t)
{
	return 0;
}

static uint64_t fake_queued(const struct us_transport *t)
{
	return 0;
}

static void fake_destroy(struct us_transport *t)
{
}

static const struct us_transport_ops fake_ops = {
	.name = "fuzz",
	.send_msg = fake_send_msg,
	.send_body = fake_send_body,
	.busy = fake_busy,
	.queued = fake_queued,
	.destroy = fake_destroy,
};

static int rx_send(void *opaque, uint16_t type, uint64_t epoch, const void *body, size_t len)
{
	return us_transport_send_msg(&f.t, type, epoch, body, len);
}

/* replicator/standby.c's on_msg, without the role's own messages. */
static int standby_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	char why[256];
	int rc, replay;

	if (hdr_rc == 0) {
		rc = us_chanauth_standby_msg(&f.a, &f.t, h, body, &replay, why, sizeof(why));
		if (rc < 0)
			return 1;
		if (replay) /* AUTH verified: the held HELLO goes on now */
			return standby_msg(opaque, 0, &f.a.hello_hdr, f.a.hello);
		if (rc > 0)
			return 0;
	}
	rc = us_receiver_input(f.rx, hdr_rc, h, body, why, sizeof(why));
	/* chanauth leaves a HELLO that does not decode to the receiver's refusal */
	if (f.a.on && (!us_transport_authenticated(&f.t) || f.a.waiting))
		us_fuzz_assert("a keyed standby's receiver takes nothing unauthenticated",
			       rc < 0 && (hdr_rc || h->type == US_MSG_HELLO));
	return rc < 0;
}

/* What the primary decodes of a standby's messages. */
static int primary_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	union {
		struct us_hello_ok ok;
		struct us_refuse refuse;
		struct us_disk_hashes hashes;
	} m;
	char why[256];
	int rc;

	if (hdr_rc)
		return 1;
	rc = us_chanauth_primary_msg(&f.a, &f.t, h, body, why, sizeof(why));
	if (rc)
		return rc < 0;
	if (f.a.on && h->type != US_MSG_REFUSE)
		us_fuzz_assert("nothing reaches a keyed primary unauthenticated",
			       us_transport_authenticated(&f.t));
	if (h->type == US_MSG_HELLO_OK)
		return us_proto_hello_ok_decode(body, h->len, &m.ok, why, sizeof(why)) < 0;
	if (h->type == US_MSG_REFUSE)
		return us_proto_refuse_decode(body, h->len, &m.refuse, why, sizeof(why)) < 0 ||
		       strlen(m.refuse.reason) >= sizeof(m.refuse.reason);
	if (h->type == US_MSG_DISK_HASHES)
		return us_proto_hashes_decode(body, h->len, &m.hashes, why, sizeof(why)) < 0;
	return 0;
}

/* A new connection: the transport as accepted or connected. */
static void connect_peer(void)
{
	static const struct us_transport_cbs sb = { .msg = standby_msg };
	static const struct us_transport_cbs pr = { .msg = primary_msg };
	struct us_hello h = { .ram_size = NPAGES * US_PROTO_PAGE_SIZE,
			      .page_size = US_PROTO_PAGE_SIZE,
			      .vm_name = "demo",
			      .accel = "tcg",
			      .base_epoch = US_EPOCH_NONE };
	char body[256];

	us_transport_auth_free(&f.t);
	f.t.ops = &fake_ops;
	us_transport_set_cbs(&f.t, f.primary ? &pr : &sb, &f);
	us_transport_set_vm(&f.t, us_proto_vm_id("demo"));
	f.a.waiting = 0;
	f.peer_on = 0;
	if (!f.primary)
		return;
	us_fuzz_assert("us_chanauth_hello", us_chanauth_hello(&f.a, &h) == 0);
	us_chanauth_sent(&f.a, body, us_proto_hello_encode(body, &h));
}

static void closed(void *opaque)
{
	us_receiver_reset(f.rx);
	connect_peer();
}

/* FLAG_PEER_KEYED, primary: a standby with the key answers the CHALLENGE truly. */
static const void *true_challenge(const struct us_msg_hdr *h, const void *body, void *out)
{
	struct us_challenge c;

	if (h->type != US_MSG_CHALLENGE || us_proto_challenge_decode(body, h->len, &c, NULL, 0))
		return body;
	us_auth_proof(&fuzz_key, f.a.hello, f.a.hello_len, c.nonce, c.proof);
	us_proto_challenge_encode(out, &c);
	if (!us_transport_authenticated(&f.t))
		memcpy(f.nonce_s, c.nonce, sizeof(f.nonce_s));
	return out;
}

/* FLAG_PEER_KEYED: the true tag of @h, as the keyed peer writes it into the
 * header (protocol 6 on: the tag rides in the message's own header). */
static void seal(struct us_msg_hdr *h, const void *body)
{
	unsigned char hdr[US_PROTO_HDR_SIZE];

	if (f.primary && !f.peer_on && us_transport_authenticated(&f.t)) {
		us_auth_session_init(&f.peer, &fuzz_key, f.a.nonce_p, f.nonce_s, 0);
		f.peer_on = 1;
	}
	if (!f.peer_on)
		return;
	memset(h->tag, 0, sizeof(h->tag));
	us_proto_hdr_encode(hdr, h);
	us_auth_tag(&f.peer, hdr, sizeof(hdr), NULL, 0, body, h->len, h->tag);
}

static int deliver(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	char challenge[64];
	struct us_msg_hdr sealed;

	if (f.peer_keyed && hdr_rc == 0) {
		if (f.primary)
			body = true_challenge(h, body, challenge);
		sealed = *h;
		seal(&sealed, body);
		h = &sealed;
	}
	return f.t.cbs.msg(f.t.opaque, hdr_rc, h, body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	us_fuzz_log_init("fuzz_chanauth");
	disk_fd = us_fuzz_memfd("replica-image", NULL, 0);
	us_fuzz_assert("size the replica image", ftruncate(disk_fd, DISK_SIZE) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct us_receiver_ops ops = { .send = rx_send };
	struct us_receiver_cfg cfg = { .vm_name = "demo",
				       .accel = "tcg",
				       .ram_size = NPAGES * US_PROTO_PAGE_SIZE,
				       .staging_max = NPAGES * (US_PROTO_PAGE_SIZE + 16),
				       .devstate_max = 64u << 10,
				       .disk_size = DISK_SIZE,
				       .disk_staging_max = 32u << 10 };

	if (size < 1)
		return 0;
	memset(&f, 0, sizeof(f));
	f.primary = !!(data[0] & FLAG_PRIMARY);
	f.a.on = !!(data[0] & FLAG_KEYED);
	f.a.key = fuzz_key;
	f.peer_keyed = f.a.on && (data[0] & FLAG_PEER_KEYED);
	cfg.replica = f.replica;
	cfg.disk_fd = disk_fd;
	f.rx = us_receiver_new(&cfg, &ops, &f);
	us_fuzz_assert("us_receiver_new", f.rx != NULL);
	connect_peer();
	us_fuzz_frames(data + 1, size - 1, deliver, closed, &f);
	us_transport_auth_free(&f.t);
	us_receiver_free(f.rx);
	return 0;
}
