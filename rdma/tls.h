/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS 1.3 on the TCP transport, through GnuTLS: with a pre-shared key
 * derived from the [replication] key_file (tls = psk), or with x509
 * certificates in libvirt's layout (tls = x509, [replication] tls_dir,
 * default /etc/pki/qemu: ca-cert.pem, server-cert.pem and server-key.pem for
 * the standby, client-cert.pem and client-key.pem for the primary). Both
 * sides prove themselves: the PSK handshake proves the key, and with x509 the
 * standby requires the primary's certificate. Nothing of the protocol is
 * read or sent before the handshake verified the peer.
 */
#ifndef US_TLS_H
#define US_TLS_H

#include <stddef.h>

#include "rdma/auth.h"
#include "rdma/transport.h"

enum us_tls_mode {
	US_TLS_AUTO = 0, /* psk when a key_file is set and transport = tcp, else off */
	US_TLS_OFF = 1,
	US_TLS_PSK = 2,
	US_TLS_X509 = 3,
};

#define US_TLS_DIR_DEFAULT "/etc/pki/qemu"

struct us_tls;

/** Parse "auto", "off", "psk" or "x509". @return 0 or -EINVAL. */
int us_tls_mode_parse(const char *s, enum us_tls_mode *mode);

/** @return "off", "psk" or "x509". */
const char *us_tls_mode_name(enum us_tls_mode mode);

/**
 * The credentials of one daemon: for psk, a PSK derived from @key; for
 * x509, the CA and whichever of the server and client pairs @dir holds (the
 * role cycle may need both), at least the pair of @server (1: standby).
 * @return the credentials, or NULL with errno set and the cause, naming the
 * file and the fix, in @why.
 */
struct us_tls *us_tls_new(enum us_tls_mode mode, const struct us_auth_key *key, const char *dir,
			  int server, char *why, size_t whylen);

/** NULL-safe. */
void us_tls_free(struct us_tls *tls);

/**
 * Run TLS on TCP connection @t from now on: call right after connect (the
 * client, @server 0) or in the accept callback (@server 1), before any send.
 * Sends queue until the handshake is done; a failed handshake closes the
 * connection through the closed callback, with the likely cause in words.
 * The client checks the standby's certificate against the host it dialled
 * (x509 only). @return 0, or -EOPNOTSUPP (not TCP), -ENOENT (no
 * certificate for this role) or -ENOMEM, logged.
 */
int us_transport_tls_start(struct us_transport *t, struct us_tls *tls, int server);

/** @return 1 once TLS runs on @t (the handshake may still be under way). */
int us_transport_tls(const struct us_transport *t);

#endif
