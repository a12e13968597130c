/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TCP transport (rdma/tcp.c) on real loopback sockets and a real libqb
 * loop: an epoch of random pages, device state and EPOCH_END arrives
 * byte-exact and in order, ACK travels back; a peer sending garbage, a peer
 * of another protocol version and a peer dying mid-message each end the
 * connection with the right reason; a peer that vanishes while we send is
 * reported, not a SIGPIPE.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <xxhash.h>

#include "rdma/transport.h"
#include "replicator/log.h"

#define PG US_PROTO_PAGE_SIZE

struct side {
	qb_loop_t *loop;
	struct us_transport *t;
	int msgs[US_MSG_TYPE_MAX];
	uint64_t pages_sum; /* XXH3 of all page bodies received, in order */
	XXH3_state_t *sum;
	uint64_t last_epoch;
	int hdr_rc;
	int closed;
	int drained;
	char why[256];
};

static struct side srv, cli;
static char addr[32];
static qb_loop_timer_handle guard;

static void on_guard(void *data)
{
	fail_msg("test timed out");
}

static int srv_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct side *s = opaque;

	s->hdr_rc = hdr_rc;
	if (hdr_rc)
		return 1;
	s->msgs[h->type]++;
	s->last_epoch = h->epoch;
	if (h->type == US_MSG_PAGES || h->type == US_MSG_DEVSTATE)
		XXH3_64bits_update(s->sum, body, h->len);
	if (h->type == US_MSG_EPOCH_END)
		us_transport_send_msg(s->t, US_MSG_ACK, h->epoch, NULL, 0);
	return 0;
}

static void side_closed(void *opaque, int err, const char *why)
{
	struct side *s = opaque;

	s->closed = err;
	snprintf(s->why, sizeof(s->why), "%s", why);
	qb_loop_stop(s->loop);
}

static int cli_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct side *s = opaque;

	s->msgs[h->type]++;
	s->last_epoch = h->epoch;
	if (h->type == US_MSG_ACK)
		qb_loop_stop(s->loop);
	return 0;
}

static void cli_drained(void *opaque)
{
	((struct side *)opaque)->drained++;
}

static void on_accept(void *opaque, struct us_transport *t)
{
	static const struct us_transport_cbs cbs = { .msg = srv_msg, .closed = side_closed };

	srv.t = t;
	us_transport_set_cbs(t, &cbs, &srv);
}

static int setup(void **state)
{
	struct us_listener *l = NULL;
	qb_loop_t *loop = qb_loop_create();
	int port;

	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	srv.loop = cli.loop = loop;
	srv.sum = XXH3_createState();
	cli.sum = XXH3_createState();
	XXH3_64bits_reset(srv.sum);
	XXH3_64bits_reset(cli.sum);
	for (port = 20000 + getpid() % 20000; !l; port++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		l = us_transport_listen(loop, US_TRANSPORT_TCP, addr, on_accept, NULL);
	}
	qb_loop_timer_add(loop, QB_LOOP_LOW, 20000000000ULL, NULL, on_guard, &guard);
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	us_transport_free(srv.t);
	us_transport_free(cli.t);
	us_listener_free(*state);
	qb_loop_timer_del(srv.loop, guard);
	qb_loop_destroy(srv.loop);
	XXH3_freeState(srv.sum);
	XXH3_freeState(cli.sum);
	return 0;
}

static void epoch_arrives_exact(void **state)
{
	static const struct us_transport_cbs cbs = { .msg = cli_msg,
						     .drained = cli_drained,
						     .closed = side_closed };
	size_t npages = 3000, i;
	char *pages = malloc(npages * PG), desc[US_PROTO_PAGES_DESC];
	char dev[3 << 20]; /* spans several DEVSTATE chunks */
	struct us_epoch_end e = { .epoch = 5 };

	for (i = 0; i < npages * PG; i++)
		pages[i] = rand();
	memset(dev, 0x3c, sizeof(dev));
	cli.t = us_transport_connect(cli.loop, US_TRANSPORT_TCP, addr, 2000);
	assert_non_null(cli.t);
	us_transport_set_cbs(cli.t, &cbs, &cli);
	for (i = 0; i < npages; i += US_PROTO_MAX_RUN) {
		uint32_t n = npages - i < US_PROTO_MAX_RUN ? npages - i : US_PROTO_MAX_RUN;

		assert_int_equal(us_transport_send_pages(cli.t, 5, i * 2, n, pages + i * PG), 0);
		us_proto_pages_desc_encode(desc, i * 2, n);
		XXH3_64bits_update(cli.sum, desc, sizeof(desc));
		XXH3_64bits_update(cli.sum, pages + i * PG, (size_t)n * PG);
	}
	assert_int_equal(us_transport_send_pages(cli.t, 5, 0, 0, pages), -EINVAL);
	assert_int_equal(us_transport_send_devstate(cli.t, 5, dev, sizeof(dev)), 0);
	XXH3_64bits_update(cli.sum, dev, sizeof(dev));
	assert_int_equal(us_transport_end_epoch(cli.t, &e), 0);
	assert_true(us_transport_busy(cli.t));
	qb_loop_run(cli.loop);
	assert_int_equal(cli.msgs[US_MSG_ACK], 1);
	assert_true(cli.last_epoch == 5);
	assert_int_equal(srv.msgs[US_MSG_PAGES],
			 (int)((npages + US_PROTO_MAX_RUN - 1) / US_PROTO_MAX_RUN));
	assert_int_equal(srv.msgs[US_MSG_DEVSTATE], 3);
	assert_int_equal(srv.msgs[US_MSG_EPOCH_END], 1);
	assert_true(XXH3_64bits_digest(srv.sum) == XXH3_64bits_digest(cli.sum));
	assert_false(us_transport_busy(cli.t));
	assert_true(cli.drained >= 1);
	assert_true(us_transport_queued(cli.t) == 0);
	free(pages);
}

/* A raw client writes @len bytes and either stays or closes. */
static void raw_peer(const void *bytes, size_t len, int close_after)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons(atoi(strchr(addr, ':') + 1));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	if (close_after)
		close(fd);
	qb_loop_run(srv.loop);
	if (!close_after)
		close(fd);
}

static void garbage_closes(void **state)
{
	char junk[64];

	memset(junk, 0x41, sizeof(junk));
	raw_peer(junk, sizeof(junk), 0);
	assert_int_equal(srv.closed, -EBADMSG);
	assert_non_null(strstr(srv.why, "magic"));
}

static void other_version_reported(void **state)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION + 1, .type = US_MSG_HELLO, .len = 64 };
	char buf[US_PROTO_HDR_SIZE + 64] = { 0 };

	us_proto_hdr_encode(buf, &h);
	raw_peer(buf, sizeof(buf), 0);
	assert_int_equal(srv.hdr_rc, -EPROTONOSUPPORT);
	assert_int_equal(srv.closed, -ECONNABORTED);
}

static void death_mid_message(void **state)
{
	struct us_msg_hdr h = { .version = US_PROTO_VERSION,
				.type = US_MSG_PAGES,
				.len = US_PROTO_PAGES_DESC + PG };
	char buf[US_PROTO_HDR_SIZE + 100] = { 0 };

	us_proto_hdr_encode(buf, &h);
	raw_peer(buf, sizeof(buf), 1); /* header and a part of the body */
	assert_int_equal(srv.msgs[US_MSG_PAGES], 0);
	assert_int_equal(srv.closed, -ECONNRESET);
	assert_non_null(strstr(srv.why, "closed"));
}

/* The standby is gone when the primary streams to it (its socket closed
 * cleanly, so the first write draws a reset and the next one EPIPE): the
 * sender is told (closed with an error), not killed by SIGPIPE, which keeps
 * its default action here, as in a daemon that forgot to ignore it. */
static void peer_gone_while_sending(void **state)
{
	static const struct us_transport_cbs cbs = { .msg = cli_msg, .closed = side_closed };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	size_t n = 16u << 20, i;
	char *pages = malloc(n), gone[32];
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

	signal(SIGPIPE, SIG_DFL);
	assert_non_null(pages);
	memset(pages, 7, n);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(gone, sizeof(gone), "127.0.0.1:%d", ntohs(sa.sin_port));
	cli.t = us_transport_connect(cli.loop, US_TRANSPORT_TCP, gone, 2000);
	assert_non_null(cli.t);
	us_transport_set_cbs(cli.t, &cbs, &cli);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	close(fd); /* the standby's end goes away before a byte arrives */
	close(lfd);
	for (i = 0; i + US_PROTO_MAX_RUN * PG <= n; i += US_PROTO_MAX_RUN * PG)
		assert_int_equal(
			us_transport_send_pages(cli.t, 1, i / PG, US_PROTO_MAX_RUN, pages + i), 0);
	while (!cli.closed)
		qb_loop_run(cli.loop); /* the guard timer fails the test if it hangs */
	assert_true(cli.closed == -EPIPE || cli.closed == -ECONNRESET);
	free(pages);
}

static void connect_refused(void **state)
{
	struct us_transport *t =
		us_transport_connect(srv.loop, US_TRANSPORT_TCP, "127.0.0.1:1", 500);

	assert_null(t);
	assert_int_equal(errno, ECONNREFUSED);
	assert_null(us_transport_connect(srv.loop, US_TRANSPORT_TCP, "no-port-here", 500));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(epoch_arrives_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(other_version_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(death_mid_message, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_gone_while_sending, setup, teardown),
		cmocka_unit_test_setup_teardown(connect_refused, setup, teardown),
	};

	us_log_init("test_tcp", LOG_CRIT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
