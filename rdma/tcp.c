/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TCP transport: proto.h messages on a stream socket, non-blocking, on the
 * libqb loop. Sends are queued as segments (an owned header, a borrowed body)
 * and written with writev when the socket is writable; receives are read in
 * large chunks and split into messages in place. With TLS on (tls.h) the
 * same queue and the same parser run over GnuTLS's records (tcp_tls.c).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rdma/tcp_int.h"
#include "replicator/log.h"

#define RX_CAP (2 * (US_PROTO_HDR_SIZE + US_PROTO_MAX_BODY))
#define IOV_BATCH 1024		/* UIO_MAXIOV: 512 messages of a page each per sendmsg */
#define TLS_READ_BATCH 64	/* records read before parsing: 1 MiB */
#define PLACE_MIN (64u << 10)	/* a body this large is read into the owner's place */
#define SEAL_AHEAD (512u << 10) /* bytes of a writev before the next message to tag */

struct tcp_listener {
	struct us_listener base;
	qb_loop_t *loop;
	int fd;
	us_transport_accept_fn fn;
	void *opaque;
};

static int32_t conn_dispatch(int32_t fd, int32_t revents, void *data);

static int split_addr(const char *addr, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (!colon || colon == addr || !colon[1])
		return -EINVAL;
	n = colon - addr;
	if (addr[0] == '[' && n >= 2 && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n >= hostlen)
		return -EINVAL;
	memcpy(host, addr, n);
	host[n] = 0;
	*port = colon + 1;
	return 0;
}

static int resolve(const char *addr, int passive, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	char host[256];
	const char *port;
	int rc;

	if (split_addr(addr, host, sizeof(host), &port) < 0) {
		us_log(LOG_ERR, US_TAG_NET, "address '%s' is not host:port", addr);
		return -EINVAL;
	}
	rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0) {
		us_log(LOG_ERR, US_TAG_NET, "cannot resolve '%s': %s", addr, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	return 0;
}

static void set_options(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static struct us_transport *conn_new(qb_loop_t *loop, int fd, const char *peer)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		goto fail;
	c->rx = malloc(RX_CAP);
	if (!c->rx)
		goto fail;
	c->fd = fd;
	c->base.ops = &us_tcp_ops;
	c->base.loop = loop;
	c->base.last_rx_ms = us_transport_now_ms();
	snprintf(c->base.peer, sizeof(c->base.peer), "%s", peer);
	c->events = POLLIN;
	if (qb_loop_poll_add(loop, QB_LOOP_HIGH, fd, POLLIN, c, conn_dispatch) < 0)
		goto fail;
	return &c->base;
fail:
	if (c)
		free(c->rx);
	free(c);
	errno = ENOMEM;
	return NULL;
}

static int connect_bounded(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof(err);

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	if (poll(&p, 1, timeout_ms) == 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -errno;
	return -err;
}

struct us_transport *us_tcp_connect(qb_loop_t *loop, const char *addr, int timeout_ms)
{
	struct addrinfo *res = NULL;
	struct us_transport *t = NULL;
	int fd = -1, rc;

	rc = resolve(addr, 0, &res);
	if (rc < 0)
		goto out;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = connect_bounded(fd, res->ai_addr, res->ai_addrlen, timeout_ms);
	if (rc < 0)
		goto out;
	set_options(fd);
	t = conn_new(loop, fd, addr);
	rc = t ? 0 : -errno;
out:
	if (res)
		freeaddrinfo(res);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		errno = -rc;
	}
	return t;
}

static int32_t listener_dispatch(int32_t fd, int32_t revents, void *data)
{
	struct tcp_listener *l = data;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV], peer[64];
	struct us_transport *t;
	int cfd;

	cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return 0;
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(peer, sizeof(peer), "%s:%s", host, serv);
	set_options(cfd);
	t = conn_new(l->loop, cfd, peer);
	if (!t) {
		close(cfd);
		return 0;
	}
	l->fn(l->opaque, t);
	return 0;
}

static void listener_destroy(struct us_listener *base)
{
	struct tcp_listener *l = (struct tcp_listener *)base;

	qb_loop_poll_del(l->loop, l->fd);
	close(l->fd);
	free(l);
}

static int bind_listen(const struct addrinfo *ai)
{
	int one = 1, fd;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

struct us_listener *us_tcp_listen(qb_loop_t *loop, const char *addr, us_transport_accept_fn fn,
				  void *opaque)
{
	struct addrinfo *res = NULL;
	struct tcp_listener *l = NULL;
	int rc, fd = -1;

	rc = resolve(addr, 1, &res);
	if (rc < 0)
		goto out;
	fd = bind_listen(res);
	if (fd < 0) {
		rc = fd;
		us_log(LOG_ERR, US_TAG_NET, "cannot listen on %s: %s", addr, strerror(-rc));
		goto out;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		rc = -ENOMEM;
		goto out;
	}
	*l = (struct tcp_listener){
		.base.destroy = listener_destroy, .loop = loop, .fd = fd, .fn = fn, .opaque = opaque
	};
	rc = qb_loop_poll_add(loop, QB_LOOP_HIGH, fd, POLLIN, l, listener_dispatch);
out:
	if (res)
		freeaddrinfo(res);
	if (rc < 0) {
		free(l);
		l = NULL;
		if (fd >= 0)
			close(fd);
		errno = -rc;
	}
	return l ? &l->base : NULL;
}

/* ---- sending ---- */

void us_tcp_set_events(struct tcp_conn *c, int events)
{
	if (c->events == events || c->fd < 0)
		return;
	c->events = events;
	qb_loop_poll_mod(c->base.loop, QB_LOOP_HIGH, c->fd, events, c, conn_dispatch);
}

static int enqueue(struct tcp_conn *c, uint16_t type, uint64_t epoch, const void *prefix,
		   size_t prefix_len, const void *body, size_t body_len, void *owned)
{
	struct us_msg_hdr h = {
		.version = US_PROTO_VERSION, .type = type, .vm_id = c->base.vm_id, .epoch = epoch
	};
	int rc;

	if (c->fd < 0) {
		free(owned);
		return -EPIPE;
	}
	rc = us_msgq_push(&c->mq, &h, prefix, prefix_len, body, body_len, owned,
			  c->base.auth != NULL);
	if (rc == 0 && !us_tcp_tls_handshaking(c)) /* it writes when the handshake is done */
		us_tcp_set_events(c, c->events | POLLOUT);
	return rc;
}

/* A segment's first time out: tag it now, in send order (transport_int.h). */
void us_tcp_seal(struct tcp_conn *c, struct us_seg *s)
{
	if (!s->seal)
		return;
	us_transport_auth_seal(&c->base, s->hdr, s->hdr_len, s->body, s->body_len);
	s->seal = 0;
}

/*
 * The next writev's pieces. A segment still to be tagged joins only while
 * the batch is under SEAL_AHEAD bytes: tagged just before it is written, its
 * pages are still in cache when the kernel copies them.
 */
static size_t fill_iov(struct tcp_conn *c, struct iovec *iov)
{
	size_t n = 0, i, off = c->off, bytes = 0;

	for (i = c->mq.head; i < c->mq.tail && n + 2 <= IOV_BATCH; i++, off = 0) {
		struct us_seg *s = &c->mq.q[i];

		if (s->seal && bytes >= SEAL_AHEAD)
			break;
		bytes += s->hdr_len + s->body_len - off;
		us_tcp_seal(c, s);
		if (off < s->hdr_len)
			iov[n++] = (struct iovec){ s->hdr + off, s->hdr_len - off };
		if (s->body_len)
			iov[n++] = (struct iovec){
				(char *)s->body + (off > s->hdr_len ? off - s->hdr_len : 0),
				s->body_len - (off > s->hdr_len ? off - s->hdr_len : 0)
			};
	}
	return n;
}

void us_tcp_advance(struct tcp_conn *c, size_t n)
{
	while (n && !us_msgq_empty(&c->mq)) {
		struct us_seg *s = us_msgq_front(&c->mq);
		size_t left = s->hdr_len + s->body_len - c->off;

		if (n < left) {
			c->off += n;
			return;
		}
		n -= left;
		us_msgq_pop(&c->mq);
		c->off = 0;
	}
}

/* Write what the socket takes. @return 1 drained, 0 more to do, -errno. */
static int flush(struct tcp_conn *c)
{
	struct iovec iov[IOV_BATCH];
	ssize_t n;

	if (c->tls)
		return us_tcp_tls_flush(c);
	while (!us_msgq_empty(&c->mq)) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = fill_iov(c, iov) };

		/* a standby gone mid-write is an error to report, not a SIGPIPE */
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		us_tcp_advance(c, n);
	}
	return 1;
}

/*
 * A control message queued on an idle connection is written at once, not
 * on the loop's next turn: the standby queues ACK(n) before it applies
 * epoch n to the replica, and the ACK must not wait for the apply. Only
 * when the queue was empty: then nobody waits for "drained", and a
 * primary's pages queued in its pause still leave from the loop.
 */
static int tcp_send_msg(struct us_transport *t, uint16_t type, uint64_t epoch, const void *body,
			size_t len)
{
	struct tcp_conn *c = (struct tcp_conn *)t;
	int idle = us_msgq_empty(&c->mq), rc;
	void *copy = NULL;

	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, body, len);
	}
	rc = enqueue(c, type, epoch, NULL, 0, copy, len, copy);
	/* an error is left to the loop, which reports it (the owner may free us there) */
	if (rc == 0 && idle && c->fd >= 0 && !us_tcp_tls_handshaking(c) && flush(c) == 1)
		us_tcp_set_events(c, c->events & ~POLLOUT);
	return rc;
}

static int tcp_send_body(struct us_transport *t, uint16_t type, uint64_t epoch, const void *desc,
			 size_t desc_len, const void *data, size_t len)
{
	return enqueue((struct tcp_conn *)t, type, epoch, desc, desc_len, data, len, NULL);
}

static int tcp_busy(const struct us_transport *t)
{
	const struct tcp_conn *c = (const struct tcp_conn *)t;

	return !us_msgq_empty(&c->mq) || us_tcp_tls_unsent(c);
}

static uint64_t tcp_queued(const struct us_transport *t)
{
	const struct tcp_conn *c = (const struct tcp_conn *)t;

	return c->mq.queued - c->off;
}

/* ---- receiving and the connection's life ---- */

static void shut(struct tcp_conn *c)
{
	if (c->fd < 0)
		return;
	qb_loop_poll_del(c->base.loop, c->fd);
	close(c->fd);
	c->fd = -1;
}

/* Report the end of the connection; the owner may free it in the callback. */
static void conn_fail(struct tcp_conn *c, int err, const char *why)
{
	shut(c);
	if (c->base.cbs.closed)
		c->base.cbs.closed(c->base.opaque, err, why);
}

/* Hand a message to the owner; a non-zero answer (or a bad header) stops reading. */
static void deliver(struct tcp_conn *c, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	if (c->base.cbs.msg(c->base.opaque, hdr_rc, h, hdr_rc ? NULL : body) || hdr_rc)
		c->stopped = 1;
}

/*
 * The message at rx + @pos is not whole: if it is large and the owner
 * gives it a place, move the part of its body that is here there, and read
 * the rest straight in (read_body). @return the bytes of rx taken, 0 if it
 * stays in rx.
 */
static size_t place_body(struct tcp_conn *c, const struct us_msg_hdr *h, size_t pos)
{
	size_t have = c->rx_len - pos - US_PROTO_HDR_SIZE;

	if (h->len < PLACE_MIN || h->len - have < PLACE_MIN / 2 || !c->base.cbs.place)
		return 0;
	c->body = c->base.cbs.place(c->base.opaque, h);
	if (!c->body)
		return 0;
	memcpy(c->body, c->rx + pos + US_PROTO_HDR_SIZE, have);
	c->body_h = *h;
	c->body_got = have;
	return c->rx_len - pos;
}

/* Parse complete messages out of rx. @return 0, or 1 when the owner stopped. */
static int consume(struct tcp_conn *c, char *why, size_t whylen, int *err)
{
	size_t pos = 0;
	struct us_msg_hdr h;
	int rc = 0;

	while (!c->stopped && c->rx_len - pos >= US_PROTO_HDR_SIZE) {
		rc = us_proto_hdr_decode(c->rx + pos, &h, why, whylen);
		if (rc == -EBADMSG) {
			*err = rc;
			return 1;
		}
		if (rc == 0 && c->rx_len - pos < US_PROTO_HDR_SIZE + h.len) {
			pos += place_body(c, &h, pos);
			break;
		}
		deliver(c, rc, &h, c->rx + pos + US_PROTO_HDR_SIZE);
		pos += US_PROTO_HDR_SIZE + (rc ? 0 : h.len);
	}
	if (pos) { /* only the start of a message is left: move it once */
		memmove(c->rx, c->rx + pos, c->rx_len - pos);
		c->rx_len -= pos;
	}
	if (c->stopped) {
		snprintf(why, whylen, "connection closed after a refused message");
		*err = -ECONNABORTED;
		return 1;
	}
	return 0;
}

static ssize_t read_some(struct tcp_conn *c, char *buf, size_t len, char *why, size_t whylen)
{
	ssize_t n;

	if (c->tls)
		return us_tcp_tls_recv(c, buf, len, why, whylen);
	n = read(c->fd, buf, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		snprintf(why, whylen, "%s",
			 n == 0 ? "peer closed the connection" : strerror(errno));
		return n == 0 ? -ECONNRESET : -errno;
	}
	return n;
}

/*
 * Read what is there into @buf, up to @room: one read of the socket, or
 * over TLS a batch of records (each at most 16 KiB; parsing after each
 * would rescan a large message's start every time). @return the bytes
 * read, 0 if none, -errno (@why set).
 */
static ssize_t read_into(struct tcp_conn *c, char *buf, size_t room, char *why, size_t whylen)
{
	size_t got = 0;
	ssize_t n;
	int i;

	for (i = 0; i < (c->tls ? TLS_READ_BATCH : 1) && got < room; i++) {
		n = read_some(c, buf + got, room - got, why, whylen);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Into rx, as much as there is room for. */
static int fill(struct tcp_conn *c, char *why, size_t whylen, int *err)
{
	ssize_t n = read_into(c, c->rx + c->rx_len, RX_CAP - c->rx_len, why, whylen);

	if (n < 0) {
		*err = (int)n;
		return -1;
	}
	c->rx_len += (size_t)n;
	return n > 0;
}

/*
 * Into the placed body; the message goes to the owner once whole. Returns
 * as fill. No SO_RCVLOWAT here: waking only once a part of the body was
 * there saved wake-ups, but it left a standby waiting for good while the
 * rest of its epoch lay in the socket (bench/transport hung on one run in
 * three with several-run PAGES bodies), and a silent stream is a takeover.
 */
static int read_body(struct tcp_conn *c, char *why, size_t whylen, int *err)
{
	ssize_t n = read_into(c, c->body + c->body_got, c->body_h.len - c->body_got, why, whylen);

	if (n < 0) {
		*err = (int)n;
		return -1;
	}
	c->body_got += (size_t)n;
	if (c->body_got == c->body_h.len) {
		char *body = c->body;

		c->body = NULL;
		deliver(c, 0, &c->body_h, body);
	}
	return n > 0;
}

/* Read and deliver; over TLS until GnuTLS holds nothing more (poll cannot see it). */
static int do_read(struct tcp_conn *c, char *why, size_t whylen, int *err)
{
	int rc;

	do {
		rc = c->body ? read_body(c, why, whylen, err) : fill(c, why, whylen, err);
		if (rc <= 0)
			return rc < 0;
		c->base.last_rx_ms = us_transport_now_ms();
		if (consume(c, why, whylen, err))
			return 1;
	} while (c->body || (c->tls && us_tcp_tls_pending(c)));
	return 0;
}

/* Best effort: let a final REFUSE reach the peer before closing. */
static void linger_flush(struct tcp_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLOUT };
	int i;

	for (i = 0; i < 10 && c->fd >= 0 && flush(c) == 0; i++)
		poll(&p, 1, 20);
}

/* The TLS handshake's turn: @return 1 when the connection is ready for traffic. */
static int handshake(struct tcp_conn *c)
{
	char why[512] = "";
	int rc = us_tcp_tls_handshake(c, why, sizeof(why));

	if (rc < 0)
		conn_fail(c, rc, why);
	else if (rc == 1)
		us_tcp_set_events(c, POLLIN | (us_msgq_empty(&c->mq) ? 0 : POLLOUT));
	return rc == 1;
}

static int32_t conn_dispatch(int32_t fd, int32_t revents, void *data)
{
	struct tcp_conn *c = data;
	char why[512] = "";
	int err = 0, rc;

	if (us_tcp_tls_handshaking(c) && !handshake(c))
		return 0;
	if (revents & POLLOUT) {
		rc = flush(c);
		if (rc < 0) {
			conn_fail(c, rc, strerror(-rc));
			return 0;
		}
		if (rc == 1) {
			us_tcp_set_events(c, POLLIN);
			if (c->base.cbs.drained)
				c->base.cbs.drained(c->base.opaque);
			if (c->fd < 0)
				return 0;
		}
	}
	if (revents & (POLLIN | POLLHUP | POLLERR) || (c->tls && us_tcp_tls_pending(c))) {
		if (do_read(c, why, sizeof(why), &err)) {
			linger_flush(c);
			conn_fail(c, err, why);
		}
	}
	return 0;
}

static void tcp_destroy(struct us_transport *t)
{
	struct tcp_conn *c = (struct tcp_conn *)t;

	shut(c);
	us_tcp_tls_free(c);
	us_msgq_free(&c->mq);
	free(c->rx);
	free(c);
}

const struct us_transport_ops us_tcp_ops = {
	.name = "tcp",
	.send_msg = tcp_send_msg,
	.send_body = tcp_send_body,
	.busy = tcp_busy,
	.queued = tcp_queued,
	.destroy = tcp_destroy,
};
