/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TCP transport's connection, shared by its plain I/O (tcp.c) and its
 * TLS I/O (tcp_tls.c).
 */
#ifndef US_TCP_INT_H
#define US_TCP_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "rdma/msgq.h"
#include "rdma/transport_int.h"

struct tcp_tls;

struct tcp_conn {
	struct us_transport base;
	int fd;
	int events;	   /* events registered with the loop */
	struct us_msgq mq; /* messages not yet (fully) written */
	size_t off;	   /* bytes of the front message already written */
	char *rx;	   /* received bytes not yet consumed */
	size_t rx_len;
	int stopped;	 /* no more reading: owner or version mismatch */
	char *body;	 /* the owner's place of the body being read (cbs.place) */
	size_t body_got; /* bytes of it read */
	struct us_msg_hdr body_h;
	struct tcp_tls *tls; /* tcp_tls.c, NULL: plain TCP */
};

extern const struct us_transport_ops us_tcp_ops;

/* tcp.c */
void us_tcp_set_events(struct tcp_conn *c, int events);
void us_tcp_seal(struct tcp_conn *c, struct us_seg *s);
void us_tcp_advance(struct tcp_conn *c, size_t n);

/* tcp_tls.c: each returns -errno with the cause in @why on failure */
/* Step the handshake: 1 done, 0 waiting for the socket (events set). */
int us_tcp_tls_handshake(struct tcp_conn *c, char *why, size_t whylen);
/* @return 1 while the handshake is under way. */
int us_tcp_tls_handshaking(const struct tcp_conn *c);
/* Decrypted bytes into @buf: > 0, 0 none yet, -errno (-ECONNRESET: closed). */
ssize_t us_tcp_tls_recv(struct tcp_conn *c, void *buf, size_t len, char *why, size_t whylen);
/* @return 1 if decrypted bytes wait inside GnuTLS (poll does not see them). */
int us_tcp_tls_pending(const struct tcp_conn *c);
/* @return 1 if encrypted records wait to be written. */
int us_tcp_tls_unsent(const struct tcp_conn *c);
/* Write queued messages as TLS records: 1 drained, 0 more to do, -errno. */
int us_tcp_tls_flush(struct tcp_conn *c);
void us_tcp_tls_free(struct tcp_conn *c);

#endif
