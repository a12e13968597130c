/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS 1.3 on the TCP transport (tls.h), through GnuTLS: the credentials and
 * a session on a connection (tcp_tls.c runs the handshake and the records).
 *
 * With TLS on, the daemons skip the channel's own challenge-response and
 * per-message UMAC tags (chanauth.c, transport_auth.c): every TLS 1.3
 * record is authenticated (AEAD) under keys of this session with an
 * implicit sequence number, so a flipped byte, a replayed, reordered,
 * dropped or injected record ends the connection inside GnuTLS; and the
 * handshake itself proves the peer: the PSK binder proves the key, x509
 * proves both certificates against the CA. A second MAC would buy nothing
 * and cost a pass over every page. RDMA has no TLS: there the tags stay.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>

#include "rdma/tcp_int.h"
#include "rdma/tls_int.h"
#include "replicator/log.h"

int us_tls_mode_parse(const char *s, enum us_tls_mode *mode)
{
	static const char *const names[] = { "auto", "off", "psk", "x509" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*mode = (enum us_tls_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *us_tls_mode_name(enum us_tls_mode mode)
{
	return mode == US_TLS_PSK ? "psk" : mode == US_TLS_X509 ? "x509" : "off";
}

/* ---- credentials ---- */

static int psk_lookup(gnutls_session_t session, const char *user, gnutls_datum_t *key)
{
	struct tcp_tls *s = gnutls_session_get_ptr(session);

	key->data = gnutls_malloc(sizeof(s->tls->psk));
	if (!key->data)
		return -1;
	memcpy(key->data, s->tls->psk, sizeof(s->tls->psk));
	key->size = sizeof(s->tls->psk);
	return 0;
}

static int load_psk(struct us_tls *t, const struct us_auth_key *key, char *why, size_t len)
{
	gnutls_datum_t d = { t->psk, sizeof(t->psk) };

	us_auth_derive(key, "understudy tls 1.3 psk", t->psk, sizeof(t->psk));
	if (gnutls_psk_allocate_client_credentials(&t->psk_cli) < 0 ||
	    gnutls_psk_allocate_server_credentials(&t->psk_srv) < 0 ||
	    gnutls_psk_set_client_credentials(t->psk_cli, PSK_USER, &d, GNUTLS_PSK_KEY_RAW) < 0) {
		snprintf(why, len, "GnuTLS cannot hold the PSK credentials");
		return -ENOMEM;
	}
	gnutls_psk_set_server_credentials_function(t->psk_srv, psk_lookup);
	return 0;
}

static int file_exists(const char *dir, const char *name, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f)
		fclose(f);
	return f != NULL;
}

/* The CA and the pair @role-cert.pem / @role-key.pem of @dir; *@out NULL if the pair is absent. */
static int load_pair(struct us_tls *t, const char *role, gnutls_certificate_credentials_t *out,
		     char *why, size_t len)
{
	char ca[300], cert[300], key[300], name[32];
	int rc;

	*out = NULL;
	snprintf(name, sizeof(name), "%s-cert.pem", role);
	if (!file_exists(t->dir, name, cert, sizeof(cert)))
		return 0;
	snprintf(name, sizeof(name), "%s-key.pem", role);
	file_exists(t->dir, name, key, sizeof(key));
	if (!file_exists(t->dir, "ca-cert.pem", ca, sizeof(ca))) {
		snprintf(why, len,
			 "tls = x509: no CA certificate %s (libvirt's layout: the CA "
			 "that signed both hosts' certificates; or set [replication] tls_dir)",
			 ca);
		return -ENOENT;
	}
	if (gnutls_certificate_allocate_credentials(out) < 0)
		return -ENOMEM;
	rc = gnutls_certificate_set_x509_trust_file(*out, ca, GNUTLS_X509_FMT_PEM);
	if (rc <= 0) {
		snprintf(why, len, "tls = x509: %s holds no usable CA certificate: %s", ca,
			 rc < 0 ? gnutls_strerror(rc) : "none found");
		return -EINVAL;
	}
	rc = gnutls_certificate_set_x509_key_file(*out, cert, key, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		snprintf(why, len,
			 "tls = x509: cannot use %s with %s: %s (a PEM certificate and "
			 "its unencrypted private key)",
			 cert, key, gnutls_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static int load_x509(struct us_tls *t, const char *dir, int server, char *why, size_t len)
{
	int rc;

	snprintf(t->dir, sizeof(t->dir), "%s", dir && dir[0] ? dir : US_TLS_DIR_DEFAULT);
	rc = load_pair(t, "server", &t->x509_srv, why, len);
	if (rc == 0)
		rc = load_pair(t, "client", &t->x509_cli, why, len);
	if (rc == 0 && !(server ? t->x509_srv : t->x509_cli)) {
		snprintf(why, len,
			 "tls = x509: no %s certificate %s/%s-cert.pem (with its %s-key.pem; "
			 "libvirt's layout), or set [replication] tls_dir",
			 server ? "server" : "client", t->dir, server ? "server" : "client",
			 server ? "server" : "client");
		rc = -ENOENT;
	}
	return rc;
}

struct us_tls *us_tls_new(enum us_tls_mode mode, const struct us_auth_key *key, const char *dir,
			  int server, char *why, size_t whylen)
{
	struct us_tls *t = calloc(1, sizeof(*t));
	int rc;

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->mode = mode;
	rc = -EINVAL;
	if (mode == US_TLS_PSK && !key)
		snprintf(why, whylen, "tls = psk needs a key_file");
	else if (mode == US_TLS_PSK)
		rc = load_psk(t, key, why, whylen);
	else if (mode == US_TLS_X509)
		rc = load_x509(t, dir, server, why, whylen);
	else
		snprintf(why, whylen, "tls = %s: no credentials to make", us_tls_mode_name(mode));
	if (rc < 0) {
		us_tls_free(t);
		errno = -rc;
		return NULL;
	}
	return t;
}

void us_tls_free(struct us_tls *t)
{
	if (!t)
		return;
	if (t->psk_cli)
		gnutls_psk_free_client_credentials(t->psk_cli);
	if (t->psk_srv)
		gnutls_psk_free_server_credentials(t->psk_srv);
	if (t->x509_cli)
		gnutls_certificate_free_credentials(t->x509_cli);
	if (t->x509_srv)
		gnutls_certificate_free_credentials(t->x509_srv);
	memset(t->psk, 0, sizeof(t->psk));
	free(t);
}

/* ---- a session on a connection ---- */

/* The host part of "host:port" or "[v6]:port". */
static void peer_host(const char *peer, char *host, size_t len)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

	if (peer[0] == '[' && n >= 2) {
		peer++;
		n -= 2;
	}
	snprintf(host, len, "%.*s", (int)n, peer);
}

static int set_creds(struct tcp_tls *s, struct us_tls *tls, const char *peer)
{
	gnutls_certificate_credentials_t x = s->server ? tls->x509_srv : tls->x509_cli;

	if (tls->mode == US_TLS_PSK) {
		return gnutls_credentials_set(s->session, GNUTLS_CRD_PSK,
					      s->server ? (void *)tls->psk_srv
							: (void *)tls->psk_cli);
	}
	if (!x)
		return GNUTLS_E_INSUFFICIENT_CREDENTIALS;
	if (s->server) {
		gnutls_certificate_server_set_request(s->session, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert(s->session, NULL, 0);
	} else {
		peer_host(peer, s->host, sizeof(s->host));
		gnutls_session_set_verify_cert(s->session, s->host, 0);
	}
	return gnutls_credentials_set(s->session, GNUTLS_CRD_CERTIFICATE, x);
}

static int new_session(struct tcp_conn *c, struct tcp_tls *s)
{
	int rc = gnutls_init(&s->session, (s->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
						  GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);

	if (rc < 0)
		return rc;
	gnutls_session_set_ptr(s->session, s);
	rc = gnutls_priority_set_direct(s->session,
					s->tls->mode == US_TLS_PSK ? PRIO_PSK : PRIO_X509, NULL);
	if (rc == 0)
		rc = set_creds(s, s->tls, c->base.peer);
	gnutls_transport_set_int(s->session, c->fd);
	return rc;
}

int us_transport_tls_start(struct us_transport *t, struct us_tls *tls, int server)
{
	struct tcp_conn *c = (struct tcp_conn *)t;
	struct tcp_tls *s;
	int rc;

	if (t->ops != &us_tcp_ops) {
		us_log(LOG_ERR, US_TAG_NET,
		       "TLS runs on TCP only; over %s the channel is "
		       "authenticated (key_file), not encrypted",
		       t->ops->name);
		return -EOPNOTSUPP;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->tls = tls;
	s->server = server;
	s->handshaking = 1;
	rc = new_session(c, s);
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_NET, "cannot start TLS with %s: %s", t->peer,
		       rc == GNUTLS_E_INSUFFICIENT_CREDENTIALS ? "no certificate for this role in "
								 "tls_dir"
							       : gnutls_strerror(rc));
		if (s->session)
			gnutls_deinit(s->session);
		free(s);
		return rc == GNUTLS_E_INSUFFICIENT_CREDENTIALS ? -ENOENT : -ENOMEM;
	}
	c->tls = s;
	us_tcp_set_events(c, POLLIN | POLLOUT); /* the client speaks first; the loop steps it */
	return 0;
}

int us_transport_tls(const struct us_transport *t)
{
	return t->ops == &us_tcp_ops && ((const struct tcp_conn *)t)->tls != NULL;
}

void us_tcp_tls_free(struct tcp_conn *c)
{
	if (!c->tls)
		return;
	gnutls_deinit(c->tls->session);
	free(c->tls->out);
	free(c->tls->in);
	free(c->tls);
	c->tls = NULL;
}
