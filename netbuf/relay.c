/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The network relay (see relay.h). Guest → LAN: frames parsed out of QEMU's
 * stream go to the output-commit queue (or straight to the tap when not
 * buffering); when the queue is full we stop reading QEMU's socket, so QEMU
 * and then the guest's virtio ring fill up: back-pressure, never a drop.
 * LAN → guest: each frame read from the tap is written to QEMU at once.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "netbuf/outq.h"
#include "netbuf/relay.h"
#include "netbuf/tap.h"
#include "replicator/log.h"

struct us_relay {
	qb_loop_t *loop;
	char sock_path[108];
	int lfd;		/* listening for QEMU */
	int qfd;		/* QEMU's stream, -1 until it connects */
	int tfd;		/* tap */
	enum us_relay_mode mode;
	struct us_outq *q;
	struct us_frame_rx rx;	/* read from QEMU, not yet split into frames */
	int blocked;
	struct us_relay_stats st;
};

static int32_t on_qemu(int32_t fd, int32_t revents, void *data);

static int emit_tap(void *opaque, const void *frame, size_t len)
{
	struct us_relay *r = opaque;

	if (write(r->tfd, frame, len) < 0) {
		us_log(LOG_WARNING, US_TAG_NET, "tap write failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static void set_reading(struct us_relay *r, int on)
{
	if (r->qfd < 0 || r->blocked == !on)
		return;
	r->blocked = !on;
	qb_loop_poll_mod(r->loop, QB_LOOP_HIGH, r->qfd, on ? POLLIN : 0, r, on_qemu);
	if (!on)
		us_log(LOG_INFO, US_TAG_NET, "output queue full: holding the guest's output back");
}

/* One frame from the guest. @return 0, or -ENOBUFS: keep it and stop reading. */
/* A frame from the guest goes to the tap at once (unprotected or promoted). */
static int passes_at_once(const struct us_relay *r)
{
#ifdef US_TEST_EARLY_RELEASE
	/* test only (configure --enable-test-early-release, never installed):
	 * the bug output commit prevents, for understudy-lab's checker to catch */
	return r->mode != US_RELAY_INACTIVE;
#else
	return r->mode == US_RELAY_PASSTHROUGH;
#endif
}

static int outbound(void *opaque, const unsigned char *frame, size_t len)
{
	struct us_relay *r = opaque;

	if (passes_at_once(r)) {
		emit_tap(r, frame, len);
		r->st.released_frames++;
		r->st.released_bytes += len;
		return 0;
	}
	if (r->mode == US_RELAY_INACTIVE)
		return 0;
	return us_outq_push(r->q, frame, len) == -ENOBUFS ? -ENOBUFS : 0;
}

/* Split what QEMU wrote into frames; a full queue stops reading from QEMU. */
static void consume(struct us_relay *r)
{
	if (us_frame_rx_split(&r->rx, outbound, r) == -ENOBUFS)
		set_reading(r, 0);
}

static void qemu_gone(struct us_relay *r)
{
	us_frame_rx_end(&r->rx);
	qb_loop_poll_del(r->loop, r->qfd);
	close(r->qfd);
	r->qfd = -1;
	us_log(LOG_INFO, US_TAG_NET, "QEMU closed its network stream");
}

void us_relay_detach_qemu(struct us_relay *r)
{
	if (r && r->qfd >= 0)
		qemu_gone(r);
}

static int32_t on_qemu(int32_t fd, int32_t revents, void *data)
{
	struct us_relay *r = data;
	ssize_t n;

	if (r->rx.len == US_FRAME_RX_CAP)
		return 0;
	n = read(fd, r->rx.buf + r->rx.len, US_FRAME_RX_CAP - r->rx.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		qemu_gone(r);
		return 0;
	}
	r->rx.len += n;
	consume(r);
	return 0;
}

static int32_t on_tap(int32_t fd, int32_t revents, void *data)
{
	struct us_relay *r = data;
	unsigned char frame[US_RELAY_MAX_FRAME], hdr[4];
	struct iovec iov[2] = { { hdr, 4 }, { frame, 0 } };
	ssize_t n = read(fd, frame, sizeof(frame));

	if (n <= 0)
		return 0;
	if (r->qfd < 0 || r->mode == US_RELAY_INACTIVE) {
		r->st.inbound_dropped++;
		return 0;
	}
	hdr[0] = n >> 24;
	hdr[1] = n >> 16;
	hdr[2] = n >> 8;
	hdr[3] = n;
	iov[1].iov_len = n;
	if (writev(r->qfd, iov, 2) != n + 4)
		r->st.inbound_dropped++;	/* like a full NIC queue: TCP retransmits */
	else
		r->st.inbound_frames++;
	return 0;
}

static int32_t on_accept(int32_t fd, int32_t revents, void *data)
{
	struct us_relay *r = data;
	int qfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (qfd < 0)
		return 0;
	if (r->qfd >= 0) {
		us_log(LOG_WARNING, US_TAG_NET, "a second network stream on %s refused", r->sock_path);
		close(qfd);
		return 0;
	}
	r->qfd = qfd;
	r->blocked = 0;
	qb_loop_poll_add(r->loop, QB_LOOP_HIGH, qfd, POLLIN, r, on_qemu);
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

struct us_relay *us_relay_new(qb_loop_t *loop, const struct us_relay_cfg *cfg,
			      enum us_relay_mode mode)
{
	struct us_relay *r = calloc(1, sizeof(*r));
	int rc = -ENOMEM;

	if (!r)
		goto fail;
	*r = (struct us_relay){ .loop = loop, .lfd = -1, .qfd = -1, .tfd = -1, .mode = mode };
	snprintf(r->sock_path, sizeof(r->sock_path), "%s", cfg->sock_path);
	r->q = us_outq_new(cfg->max_bytes, cfg->max_frames);
	if (!r->q)
		goto fail;
	rc = r->lfd = listen_unix(cfg->sock_path);
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_NET, "cannot listen on %s: %s", cfg->sock_path, strerror(-rc));
		goto fail;
	}
	rc = r->tfd = us_tap_open(cfg->tap, cfg->bridge);
	if (rc < 0)
		goto fail;
	qb_loop_poll_add(loop, QB_LOOP_HIGH, r->lfd, POLLIN, r, on_accept);
	qb_loop_poll_add(loop, QB_LOOP_HIGH, r->tfd, POLLIN, r, on_tap);
	return r;
fail:
	us_relay_free(r);
	errno = -rc;
	return NULL;
}

void us_relay_seal(struct us_relay *r, uint64_t epoch)
{
	us_outq_seal(r->q, epoch);
}

void us_relay_release(struct us_relay *r, uint64_t epoch)
{
	us_outq_release(r->q, epoch, emit_tap, r);
	if (r->blocked && us_outq_room(r->q, US_RELAY_MAX_FRAME)) {
		set_reading(r, 1);
		consume(r);
	}
}

int us_relay_held(const struct us_relay *r)
{
	return r->mode == US_RELAY_BUFFERED;
}

void us_relay_set_mode(struct us_relay *r, enum us_relay_mode mode)
{
	r->mode = mode;
	if (mode != US_RELAY_PASSTHROUGH)
		return;
	us_outq_flush(r->q, emit_tap, r);
	if (r->blocked) {
		set_reading(r, 1);
		consume(r);
	}
}

void us_relay_stats(const struct us_relay *r, struct us_relay_stats *st)
{
	struct us_outq_stats q;

	*st = r->st;
	st->malformed = r->rx.malformed;
	us_outq_stats(r->q, &q);
	st->queued_frames = q.queued_frames;
	st->queued_bytes = q.queued_bytes;
	st->released_frames += q.released_frames;
	st->released_bytes += q.released_bytes;
	st->blocked = r->blocked;
	st->mode = r->mode;
}

static void close_fd(qb_loop_t *loop, int *fd)
{
	if (*fd < 0)
		return;
	qb_loop_poll_del(loop, *fd);
	close(*fd);
	*fd = -1;
}

void us_relay_free(struct us_relay *r)
{
	if (!r)
		return;
	close_fd(r->loop, &r->qfd);
	close_fd(r->loop, &r->tfd);
	if (r->lfd >= 0) {
		close_fd(r->loop, &r->lfd);
		unlink(r->sock_path);
	}
	us_outq_free(r->q);
	free(r);
}
