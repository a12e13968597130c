/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The handshake of the authenticated channel (chanauth.h) for both roles.
 * Everything a refusal says names the likely cause: a key on one host only,
 * or two different keys.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replicator/chanauth.h"
#include "replicator/key.h"
#include "replicator/log.h"

static int load_tls(struct us_chanauth *a, const struct us_config *cfg, const char *role)
{
	char why[512] = "";

	a->tls = us_tls_new(cfg->tls, a->on ? &a->key : NULL, cfg->tls_dir, role[0] == 's', why,
			    sizeof(why));
	if (!a->tls) {
		us_log(LOG_CRIT, US_TAG_MAIN, "%s", why);
		return -errno;
	}
	us_log(LOG_INFO, US_TAG_MAIN, "replication channel: TLS 1.3 on TCP (tls = %s%s%s)",
	       us_tls_mode_name(cfg->tls), cfg->tls == US_TLS_X509 ? ", certificates in " : "",
	       cfg->tls == US_TLS_X509 ? cfg->tls_dir : ", the PSK from key_file");
	return 0;
}

int us_chanauth_load(struct us_chanauth *a, const struct us_config *cfg, const char *role)
{
	char why[512];
	int rc;

	us_chanauth_free(a);
	if (!cfg->key_file[0] && cfg->tls == US_TLS_X509)
		return load_tls(a, cfg, role); /* the certificates authenticate */
	if (!cfg->key_file[0]) {
		us_log(LOG_WARNING, US_TAG_MAIN,
		       "UNAUTHENTICATED replication channel: no [replication] key_file, so "
		       "anyone who reaches the %s's port can %s; make a key with `understudy "
		       "keygen FILE`, copy it to both hosts and set key_file",
		       role[0] == 'p' ? "standby" : "this standby",
		       role[0] == 'p' ? "pose as the standby and release held output"
				      : "write pages into the replica");
		return 0;
	}
	rc = us_key_load(cfg->key_file, &a->key, why, sizeof(why));
	if (rc < 0) {
		us_log(LOG_CRIT, US_TAG_MAIN, "%s", why);
		return rc;
	}
	a->on = 1;
	us_log(LOG_INFO, US_TAG_MAIN, "replication channel authenticated with the key in %s",
	       cfg->key_file);
	return cfg->tls == US_TLS_OFF ? 0 : load_tls(a, cfg, role);
}

void us_chanauth_free(struct us_chanauth *a)
{
	if (!a)
		return;
	us_tls_free(a->tls);
	memset(a, 0, sizeof(*a));
}

int us_chanauth_connected(struct us_chanauth *a, struct us_transport *t, int server)
{
	return a->tls ? us_transport_tls_start(t, a->tls, server) : 0;
}

int us_chanauth_hello(struct us_chanauth *a, struct us_hello *h)
{
	int rc;

	if (!a->on || a->tls)
		return 0;
	rc = us_auth_random(a->nonce_p, sizeof(a->nonce_p));
	if (rc < 0)
		return rc;
	memcpy(h->nonce, a->nonce_p, sizeof(h->nonce));
	h->flags |= US_HELLO_AUTH;
	return 0;
}

void us_chanauth_sent(struct us_chanauth *a, const void *body, size_t len)
{
	a->hello_len = len < sizeof(a->hello) ? len : sizeof(a->hello);
	memcpy(a->hello, body, a->hello_len);
}

static int on_challenge(struct us_chanauth *a, struct us_transport *t, const struct us_msg_hdr *h,
			const void *body, char *why, size_t len)
{
	struct us_challenge c;

	if (!a->on) {
		snprintf(why, len,
			 "standby %s requires authentication and this primary has no "
			 "key_file: set [replication] key_file to the standby's key",
			 us_transport_peer(t));
		return -EACCES;
	}
	if (us_transport_authenticated(t) ||
	    us_proto_challenge_decode(body, h->len, &c, why, len) < 0) {
		snprintf(why, len, "standby %s sent a malformed or second CHALLENGE",
			 us_transport_peer(t));
		return -EPROTO;
	}
	if (!us_auth_proof_ok(&a->key, a->hello, a->hello_len, c.nonce, c.proof)) {
		snprintf(why, len,
			 "standby %s failed authentication: its proof does not match our "
			 "key (the two hosts' key_file differ?); nothing sent to it",
			 us_transport_peer(t));
		return -EACCES;
	}
	if (us_transport_auth_start(t, &a->key, a->nonce_p, c.nonce, 1) < 0 ||
	    us_transport_send_msg(t, US_MSG_AUTH, 0, NULL, 0) < 0) {
		snprintf(why, len, "cannot answer the CHALLENGE of %s", us_transport_peer(t));
		return -EIO;
	}
	us_log(LOG_INFO, US_TAG_PRIMARY, "standby %s authenticated", us_transport_peer(t));
	return 1;
}

int us_chanauth_primary_msg(struct us_chanauth *a, struct us_transport *t,
			    const struct us_msg_hdr *h, const void *body, char *why, size_t len)
{
	if (a->tls)
		return 0; /* TLS authenticated the standby before this message */
	if (h->type == US_MSG_CHALLENGE)
		return on_challenge(a, t, h, body, why, len);
	if (a->on && !us_transport_authenticated(t) && h->type != US_MSG_REFUSE) {
		snprintf(why, len,
			 "standby %s answered with %s without authenticating (no key_file "
			 "there?): refused, no downgrade to an unauthenticated channel",
			 us_transport_peer(t), us_proto_type_name(h->type));
		return -EACCES;
	}
	return 0;
}

static int standby_hello(struct us_chanauth *a, struct us_transport *t, const struct us_msg_hdr *h,
			 const void *body, char *why, size_t len)
{
	struct us_challenge c;
	struct us_hello hello;
	char out[64];

	if (us_proto_hello_decode(body, h->len, &hello, why, len) < 0)
		return 0; /* the receiver refuses it, in words */
	if (!(hello.flags & US_HELLO_AUTH)) {
		snprintf(why, len,
			 "primary %s offers no authentication and this standby has a "
			 "key_file: refused, no downgrade (set the same key_file on the primary)",
			 us_transport_peer(t));
		return -EACCES;
	}
	if (us_auth_random(c.nonce, sizeof(c.nonce)) < 0 || h->len > sizeof(a->hello)) {
		snprintf(why, len, "cannot make a nonce");
		return -EIO;
	}
	us_auth_proof(&a->key, body, h->len, c.nonce, c.proof);
	a->hello_hdr = *h;
	memcpy(a->hello, body, h->len);
	a->hello_len = h->len;
	if (us_transport_send_msg(t, US_MSG_CHALLENGE, 0, out, us_proto_challenge_encode(out, &c)) <
		    0 ||
	    us_transport_auth_start(t, &a->key, hello.nonce, c.nonce, 0) < 0) {
		snprintf(why, len, "cannot send the CHALLENGE");
		return -EIO;
	}
	a->waiting = 1;
	return 1;
}

int us_chanauth_standby_msg(struct us_chanauth *a, struct us_transport *t,
			    const struct us_msg_hdr *h, const void *body, int *replay, char *why,
			    size_t len)
{
	struct us_hello hello;

	*replay = 0;
	if (a->tls)
		return 0; /* TLS authenticated the primary before this message */
	if (!a->on) {
		if (h->type == US_MSG_HELLO &&
		    us_proto_hello_decode(body, h->len, &hello, why, len) == 0 &&
		    (hello.flags & US_HELLO_AUTH)) {
			snprintf(why, len,
				 "primary %s authenticates but this standby has no "
				 "key_file: set [replication] key_file to the primary's key",
				 us_transport_peer(t));
			return -EACCES;
		}
		return 0;
	}
	if (h->type == US_MSG_HELLO && !us_transport_authenticated(t))
		return standby_hello(a, t, h, body, why, len);
	if (a->waiting && h->type == US_MSG_AUTH) {
		a->waiting = 0; /* its tag verified: the primary holds the key */
		*replay = 1;
		us_log(LOG_INFO, US_TAG_STANDBY, "primary %s authenticated", us_transport_peer(t));
		return 1;
	}
	if (!us_transport_authenticated(t) || a->waiting) {
		snprintf(why, len, "primary %s sent %s before authenticating: refused",
			 us_transport_peer(t), us_proto_type_name(h->type));
		return -EACCES;
	}
	return 0;
}
