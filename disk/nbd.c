/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NBD server QEMU uses as the protected VM's disk (see disk/nbd.h).
 *
 *   client (QEMU)                              server (this thread)
 *                                          ◀── NBDMAGIC IHAVEOPT flags(FIXED_NEWSTYLE|NO_ZEROES)
 *   client flags (FIXED_NEWSTYLE[|NO_ZEROES]) ──▶   anything else: close
 *   option haggling, repeated:
 *   IHAVEOPT GO|INFO(name, info requests)  ──▶
 *                                          ◀── INFO(EXPORT: size, flags) INFO(BLOCK_SIZE) ACK
 *                                              or ERR_UNKNOWN (wrong name), ERR_INVALID
 *   IHAVEOPT LIST                          ──▶
 *                                          ◀── SERVER(name) ACK
 *   IHAVEOPT ABORT                         ──▶
 *                                          ◀── ACK, close
 *   IHAVEOPT EXPORT_NAME(name)             ──▶  (old clients)
 *                                          ◀── size, flags [124 zeroes]; wrong name: close
 *   IHAVEOPT anything else                 ──▶
 *                                          ◀── ERR_UNSUP (STRUCTURED_REPLY, EXTENDED_HEADERS, ...)
 *   after GO or EXPORT_NAME, transmission, one request at a time:
 *   READ(cookie, off, len)                 ──▶
 *                                          ◀── reply(cookie, 0) + len bytes, or reply(error)
 *   WRITE(cookie, off, len) + len bytes    ──▶  pwrite [fdatasync if FUA], callback
 *                                          ◀── reply(cookie, 0|error)
 *   TRIM / WRITE_ZEROES(off, len)          ──▶  hole or zeroes [fdatasync if FUA], callback
 *                                          ◀── reply
 *   FLUSH                                  ──▶  fdatasync
 *                                          ◀── reply
 *   DISC                                   ──▶  close; wait for the next client
 *
 * Simple replies only, big-endian on the wire. A request the server will
 * not apply (past the end, zero or too long, unknown command or flag) gets
 * an error reply (EINVAL, or ENOSPC for writes past the end) and leaves the
 * image untouched; its WRITE payload is read and dropped to stay in step.
 * A bad magic, a malformed handshake or a client that vanishes mid-request
 * closes the connection with a log line; half a WRITE payload is never
 * applied. The thread waits on the client and an eventfd, so us_nbd_stop
 * can end it at any point without cancellation. The handshake's code is in
 * disk/nbd_handshake.c; this file has the thread, the socket and transmission.
 */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "disk/image.h"
#include "disk/nbd.h"
#include "disk/nbd_int.h"
#include "disk/nbd_proto.h"
#include "replicator/log.h"

/* A decoded request, host byte order. */
struct nbd_req {
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t len;
};

/* ---- socket I/O that gives way to us_nbd_stop ---- */

/* Wait until @events on the client, or the stop signal (-ESHUTDOWN). */
static int wait_fd(struct us_nbd *s, int fd, short events)
{
	struct pollfd p[2] = { { .fd = fd, .events = events },
			       { .fd = s->stop_fd, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return -ESHUTDOWN;
		if (p[0].revents)
			return 0;
	}
}

/* Read exactly @len bytes; -ECONNRESET when the client closes first. */
int nbd_recv_full(struct us_nbd *s, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;
	int ret;

	while (len) {
		n = recv(s->conn_fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		ret = wait_fd(s, s->conn_fd, POLLIN);
		if (ret)
			return ret;
	}
	return 0;
}

int nbd_send_full(struct us_nbd *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;
	int ret;

	while (len) {
		n = send(s->conn_fd, p, len, MSG_NOSIGNAL);
		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		ret = wait_fd(s, s->conn_fd, POLLOUT);
		if (ret)
			return ret;
	}
	return 0;
}

/* Read and drop @len bytes of payload the server will not apply. */
static int discard_payload(struct us_nbd *s, uint64_t len)
{
	uint8_t scratch[NBD_DISCARD_CHUNK];
	size_t n;
	int ret;

	while (len) {
		n = len < sizeof(scratch) ? (size_t)len : sizeof(scratch);
		ret = nbd_recv_full(s, scratch, n);
		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}

/* ---- statistics ---- */

static void count(struct us_nbd *s, uint64_t rd, uint64_t wr, int error)
{
	pthread_mutex_lock(&s->lock);
	s->stats.requests++;
	s->stats.bytes_read += rd;
	s->stats.bytes_written += wr;
	s->stats.errors += error != 0;
	pthread_mutex_unlock(&s->lock);
}

void us_nbd_stats(const struct us_nbd *s, struct us_nbd_stats *st)
{
	struct us_nbd *m = (struct us_nbd *)s; /* the lock only */

	pthread_mutex_lock(&m->lock);
	*st = s->stats;
	pthread_mutex_unlock(&m->lock);
}

/* ---- transmission: the image ---- */

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the image shrank under us */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int ensure_buf(struct us_nbd *s, size_t len)
{
	uint8_t *p;

	if (len <= s->buf_size)
		return 0;
	p = realloc(s->buf, len);
	if (!p)
		return -ENOMEM;
	s->buf = p;
	s->buf_size = len;
	return 0;
}

/* ---- transmission: requests ---- */

static uint32_t nbd_errno(int err)
{
	switch (-err) {
	case 0: return 0;
	case EPERM:
	case EROFS: return NBD_EPERM;
	case ENOMEM: return NBD_ENOMEM;
	case EINVAL: return NBD_EINVAL;
	case ENOSPC:
	case EFBIG:
	case EDQUOT: return NBD_ENOSPC;
	default: return NBD_EIO;
	}
}

static int send_reply(struct us_nbd *s, const struct nbd_req *rq, uint32_t error)
{
	struct nbd_simple_reply r = {
		.magic = htobe32(NBD_MAGIC_SIMPLE_REPLY),
		.error = htobe32(error),
		.cookie = htobe64(rq->cookie),
	};

	return nbd_send_full(s, &r, sizeof(r));
}

/* Tell the client the request failed (the image was left as it was, or EIO). */
static int fail_request(struct us_nbd *s, const struct nbd_req *rq, uint32_t error)
{
	count(s, 0, 0, 1);
	return send_reply(s, rq, error);
}

static int io_error(struct us_nbd *s, const struct nbd_req *rq, const char *what, int err)
{
	us_log(LOG_ERR, US_TAG_DISK, "NBD %s at %llu+%u failed: %s", what,
	       (unsigned long long)rq->offset, rq->len, strerror(-err));
	return fail_request(s, rq, nbd_errno(err));
}

/* ops_lock held. */
static void report_locked(struct us_nbd *s, enum us_nbd_change kind, const struct nbd_req *rq,
			  const void *data)
{
	if (s->ops && s->ops->wrote)
		s->ops->wrote(s->opaque, kind, rq->offset, rq->len, data);
}

static void report(struct us_nbd *s, enum us_nbd_change kind, const struct nbd_req *rq,
		   const void *data)
{
	pthread_mutex_lock(&s->ops_lock);
	report_locked(s, kind, rq, data);
	pthread_mutex_unlock(&s->ops_lock);
}

void us_nbd_set_ops(struct us_nbd *s, const struct us_nbd_ops *ops, void *opaque)
{
	pthread_mutex_lock(&s->ops_lock);
	s->ops = ops;
	s->opaque = opaque;
	pthread_mutex_unlock(&s->ops_lock);
}

/* Something changed since the last fdatasync that covered it. */
static int unsynced(struct us_nbd *s)
{
	return __atomic_load_n(&s->changes, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&s->synced, __ATOMIC_ACQUIRE);
}

int us_nbd_sync(struct us_nbd *s)
{
	uint64_t seen = __atomic_load_n(&s->changes, __ATOMIC_ACQUIRE);

	if (seen == __atomic_load_n(&s->synced, __ATOMIC_ACQUIRE))
		return 0;
	if (fdatasync(s->image_fd) < 0)
		return -errno;
	pthread_mutex_lock(&s->sync_lock);
	if (seen > __atomic_load_n(&s->synced, __ATOMIC_RELAXED))
		__atomic_store_n(&s->synced, seen, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->sync_lock);
	return 0;
}

void us_nbd_defer_flush(struct us_nbd *s, int on)
{
	__atomic_store_n(&s->defer, on, __ATOMIC_RELEASE);
}

int us_nbd_take_owed(struct us_nbd *s)
{
	return __atomic_exchange_n(&s->owed, 0, __ATOMIC_ACQ_REL);
}

/* A change reached the image: the next FLUSH has work to do. */
static void changed(struct us_nbd *s)
{
	__atomic_add_fetch(&s->changes, 1, __ATOMIC_RELEASE);
}

/* After a change: stable storage if FUA. */
static int settle(struct us_nbd *s, const struct nbd_req *rq)
{
	changed(s);
	return (rq->flags & NBD_CMD_FLAG_FUA) ? us_nbd_sync(s) : 0;
}

/* After a change: stable storage first if FUA, then the callback, then the reply. */
static int finish_change(struct us_nbd *s, const struct nbd_req *rq, enum us_nbd_change kind,
			 const void *data, const char *what)
{
	int ret = settle(s, rq);

	if (ret < 0)
		return io_error(s, rq, what, ret);
	report(s, kind, rq, data);
	count(s, 0, kind == US_NBD_WRITE ? rq->len : 0, 0);
	return send_reply(s, rq, 0);
}

static int cmd_read(struct us_nbd *s, const struct nbd_req *rq)
{
	int ret = ensure_buf(s, rq->len);

	if (!ret)
		ret = pread_full(s->image_fd, s->buf, rq->len, rq->offset);
	if (ret)
		return io_error(s, rq, "READ", ret);
	count(s, rq->len, 0, 0);
	ret = send_reply(s, rq, 0);
	return ret ? ret : nbd_send_full(s, s->buf, rq->len);
}

/*
 * Start writing the new data to the device now, without waiting: QMP `stop`
 * flushes the disk at every checkpoint, and that FLUSH, inside the guest's
 * pause, then only waits for what is still in flight. A hint: a failure
 * leaves it to the flush. Called once the WRITE is answered: submitting the
 * writeback can block on the device's queue, and a guest writing with one
 * request in flight (dd's O_DIRECT blocks) waited for it on every request
 * (bench/disk.sh, same run: 0.67-0.72 -> 0.76-0.88 of unprotected).
 */
static void start_writeback(struct us_nbd *s, const struct nbd_req *rq)
{
	(void)sync_file_range(s->image_fd, (off_t)rq->offset, rq->len, SYNC_FILE_RANGE_WRITE);
}

/* ops_lock held. Where a WRITE's payload goes: the owner's memory, else ours; NULL: none. */
static void *payload_buf(struct us_nbd *s, const struct nbd_req *rq)
{
	void *p = s->ops && s->ops->payload ? s->ops->payload(s->opaque, rq->len) : NULL;

	return p ? p : ensure_buf(s, rq->len) == 0 ? s->buf : NULL;
}

/* ops_lock held. The owner's payload memory back unused. */
static void unused_buf(struct us_nbd *s, void *buf)
{
	if (buf && buf != s->buf && s->ops && s->ops->unused)
		s->ops->unused(s->opaque, buf);
}

/*
 * ops_lock held. The payload into @buf, then to the image and the callback.
 * @return 0, an image error (*@io set: reply with it), or the connection's.
 */
static int write_payload(struct us_nbd *s, const struct nbd_req *rq, void *buf, int *io)
{
	int ret = nbd_recv_full(s, buf, rq->len);

	if (ret == -ECONNRESET)
		us_log(LOG_WARNING, US_TAG_DISK,
		       "NBD client vanished in the payload of WRITE %llu+%u: nothing written",
		       (unsigned long long)rq->offset, rq->len);
	if (ret)
		return ret;
	*io = 1;
	ret = us_image_pwrite(s->image_fd, buf, rq->len, rq->offset);
	if (ret)
		return ret;
	ret = settle(s, rq);
	if (ret)
		return ret;
	report_locked(s, US_NBD_WRITE, rq, buf);
	return 0;
}

/*
 * The payload is received straight into the owner's memory when it offers
 * some (ops->payload: the primary's write log), so reporting the write
 * copies nothing. ops_lock is held from there to the report, so that memory
 * stays the owner's and a role change waits for the write.
 */
static int cmd_write(struct us_nbd *s, const struct nbd_req *rq)
{
	int ret, io = 0;
	void *buf;

	pthread_mutex_lock(&s->ops_lock);
	buf = payload_buf(s, rq);
	ret = buf ? write_payload(s, rq, buf, &io) : -ENOMEM;
	if (ret)
		unused_buf(s, buf);
	pthread_mutex_unlock(&s->ops_lock);
	if (!buf) {
		if (discard_payload(s, rq->len) == 0)
			return io_error(s, rq, "WRITE", ret);
		return ret;
	}
	if (ret)
		return io ? io_error(s, rq, "WRITE", ret) : ret;
	count(s, 0, rq->len, 0);
	ret = send_reply(s, rq, 0);
	start_writeback(s, rq); /* after the reply: the client need not wait for it */
	return ret;
}

static int cmd_trim(struct us_nbd *s, const struct nbd_req *rq)
{
	int ret = us_image_zero(s->image_fd, rq->offset, rq->len, 1);

	if (ret)
		return io_error(s, rq, "TRIM", ret);
	return finish_change(s, rq, US_NBD_ZEROES, NULL, "TRIM");
}

static int cmd_write_zeroes(struct us_nbd *s, const struct nbd_req *rq)
{
	int ret = us_image_zero(s->image_fd, rq->offset, rq->len,
				!(rq->flags & NBD_CMD_FLAG_NO_HOLE));

	if (ret)
		return io_error(s, rq, "WRITE_ZEROES", ret);
	return finish_change(s, rq, US_NBD_ZEROES, NULL, "WRITE_ZEROES");
}

/*
 * QEMU flushes at every `stop` and again when the checkpoint's migration
 * completes, written or not; with nothing changed through this server since
 * the last fdatasync there is nothing to make durable, and an fdatasync
 * would still cost a device cache flush in the guest's pause. (Other writers
 * of the image, the standby's apply, sync it themselves before it serves a
 * guest: failover/promote.c.) While the owner defers flushes (a checkpoint's
 * `stop`, whose output it holds until it paid them: replicator/pdisk.c),
 * the FLUSH is answered at once and its fdatasync is owed.
 */
static int cmd_flush(struct us_nbd *s, const struct nbd_req *rq)
{
	int ret = 0;

	if (unsynced(s) && __atomic_load_n(&s->defer, __ATOMIC_ACQUIRE))
		__atomic_store_n(&s->owed, 1, __ATOMIC_RELEASE);
	else
		ret = us_nbd_sync(s);
	if (ret < 0)
		return io_error(s, rq, "FLUSH", ret);
	count(s, 0, 0, 0);
	return send_reply(s, rq, 0);
}

static int cmd_disc(struct us_nbd *s, const struct nbd_req *rq)
{
	us_log(LOG_INFO, US_TAG_DISK, "NBD client disconnected");
	return NBD_DONE;
}

/* What each command accepts; ranged commands are checked against the export. */
struct nbd_cmd_desc {
	const char *name;
	uint16_t flags_ok;
	uint8_t ranged;	       /* offset and length name a range of the export */
	uint8_t payload_max;   /* length capped at US_NBD_MAX_PAYLOAD */
	uint32_t past_end_err; /* error for a range past the end */
	int (*fn)(struct us_nbd *s, const struct nbd_req *rq);
};

static const struct nbd_cmd_desc nbd_cmds[] = {
	[NBD_CMD_READ] = { "READ", NBD_CMD_FLAG_FUA, 1, 1, NBD_EINVAL, cmd_read },
	[NBD_CMD_WRITE] = { "WRITE", NBD_CMD_FLAG_FUA, 1, 1, NBD_ENOSPC, cmd_write },
	[NBD_CMD_DISC] = { "DISC", NBD_CMD_FLAG_FUA, 0, 0, 0, cmd_disc },
	[NBD_CMD_FLUSH] = { "FLUSH", NBD_CMD_FLAG_FUA, 0, 0, 0, cmd_flush },
	[NBD_CMD_TRIM] = { "TRIM", NBD_CMD_FLAG_FUA, 1, 0, NBD_EINVAL, cmd_trim },
	[NBD_CMD_WRITE_ZEROES] = { "WRITE_ZEROES", NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE, 1, 0,
				   NBD_ENOSPC, cmd_write_zeroes },
};

/* 0 if @rq may be applied, else the NBD error, logged with what was wrong. */
static uint32_t check_request(const struct us_nbd *s, const struct nbd_cmd_desc *d,
			      const struct nbd_req *rq)
{
	const char *why = NULL;
	uint32_t err = NBD_EINVAL;

	if (rq->flags & ~d->flags_ok)
		why = "unknown flags";
	else if (d->ranged && rq->len == 0)
		why = "zero length";
	else if (d->payload_max && rq->len > US_NBD_MAX_PAYLOAD)
		why = "longer than the 32 MiB maximum";
	else if (d->ranged && (rq->offset > s->size || rq->len > s->size - rq->offset))
		why = "past the end of the export", err = d->past_end_err;
	if (!why)
		return 0;
	us_log(LOG_WARNING, US_TAG_DISK,
	       "NBD %s refused (%s): offset %llu length %u flags %#x, export %llu bytes", d->name,
	       why, (unsigned long long)rq->offset, rq->len, rq->flags,
	       (unsigned long long)s->size);
	return err;
}

/* One request: 0 to go on, NBD_DONE after DISC, -errno to drop the client. */
static int handle_request(struct us_nbd *s, const struct nbd_req *rq)
{
	const struct nbd_cmd_desc *d = NULL;
	uint32_t err;
	int ret;

	if (rq->type < sizeof(nbd_cmds) / sizeof(nbd_cmds[0]) && nbd_cmds[rq->type].fn)
		d = &nbd_cmds[rq->type];
	if (!d) {
		us_log(LOG_WARNING, US_TAG_DISK, "NBD command %u is unknown: EINVAL", rq->type);
		return fail_request(s, rq, NBD_EINVAL);
	}
	err = check_request(s, d, rq);
	if (!err)
		return d->fn(s, rq);
	if (rq->type == NBD_CMD_WRITE) {
		ret = discard_payload(s, rq->len);
		if (ret)
			return ret;
	}
	return fail_request(s, rq, err);
}

static int recv_request(struct us_nbd *s, struct nbd_req *rq)
{
	struct nbd_request w;
	int ret = nbd_recv_full(s, &w, sizeof(w));

	if (ret == -ECONNRESET)
		us_log(LOG_INFO, US_TAG_DISK, "NBD client closed the connection");
	if (ret)
		return ret;
	if (be32toh(w.magic) != NBD_MAGIC_REQUEST) {
		us_log(LOG_WARNING, US_TAG_DISK, "NBD request with bad magic %#x: closing",
		       be32toh(w.magic));
		return -EPROTO;
	}
	rq->flags = be16toh(w.flags);
	rq->type = be16toh(w.type);
	rq->cookie = be64toh(w.cookie);
	rq->offset = be64toh(w.offset);
	rq->len = be32toh(w.len);
	return 0;
}

static int transmission(struct us_nbd *s)
{
	struct nbd_req rq;
	int ret;

	for (;;) {
		ret = recv_request(s, &rq);
		if (!ret)
			ret = handle_request(s, &rq);
		if (ret == NBD_DONE)
			return 0;
		if (ret)
			return ret;
	}
}

/* ---- the thread ---- */

void nbd_serve_client(struct us_nbd *s, int fd)
{
	int ret;

	s->conn_fd = fd;
	changed(s); /* whatever came before this client: its first FLUSH syncs */
	pthread_mutex_lock(&s->lock);
	s->stats.connections++;
	pthread_mutex_unlock(&s->lock);
	us_log(LOG_INFO, US_TAG_DISK, "NBD client connected on %s", s->sock_path);
	ret = nbd_handshake(s);
	if (ret == -ECONNRESET)
		us_log(LOG_WARNING, US_TAG_DISK, "NBD client left during the handshake");
	if (!ret)
		ret = transmission(s);
	if (ret == -ESHUTDOWN)
		us_log(LOG_INFO, US_TAG_DISK, "NBD server stopping: client disconnected");
	else if (ret && ret != -ECONNRESET && ret != -EPROTO && ret != -ECONNABORTED &&
		 ret != -ENOENT)
		us_log(LOG_WARNING, US_TAG_DISK, "NBD client dropped: %s", strerror(-ret));
	close(fd);
	s->conn_fd = -1;
}

static void *server_main(void *arg)
{
	struct us_nbd *s = arg;
	int fd;

	while (wait_fd(s, s->listen_fd, POLLIN) == 0) {
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			nbd_serve_client(s, fd);
			continue;
		}
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			us_log(LOG_ERR, US_TAG_DISK, "NBD accept on %s: %s", s->sock_path,
			       strerror(errno));
			usleep(100 * 1000); /* e.g. EMFILE: do not spin */
		}
	}
	return NULL;
}

/* ---- start and stop ---- */

/* Is a live server answering on @addr? A stale socket file refuses. */
static int socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return 1;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
	       errno != ECONNREFUSED;
	close(fd);
	return live;
}

static int bind_unix(int fd, const struct sockaddr_un *addr)
{
	struct stat st;

	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	if (lstat(addr->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) || socket_in_use(addr))
		return -EADDRINUSE;
	unlink(addr->sun_path); /* stale, from a server that died */
	return bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ? 0 : -errno;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = bind_unix(fd, &addr);
	if (!ret && listen(fd, 4) < 0)
		ret = -errno;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

void nbd_free(struct us_nbd *s)
{
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->sock_path);
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->ops_lock);
	pthread_mutex_destroy(&s->sync_lock);
	free(s->sock_path);
	free(s->export_name);
	free(s->buf);
	free(s);
}

struct us_nbd *nbd_new(const char *sock_path, const char *export_name, int image_fd, uint64_t size)
{
	struct us_nbd *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->listen_fd = s->stop_fd = s->conn_fd = -1;
	s->image_fd = image_fd;
	s->size = size;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->ops_lock, NULL);
	pthread_mutex_init(&s->sync_lock, NULL);
	s->sock_path = strdup(sock_path);
	s->export_name = strdup(export_name);
	if (!s->sock_path || !s->export_name) {
		nbd_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

static struct us_nbd *start_fail(struct us_nbd *s, const char *what, int ret)
{
	if (ret == -EADDRINUSE)
		us_log(LOG_ERR, US_TAG_DISK,
		       "NBD socket %s: another server is listening there (or the path is not a "
		       "socket): stop it or choose another run_dir",
		       s->sock_path);
	else
		us_log(LOG_ERR, US_TAG_DISK, "NBD server on %s: %s: %s", s->sock_path, what,
		       strerror(-ret));
	nbd_free(s);
	errno = -ret;
	return NULL;
}

struct us_nbd *us_nbd_start(const char *sock_path, const char *export_name, int image_fd,
			    uint64_t size, const struct us_nbd_ops *ops, void *opaque)
{
	struct us_nbd *s;
	int ret;

	if (!*export_name || strlen(export_name) > NBD_NAME_MAX) {
		us_log(LOG_ERR, US_TAG_DISK, "NBD export name must be 1 to %d bytes", NBD_NAME_MAX);
		errno = EINVAL;
		return NULL;
	}
	s = nbd_new(sock_path, export_name, image_fd, size);
	if (!s)
		return NULL;
	s->ops = ops;
	s->opaque = opaque;
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0)
		return start_fail(s, "eventfd", -errno);
	ret = listen_unix(sock_path);
	if (ret < 0)
		return start_fail(s, "listen", ret);
	s->listen_fd = ret;
	ret = -pthread_create(&s->thread, NULL, server_main, s);
	if (ret)
		return start_fail(s, "starting the server thread", ret);
	s->thread_started = 1;
	us_log(LOG_INFO, US_TAG_DISK, "NBD server: export '%s' (%llu bytes) on %s", export_name,
	       (unsigned long long)size, sock_path);
	return s;
}

void us_nbd_stop(struct us_nbd *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->thread_started) {
		if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
			us_log(LOG_WARNING, US_TAG_DISK, "NBD stop signal: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	nbd_free(s);
}
