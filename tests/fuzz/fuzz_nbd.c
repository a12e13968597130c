/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness of the NBD server that is the VM's disk (disk/nbd.c,
 * disk/nbd_handshake.c): the input is everything a client sends, from its
 * flags after the greeting through the options to the requests. The real
 * server serves it on one end of a socketpair, on this thread, over a memfd
 * image; a client thread writes the input and reads every reply. Beyond
 * crashes it checks what replication rests on: each change reported to the
 * daemon is on the image as reported, and the image holds nothing that was
 * not reported (a shadow copy built from the reports alone ends up equal).
 * Payloads up to LEND_MAX go into memory the harness lends (as the write
 * log does), each a heap block of its exact size: every one comes back,
 * reported or unused, and only a reported one's bytes reach the image.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "disk/nbd_int.h"
#include "tests/fuzz/fuzz.h"

#define IMG_SIZE (256u << 10)
#define LEND_MAX (64u << 10) /* larger payloads go to the server's own buffer */

struct client {
	const uint8_t *data;
	size_t size;
	int fd;
};

static int image_fd = -1;
static uint8_t shadow[IMG_SIZE], image[IMG_SIZE];
static void *lent; /* the payload memory out, at most one */

static void wrote(void *opaque, enum us_nbd_change kind, uint64_t offset, uint64_t length,
		  const void *data)
{
	us_fuzz_assert("a reported change lies within the image",
		       offset <= IMG_SIZE && length <= IMG_SIZE - offset);
	us_fuzz_assert("read the image", pread(image_fd, image, length, offset) == (ssize_t)length);
	if (kind == US_NBD_WRITE) {
		us_fuzz_assert("a WRITE reports its data", data != NULL);
		us_fuzz_assert("a WRITE up to LEND_MAX reports the lent memory",
			       (length <= LEND_MAX) == (data == lent));
		memcpy(shadow + offset, data, length);
		if (data == lent) {
			free(lent);
			lent = NULL;
		}
	} else {
		us_fuzz_assert("a known kind of change", kind == US_NBD_ZEROES && data == NULL);
		memset(shadow + offset, 0, length);
	}
	us_fuzz_assert("a reported change is on the image as reported",
		       memcmp(image, shadow + offset, length) == 0);
}

/* Write the client's bytes, then read replies until the server closes. */
static void *client_main(void *arg)
{
	struct client *c = arg;
	struct pollfd p = { .fd = c->fd };
	size_t off = 0;
	char buf[65536];
	ssize_t n;

	if (c->size == 0)
		shutdown(c->fd, SHUT_WR); /* a client that says nothing and waits */
	for (;;) {
		p.events = POLLIN | (off < c->size ? POLLOUT : 0);
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (off < c->size && (p.revents & POLLOUT)) {
			n = send(c->fd, c->data + off, c->size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				off += n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = c->size; /* the server closed: read what it said */
			if (off == c->size)
				shutdown(c->fd, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	return NULL;
}

static void *lend(void *opaque, uint64_t length)
{
	us_fuzz_assert("one payload lent at a time", lent == NULL);
	lent = length <= LEND_MAX ? malloc(length) : NULL;
	return lent;
}

static void give_back(void *opaque, void *data)
{
	us_fuzz_assert("only the lent memory comes back", data != NULL && data == lent);
	free(lent);
	lent = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	us_fuzz_log_init("fuzz_nbd");
	image_fd = us_fuzz_memfd("nbd-image", NULL, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct us_nbd_ops ops = { .wrote = wrote,
					       .payload = lend,
					       .unused = give_back };
	struct client c = { data, size, -1 };
	struct us_nbd *s;
	pthread_t th;
	int sv[2];

	us_fuzz_assert("size the image",
		       ftruncate(image_fd, 0) == 0 && ftruncate(image_fd, IMG_SIZE) == 0);
	memset(shadow, 0, sizeof(shadow));
	s = nbd_new("fuzz", "disk", image_fd, IMG_SIZE);
	us_fuzz_assert("nbd_new", s != NULL);
	s->ops = &ops;
	us_fuzz_assert("socketpair",
		       socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	c.fd = sv[1];
	us_fuzz_assert("start the client", pthread_create(&th, NULL, client_main, &c) == 0);
	nbd_serve_client(s, sv[0]); /* closes sv[0] */
	pthread_join(th, NULL);
	close(sv[1]);
	nbd_free(s);
	us_fuzz_assert("every lent payload came back", lent == NULL);
	us_fuzz_assert("read the image", pread(image_fd, image, IMG_SIZE, 0) == IMG_SIZE);
	us_fuzz_assert("the image holds only the changes that were reported",
		       memcmp(image, shadow, IMG_SIZE) == 0);
	return 0;
}
