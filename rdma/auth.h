/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Authentication of the replication channel with a shared key (the
 * [replication] key_file, `understudy keygen`), built on Nettle:
 *
 *   primary                                   standby
 *   HELLO(..., nonce_p, flag AUTH)       ──▶  (nothing is acted on yet)
 *                                        ◀──  CHALLENGE(nonce_s, proof_s)
 *     proof_s = HMAC-SHA256(K, "understudy standby" || HELLO body || nonce_s)
 *   from here on every message, both ways, carries in its header's tag
 *   field the UMAC-64 of its header (tag field zero) and body, under a key
 *   per direction from HKDF-SHA256(K, nonce_p || nonce_s), nonce = the
 *   direction's message count
 *   AUTH (empty: its tag proves the key) ──▶  the HELLO is acted on now
 *                                        ◀──  HELLO_OK ...
 *
 * Fresh nonces on both sides make a recorded session useless; the counters
 * make a replayed, reordered, dropped or injected message fail its tag.
 * UMAC-64, not UMAC-128: forging one tag succeeds with odds of about 2^-60,
 * and a failed tag ends the connection; UMAC-128 ran at 7.5 GB/s here against
 * 12.4 GB/s, and each side tags every page it moves.
 */
#ifndef US_AUTH_H
#define US_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <nettle/umac.h>

#include "replicator/proto.h"

#define US_AUTH_KEY_LEN 32
#define US_AUTH_NONCE_LEN 32
#define US_AUTH_PROOF_LEN 32
#define US_AUTH_TAG_LEN US_PROTO_TAG_LEN

struct us_auth_key {
	unsigned char k[US_AUTH_KEY_LEN];
};

struct us_auth_session {
	struct umac64_ctx tx, rx;
	uint64_t tx_seq, rx_seq;
};

/**
 * A key of @len bytes for another use of @k (e.g. the TLS PSK), labelled
 * @label: HKDF-SHA256's expand with @k as the pseudo-random key (it is
 * uniformly random already).
 */
void us_auth_derive(const struct us_auth_key *k, const char *label, unsigned char *out, size_t len);

/** Fill @out with @len random bytes (getrandom). @return 0 or -errno. */
int us_auth_random(void *out, size_t len);

/** The standby's proof that it holds @k, bound to @hello and @nonce_s. */
void us_auth_proof(const struct us_auth_key *k, const void *hello, size_t hello_len,
		   const unsigned char nonce_s[US_AUTH_NONCE_LEN],
		   unsigned char proof[US_AUTH_PROOF_LEN]);

/** @return 1 if @proof matches (constant time), else 0. */
int us_auth_proof_ok(const struct us_auth_key *k, const void *hello, size_t hello_len,
		     const unsigned char nonce_s[US_AUTH_NONCE_LEN],
		     const unsigned char proof[US_AUTH_PROOF_LEN]);

/** Derive the session's keys; @primary: this side sent the HELLO. */
void us_auth_session_init(struct us_auth_session *s, const struct us_auth_key *k,
			  const unsigned char nonce_p[US_AUTH_NONCE_LEN],
			  const unsigned char nonce_s[US_AUTH_NONCE_LEN], int primary);

/** The tag of the next message sent: @hdr, then @desc, then @body. */
void us_auth_tag(struct us_auth_session *s, const void *hdr, size_t hdr_len, const void *desc,
		 size_t desc_len, const void *body, size_t body_len,
		 unsigned char tag[US_AUTH_TAG_LEN]);

/** Check the next message received: @hdr, then @body. @return 1 if good. */
int us_auth_check(struct us_auth_session *s, const void *hdr, size_t hdr_len, const void *body,
		  size_t body_len, const unsigned char tag[US_AUTH_TAG_LEN]);

#endif
