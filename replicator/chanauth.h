/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemons' side of the authenticated channel (rdma/auth.h has the
 * diagram): the primary's HELLO carries a nonce and the AUTH flag, the
 * standby holds the HELLO back and answers with a CHALLENGE, the primary
 * checks the standby's proof and proves itself with AUTH; only then does
 * the standby act on the HELLO. A side with a key refuses a side without
 * one: no downgrade. With no key at all, a loud warning at start-up.
 */
#ifndef US_CHANAUTH_H
#define US_CHANAUTH_H

#include <stddef.h>

#include "rdma/auth.h"
#include "rdma/transport.h"
#include "replicator/config.h"
#include "replicator/proto.h"

struct us_chanauth {
	int on; /* [replication] key_file is set and loaded */
	struct us_auth_key key;
	unsigned char nonce_p[US_AUTH_NONCE_LEN];
	char hello[160]; /* the HELLO body, as sent (primary) or held (standby) */
	size_t hello_len;
	struct us_msg_hdr hello_hdr; /* standby: the held HELLO's header */
	int waiting;		     /* standby: CHALLENGE sent, AUTH due */
	struct us_tls *tls;	     /* TLS credentials, NULL: tls = off */
};

/**
 * Load the key (if any) and the TLS credentials for @role; without a key or
 * TLS, warn loudly. @return 0 or -errno, logged.
 */
int us_chanauth_load(struct us_chanauth *a, const struct us_config *cfg, const char *role);

/** Forget the key and the credentials; NULL-safe. */
void us_chanauth_free(struct us_chanauth *a);

/**
 * A new connection, before anything is sent on it: start TLS when it is
 * on (@server: the standby's accepted side). @return 0 or -errno, logged.
 */
int us_chanauth_connected(struct us_chanauth *a, struct us_transport *t, int server);

/* ---- primary ---- */

/** A new connection: a fresh nonce and the AUTH flag in @h when keyed. */
int us_chanauth_hello(struct us_chanauth *a, struct us_hello *h);

/** The HELLO body as sent, for the standby's proof. */
void us_chanauth_sent(struct us_chanauth *a, const void *body, size_t len);

/**
 * A message from the standby, before the primary acts on it: takes a
 * CHALLENGE (checks the proof, starts tagging, sends AUTH) and refuses a
 * standby that answers without authenticating while we have a key.
 * @return 1 taken here, 0 go on, -errno refused with the reason in @why.
 */
int us_chanauth_primary_msg(struct us_chanauth *a, struct us_transport *t,
			    const struct us_msg_hdr *h, const void *body, char *why, size_t len);

/* ---- standby ---- */

/**
 * A message from the primary, before the receiver sees it. A HELLO is held
 * and CHALLENGEd when keyed; AUTH releases it: *@replay is set and the held
 * HELLO is in a->hello_hdr / a->hello for the caller to act on.
 * @return 1 taken here, 0 go on, -errno refused with the reason in @why.
 */
int us_chanauth_standby_msg(struct us_chanauth *a, struct us_transport *t,
			    const struct us_msg_hdr *h, const void *body, int *replay, char *why,
			    size_t len);

#endif
