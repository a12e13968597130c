/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The authenticated channel on any transport (auth.h): once started, every
 * message sent is followed by a TAG, and every message received is held
 * until the TAG after it verifies; only then does the owner see it. So a
 * flipped byte, a message replayed from this or an earlier session, one
 * reordered, injected or dropped, is refused before it is acted on: the
 * replica and the held output never see it. Works the same over TCP and
 * verbs: it sits on the ops table, not in an implementation.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rdma/auth.h"
#include "rdma/transport_int.h"
#include "replicator/log.h"
#include "replicator/proto.h"

static void encode_hdr(const struct us_transport *t, char out[US_PROTO_HDR_SIZE], uint16_t type,
		       uint64_t epoch, size_t len)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION,
				.type = type,
				.len = (uint32_t)len,
				.vm_id = t->vm_id,
				.epoch = epoch };

	us_proto_hdr_encode(out, &h);
}

int us_transport_auth_sent(struct us_transport *t, uint16_t type, uint64_t epoch, const void *desc,
			   size_t desc_len, const void *body, size_t body_len)
{
	unsigned char tag[US_AUTH_TAG_LEN];
	char hdr[US_PROTO_HDR_SIZE];

	if (!t->auth)
		return 0;
	encode_hdr(t, hdr, type, epoch, desc_len + body_len);
	us_auth_tag(t->auth, hdr, sizeof(hdr), desc, desc_len, body, body_len, tag);
	return t->ops->send_msg(t, US_MSG_TAG, epoch, tag, sizeof(tag));
}

static int refuse(struct us_transport *t, const struct us_msg_hdr *h, const char *what)
{
	us_log(LOG_ERR, US_TAG_PROTO,
	       "%s: %s %s of epoch %lu: %s; closing the connection, nothing of it applied", t->peer,
	       what, us_proto_type_name(h->type), (unsigned long)h->epoch,
	       "altered on the way, replayed, reordered or injected by someone without the key");
	t->pend_have = 0;
	return 1;
}

/* Keep a message (encoded header and body) until its TAG comes. */
static int hold(struct us_transport *t, const struct us_msg_hdr *h, const void *body)
{
	size_t need = US_PROTO_HDR_SIZE + h->len;

	if (need > t->pend_cap) {
		char *n = realloc(t->pend, need);

		if (!n) {
			us_log(LOG_ERR, US_TAG_PROTO, "%s: no memory to hold a message for its tag",
			       t->peer);
			return 1;
		}
		t->pend = n;
		t->pend_cap = need;
	}
	us_proto_hdr_encode(t->pend, h);
	if (h->len)
		memcpy(t->pend + US_PROTO_HDR_SIZE, body, h->len);
	t->pend_len = need;
	t->pend_have = 1;
	return 0;
}

static int on_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct us_transport *t = opaque;
	struct us_msg_hdr held;
	char why[64];

	if (hdr_rc)
		return t->user_cbs.msg(t->user_opaque, hdr_rc, h, body);
	if (h->type != US_MSG_TAG) {
		if (t->pend_have)
			return refuse(t, h,
				      "a message came where the tag of the one before it was due:");
		return hold(t, h, body);
	}
	if (!t->pend_have)
		return refuse(t, h, "a tag with no message before it:");
	if (!us_auth_check(t->auth, t->pend, t->pend_len, body)) {
		us_proto_hdr_decode(t->pend, &held, why, sizeof(why));
		return refuse(t, &held, "authentication tag mismatch on");
	}
	t->pend_have = 0;
	us_proto_hdr_decode(t->pend, &held, why, sizeof(why));
	return t->user_cbs.msg(t->user_opaque, 0, &held,
			       held.len ? t->pend + US_PROTO_HDR_SIZE : NULL);
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
	static const struct us_transport_cbs cbs = { .msg = on_msg,
						     .drained = on_drained,
						     .closed = on_closed };

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
	free(t->pend);
	t->auth = NULL;
	t->pend = NULL;
	t->pend_cap = t->pend_len = 0;
	t->pend_have = 0;
}
