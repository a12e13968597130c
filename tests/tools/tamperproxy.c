/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tamperproxy: a TCP proxy for the replication link that plays a hostile
 * network. The primary connects to it (--listen), it connects on to the
 * standby (--connect) and passes every message, whole, both ways; on
 * command it alters one message, drops it, makes one up, or replays one
 * from an earlier session, and logs (stderr) every action with the type and
 * epoch of the message concerned. It understands only the framing
 * (tamper_frame.c), so the messages it makes up carry made-up tags: it
 * shows what the peers do with traffic from someone without the key.
 *
 * Control: a unix stream socket (--ctl PATH). A command is one line of
 * words; the answer is one line, "ok ..." or "err <what is wrong>". A client
 * may send many commands on one connection. `tamperproxy --ctl PATH -c CMD`
 * sends one and prints the answer (exit 0 on ok, 1 on err).
 *
 *   pass              every rule off: messages pass unchanged (also ends block)
 *   flip TYPE [N]     flip one bit mid-payload of the Nth next TYPE (default 1),
 *                     e.g. `flip PAGES` changes one byte of a page
 *   drop TYPE [N|0]   drop the next N TYPE (default 1; 0: every one) with their tags
 *   delay MS          hold every message MS ms before passing it (0: off)
 *   block             close new connections at once; open ones go on
 *   record            keep the live session's handshake (HELLO, AUTH) and the
 *                     next whole epoch the primary sends, for the replays
 *   replay-hello      open a connection of our own to the standby and replay
 *                     the recorded handshake: its HELLO, then one recorded
 *                     message per answer; the answers are logged (stats)
 *   replay-epoch      send the recorded epoch to the standby in the live
 *                     session, between two messages
 *   inject TYPE       send a made-up TYPE (with a made-up tag in its
 *                     header) in the live session, to the peer
 *                     that receives TYPE, out of sequence
 *   forge-ack         withhold the standby's next ACK and send the primary a
 *                     forged one for the same epoch (made-up tag) instead
 *   stats             counters and the last action, as key=value words:
 *                     sessions live blocked p2s s2p flipped dropped injected
 *                     forged replayed_epochs replayed_hellos recorded_hello
 *                     recorded_epoch replay_answers (what the standby answered
 *                     the last replay-hello, e.g. CHALLENGE,REFUSE) and last
 *                     (the last action, ACTION:TYPE:EPOCH)
 *   help              the commands
 *
 * TYPE is a message type as proto.h names it (PAGES, DEVSTATE, EPOCH_END,
 * ACK, HELLO, ...), case-insensitive. Rules are one-shot unless said.
 * SIGTERM or SIGINT: close everything, remove PATH, exit 0.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/tamper_int.h"

#define CONNECT_MS 3000
#define LINGER_MS 2000

static size_t rx_cap(void)
{
	return 8 * (tf_hdr_size() + 64) + tf_hdr_size() + tf_max_body();
}

void tp_log(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld tamperproxy: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t tp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *tp_dir_name(int dir)
{
	return dir == TP_P2S ? "primary -> standby" : "standby -> primary";
}

/* ---- units and lists ---- */

struct tp_unit *tp_unit_new(const void *data, size_t len, size_t main_off)
{
	struct tp_unit *u = malloc(sizeof(*u) + len);

	if (!u)
		return NULL;
	memset(u, 0, sizeof(*u));
	memcpy(u->data, data, len);
	u->len = len;
	u->main_off = main_off;
	return u;
}

struct tp_unit *tp_unit_copy(const struct tp_unit *u)
{
	struct tp_unit *c = tp_unit_new(u->data, u->len, u->main_off);

	if (c)
		c->f = u->f;
	return c;
}

void tp_list_push(struct tp_list *l, struct tp_unit *u)
{
	if (!u)
		return;
	u->next = NULL;
	if (l->tail)
		l->tail->next = u;
	else
		l->head = u;
	l->tail = u;
	l->bytes += u->len;
	l->count++;
}

static struct tp_unit *list_pop(struct tp_list *l)
{
	struct tp_unit *u = l->head;

	if (!u)
		return NULL;
	l->head = u->next;
	if (!l->head)
		l->tail = NULL;
	l->bytes -= u->len;
	l->count--;
	return u;
}

void tp_list_clear(struct tp_list *l)
{
	struct tp_unit *u;

	while ((u = list_pop(l)))
		free(u);
}

/* ---- addresses and sockets ---- */

static int resolve(const char *addr, struct addrinfo **res, int passive)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	const char *colon = strrchr(addr, ':');
	char host[256];
	size_t n = colon ? (size_t)(colon - addr) : 0;

	if (!colon || n == 0 || n >= sizeof(host) || !colon[1])
		return -EINVAL;
	if (addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	memcpy(host, addr, n);
	host[n] = 0;
	return getaddrinfo(host, colon + 1, &hints, res) == 0 ? 0 : -EHOSTUNREACH;
}

static int set_nonblock(int fd)
{
	int one = 1, fl = fcntl(fd, F_GETFL);

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

static int listen_tcp(const char *addr)
{
	struct addrinfo *res;
	int fd, one = 1, rc = resolve(addr, &res, 1);

	if (rc < 0)
		return rc;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 8) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		fd = rc;
	}
	freeaddrinfo(res);
	return fd;
}

/* A connection to @addr within CONNECT_MS. @return the fd or -errno. */
static int dial(const char *addr)
{
	struct addrinfo *res;
	struct pollfd pfd;
	int fd, err = 0, rc = resolve(addr, &res, 0);
	socklen_t elen = sizeof(err);

	if (rc < 0)
		return rc;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out_close;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, CONNECT_MS) != 1) {
		rc = -ETIMEDOUT;
		goto out_close;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err) {
		rc = -err;
		goto out_close;
	}
	rc = fd;
	goto out;
out_close:
	close(fd);
out:
	freeaddrinfo(res);
	return rc;
}

/* The control socket at @path; a stale one (nobody answers) is replaced. */
static int listen_ctl(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* ---- sessions ---- */

struct tp_session *tp_live(struct tp_proxy *p)
{
	struct tp_session *best = NULL;
	int i;

	for (i = 0; i < TP_MAX_SESSIONS; i++) {
		struct tp_session *s = &p->sess[i];

		if (s->used && !s->replay && s->side[0].fd >= 0 && s->side[1].fd >= 0 &&
		    (!best || s->id > best->id))
			best = s;
	}
	return best;
}

void tp_send(struct tp_proxy *p, struct tp_session *s, int to, struct tp_unit *u)
{
	if (!u)
		return;
	u->due_ms = tp_now_ms() + p->rules.delay_ms;
	u->off = 0;
	if (s->side[to].fd < 0) {
		free(u);
		return;
	}
	tp_list_push(&s->side[to].out, u);
}

static struct tp_session *session_new(struct tp_proxy *p)
{
	int i;

	for (i = 0; i < TP_MAX_SESSIONS; i++) {
		struct tp_session *s = &p->sess[i];

		if (s->used)
			continue;
		memset(s, 0, sizeof(*s));
		s->side[0].rx = malloc(rx_cap());
		s->side[1].rx = malloc(rx_cap());
		if (!s->side[0].rx || !s->side[1].rx) {
			free(s->side[0].rx);
			free(s->side[1].rx);
			return NULL;
		}
		s->used = 1;
		s->id = ++p->next_id;
		s->side[0].fd = s->side[1].fd = -1;
		return s;
	}
	return NULL;
}

static void session_free(struct tp_session *s)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (s->side[i].fd >= 0)
			close(s->side[i].fd);
		free(s->side[i].rx);
		tp_list_clear(&s->side[i].out);
	}
	tp_list_clear(&s->hs);
	s->used = 0;
}

static const char *side_name(int i)
{
	return i == 0 ? "primary" : "standby";
}

static void close_fd(struct tp_session *s, int i)
{
	struct tp_side *sd = &s->side[i];

	if (sd->fd >= 0)
		close(sd->fd);
	sd->fd = -1;
	sd->rx_len = sd->prefix_len = 0;
	sd->linger_until = 0;
	tp_list_clear(&sd->out);
	if (s->side[0].fd < 0 && s->side[1].fd < 0) {
		tp_log("session %d: ended", s->id);
		session_free(s);
	}
}

/*
 * Side @i has been given all it will get: a FIN, then what its peer still
 * sends is read and thrown away until it closes too (or LINGER_MS), since
 * closing with its bytes unread would send a RST, and a RST can make the
 * peer lose the REFUSE just passed on to it.
 */
static void finish(struct tp_session *s, int i)
{
	shutdown(s->side[i].fd, SHUT_WR);
	s->side[i].linger_until = tp_now_ms() + LINGER_MS;
}

/* Side @i is gone: the other gets what is queued for it, then finishes. */
static void side_closed(struct tp_session *s, int i, const char *why)
{
	struct tp_side *o = &s->side[!i];

	if (s->replay && i == 1)
		tp_log("replay-hello: the standby closed the connection (%s)", why);
	else
		tp_log("session %d: the %s's side closed (%s)", s->id, side_name(i), why);
	o->closing = 1;
	if (o->fd >= 0 && !o->out.head && !o->linger_until)
		finish(s, !i);
	close_fd(s, i);
}

static void accept_primary(struct tp_proxy *p)
{
	struct tp_session *s;
	int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC), sfd;

	if (fd < 0)
		return;
	if (p->rules.block) {
		tp_log("block: closed a new connection from the primary");
		p->st.blocked++;
		close(fd);
		return;
	}
	s = session_new(p);
	sfd = s ? dial(p->connect_addr) : -ENOSPC;
	if (sfd < 0) {
		tp_log("a primary connected, but the standby at %s cannot be reached (%s): closed",
		       p->connect_addr, strerror(-sfd));
		if (s)
			session_free(s);
		close(fd);
		return;
	}
	set_nonblock(fd);
	set_nonblock(sfd);
	s->side[0].fd = fd;
	s->side[1].fd = sfd;
	p->st.sessions++;
	tp_log("session %d: a primary connected; passing on to the standby at %s", s->id,
	       p->connect_addr);
}

int tp_replay_open(struct tp_proxy *p)
{
	struct tp_session *s = session_new(p);
	int fd = s ? dial(p->connect_addr) : -ENOSPC;

	if (fd < 0) {
		if (s)
			session_free(s);
		return fd;
	}
	set_nonblock(fd);
	s->side[1].fd = fd;
	s->replay = 1;
	s->replay_next = 1;
	p->st.replayed_hellos++;
	p->st.replay_answers[0] = 0;
	snprintf(p->st.last, sizeof(p->st.last), "replay-hello:HELLO:%lu",
		 (unsigned long)p->rec.hello.head->f.epoch);
	tp_log("session %d: replay-hello: connected to the standby, sending the HELLO recorded in "
	       "session %d",
	       s->id, p->rec.hello_session);
	tp_send(p, s, 1, tp_unit_copy(p->rec.hello.head));
	return 0;
}

/* ---- reading: whole units out of a side's bytes ---- */

static void pass_raw(struct tp_proxy *p, struct tp_session *s, int i)
{
	struct tp_side *sd = &s->side[i];
	struct tp_unit *u = tp_unit_new(sd->rx, sd->rx_len, 0);

	sd->rx_len = sd->prefix_len = 0;
	if (u && !s->replay)
		tp_send(p, s, !i, u);
	else
		free(u);
}

/* Cut every whole unit out of side @i's bytes and act on it. */
static void parse_side(struct tp_proxy *p, struct tp_session *s, int i)
{
	struct tp_side *sd = &s->side[i];
	size_t hdr = tf_hdr_size(), end;
	struct tf_frame f;
	char why[160];

	while (!sd->raw && sd->rx_len - sd->prefix_len >= hdr) {
		if (tf_hdr_parse(sd->rx + sd->prefix_len, &f, why, sizeof(why)) < 0) {
			tp_log("session %d: lost the framing of the %s's stream (%s): its bytes "
			       "pass unchanged from here on",
			       s->id, side_name(i), why);
			sd->raw = 1;
			break;
		}
		end = sd->prefix_len + hdr + f.body_len;
		if (sd->rx_len < end)
			return;
		if (tf_is_prefix(f.type)) {
			sd->prefix_len = end;
			continue;
		}
		struct tp_unit *u = tp_unit_new(sd->rx, end, sd->prefix_len);
		memmove(sd->rx, sd->rx + end, sd->rx_len - end);
		sd->rx_len -= end;
		sd->prefix_len = 0;
		if (!u)
			continue;
		u->f = f;
		sd->units++;
		tp_act_unit(p, s, i == 0 ? TP_P2S : TP_S2P, u);
	}
	if (sd->raw)
		pass_raw(p, s, i);
}

static void read_side(struct tp_proxy *p, struct tp_session *s, int i)
{
	struct tp_side *sd = &s->side[i];
	ssize_t n;

	if (sd->linger_until) { /* finished: its bytes go nowhere */
		n = read(sd->fd, sd->rx, rx_cap());
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			close_fd(s, i);
		return;
	}
	n = read(sd->fd, sd->rx + sd->rx_len, rx_cap() - sd->rx_len);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		parse_side(p, s, i);
		side_closed(s, i, n == 0 ? "end of stream" : strerror(errno));
		return;
	}
	if (n < 0)
		return;
	sd->rx_len += (size_t)n;
	parse_side(p, s, i);
}

/* ---- writing ---- */

/*
 * A peer that refuses a message sends its REFUSE and closes; our next write
 * to it fails. What it sent before closing is still to be read: pass it on
 * before the side closes, so the other peer learns why.
 */
static void drain_side(struct tp_proxy *p, struct tp_session *s, int i, const char *why)
{
	struct tp_side *sd = &s->side[i];
	ssize_t n;

	while (s->used && sd->fd >= 0 && sd->rx_len < rx_cap() &&
	       (n = read(sd->fd, sd->rx + sd->rx_len, rx_cap() - sd->rx_len)) > 0) {
		sd->rx_len += (size_t)n;
		parse_side(p, s, i);
	}
	if (s->used && sd->fd >= 0)
		side_closed(s, i, why);
}

static void write_side(struct tp_proxy *p, struct tp_session *s, int i)
{
	struct tp_side *sd = &s->side[i];
	uint64_t now = tp_now_ms();
	struct tp_unit *u;
	ssize_t n;

	while ((u = sd->out.head) && u->due_ms <= now) {
		n = send(sd->fd, u->data + u->off, u->len - u->off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			drain_side(p, s, i, strerror(errno));
			return;
		}
		u->off += (size_t)n;
		if (u->off < u->len)
			return;
		free(list_pop(&sd->out));
	}
	if (!sd->out.head && sd->closing && !sd->linger_until)
		finish(s, i);
}

/* ---- control clients ---- */

static void ctl_accept(struct tp_proxy *p)
{
	int fd = accept4(p->cfd, NULL, NULL, SOCK_CLOEXEC), i;

	for (i = 0; fd >= 0 && i < TP_MAX_CTL; i++) {
		if (p->ctl[i] < 0) {
			p->ctl[i] = fd;
			p->ctl_len[i] = 0;
			return;
		}
	}
	if (fd >= 0)
		close(fd);
}

static void ctl_read(struct tp_proxy *p, int i)
{
	char *nl, out[512];
	ssize_t n = read(p->ctl[i], p->ctl_buf[i] + p->ctl_len[i],
			 sizeof(p->ctl_buf[i]) - 1 - p->ctl_len[i]);

	if (n <= 0) {
		close(p->ctl[i]);
		p->ctl[i] = -1;
		return;
	}
	p->ctl_len[i] += (size_t)n;
	p->ctl_buf[i][p->ctl_len[i]] = 0;
	while ((nl = strchr(p->ctl_buf[i], '\n'))) {
		*nl = 0;
		tp_ctl_run(p, p->ctl_buf[i], out, sizeof(out) - 1);
		strcat(out, "\n");
		if (write(p->ctl[i], out, strlen(out)) < 0)
			tp_log("a control client went away before its answer");
		p->ctl_len[i] -= (size_t)(nl + 1 - p->ctl_buf[i]);
		memmove(p->ctl_buf[i], nl + 1, p->ctl_len[i] + 1);
	}
	if (p->ctl_len[i] == sizeof(p->ctl_buf[i]) - 1) {
		close(p->ctl[i]); /* a line longer than any command */
		p->ctl[i] = -1;
	}
}

/* ---- the loop ---- */

enum { PF_LISTEN, PF_CTL, PF_SIG, PF_CLIENT, PF_SIDE };

struct pf_ref {
	int what, idx, side;
};

static int want_read(const struct tp_session *s, int i)
{
	return s->side[i].linger_until ||
	       (!s->side[i].closing && s->side[!i].out.bytes < TP_QUEUE_HIGH);
}

/* The poll set, and how long until the next delayed message falls due. */
static int build_poll(struct tp_proxy *p, struct pollfd *pf, struct pf_ref *ref, int *timeout)
{
	uint64_t now = tp_now_ms();
	int n = 0, i, k;

	*timeout = 1000;
	pf[n] = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
	ref[n++] = (struct pf_ref){ .what = PF_LISTEN };
	pf[n] = (struct pollfd){ .fd = p->cfd, .events = POLLIN };
	ref[n++] = (struct pf_ref){ .what = PF_CTL };
	pf[n] = (struct pollfd){ .fd = p->sfd, .events = POLLIN };
	ref[n++] = (struct pf_ref){ .what = PF_SIG };
	for (i = 0; i < TP_MAX_CTL; i++) {
		if (p->ctl[i] < 0)
			continue;
		pf[n] = (struct pollfd){ .fd = p->ctl[i], .events = POLLIN };
		ref[n++] = (struct pf_ref){ .what = PF_CLIENT, .idx = i };
	}
	for (i = 0; i < TP_MAX_SESSIONS; i++) {
		for (k = 0; k < 2 && p->sess[i].used; k++) {
			const struct tp_side *sd = &p->sess[i].side[k];
			const struct tp_unit *h = sd->out.head;

			if (sd->fd < 0)
				continue;
			pf[n] = (struct pollfd){ .fd = sd->fd };
			pf[n].events = (want_read(&p->sess[i], k) ? POLLIN : 0) |
				       (h && h->due_ms <= now ? POLLOUT : 0);
			if (h && h->due_ms > now && (int)(h->due_ms - now) < *timeout)
				*timeout = (int)(h->due_ms - now);
			if (sd->linger_until && (int)(sd->linger_until - now) < *timeout)
				*timeout =
					sd->linger_until > now ? (int)(sd->linger_until - now) : 0;
			ref[n++] = (struct pf_ref){ .what = PF_SIDE, .idx = i, .side = k };
		}
	}
	return n;
}

static void dispatch(struct tp_proxy *p, const struct pollfd *pf, const struct pf_ref *ref)
{
	struct tp_session *s = &p->sess[ref->idx];

	if (ref->what == PF_LISTEN)
		accept_primary(p);
	else if (ref->what == PF_CTL)
		ctl_accept(p);
	else if (ref->what == PF_SIG)
		p->stop = 1;
	else if (ref->what == PF_CLIENT)
		ctl_read(p, ref->idx);
	else if (s->used && s->side[ref->side].fd == pf->fd) {
		if (pf->revents & (POLLIN | POLLHUP | POLLERR))
			read_side(p, s, ref->side);
		if (s->used && s->side[ref->side].fd == pf->fd && (pf->revents & POLLOUT))
			write_side(p, s, ref->side);
	}
}

/* Delayed messages now due, and finished sides that lingered long enough. */
static void timers(struct tp_proxy *p, struct tp_session *s, int i)
{
	const struct tp_side *sd = &s->side[i];

	if (!s->used || sd->fd < 0)
		return;
	if (sd->linger_until && sd->linger_until <= tp_now_ms())
		close_fd(s, i);
	else if (sd->out.head)
		write_side(p, s, i);
}

static void run(struct tp_proxy *p)
{
	struct pollfd pf[3 + TP_MAX_CTL + 2 * TP_MAX_SESSIONS];
	struct pf_ref ref[3 + TP_MAX_CTL + 2 * TP_MAX_SESSIONS];
	int n, i, timeout;

	while (!p->stop) {
		n = build_poll(p, pf, ref, &timeout);
		if (poll(pf, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n && !p->stop; i++)
			if (pf[i].revents)
				dispatch(p, &pf[i], &ref[i]);
		for (i = 0; i < TP_MAX_SESSIONS; i++)
			for (n = 0; n < 2; n++)
				timers(p, &p->sess[i], n);
	}
}

/* ---- start-up and the command line ---- */

static void usage(FILE *to)
{
	fprintf(to, "usage: tamperproxy --listen ADDR:PORT --connect ADDR:PORT --ctl PATH\n"
		    "       tamperproxy --ctl PATH -c COMMAND\n"
		    "\n"
		    "A proxy for understudy's replication link that tampers with it on command:\n"
		    "the primary connects to --listen, the proxy connects on to the standby at\n"
		    "--connect, and passes each message whole, both ways. Commands come on the\n"
		    "unix socket --ctl, one line each, answered by one line \"ok ...\" or\n"
		    "\"err ...\":\n"
		    "  pass | flip TYPE [N] | drop TYPE [N|0] | delay MS | block | record |\n"
		    "  replay-hello | replay-epoch | inject TYPE | forge-ack | stats | help\n"
		    "(TYPE: PAGES, DEVSTATE, EPOCH_END, ACK, ...; see the top of tamperproxy.c).\n"
		    "Every action is logged on stderr. SIGTERM ends it cleanly.\n"
		    "\n"
		    "  -l, --listen ADDR:PORT   where the primary connects (its [replication] "
		    "peer)\n"
		    "  -t, --connect ADDR:PORT  the standby's [replication] listen address\n"
		    "  -s, --ctl PATH           the control socket\n"
		    "  -c, --command COMMAND    send COMMAND to a running proxy, print its answer\n"
		    "                           (exit 0 on ok, 1 on err, 2 when it cannot ask)\n"
		    "  -h, --help               this text\n");
}

static int client(const char *path, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512];
	ssize_t n;
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "tamperproxy: no proxy answers on %s: %s (is it running?)\n", path,
			strerror(errno));
		return 2;
	}
	if (dprintf(fd, "%s\n", cmd) < 0)
		return 2;
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		if (memchr(buf, '\n', got))
			break;
	}
	close(fd);
	buf[got] = 0;
	fputs(buf, stdout);
	if (!got || buf[got - 1] != '\n')
		fputc('\n', stdout);
	return strncmp(buf, "ok", 2) == 0 ? 0 : got ? 1 : 2;
}

static int start(struct tp_proxy *p)
{
	sigset_t mask;
	int i;

	for (i = 0; i < TP_MAX_CTL; i++)
		p->ctl[i] = -1;
	p->lfd = listen_tcp(p->listen_addr);
	if (p->lfd < 0) {
		fprintf(stderr,
			"tamperproxy: cannot listen on %s: %s (a wrong address, or the "
			"port is taken)\n",
			p->listen_addr, strerror(-p->lfd));
		return -1;
	}
	p->cfd = listen_ctl(p->ctl_path);
	if (p->cfd < 0) {
		fprintf(stderr, "tamperproxy: cannot make the control socket %s: %s%s\n",
			p->ctl_path, strerror(-p->cfd),
			p->cfd == -EADDRINUSE ? " (another tamperproxy answers there)" : "");
		close(p->lfd);
		return -1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	p->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	return 0;
}

static void stop(struct tp_proxy *p)
{
	char out[512];
	int i;

	tp_ctl_run(p, (char[]){ "stats" }, out, sizeof(out));
	tp_log("stopping: %s", out + 3);
	for (i = 0; i < TP_MAX_SESSIONS; i++)
		if (p->sess[i].used)
			session_free(&p->sess[i]);
	for (i = 0; i < TP_MAX_CTL; i++)
		if (p->ctl[i] >= 0)
			close(p->ctl[i]);
	tp_list_clear(&p->rec.hello);
	tp_list_clear(&p->rec.epoch);
	close(p->sfd);
	close(p->cfd);
	close(p->lfd);
	unlink(p->ctl_path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "listen", required_argument, NULL, 'l' },
					      { "connect", required_argument, NULL, 't' },
					      { "ctl", required_argument, NULL, 's' },
					      { "command", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	static struct tp_proxy p;
	const char *cmd = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "l:t:s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': p.listen_addr = optarg; break;
		case 't': p.connect_addr = optarg; break;
		case 's': p.ctl_path = optarg; break;
		case 'c': cmd = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || !p.ctl_path) {
		fprintf(stderr, "tamperproxy: %s (see --help)\n",
			optind < argc ? "unexpected arguments" : "--ctl PATH is missing");
		return 2;
	}
	if (cmd)
		return client(p.ctl_path, cmd);
	if (!p.listen_addr || !p.connect_addr) {
		fprintf(stderr, "tamperproxy: --%s ADDR:PORT is missing (see --help)\n",
			!p.listen_addr ? "listen" : "connect");
		return 2;
	}
	if (start(&p) < 0)
		return 1;
	tp_log("listening on %s for the primary, passing on to the standby at %s; control on %s",
	       p.listen_addr, p.connect_addr, p.ctl_path);
	run(&p);
	stop(&p);
	return 0;
}
