/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TCP transport's TLS I/O (tls.h): the non-blocking handshake on the
 * libqb loop, then records behind tcp.c's send queue and parser. Messages
 * queued before the handshake is done wait in the queue; nothing received
 * is parsed before it is done.
 *
 * Sending: a record is built either straight from a message's body (the
 * bulk of the pages, no copy) or, around headers and small messages, from
 * up to 16 KiB gathered into one buffer, so small messages share records.
 * GnuTLS asks that a send it answered with EAGAIN be repeated with the same
 * bytes: the pending record's bytes stay put until it has gone.
 *
 * Once the handshake is done (and the kernel does not do TLS), GnuTLS
 * writes and reads through our push and pull: records are gathered and
 * written up to 256 KiB at a time, and read ahead as much, instead of a
 * send per 16 KiB record and two reads (its header, its body) per record.
 * Over a loopback those syscalls cost more than the AES-GCM itself.
 *
 * Kernel TLS: GnuTLS hands the record layer to the kernel when the kernel
 * has the tls module and GnuTLS's system config enables it (`[global]` and
 * `ktls = true` in /etc/gnutls/config); gnutls_record_send/recv then go
 * through the kernel unchanged. The log says after each handshake whether
 * it is in use and, if not, why.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/socket.h>

#include "rdma/tcp_int.h"
#include "rdma/tls_int.h"
#include "replicator/log.h"

/* ---- the handshake ---- */

static int kernel_offers_ktls(void)
{
	char ulp[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");

	if (f) {
		if (!fgets(ulp, sizeof(ulp), f))
			ulp[0] = 0;
		fclose(f);
	}
	return strstr(ulp, "tls") != NULL;
}

static void log_up(struct tcp_conn *c)
{
	struct tcp_tls *s = c->tls;
	char *desc = gnutls_session_get_desc(s->session);
	int ktls = gnutls_transport_is_ktls_enabled(s->session) == GNUTLS_KTLS_DUPLEX;

	us_log(LOG_INFO, US_TAG_NET, "%s: TLS up (%s, tls = %s); kernel TLS %s", c->base.peer,
	       desc ? desc : "?", us_tls_mode_name(s->tls->mode),
	       ktls		      ? "in use: the kernel encrypts"
	       : kernel_offers_ktls() ? "offered by the kernel but not enabled in GnuTLS "
					"(`ktls = true` under [global] in /etc/gnutls/config): "
					"GnuTLS encrypts in user space"
				      : "not offered by this kernel (no tls module): GnuTLS "
					"encrypts in user space");
	gnutls_free(desc);
}

/*
 * Server: a peer that starts with our protocol's magic has no TLS; its
 * version says whether it is an older understudy (before TLS). @return 1
 * with the cause in @why if so.
 */
static int plain_peer(struct tcp_conn *c, char *why, size_t whylen)
{
	unsigned char b[6];
	ssize_t n = recv(c->fd, b, sizeof(b), MSG_PEEK);
	unsigned version;

	if (n < (ssize_t)sizeof(b))
		return 0;
	c->tls->peeked = 1;
	if (b[0] != (US_PROTO_MAGIC & 0xff) || b[1] != ((US_PROTO_MAGIC >> 8) & 0xff) ||
	    b[2] != ((US_PROTO_MAGIC >> 16) & 0xff) || b[3] != (US_PROTO_MAGIC >> 24))
		return 0;
	version = b[4] | b[5] << 8;
	if (version != US_PROTO_VERSION)
		snprintf(why, whylen,
			 "TLS: %s speaks protocol version %u without TLS, this "
			 "understudy speaks %u: run the same understudy on both hosts",
			 c->base.peer, version, US_PROTO_VERSION);
	else
		snprintf(why, whylen,
			 "TLS: %s speaks the replication protocol without TLS: set "
			 "[replication] tls the same on both hosts (here: %s)",
			 c->base.peer, us_tls_mode_name(c->tls->tls->mode));
	return 1;
}

static const char *hint(const struct tcp_tls *s)
{
	if (s->tls->mode == US_TLS_PSK)
		return "the two hosts' key_file differ?";
	return s->server ? "the primary's client-cert.pem not signed by our ca-cert.pem?"
			 : "our client-cert.pem not signed by the standby's CA?";
}

static void explain(struct tcp_conn *c, int rc, char *why, size_t len)
{
	struct tcp_tls *s = c->tls;
	gnutls_datum_t out = { NULL, 0 };

	if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_certificate_verification_status_print(
			gnutls_session_get_verify_cert_status(s->session), GNUTLS_CRT_X509, &out,
			0);
		snprintf(why, len,
			 "TLS: the certificate of %s is not trusted: %s (it must be "
			 "signed by %s/ca-cert.pem%s)",
			 c->base.peer, out.data ? (char *)out.data : "?", s->tls->dir,
			 s->server ? "" : " and name the host in [replication] peer");
		gnutls_free(out.data);
	} else if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		snprintf(why, len, "TLS: %s refused the handshake (alert: %s): %s", c->base.peer,
			 gnutls_alert_get_name(gnutls_alert_get(s->session)), hint(s));
	} else if (rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_PULL_ERROR ||
		   rc == GNUTLS_E_PUSH_ERROR) {
		snprintf(why, len,
			 "TLS: %s closed the connection during the handshake: it runs "
			 "without TLS ([replication] tls), or refused our %s; its log says which",
			 c->base.peer, s->tls->mode == US_TLS_PSK ? "key" : "certificate");
	} else {
		snprintf(why, len, "TLS handshake with %s failed: %s (%s)", c->base.peer,
			 gnutls_strerror(rc), hint(s));
	}
}

/* ---- the socket under GnuTLS, once the handshake is done ---- */

/* Write what out holds. @return 0 (all or part written), -errno. */
static int out_write(struct tcp_conn *c)
{
	struct tcp_tls *s = c->tls;
	size_t done = 0;
	ssize_t n;

	while (done < s->out_len) {
		n = send(c->fd, s->out + done, s->out_len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n < 0)
			break;
		done += (size_t)n;
	}
	memmove(s->out, s->out + done, s->out_len - done);
	s->out_len -= done;
	return 0;
}

/*
 * GnuTLS's push: each record is gathered into out, written when out is
 * full and at the end of us_tcp_tls_flush: one write for many 16 KiB
 * records, not one each.
 */
static ssize_t push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct tcp_conn *c = p;
	struct tcp_tls *s = c->tls;
	int rc;

	if (s->out_len + len > TLS_IO_BUF) {
		rc = out_write(c);
		if (rc < 0 || s->out_len + len > TLS_IO_BUF) {
			gnutls_transport_set_errno(s->session, rc < 0 ? -rc : EAGAIN);
			return -1;
		}
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
	return (ssize_t)len;
}

/* GnuTLS's pull: from a read-ahead of up to TLS_IO_BUF, not a read per record header and body. */
static ssize_t pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tcp_conn *c = p;
	struct tcp_tls *s = c->tls;
	ssize_t n;

	if (s->in_off == s->in_len) {
		n = read(c->fd, s->in, TLS_IO_BUF);
		if (n <= 0) {
			gnutls_transport_set_errno(s->session, n < 0 ? errno : 0);
			return n;
		}
		s->in_off = 0;
		s->in_len = (size_t)n;
	}
	n = (ssize_t)(s->in_len - s->in_off < len ? s->in_len - s->in_off : len);
	memcpy(data, s->in + s->in_off, (size_t)n);
	s->in_off += (size_t)n;
	return n;
}

/* Records go through push and pull from now on (not with kernel TLS: the kernel does them). */
static void buffer_io(struct tcp_conn *c)
{
	struct tcp_tls *s = c->tls;

	if (gnutls_transport_is_ktls_enabled(s->session) != 0)
		return;
	s->out = malloc(TLS_IO_BUF);
	s->in = malloc(TLS_IO_BUF);
	if (!s->out || !s->in) { /* the default functions stay: slower, as correct */
		free(s->out);
		free(s->in);
		s->out = s->in = NULL;
		return;
	}
	gnutls_transport_set_ptr(s->session, c);
	gnutls_transport_set_push_function(s->session, push);
	gnutls_transport_set_pull_function(s->session, pull);
}

int us_tcp_tls_unsent(const struct tcp_conn *c)
{
	return c->tls && c->tls->out_len > 0;
}

int us_tcp_tls_handshake(struct tcp_conn *c, char *why, size_t whylen)
{
	struct tcp_tls *s = c->tls;
	int rc;

	if (s->server && !s->peeked && plain_peer(c, why, whylen))
		return -EPROTO;
	rc = gnutls_handshake(s->session);
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		us_tcp_set_events(c, gnutls_record_get_direction(s->session) ? POLLOUT : POLLIN);
		return 0;
	}
	if (rc < 0) {
		explain(c, rc, why, whylen);
		return -ECONNREFUSED;
	}
	s->handshaking = 0;
	log_up(c);
	buffer_io(c);
	return 1;
}

int us_tcp_tls_handshaking(const struct tcp_conn *c)
{
	return c->tls && c->tls->handshaking;
}

/* ---- records ---- */

ssize_t us_tcp_tls_recv(struct tcp_conn *c, void *buf, size_t len, char *why, size_t whylen)
{
	ssize_t n = gnutls_record_recv(c->tls->session, buf, len);

	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		return 0;
	if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
		snprintf(why, whylen, "peer closed the connection");
		return -ECONNRESET;
	}
	if (n < 0) {
		snprintf(why, whylen,
			 "TLS: %s (a record altered, replayed or injected on the "
			 "way); closing the connection, nothing of it applied",
			 gnutls_strerror(n));
		return -EBADMSG;
	}
	return n;
}

int us_tcp_tls_pending(const struct tcp_conn *c)
{
	const struct tcp_tls *s = c->tls;

	return !s->handshaking &&
	       (s->in_off < s->in_len || gnutls_record_check_pending(s->session) > 0);
}

/* Copy up to @room bytes of segment @sg from its byte @off on. */
static size_t take(char *dst, size_t room, const struct us_seg *sg, size_t off)
{
	size_t n = 0, k;

	if (off < sg->hdr_len) {
		k = sg->hdr_len - off < room ? sg->hdr_len - off : room;
		memcpy(dst, sg->hdr + off, k);
		n = k;
		off += k;
	}
	if (n < room && off >= sg->hdr_len && off - sg->hdr_len < sg->body_len) {
		k = sg->body_len - (off - sg->hdr_len);
		k = k < room - n ? k : room - n;
		memcpy(dst + n, sg->body + (off - sg->hdr_len), k);
		n += k;
	}
	return n;
}

/* The next record's bytes: from the front body when a record's worth is left, else gathered. */
static void next_record(struct tcp_conn *c, struct tcp_tls *s)
{
	struct us_seg *sg = us_msgq_front(&c->mq);
	size_t off = c->off, i, n = 0;

	us_tcp_seal(c, sg);
	if (off >= sg->hdr_len && sg->body_len - (off - sg->hdr_len) >= TLS_CHUNK) {
		s->pend = sg->body + (off - sg->hdr_len);
		s->pend_len = TLS_CHUNK;
		return;
	}
	for (i = c->mq.head; i < c->mq.tail && n < TLS_CHUNK; i++, off = 0) {
		us_tcp_seal(c, &c->mq.q[i]);
		n += take(s->tx + n, TLS_CHUNK - n, &c->mq.q[i], off);
	}
	s->pend = s->tx;
	s->pend_len = n;
}

int us_tcp_tls_flush(struct tcp_conn *c)
{
	struct tcp_tls *s = c->tls;
	ssize_t n;

	if (s->handshaking)
		return -ENOTCONN;
	if (s->out_len && out_write(c) < 0)
		return -EPIPE;
	while (!us_msgq_empty(&c->mq)) {
		if (!s->pend_len)
			next_record(c, s);
		n = gnutls_record_send(s->session, s->pend, s->pend_len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return 0;
		if (n < 0) {
			us_log(LOG_ERR, US_TAG_NET, "TLS send to %s: %s", c->base.peer,
			       gnutls_strerror((int)n));
			return -EPIPE;
		}
		s->pend_len = 0;
		us_tcp_advance(c, (size_t)n);
	}
	if (s->out_len && out_write(c) < 0)
		return -EPIPE;
	return s->out_len ? 0 : 1;
}
