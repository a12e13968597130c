/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The channel's cryptography (auth.h), all of it Nettle's: HMAC-SHA256 for
 * the standby's proof, HKDF-SHA256 for the session keys, UMAC-64 for the
 * per-message tags (a few cycles per byte: the pages are tagged at the
 * speed the link carries them). Nothing here is a primitive of our own.
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>

#include "rdma/auth.h"

static const char proof_label[] = "understudy standby";

int us_auth_random(void *out, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = getrandom((char *)out + got, len - got, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

void us_auth_proof(const struct us_auth_key *k, const void *hello, size_t hello_len,
		   const unsigned char nonce_s[US_AUTH_NONCE_LEN],
		   unsigned char proof[US_AUTH_PROOF_LEN])
{
	struct hmac_sha256_ctx h;

	hmac_sha256_set_key(&h, sizeof(k->k), k->k);
	hmac_sha256_update(&h, sizeof(proof_label) - 1, (const uint8_t *)proof_label);
	hmac_sha256_update(&h, hello_len, hello);
	hmac_sha256_update(&h, US_AUTH_NONCE_LEN, nonce_s);
	hmac_sha256_digest(&h, US_AUTH_PROOF_LEN, proof);
}

int us_auth_proof_ok(const struct us_auth_key *k, const void *hello, size_t hello_len,
		     const unsigned char nonce_s[US_AUTH_NONCE_LEN],
		     const unsigned char proof[US_AUTH_PROOF_LEN])
{
	unsigned char want[US_AUTH_PROOF_LEN];

	us_auth_proof(k, hello, hello_len, nonce_s, want);
	return memeql_sec(want, proof, sizeof(want));
}

static void expand(struct hmac_sha256_ctx *prk, const char *info, uint8_t *out, size_t len)
{
	hkdf_expand(prk, (nettle_hash_update_func *)hmac_sha256_update,
		    (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE, strlen(info),
		    (const uint8_t *)info, len, out);
}

void us_auth_derive(const struct us_auth_key *k, const char *label, unsigned char *out, size_t len)
{
	struct hmac_sha256_ctx h;

	hmac_sha256_set_key(&h, sizeof(k->k), k->k);
	expand(&h, label, out, len);
	memset(&h, 0, sizeof(h));
}

void us_auth_session_init(struct us_auth_session *s, const struct us_auth_key *k,
			  const unsigned char nonce_p[US_AUTH_NONCE_LEN],
			  const unsigned char nonce_s[US_AUTH_NONCE_LEN], int primary)
{
	uint8_t salt[2 * US_AUTH_NONCE_LEN], prk_bytes[SHA256_DIGEST_SIZE];
	uint8_t p2s[UMAC_KEY_SIZE], s2p[UMAC_KEY_SIZE];
	struct hmac_sha256_ctx h;

	memcpy(salt, nonce_p, US_AUTH_NONCE_LEN);
	memcpy(salt + US_AUTH_NONCE_LEN, nonce_s, US_AUTH_NONCE_LEN);
	hmac_sha256_set_key(&h, sizeof(salt), salt);
	hkdf_extract(&h, (nettle_hash_update_func *)hmac_sha256_update,
		     (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE,
		     sizeof(k->k), k->k, prk_bytes);
	hmac_sha256_set_key(&h, sizeof(prk_bytes), prk_bytes);
	expand(&h, "understudy primary to standby", p2s, sizeof(p2s));
	expand(&h, "understudy standby to primary", s2p, sizeof(s2p));
	umac64_set_key(&s->tx, primary ? p2s : s2p);
	umac64_set_key(&s->rx, primary ? s2p : p2s);
	s->tx_seq = s->rx_seq = 0;
	memset(prk_bytes, 0, sizeof(prk_bytes));
	memset(p2s, 0, sizeof(p2s));
	memset(s2p, 0, sizeof(s2p));
}

static void set_nonce(struct umac64_ctx *c, uint64_t seq)
{
	uint8_t n[8];
	int i;

	for (i = 0; i < 8; i++)
		n[i] = (uint8_t)(seq >> (56 - 8 * i));
	umac64_set_nonce(c, sizeof(n), n);
}

void us_auth_tag(struct us_auth_session *s, const void *hdr, size_t hdr_len, const void *desc,
		 size_t desc_len, const void *body, size_t body_len,
		 unsigned char tag[US_AUTH_TAG_LEN])
{
	set_nonce(&s->tx, s->tx_seq++);
	umac64_update(&s->tx, hdr_len, hdr);
	if (desc_len)
		umac64_update(&s->tx, desc_len, desc);
	if (body_len)
		umac64_update(&s->tx, body_len, body);
	umac64_digest(&s->tx, US_AUTH_TAG_LEN, tag);
}

int us_auth_check(struct us_auth_session *s, const void *hdr, size_t hdr_len, const void *body,
		  size_t body_len, const unsigned char tag[US_AUTH_TAG_LEN])
{
	unsigned char want[US_AUTH_TAG_LEN];

	set_nonce(&s->rx, s->rx_seq++);
	umac64_update(&s->rx, hdr_len, hdr);
	if (body_len)
		umac64_update(&s->rx, body_len, body);
	umac64_digest(&s->rx, sizeof(want), want);
	return memeql_sec(want, tag, sizeof(want));
}
