/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The authenticated channel on any transport (auth.h): once started, every
 * message sent carries its tag in its own header (protocol 6: no message of
 * its own, so no extra segment, syscall or work request), written as the
 * message first leaves the send queue, and every message received is
 * checked against the tag in its header, in place, before the owner sees it. So a
 * flipped byte, a message replayed from this or an earlier session, one
 * reordered, injected or dropped, is refused before it is acted on: the
 * replica and the held output never see it. Works the same over TCP and
 * verbs: it sits on the ops table, not in an implementation.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdma/auth.h"
#include "rdma/transport_int.h"
#include "replicator/log.h"
#include "replicator/proto.h"

void us_transport_auth_seal(struct us_transport *t, char *hdr, size_t hdr_len, const void *body,
			    size_t body_len)
{
	unsigned char *tag = (unsigned char *)hdr + US_PROTO_TAG_OFF;

	memset(tag, 0, US_AUTH_TAG_LEN);
	us_auth_tag(t->auth, hdr, hdr_len, NULL, 0, body, body_len, tag);
}

/*
 * A message failed its tag: log it, and tell the peer why in a REFUSE (our
 * own direction is intact, so its tag proves the REFUSE is ours), so that
 * both sides' logs name the message and the cause. The transport flushes
 * it before it closes (tcp.c: linger_flush).
 */
static int refuse(struct us_transport *t, const struct us_msg_hdr *h)
{
	struct us_refuse r = { .code = US_REFUSE_AUTH };
	char body[160];

	us_log(LOG_ERR, US_TAG_PROTO,
	       "%s: authentication tag mismatch on %s of epoch %lu: %s; closing the connection, "
	       "nothing of it applied",
	       t->peer, us_proto_type_name(h->type), (unsigned long)h->epoch,
	       "altered on the way, replayed, reordered or injected by someone without the key");
	snprintf(r.reason, sizeof(r.reason),
		 "authentication tag mismatch on %s of epoch %lu (altered, replayed or injected "
		 "on the way)",
		 us_proto_type_name(h->type), (unsigned long)h->epoch);
	us_transport_send_msg(t, US_MSG_REFUSE, h->epoch, body, us_proto_refuse_encode(body, &r));
	return 1;
}

/* Check the tag in the header against the message, in place. */
static int on_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct us_transport *t = opaque;
	struct us_msg_hdr z = *h;
	char hdr[US_PROTO_HDR_SIZE];

	if (hdr_rc)
		return t->user_cbs.msg(t->user_opaque, hdr_rc, h, body);
	memset(z.tag, 0, sizeof(z.tag));
	us_proto_hdr_encode(hdr, &z);
	if (!us_auth_check(t->auth, hdr, sizeof(hdr), body, h->len, h->tag))
		return refuse(t, h);
	return t->user_cbs.msg(t->user_opaque, 0, h, body);
}

static void *on_place(void *opaque, const struct us_msg_hdr *h)
{
	struct us_transport *t = opaque;

	return t->user_cbs.place ? t->user_cbs.place(t->user_opaque, h) : NULL;
}

static void on_drained(void *opaque)
{
	struct us_transport *t = opaque;

	if (t->user_cbs.drained)
		t->user_cbs.drained(t->user_opaque);
}

static void on_closed(void *opaque, int err, const char *why)
{
	struct us_transport *t = opaque;

	if (t->user_cbs.closed)
		t->user_cbs.closed(t->user_opaque, err, why);
}

int us_transport_auth_start(struct us_transport *t, const struct us_auth_key *key,
			    const unsigned char *nonce_p, const unsigned char *nonce_s, int primary)
{
	static const struct us_transport_cbs cbs = {
		.msg = on_msg, .drained = on_drained, .closed = on_closed, .place = on_place
	};

	if (t->auth)
		return -EALREADY;
	t->auth = calloc(1, sizeof(*t->auth));
	if (!t->auth)
		return -ENOMEM;
	us_auth_session_init(t->auth, key, nonce_p, nonce_s, primary);
	t->user_cbs = t->cbs;
	t->user_opaque = t->opaque;
	t->cbs = cbs;
	t->opaque = t;
	return 0;
}

int us_transport_authenticated(const struct us_transport *t)
{
	return t->auth != NULL;
}

void us_transport_auth_free(struct us_transport *t)
{
	if (t->auth)
		memset(t->auth, 0, sizeof(*t->auth));
	free(t->auth);
	t->auth = NULL;
}
