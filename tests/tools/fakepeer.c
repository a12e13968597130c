/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake standby for failure tests: accepts one primary on HOST:PORT, reads
 * its HELLO and answers as a peer that misbehaves in one named way:
 *   version  - a HELLO_OK whose header speaks another protocol version
 *   garbage  - bytes that are not the protocol at all
 */
#include <config.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replicator/proto.h"

static int listen_on(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	char host[128];
	const char *colon = strrchr(addr, ':');
	int fd, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0)
		fd = -1;
	freeaddrinfo(res);
	return fd;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char hdr[US_PROTO_HDR_SIZE], body[256], why[128], out[US_PROTO_HDR_SIZE + 16];
	struct us_msg_hdr h;
	int lfd, fd;

	if (argc != 3 || (strcmp(argv[2], "version") && strcmp(argv[2], "garbage"))) {
		fprintf(stderr, "usage: fakepeer HOST:PORT version|garbage\n");
		return 2;
	}
	lfd = listen_on(argv[1]);
	if (lfd < 0 || (fd = accept(lfd, NULL, NULL)) < 0) {
		perror("fakepeer: listen/accept");
		return 1;
	}
	if (read_full(fd, hdr, sizeof(hdr)) < 0 || us_proto_hdr_decode(hdr, &h, why, sizeof(why)) < 0 ||
	    h.type != US_MSG_HELLO || read_full(fd, body, h.len) < 0) {
		fprintf(stderr, "fakepeer: no HELLO from the primary\n");
		return 1;
	}
	if (strcmp(argv[2], "version") == 0) {
		struct us_msg_hdr r = { .version = US_PROTO_VERSION + 1, .type = US_MSG_HELLO_OK,
					.len = 16, .vm_id = h.vm_id };

		us_proto_hdr_encode(out, &r);
		memset(out + US_PROTO_HDR_SIZE, 0, 16);
	} else {
		memset(out, 'G', sizeof(out));
	}
	if (write(fd, out, sizeof(out)) != (ssize_t)sizeof(out))
		return 1;
	sleep(2);	/* let the primary read it before the close */
	close(fd);
	close(lfd);
	return 0;
}
