/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A primary without the key, for the authentication tests: connects to the
 * standby at HOST:PORT, replays a HELLO for VM NAME that offers
 * authentication (a fresh random nonce: whatever a recorded HELLO held),
 * reads the standby's CHALLENGE, then sends an AUTH with a made-up tag, as
 * anyone without the key must. Prints what came back and whether the
 * standby closed the connection; exit 0 when it did.
 * Usage: nokeypeer HOST:PORT NAME
 */
#include <config.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replicator/proto.h"

static int dial(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	const char *colon = strrchr(addr, ':');
	char host[128];
	int fd;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int send_msg(int fd, uint16_t type, uint64_t vm, const void *body, uint32_t len,
		    const char *tag)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION, .type = type, .len = len, .vm_id = vm };
	char buf[US_PROTO_HDR_SIZE + 256];

	if (tag)
		memcpy(h.tag, tag, sizeof(h.tag));
	us_proto_hdr_encode(buf, &h);
	if (len)
		memcpy(buf + US_PROTO_HDR_SIZE, body, len);
	return write(fd, buf, US_PROTO_HDR_SIZE + len) == (ssize_t)(US_PROTO_HDR_SIZE + len) ? 0
											     : -1;
}

int main(int argc, char **argv)
{
	struct us_hello h = { .ram_size = 128 << 20,
			      .page_size = US_PROTO_PAGE_SIZE,
			      .flags = US_HELLO_AUTH,
			      .base_epoch = US_EPOCH_NONE };
	char body[256], in[4096], tag[8];
	uint64_t vm;
	ssize_t n, total = 0;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: nokeypeer HOST:PORT NAME\n");
		return 2;
	}
	fd = dial(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "nokeypeer: cannot connect to %s\n", argv[1]);
		return 2;
	}
	vm = us_proto_vm_id(argv[2]);
	snprintf(h.vm_name, sizeof(h.vm_name), "%s", argv[2]);
	snprintf(h.accel, sizeof(h.accel), "tcg");
	if (getrandom(h.nonce, sizeof(h.nonce), 0) != sizeof(h.nonce) ||
	    getrandom(tag, sizeof(tag), 0) != sizeof(tag))
		return 2;
	send_msg(fd, US_MSG_HELLO, vm, body, (uint32_t)us_proto_hello_encode(body, &h), NULL);
	n = read(fd, in, US_PROTO_HDR_SIZE + 64);
	if (n >= US_PROTO_HDR_SIZE) {
		struct us_msg_hdr r;
		char why[128];

		if (us_proto_hdr_decode(in, &r, why, sizeof(why)) == 0)
			printf("standby answered %s\n", us_proto_type_name(r.type));
	}
	send_msg(fd, US_MSG_AUTH, vm, NULL, 0, tag); /* a guessed tag in its header */
	while ((n = read(fd, in, sizeof(in))) > 0)
		total += n;
	printf("standby closed the connection (%zd more bytes)\n", total);
	close(fd);
	return n == 0 || n < 0 ? 0 : 1;
}
