/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TLS's credentials and per-connection state, shared by tls.c and tcp_tls.c. */
#ifndef US_TLS_INT_H
#define US_TLS_INT_H

#include <stddef.h>
#include <gnutls/gnutls.h>

#include "rdma/tls.h"

#define TLS_CHUNK 16384		/* one TLS record's plaintext at most */
#define TLS_IO_BUF (256u << 10) /* records gathered per write, read ahead per read */
#define PSK_USER "understudy"
/* TLS 1.3 only; PSK with ECDHE (forward secrecy); AES-GCM first: AES-NI
 * and PCLMUL make it the fastest AEAD on the hosts this runs on */
#define PRIO_CIPHERS ":-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
#define PRIO_PSK "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK" PRIO_CIPHERS
#define PRIO_X509 "NORMAL:-VERS-ALL:+VERS-TLS1.3" PRIO_CIPHERS

struct us_tls {
	enum us_tls_mode mode;
	unsigned char psk[32];
	gnutls_psk_client_credentials_t psk_cli;
	gnutls_psk_server_credentials_t psk_srv;
	gnutls_certificate_credentials_t x509_cli, x509_srv; /* NULL: no such pair */
	char dir[256];
};

struct tcp_tls {
	gnutls_session_t session;
	struct us_tls *tls; /* borrowed: lives as long as the daemon */
	int server;
	int handshaking;
	int peeked;	  /* server: looked for a peer without TLS */
	char host[128];	  /* client: the standby's name to check (GnuTLS keeps a pointer) */
	const char *pend; /* the record GnuTLS has not finished sending */
	size_t pend_len;
	char tx[TLS_CHUNK]; /* headers and small messages, gathered */
	/* after the handshake, unless the kernel does TLS (tcp_tls.c: push, pull) */
	char *out; /* records encrypted, not yet written */
	size_t out_len;
	char *in; /* bytes read from the socket, not yet given to GnuTLS */
	size_t in_off, in_len;
};

#endif
