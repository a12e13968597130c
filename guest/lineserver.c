/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest workloads' TCP line server (guest/lineserver.h): one listening
 * socket and up to 16 clients in one poll(2) set; each complete request line
 * a client sent is answered, in order, with the line the callback makes.
 */
#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/lineserver.h"

#define MAX_CLIENTS 16
#define REPLY_MAX 128

struct server {
	struct pollfd fds[1 + MAX_CLIENTS]; /* [0] listens, the rest clients */
	us_wl_line_fn fn;
	void *ctx;
};

/* send_all: the whole reply or -errno. */
static int send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* serve: answer every complete line the client sent.
 * @return 0, or -1 when the connection is to be closed. */
static int serve(struct server *s, int fd)
{
	char in[4096], out[REPLY_MAX];
	ssize_t n, i;
	int len;

	n = recv(fd, in, sizeof(in), 0);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (in[i] != '\n')
			continue;
		len = s->fn(s->ctx, out, sizeof(out));
		if (len < 0 || send_all(fd, out, len) < 0)
			return -1;
	}
	return 0;
}

static int listen_on(uint64_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int fd, one = 1, ret;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* accept_client: into a free slot, or refused when all are taken. */
static void accept_client(struct server *s)
{
	int fd, i;

	fd = accept4(s->fds[0].fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 1; i <= MAX_CLIENTS; i++) {
		if (s->fds[i].fd < 0) {
			s->fds[i].fd = fd;
			return;
		}
	}
	close(fd);
}

/* serve_ready: handle the clients poll(2) marked, closing finished ones. */
static void serve_ready(struct server *s)
{
	int i;

	for (i = 1; i <= MAX_CLIENTS; i++) {
		if (s->fds[i].fd < 0 || !s->fds[i].revents)
			continue;
		if (serve(s, s->fds[i].fd) < 0) {
			close(s->fds[i].fd);
			s->fds[i].fd = -1;
		}
	}
}

int us_wl_serve_lines(uint64_t port, us_wl_line_fn fn, void *ctx)
{
	struct server s = { .fn = fn, .ctx = ctx };
	int i;

	s.fds[0].fd = listen_on(port);
	if (s.fds[0].fd < 0)
		return s.fds[0].fd;
	for (i = 0; i <= MAX_CLIENTS; i++) {
		s.fds[i].events = POLLIN;
		if (i)
			s.fds[i].fd = -1;
	}
	for (;;) {
		if (poll(s.fds, 1 + MAX_CLIENTS, -1) < 0)
			continue;
		if (s.fds[0].revents)
			accept_client(&s);
		serve_ready(&s);
	}
}
