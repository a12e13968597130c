/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QMP client on the libqb loop. QEMU writes one JSON object per line; this
 * file splits the byte stream into lines, parses each with jansson and routes
 * it: replies to the callback of the command with the same "id", events to
 * the listeners of that name and of "*". Callbacks may send, call, add or
 * remove listeners and free the client; the client stays allocated until the
 * outermost callback returns ("hold").
 *
 *   QEMU                                      us_qmp
 *   {"QMP": {...}}                      ──▶   greeting (us_qmp_connect waits)
 *                                       ◀──   {"execute":"qmp_capabilities","id":1}
 *   {"return": {}, "id": 1}             ──▶   connected, fd joins the loop
 *                                       ◀──   {"execute":C,"arguments":A,"id":N}
 *   {"event": E, "data": D, ...}        ──▶   listeners of E and of "*"
 *   {"return": R, "id": N}              ──▶   callback N (R, NULL)
 *   {"error": {"class":K,"desc":S},"id":N} ──▶ callback N (NULL, "K: S")
 *   EOF, read error, bad line           ──▶   every pending callback (NULL,
 *                                              "QMP connection lost: ..."),
 *                                              then the closed handler
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "replicator/log.h"
#include "replicator/qmp_int.h"

#define QMP_ERR_MAX 512
#define QMP_READ_CHUNK 65536
#define QMP_SNIPPET 120		/* bytes of a bad line quoted in the log */

struct call_wait {
	struct us_qmp *q;
	int done;
	int rc;
	json_t *ret;
	char err[QMP_ERR_MAX];
};

static int32_t on_ready(int32_t fd, int32_t revents, void *data);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Room for @n more bytes at the end of @b, compacting the consumed prefix. */
static int reserve_bytes(struct qmp_bytes *b, size_t n)
{
	size_t alloc;
	char *p;

	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->alloc - b->len >= n)
		return 0;
	alloc = b->alloc ? b->alloc : 4096;
	while (alloc - b->len < n)
		alloc *= 2;
	p = realloc(b->data, alloc);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->alloc = alloc;
	return 0;
}

static void hold(struct us_qmp *q)
{
	q->hold++;
}

static void sweep_listeners(struct us_qmp *q)
{
	struct qmp_listener **pp = &q->listeners, *l;

	while ((l = *pp)) {
		if (!l->removed) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		free(l->name);
		free(l);
	}
}

static void destroy(struct us_qmp *q)
{
	struct qmp_listener *l;

	for (l = q->listeners; l; l = l->next)
		l->removed = 1;
	sweep_listeners(q);
	free(q->in.data);
	free(q->out.data);
	free(q);
}

/* End of a callback scope. @return 1 if @q was freed (do not touch it). */
static int release(struct us_qmp *q)
{
	if (--q->hold)
		return 0;
	sweep_listeners(q);
	if (!q->free_asked)
		return 0;
	destroy(q);
	return 1;
}

static void close_fd(struct us_qmp *q)
{
	if (q->on_loop)
		qb_loop_poll_del(q->loop, q->fd);
	q->on_loop = 0;
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

static void fail_pending(struct us_qmp *q, const char *err)
{
	struct qmp_pending *p;

	while ((p = q->pending)) {
		q->pending = p->next;
		if (p->fn)
			p->fn(p->opaque, NULL, err);
		free(p);
	}
}

/* Close after EOF, an I/O error or a protocol error; runs inside a hold. */
static void lose_connection(struct us_qmp *q, int errnum, const char *why)
{
	char err[QMP_ERR_MAX];

	if (q->closed)
		return;
	q->closed = 1;
	q->close_errno = errnum ? errnum : EIO;
	close_fd(q);
	snprintf(err, sizeof(err), "QMP connection lost: %s", why);
	us_log(LOG_ERR, US_TAG_QMP, "%s", err);
	fail_pending(q, err);
	if (q->closed_fn)
		q->closed_fn(q->closed_opaque);
}

static int protocol_error(struct us_qmp *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int protocol_error(struct us_qmp *q, const char *fmt, ...)
{
	char why[QMP_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lose_connection(q, EPROTO, why);
	return -EPROTO;
}

static int take_greeting(struct us_qmp *q, json_t *msg)
{
	char *s;

	if (json_object_get(msg, "QMP")) {
		q->greeted = 1;
		return 0;
	}
	/*
	 * An event before the greeting: QEMU flushes what its monitor still
	 * held for the previous client (the start-up probe's, closed a moment
	 * ago) to the next one first. It was not meant for us: wait on.
	 */
	if (json_is_string(json_object_get(msg, "event")))
		return 0;
	s = json_dumps(msg, JSON_COMPACT);
	protocol_error(q, "expected QEMU's QMP greeting {\"QMP\": ...}, got %.*s: "
		       "is this a QEMU QMP socket?", QMP_SNIPPET, s ? s : "?");
	free(s);
	return -EPROTO;
}

/* QEMU's "timestamp": {"seconds", "microseconds"} of an event, 0 if absent or malformed. */
static uint64_t event_time_us(json_t *ts)
{
	json_int_t s = json_integer_value(json_object_get(ts, "seconds"));
	json_int_t us = json_integer_value(json_object_get(ts, "microseconds"));

	if (s <= 0 || us < 0 || us >= 1000000)
		return 0;
	return (uint64_t)s * 1000000 + (uint64_t)us;
}

uint64_t us_qmp_event_us(const struct us_qmp *q)
{
	return q->event_us;
}

static int dispatch_event(struct us_qmp *q, json_t *msg)
{
	const char *name = json_string_value(json_object_get(msg, "event"));
	json_t *data = json_object_get(msg, "data");
	struct qmp_listener *l;

	if (!name)
		return protocol_error(q, "QMP event without a name");
	q->event_us = event_time_us(json_object_get(msg, "timestamp"));
	for (l = q->listeners; l; l = l->next) {
		if (l->removed || (strcmp(l->name, "*") && strcmp(l->name, name)))
			continue;
		l->fn(l->opaque, name, data);
	}
	return 0;
}

static struct qmp_pending *take_pending(struct us_qmp *q, int64_t id)
{
	struct qmp_pending **pp, *p;

	for (pp = &q->pending; (p = *pp); pp = &p->next) {
		if (p->id == id) {
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

static void format_error(json_t *e, char *buf, size_t len)
{
	const char *cls = json_string_value(json_object_get(e, "class"));
	const char *desc = json_string_value(json_object_get(e, "desc"));

	snprintf(buf, len, "%s: %s", cls ? cls : "GenericError",
		 desc ? desc : "(QEMU gave no description)");
}

static int dispatch_reply(struct us_qmp *q, json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	json_t *e = json_object_get(msg, "error");
	char err[QMP_ERR_MAX];
	struct qmp_pending *p;

	if (e)
		format_error(e, err, sizeof(err));
	if (!json_is_integer(id)) {
		us_log(LOG_WARNING, US_TAG_QMP, "QMP reply without our id ignored%s%s",
		       e ? ": " : "", e ? err : "");
		return 0;
	}
	p = take_pending(q, json_integer_value(id));
	if (!p) {
		us_log(LOG_DEBUG, US_TAG_QMP, "late QMP reply %" JSON_INTEGER_FORMAT " dropped",
		       json_integer_value(id));
		return 0;
	}
	if (p->fn)
		p->fn(p->opaque, e ? NULL : json_object_get(msg, "return"), e ? err : NULL);
	free(p);
	return 0;
}

static int dispatch_message(struct us_qmp *q, json_t *msg)
{
	if (!q->greeted)
		return take_greeting(q, msg);
	if (json_object_get(msg, "event"))
		return dispatch_event(q, msg);
	if (json_object_get(msg, "return") || json_object_get(msg, "error"))
		return dispatch_reply(q, msg);
	us_log(LOG_DEBUG, US_TAG_QMP, "QMP message without event, return or error ignored");
	return 0;
}

/* One line without its '\n'. Parsed before any callback can move the buffer. */
static int handle_line(struct us_qmp *q, const char *line, size_t n)
{
	json_error_t jerr;
	json_t *msg;
	int rc;

	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (!n)
		return 0;
	msg = json_loadb(line, n, 0, &jerr);
	if (!msg)
		return protocol_error(q, "malformed JSON from QEMU (%s, column %d): %.*s",
				      jerr.text, jerr.column, (int)(n < QMP_SNIPPET ? n : QMP_SNIPPET), line);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return protocol_error(q, "QMP message is not a JSON object: %.*s",
				      (int)(n < QMP_SNIPPET ? n : QMP_SNIPPET), line);
	}
	rc = dispatch_message(q, msg);
	json_decref(msg);
	return rc;
}

/* Dispatch every whole line in q->in; callbacks may read more meanwhile. */
static int take_lines(struct us_qmp *q)
{
	struct qmp_bytes *b = &q->in;
	char *start, *nl;
	size_t n;

	while (!q->closed && b->off < b->len) {
		start = b->data + b->off;
		nl = memchr(start, '\n', b->len - b->off);
		if (!nl)
			break;
		n = nl - start;
		b->off += n + 1;
		handle_line(q, start, n);
	}
	if (!q->closed && b->len - b->off > US_QMP_LINE_MAX)
		protocol_error(q, "QMP line longer than %u bytes", US_QMP_LINE_MAX);
	return q->closed ? -q->close_errno : 0;
}

/* Read until the socket is empty; runs inside a hold. */
static int read_input(struct us_qmp *q)
{
	ssize_t n;

	while (!q->closed) {
		if (reserve_bytes(&q->in, QMP_READ_CHUNK) < 0) {
			lose_connection(q, ENOMEM, "out of memory for QMP input");
			break;
		}
		n = read(q->fd, q->in.data + q->in.len, q->in.alloc - q->in.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			lose_connection(q, errno, strerror(errno));
		else if (n == 0)
			lose_connection(q, ECONNRESET, "QEMU closed the QMP socket (did QEMU exit?)");
		else
			q->in.len += n;
		take_lines(q);
	}
	return -q->close_errno;
}

static void watch_output(struct us_qmp *q, int want)
{
	if (!q->on_loop || want == q->want_out)
		return;
	if (qb_loop_poll_mod(q->loop, QB_LOOP_HIGH, q->fd, POLLIN | (want ? POLLOUT : 0),
			     q, on_ready) == 0)
		q->want_out = want;
}

/* Write what the socket takes now; the rest waits for POLLOUT. */
static void flush_output(struct us_qmp *q)
{
	struct qmp_bytes *b = &q->out;
	ssize_t n;

	while (!q->closed && b->off < b->len) {
		n = send(q->fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			/* The peer is gone; reading reports it and fails the callbacks. */
			us_log(LOG_DEBUG, US_TAG_QMP, "QMP write: %s", strerror(errno));
			b->off = b->len = 0;
			break;
		}
		b->off += n;
	}
	if (!q->closed)
		watch_output(q, b->off < b->len);
}

static int32_t on_ready(int32_t fd, int32_t revents, void *data)
{
	struct us_qmp *q = data;

	hold(q);
	if (revents & POLLOUT)
		flush_output(q);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		read_input(q);
	release(q);
	return 0;
}

/* Append {"execute":@cmd,"arguments":@args,"id":@id} and a newline to q->out. */
static int queue_command(struct us_qmp *q, const char *cmd, json_t *args, int64_t id)
{
	json_t *msg = json_object();
	char *s = NULL;
	size_t n;
	int rc = -ENOMEM;

	if (!msg || json_object_set_new(msg, "execute", json_string(cmd)) < 0 ||
	    json_object_set_new(msg, "id", json_integer(id)) < 0)
		goto out;
	if (args && json_object_set(msg, "arguments", args) < 0)
		goto out;
	s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		goto out;
	n = strlen(s);
	rc = reserve_bytes(&q->out, n + 1);
	if (rc < 0)
		goto out;
	memcpy(q->out.data + q->out.len, s, n);
	q->out.data[q->out.len + n] = '\n';
	q->out.len += n + 1;
out:
	free(s);
	json_decref(msg);
	json_decref(args);
	return rc;
}

static int send_command(struct us_qmp *q, const char *cmd, json_t *args,
			us_qmp_reply_fn fn, void *opaque, int64_t *idp)
{
	struct qmp_pending *p;
	int rc;

	if (q->closed) {
		json_decref(args);
		return -EPIPE;
	}
	if (args && !json_is_object(args)) {
		json_decref(args);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		json_decref(args);
		return -ENOMEM;
	}
	p->id = q->next_id++;
	rc = queue_command(q, cmd, args, p->id);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p->fn = fn;
	p->opaque = opaque;
	p->next = q->pending;
	q->pending = p;
	*idp = p->id;
	us_log(LOG_DEBUG, US_TAG_QMP, "-> %s (id %" PRId64 ")", cmd, p->id);
	flush_output(q);
	return 0;
}

int us_qmp_send(struct us_qmp *q, const char *cmd, json_t *args,
		us_qmp_reply_fn fn, void *opaque)
{
	int64_t id;

	return send_command(q, cmd, args, fn, opaque, &id);
}

static void on_call_reply(void *opaque, json_t *ret, const char *err)
{
	struct call_wait *w = opaque;

	w->done = 1;
	if (err) {
		snprintf(w->err, sizeof(w->err), "%s", err);
		w->rc = w->q->closed ? -EPIPE : -EIO;
		return;
	}
	w->ret = json_incref(ret);
	w->rc = 0;
}

/* Stop waiting for reply @id: a late reply is read and dropped. */
static int forget_call(struct us_qmp *q, int64_t id)
{
	struct qmp_pending *p;

	for (p = q->pending; p; p = p->next) {
		if (p->id == id)
			p->fn = NULL;
	}
	return -ETIMEDOUT;
}

/*
 * Poll the socket ourselves (not the loop) until @w is answered. Called from
 * a callback, lines already read but not yet dispatched come first.
 */
static int wait_reply(struct us_qmp *q, struct call_wait *w, int64_t id, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd;
	int64_t left;

	take_lines(q);
	while (!w->done) {
		left = deadline - now_ms();
		if (left <= 0)
			return forget_call(q, id);
		pfd.fd = q->fd;
		pfd.events = POLLIN | (q->out.off < q->out.len ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (pfd.revents & POLLOUT)
			flush_output(q);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			read_input(q);
	}
	return w->rc;
}

int us_qmp_call(struct us_qmp *q, const char *cmd, json_t *args, json_t **ret,
		char *err, size_t errlen, int timeout_ms)
{
	struct call_wait w = { .q = q };
	int64_t id;
	int rc;

	hold(q);
	rc = send_command(q, cmd, args, on_call_reply, &w, &id);
	if (rc == 0)
		rc = wait_reply(q, &w, id, timeout_ms);
	if (rc == -ETIMEDOUT) {
		snprintf(w.err, sizeof(w.err), "no reply to %s within %d ms", cmd, timeout_ms);
		us_log(LOG_ERR, US_TAG_QMP, "QMP %s: %s", cmd, w.err);
	} else if (rc < 0 && !w.err[0]) {
		snprintf(w.err, sizeof(w.err), "%s: %s", cmd, strerror(-rc));
	}
	if (err && errlen)
		snprintf(err, errlen, "%s", w.err);
	if (ret)
		*ret = rc == 0 ? w.ret : NULL;
	if (!ret || rc < 0)
		json_decref(w.ret);
	release(q);
	return rc;
}

int us_qmp_feed(struct us_qmp *q, const char *p, size_t n)
{
	int rc;

	hold(q);
	rc = q->closed ? -EPIPE : reserve_bytes(&q->in, n);
	if (rc == 0) {
		memcpy(q->in.data + q->in.len, p, n);
		q->in.len += n;
		rc = take_lines(q);
	}
	release(q);
	return rc;
}

int us_qmp_read(struct us_qmp *q)
{
	int rc;

	hold(q);
	rc = q->closed ? -EPIPE : read_input(q);
	release(q);
	return rc;
}

static int open_socket(const char *path, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = now_ms() + US_QMP_CONNECT_TIMEOUT_MS;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Non-blocking unix connect: EAGAIN means the backlog is full, retry. */
	while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 &&
	       (errno == EAGAIN || errno == EINTR) && now_ms() < deadline)
		poll(NULL, 0, 5);
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

static int wait_greeting(struct us_qmp *q, const char *path)
{
	int64_t deadline = now_ms() + US_QMP_CONNECT_TIMEOUT_MS;
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	int64_t left;

	while (!q->greeted && !q->closed) {
		left = deadline - now_ms();
		if (left <= 0) {
			us_log(LOG_ERR, US_TAG_QMP, "no QMP greeting on %s within %d ms: "
			       "is it QEMU's -qmp socket?", path, US_QMP_CONNECT_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, (int)left) > 0)
			read_input(q);
	}
	return q->closed ? -q->close_errno : 0;
}

static int negotiate(struct us_qmp *q, const char *path)
{
	char err[QMP_ERR_MAX];
	int rc;

	rc = wait_greeting(q, path);
	if (rc < 0)
		return rc;
	rc = us_qmp_call(q, "qmp_capabilities", NULL, NULL, err, sizeof(err),
			 US_QMP_CONNECT_TIMEOUT_MS);
	if (rc < 0)
		us_log(LOG_ERR, US_TAG_QMP, "QMP capabilities negotiation on %s failed: %s",
		       path, err);
	return rc;
}

struct us_qmp *us_qmp_connect(qb_loop_t *loop, const char *path)
{
	struct us_qmp *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return NULL;
	q->loop = loop;
	q->fd = -1;
	q->next_id = 1;
	rc = open_socket(path, &q->fd);
	if (rc < 0)
		us_log(LOG_ERR, US_TAG_QMP, "cannot connect to QMP socket %s: %s "
		       "(is QEMU running with -qmp unix:%s,server=on?)", path, strerror(-rc), path);
	if (rc == 0)
		rc = negotiate(q, path);
	if (rc == 0)
		rc = qb_loop_poll_add(loop, QB_LOOP_HIGH, q->fd, POLLIN, q, on_ready);
	if (rc < 0) {
		close_fd(q);
		destroy(q);
		errno = -rc;
		return NULL;
	}
	q->on_loop = 1;
	return q;
}

void us_qmp_on_closed(struct us_qmp *q, us_qmp_closed_fn fn, void *opaque)
{
	q->closed_fn = fn;
	q->closed_opaque = opaque;
}

int us_qmp_on_event(struct us_qmp *q, const char *name, us_qmp_event_fn fn, void *opaque)
{
	struct qmp_listener *l = calloc(1, sizeof(*l));

	if (!l || !(l->name = strdup(name))) {
		free(l);
		return -ENOMEM;
	}
	l->fn = fn;
	l->opaque = opaque;
	l->next = q->listeners;
	q->listeners = l;
	return 0;
}

void us_qmp_off_event(struct us_qmp *q, us_qmp_event_fn fn, void *opaque)
{
	struct qmp_listener *l;

	for (l = q->listeners; l; l = l->next) {
		if (l->fn == fn && l->opaque == opaque)
			l->removed = 1;
	}
	if (!q->hold)
		sweep_listeners(q);
}

void us_qmp_free(struct us_qmp *q)
{
	if (!q)
		return;
	q->free_asked = 1;
	hold(q);
	if (!q->closed) {
		q->closed = 1;
		q->close_errno = ECANCELED;
		close_fd(q);
		fail_pending(q, "QMP connection closed by us_qmp_free");
	}
	release(q);
}
