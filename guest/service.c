/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest workload `service`: a TCP server on port 7777 that keeps one counter
 * in memory for all its clients. Every request line (anything ending in \n)
 * increments it and is answered with the new value as a decimal line, so a
 * client sees 1, 2, 3... and any lost or repeated state after a failover
 * shows as a gap or a repeat. A few connections are served at once with
 * poll(2). Usage: service [PORT].
 */
#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/workload.h"

#define DEFAULT_PORT 7777
#define MAX_CLIENTS 16
#define REPLY_MAX 32

static uint64_t counter; /* the one state every client shares */

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

/* serve: answer every complete line in what the client sent.
 * @return 0, or -1 when the connection is to be closed. */
static int serve(int fd)
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
		len = snprintf(out, sizeof(out), "%llu\n", (unsigned long long)++counter);
		if (send_all(fd, out, len) < 0)
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
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* accept_client: into a free slot of @fds, or refused when all are taken. */
static void accept_client(struct pollfd *fds)
{
	int fd, i;

	fd = accept4(fds[0].fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 1; i <= MAX_CLIENTS; i++) {
		if (fds[i].fd < 0) {
			fds[i].fd = fd;
			return;
		}
	}
	close(fd);
}

/* serve_ready: handle the clients poll(2) marked, closing finished ones. */
static void serve_ready(struct pollfd *fds)
{
	int i;

	for (i = 1; i <= MAX_CLIENTS; i++) {
		if (fds[i].fd < 0 || !fds[i].revents)
			continue;
		if (serve(fds[i].fd) < 0) {
			close(fds[i].fd);
			fds[i].fd = -1;
		}
	}
}

int main(int argc, char **argv)
{
	struct pollfd fds[1 + MAX_CLIENTS];
	uint64_t port = DEFAULT_PORT;
	int i;

	if (argc > 1 && us_wl_parse_u64(argv[1], 1, 65535, &port) < 0) {
		us_wl_print("us-service: usage: service [PORT]");
		return 2;
	}
	fds[0].fd = listen_on(port);
	if (fds[0].fd < 0) {
		us_wl_print("us-service: cannot listen on port %llu: %s",
			    (unsigned long long)port, strerror(-fds[0].fd));
		return 1;
	}
	for (i = 0; i <= MAX_CLIENTS; i++) {
		fds[i].events = POLLIN;
		if (i)
			fds[i].fd = -1;
	}
	us_wl_print("us-service listening on %llu", (unsigned long long)port);
	for (;;) {
		if (poll(fds, 1 + MAX_CLIENTS, -1) < 0)
			continue;
		if (fds[0].revents)
			accept_client(fds);
		serve_ready(fds);
	}
}
