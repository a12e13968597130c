/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device state of a stopped guest through QEMU's own migration, without RAM:
 * x-ignore-shared skips the shared guest-RAM file, so the stream holds the
 * devices and the few small unshared blocks (firmware, ACPI tables).
 *
 * Capture (primary; the caller has sent "stop" and sends "cont" after done):
 *
 *   us_devstate                                 QEMU
 *   migrate {"uri": "unix:SOCK"}          ──▶
 *                                         ◀──   connects to SOCK, accepted on the loop
 *                                         ◀──   the stream ... EOF
 *                                         ◀──   event MIGRATION {"status": "completed"}
 *   query-status (again until ...)        ──▶
 *                                         ◀──   {"status": "postmigrate"}
 *   done(0, stream) once EOF, "completed" and "postmigrate" all hold:
 *   a "cont" sent between "completed" and "postmigrate" fails.
 *   MIGRATION "failed": query-migrate for QEMU's error-desc, done(-EIO).
 *
 * Capture with US_DEVSTATE_XEN_SAVE (measured 2-3x shorter pause, 1/9 the bytes):
 *
 *   xen-save-devices-state {"filename": "SOCK.xen", "live": true} ──▶
 *                                         ◀──   {"return": {}} once the file is written
 *   read SOCK.xen, done(0, stream)        (guest stays "paused": no postmigrate)
 *
 *   Its stream has no RAM section at all (the unshared firmware and ACPI blocks
 *   are identical on both sides, built by the same QEMU and command line) and
 *   no configuration section: both QEMUs run with
 *   -global migration.send-configuration=off (see qemu.c). It records the
 *   runstate as "running", so the parked QEMU also has -S to stay paused.
 *   "live": true only skips inactivating the disks, which "cont" would have
 *   to re-activate every epoch.
 *
 * Restore (standby; QEMU parked with -incoming defer; blocking):
 *
 *   migrate-incoming {"uri": "unix:SOCK"} ──▶   QEMU listens on SOCK
 *   connect, write the stream, close      ──▶   loads it
 *   query-migrate until "completed"       ──▶   guest paused with the state
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "replicator/devstate.h"
#include "replicator/log.h"

#define US_DEVSTATE_MAX (64u << 20)		/* stream cap: device state is < 1 MB */
#define US_DEVSTATE_TIMEOUT_MS 10000		/* one capture, migrate to postmigrate */
#define US_DEVSTATE_QMP_MS 5000			/* one blocking QMP command */
#define DEVSTATE_ERR_MAX 512

struct us_devstate {
	qb_loop_t *loop;
	struct us_qmp *qmp;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char xen_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 4];
	enum us_devstate_method method;
	int lfd;			/* our listening socket */
	int cfd;			/* QEMU's migration connection, or -1 */
	int busy;			/* a capture runs */
	int eof;			/* stream fully read */
	int completed;			/* MIGRATION "completed" seen */
	int postmigrate;		/* query-status said "postmigrate" */
	unsigned inflight;		/* our QMP commands without a reply yet */
	unsigned status_polls;		/* query-status sent after "completed" */
	int64_t t_start;		/* capture start, us, for the debug log */
	int dead;			/* freed by the owner, waiting for @inflight */
	int timer_on;
	qb_loop_timer_handle timer;
	char *buf;			/* the stream */
	size_t len, alloc;
	us_devstate_done_fn done;
	void *opaque;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void trace(struct us_devstate *d, const char *what)
{
	us_log(LOG_DEBUG, US_TAG_QEMU, "device-state capture: %s at +%.2f ms",
	       what, (now_us() - d->t_start) / 1000.0);
}

static int set_sun_path(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		us_log(LOG_ERR, US_TAG_QEMU, "device-state socket path %s is longer than a "
		       "unix socket allows (%zu)", path, sizeof(sa->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

int us_devstate_prepare(struct us_qmp *qmp)
{
	char err[DEVSTATE_ERR_MAX];
	json_t *args;
	int rc;

	args = json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities",
			 "capability", "x-ignore-shared", "state", 1,
			 "capability", "events", "state", 1);
	if (!args)
		return -ENOMEM;
	rc = us_qmp_call(qmp, "migrate-set-capabilities", args, NULL, err, sizeof(err),
			 US_DEVSTATE_QMP_MS);
	if (rc < 0)
		us_log(LOG_ERR, US_TAG_QEMU, "cannot turn on migration capabilities "
		       "x-ignore-shared and events: %s (QEMU 4.0 or newer is needed)", err);
	return rc;
}

static void free_now(struct us_devstate *d)
{
	free(d->buf);
	free(d);
}

/* Every QMP reply to us starts here. @return 1 if @d is gone: do nothing. */
static int reply_arrived(struct us_devstate *d)
{
	d->inflight--;
	if (!d->dead)
		return 0;
	if (!d->inflight)
		free_now(d);
	return 1;
}

static int ask(struct us_devstate *d, const char *cmd, json_t *args, us_qmp_reply_fn fn)
{
	int rc = us_qmp_send(d->qmp, cmd, args, fn, d);

	if (rc == 0)
		d->inflight++;
	return rc;
}

static void close_conn(struct us_devstate *d)
{
	if (d->cfd < 0)
		return;
	qb_loop_poll_del(d->loop, d->cfd);
	close(d->cfd);
	d->cfd = -1;
}

/* End the capture; @done may free @d, so callers return right after. */
static void finish(struct us_devstate *d, int rc)
{
	if (!d->busy)
		return;
	d->busy = 0;
	if (d->timer_on)
		qb_loop_timer_del(d->loop, d->timer);
	d->timer_on = 0;
	close_conn(d);
	d->done(d->opaque, rc, rc == 0 ? d->buf : NULL, rc == 0 ? d->len : 0);
}

static void check_done(struct us_devstate *d)
{
	if (d->eof && d->completed && d->postmigrate)
		finish(d, 0);
}

static void on_status(void *opaque, json_t *ret, const char *err)
{
	struct us_devstate *d = opaque;
	const char *status = json_string_value(json_object_get(ret, "status"));

	if (reply_arrived(d) || !d->busy)
		return;
	if (err) {
		us_log(LOG_ERR, US_TAG_QEMU, "query-status after migration: %s", err);
		finish(d, -EIO);
		return;
	}
	if (status && !strcmp(status, "postmigrate")) {
		d->postmigrate = 1;
		us_log(LOG_DEBUG, US_TAG_QEMU, "device-state capture: postmigrate after %u "
		       "query-status", d->status_polls);
		trace(d, "postmigrate");
		check_done(d);
		return;
	}
	/* "finish-migrate" still: the main loop has not switched yet; ask again. */
	d->status_polls++;
	if (ask(d, "query-status", NULL, on_status) < 0)
		finish(d, -EPIPE);
}

static void on_failure_info(void *opaque, json_t *ret, const char *err)
{
	struct us_devstate *d = opaque;
	const char *desc = json_string_value(json_object_get(ret, "error-desc"));

	if (reply_arrived(d) || !d->busy)
		return;
	us_log(LOG_ERR, US_TAG_QEMU, "device-state migration to %s failed: %s", d->path,
	       desc ? desc : err ? err : "QEMU gave no reason");
	finish(d, -EIO);
}

static void on_migration(void *opaque, const char *event, json_t *data)
{
	struct us_devstate *d = opaque;
	const char *status = json_string_value(json_object_get(data, "status"));

	if (!d->busy || !status)
		return;
	if (!strcmp(status, "completed")) {
		d->completed = 1;
		trace(d, "MIGRATION completed");
		d->status_polls = 1;
		if (ask(d, "query-status", NULL, on_status) < 0)
			finish(d, -EPIPE);
	} else if (!strcmp(status, "failed")) {
		if (ask(d, "query-migrate", NULL, on_failure_info) < 0)
			finish(d, -EIO);
	} else if (!strcmp(status, "cancelled")) {
		us_log(LOG_ERR, US_TAG_QEMU, "device-state migration was cancelled");
		finish(d, -ECANCELED);
	}
}

static void on_migrate_reply(void *opaque, json_t *ret, const char *err)
{
	struct us_devstate *d = opaque;

	if (reply_arrived(d) || !d->busy || !err)
		return;
	us_log(LOG_ERR, US_TAG_QEMU, "QEMU refused to migrate its device state: %s "
	       "(the guest must be stopped, and after a capture sent \"cont\")", err);
	finish(d, -EIO);
}

static int grow(struct us_devstate *d)
{
	size_t alloc = d->alloc ? d->alloc * 2 : 1u << 20;
	char *p;

	if (d->alloc >= US_DEVSTATE_MAX) {
		us_log(LOG_ERR, US_TAG_QEMU, "device state exceeds %u bytes: is guest RAM "
		       "really in a shared memory-backend-file?", US_DEVSTATE_MAX);
		return -ENOBUFS;
	}
	if (alloc > US_DEVSTATE_MAX)
		alloc = US_DEVSTATE_MAX;
	p = realloc(d->buf, alloc);
	if (!p)
		return -ENOMEM;
	d->buf = p;
	d->alloc = alloc;
	return 0;
}

/* Read until the socket is empty; @return 1 at EOF, 0, or -errno. */
static int read_stream(struct us_devstate *d)
{
	ssize_t n;
	int rc;

	for (;;) {
		if (d->len == d->alloc && (rc = grow(d)) < 0)
			return rc;
		n = read(d->cfd, d->buf + d->len, d->alloc - d->len);
		if (n > 0) {
			d->len += n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}

static int32_t on_stream(int32_t fd, int32_t revents, void *data)
{
	struct us_devstate *d = data;
	int rc = read_stream(d);

	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_QEMU, "reading the device-state stream: %s", strerror(-rc));
		finish(d, rc);
	} else if (rc == 1) {
		close_conn(d);
		d->eof = 1;
		trace(d, "end of stream");
		check_done(d);
	}
	return 0;
}

static int32_t on_accept(int32_t fd, int32_t revents, void *data)
{
	struct us_devstate *d = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return 0;
	if (!d->busy || d->cfd >= 0 || d->eof) {
		us_log(LOG_WARNING, US_TAG_QEMU, "unexpected connection on %s closed", d->path);
		close(cfd);
		return 0;
	}
	if (qb_loop_poll_add(d->loop, QB_LOOP_HIGH, cfd, POLLIN, d, on_stream) < 0) {
		close(cfd);
		finish(d, -ENOMEM);
		return 0;
	}
	d->cfd = cfd;
	trace(d, "QEMU connected");
	return 0;
}

/* Read the whole file QEMU wrote into d->buf. */
static int read_saved(struct us_devstate *d)
{
	ssize_t n = 0;
	int fd, rc = 0;

	fd = open(d->xen_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (d->len == d->alloc && (rc = grow(d)) < 0)
			break;
		n = read(fd, d->buf + d->len, d->alloc - d->len);
		if (n <= 0)
			break;
		d->len += n;
	}
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void on_xen_saved(void *opaque, json_t *ret, const char *err)
{
	struct us_devstate *d = opaque;
	int rc;

	if (reply_arrived(d) || !d->busy)
		return;
	if (err) {
		us_log(LOG_ERR, US_TAG_QEMU, "xen-save-devices-state to %s: %s", d->xen_path, err);
		finish(d, -EIO);
		return;
	}
	rc = read_saved(d);
	if (rc < 0)
		us_log(LOG_ERR, US_TAG_QEMU, "reading the saved device state %s: %s",
		       d->xen_path, strerror(-rc));
	trace(d, "saved");
	finish(d, rc);
}

static void on_timeout(void *data)
{
	struct us_devstate *d = data;

	d->timer_on = 0;
	us_log(LOG_ERR, US_TAG_QEMU, "device-state capture not finished after %d ms "
	       "(stream end %d, completed %d, postmigrate %d): cancelling",
	       US_DEVSTATE_TIMEOUT_MS, d->eof, d->completed, d->postmigrate);
	if (d->method == US_DEVSTATE_MIGRATE)
		us_qmp_send(d->qmp, "migrate_cancel", NULL, NULL, NULL);
	finish(d, -ETIMEDOUT);
}

static int open_listener(struct us_devstate *d)
{
	struct sockaddr_un sa;
	int rc = set_sun_path(&sa, d->path);

	if (rc < 0)
		return rc;
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->lfd < 0)
		return -errno;
	unlink(d->path);	/* stale from a previous run */
	if (bind(d->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(d->lfd, 2) < 0) {
		rc = -errno;
		us_log(LOG_ERR, US_TAG_QEMU, "cannot listen on %s: %s", d->path, strerror(-rc));
		return rc;
	}
	return qb_loop_poll_add(d->loop, QB_LOOP_HIGH, d->lfd, POLLIN, d, on_accept);
}

struct us_devstate *us_devstate_new(qb_loop_t *loop, struct us_qmp *qmp, const char *sock_path)
{
	struct us_devstate *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return NULL;
	d->loop = loop;
	d->qmp = qmp;
	d->lfd = d->cfd = -1;
	snprintf(d->path, sizeof(d->path), "%s", sock_path);
	snprintf(d->xen_path, sizeof(d->xen_path), "%s.xen", d->path);
	rc = open_listener(d);
	if (rc == 0)
		rc = us_qmp_on_event(qmp, "MIGRATION", on_migration, d);
	if (rc < 0) {
		us_devstate_free(d);
		errno = -rc;
		return NULL;
	}
	return d;
}

int us_devstate_set_method(struct us_devstate *d, enum us_devstate_method m)
{
	if (d->busy)
		return -EBUSY;
	if (m != US_DEVSTATE_MIGRATE && m != US_DEVSTATE_XEN_SAVE)
		return -EINVAL;
	d->method = m;
	return 0;
}

static int start_save(struct us_devstate *d)
{
	char uri[sizeof(d->path) + 8];

	if (d->method == US_DEVSTATE_XEN_SAVE)
		return ask(d, "xen-save-devices-state", json_pack("{s:s, s:b}", "filename",
			   d->xen_path, "live", 1), on_xen_saved);
	snprintf(uri, sizeof(uri), "unix:%s", d->path);
	return ask(d, "migrate", json_pack("{s:s}", "uri", uri), on_migrate_reply);
}

int us_devstate_capture(struct us_devstate *d, us_devstate_done_fn done, void *opaque)
{
	int rc;

	if (d->busy)
		return -EBUSY;
	d->eof = d->completed = d->postmigrate = 0;
	d->len = 0;
	d->t_start = now_us();
	d->done = done;
	d->opaque = opaque;
	rc = qb_loop_timer_add(d->loop, QB_LOOP_HIGH, US_DEVSTATE_TIMEOUT_MS * 1000000ull,
			       d, on_timeout, &d->timer);
	if (rc < 0)
		return rc;
	d->timer_on = 1;
	d->busy = 1;
	rc = start_save(d);
	if (rc < 0) {
		qb_loop_timer_del(d->loop, d->timer);
		d->timer_on = d->busy = 0;
	}
	return rc;
}

void us_devstate_free(struct us_devstate *d)
{
	if (!d)
		return;
	if (d->timer_on)
		qb_loop_timer_del(d->loop, d->timer);
	d->timer_on = d->busy = 0;
	close_conn(d);
	if (d->lfd >= 0) {
		qb_loop_poll_del(d->loop, d->lfd);
		close(d->lfd);
		unlink(d->path);
		unlink(d->xen_path);
	}
	d->lfd = -1;
	us_qmp_off_event(d->qmp, on_migration, d);
	d->dead = 1;
	if (!d->inflight)
		free_now(d);
}

/* Connect to QEMU's incoming socket, which exists once migrate-incoming returned. */
static int connect_incoming(const char *path, int64_t deadline, int *fdp)
{
	struct sockaddr_un sa;
	int fd, rc = set_sun_path(&sa, path);

	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 &&
	       (errno == ENOENT || errno == ECONNREFUSED || errno == EINTR) && now_ms() < deadline)
		poll(NULL, 0, 2);
	if (rc < 0) {
		rc = -errno;
		close(fd);
		us_log(LOG_ERR, US_TAG_QEMU, "cannot connect to QEMU's incoming socket %s: %s",
		       path, strerror(-rc));
		return rc;
	}
	*fdp = fd;
	return 0;
}

static int write_stream(int fd, const char *buf, size_t len, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			continue;
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

static int left_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left > 0 ? (int)left : 1;
}

/* Poll query-migrate until the incoming side says completed or failed. */
static int wait_loaded(struct us_qmp *qmp, int64_t deadline)
{
	char err[DEVSTATE_ERR_MAX];
	const char *status, *desc;
	json_t *ret;
	int rc;

	for (;;) {
		rc = us_qmp_call(qmp, "query-migrate", NULL, &ret, err, sizeof(err), left_ms(deadline));
		if (rc == -EPIPE) {
			us_log(LOG_ERR, US_TAG_QEMU, "QEMU could not load the device state: it "
			       "closed QMP (a parked QEMU exits when the stream is bad; its log "
			       "says why)");
			return -EIO;
		}
		if (rc < 0) {
			us_log(LOG_ERR, US_TAG_QEMU, "query-migrate during restore: %s", err);
			return rc;
		}
		status = json_string_value(json_object_get(ret, "status"));
		desc = json_string_value(json_object_get(ret, "error-desc"));
		rc = !status ? 1 : !strcmp(status, "completed") ? 0 : !strcmp(status, "failed") ? -EIO : 1;
		if (rc < 0)
			us_log(LOG_ERR, US_TAG_QEMU, "QEMU could not load the device state: %s",
			       desc ? desc : "no reason given");
		json_decref(ret);
		if (rc <= 0)
			return rc;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		poll(NULL, 0, 1);
	}
}

static int start_incoming(struct us_qmp *qmp, const char *sock_path, int64_t deadline)
{
	char uri[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	char err[DEVSTATE_ERR_MAX];
	int rc;

	snprintf(uri, sizeof(uri), "unix:%s", sock_path);
	unlink(sock_path);
	rc = us_qmp_call(qmp, "migrate-incoming", json_pack("{s:s}", "uri", uri), NULL,
			 err, sizeof(err), left_ms(deadline));
	if (rc < 0)
		us_log(LOG_ERR, US_TAG_QEMU, "migrate-incoming %s refused: %s (is QEMU parked "
		       "with -incoming defer and not yet loaded?)", uri, err);
	return rc;
}

int us_devstate_restore(struct us_qmp *qmp, const char *sock_path,
			const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int fd = -1, rc, wrc;

	rc = start_incoming(qmp, sock_path, deadline);
	if (rc == 0)
		rc = connect_incoming(sock_path, deadline, &fd);
	if (rc < 0)
		goto out;
	wrc = write_stream(fd, buf, len, deadline);
	close(fd);
	/* A write error means QEMU gave up: query-migrate says why. */
	rc = wait_loaded(qmp, deadline);
	if (rc == 0 && wrc < 0)
		rc = wrc;
	if (wrc < 0)
		us_log(LOG_ERR, US_TAG_QEMU, "writing the device state to %s: %s",
		       sock_path, strerror(-wrc));
out:
	unlink(sock_path);
	return rc;
}
