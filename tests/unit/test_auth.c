/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The authenticated channel: Nettle-backed proofs and tags (rdma/auth.c),
 * key files (replicator/key.c), and the tag layer on a real TCP transport
 * over loopback with a real libqb loop (rdma/transport_auth.c). A raw peer
 * that knows the session's keys writes crafted bytes, so each attack is
 * exact: a flipped byte in a page, a message replayed within the session or
 * from an earlier one, a message injected without its tag, a forged ACK
 * toward the primary, two good messages swapped. Each closes the connection
 * with the cause in the log, and the owner never sees the message.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "rdma/auth.h"
#include "rdma/transport.h"
#include "replicator/key.h"
#include "replicator/log.h"
#include "tests/lib/logcap.h"

static const struct us_auth_key key = { .k = "0123456789abcdef0123456789abcdef" };
static const unsigned char np[US_AUTH_NONCE_LEN] = "primary nonce, 32 bytes long...";
static const unsigned char ns[US_AUTH_NONCE_LEN] = "standby nonce, 32 bytes long...";

/* ---- the primitives ---- */

static void proofs(void **state)
{
	unsigned char proof[US_AUTH_PROOF_LEN], other_nonce[US_AUTH_NONCE_LEN];
	struct us_auth_key wrong = key;

	us_auth_proof(&key, "hello", 5, ns, proof);
	assert_true(us_auth_proof_ok(&key, "hello", 5, ns, proof));
	wrong.k[0] ^= 1;
	assert_false(us_auth_proof_ok(&wrong, "hello", 5, ns, proof)); /* another key */
	assert_false(us_auth_proof_ok(&key, "hellp", 5, ns, proof));   /* another HELLO */
	memcpy(other_nonce, ns, sizeof(other_nonce));
	other_nonce[3] ^= 0x80;
	assert_false(us_auth_proof_ok(&key, "hello", 5, other_nonce, proof)); /* replayed */
}

static void tags(void **state)
{
	struct us_auth_session p, s, s2;
	unsigned char tag[US_AUTH_TAG_LEN], msg[40] = "header.....................body";

	us_auth_session_init(&p, &key, np, ns, 1);
	us_auth_session_init(&s, &key, np, ns, 0);
	us_auth_tag(&p, msg, 20, NULL, 0, msg + 20, 20, tag);
	assert_true(us_auth_check(&s, msg, 20, msg + 20, 20, tag));
	assert_false(us_auth_check(&s, msg, 20, msg + 20, 20, tag)); /* the same again: replayed */
	us_auth_tag(&p, msg, 40, NULL, 0, NULL, 0, tag);
	msg[33] ^= 4;
	assert_false(us_auth_check(&s, msg, 40, NULL, 0, tag)); /* a flipped bit */
	us_auth_session_init(&s2, &key, np, ns, 1);		/* the primary's own direction */
	us_auth_tag(&s2, msg, 40, NULL, 0, NULL, 0, tag);
	us_auth_session_init(&p, &key, np, ns, 1);
	assert_false(us_auth_check(&p, msg, 40, NULL, 0, tag)); /* reflected back to its sender */
}

/* ---- key files ---- */

static char dir[] = "/tmp/us-test-auth-XXXXXX";

static void key_files(void **state)
{
	char path[300], why[300];
	struct us_auth_key k1, k2;
	struct stat st;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	assert_int_equal(us_key_generate(path, why, sizeof(why)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(us_key_load(path, &k1, why, sizeof(why)), 0);
	assert_int_equal(us_key_generate(path, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "never overwritten"));
	assert_int_equal(us_key_load(path, &k2, why, sizeof(why)), 0);
	assert_memory_equal(k1.k, k2.k, sizeof(k1.k));
	chmod(path, 0644);
	assert_int_equal(us_key_load(path, &k2, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "chmod 600"));
	unlink(path);
	f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	chmod(path, 0600);
	assert_int_equal(us_key_load(path, &k2, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "64 hex digits"));
	unlink(path);
	assert_int_equal(us_key_load(path, &k2, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "understudy keygen"));
	rmdir(dir);
}

/* ---- the tag layer on TCP ---- */

struct side {
	qb_loop_t *loop;
	struct us_transport *t;
	int msgs[US_MSG_TYPE_MAX];
	int closed;
	char last_body[64];
};

static struct side srv, cli;
static char addr[32];
static qb_loop_timer_handle guard;
static int srv_primary; /* the accepted side plays the primary (forged ACK) */

static void on_guard(void *data)
{
	fail_msg("test timed out");
}

static int side_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct side *s = opaque;

	if (hdr_rc)
		return 1;
	s->msgs[h->type]++;
	if (h->len && h->len <= sizeof(s->last_body))
		memcpy(s->last_body, body, h->len);
	if (s == &cli && h->type == US_MSG_ACK)
		qb_loop_stop(s->loop);
	if (s == &srv && h->type == US_MSG_EPOCH_END)
		us_transport_send_msg(s->t, US_MSG_ACK, h->epoch, NULL, 0);
	return 0;
}

static void side_closed(void *opaque, int err, const char *why)
{
	struct side *s = opaque;

	s->closed = err ? err : -1;
	qb_loop_stop(s->loop);
}

static void on_accept(void *opaque, struct us_transport *t)
{
	static const struct us_transport_cbs cbs = { .msg = side_msg, .closed = side_closed };

	srv.t = t;
	us_transport_set_cbs(t, &cbs, &srv);
	assert_int_equal(us_transport_auth_start(t, &key, np, ns, srv_primary), 0);
}

static int setup(void **state)
{
	struct us_listener *l = NULL;
	qb_loop_t *loop = qb_loop_create();
	int port;

	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	srv.loop = cli.loop = loop;
	for (port = 21000 + getpid() % 20000; !l; port++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		l = us_transport_listen(loop, US_TRANSPORT_TCP, addr, on_accept, NULL);
	}
	qb_loop_timer_add(loop, QB_LOOP_LOW, 20000000000ULL, NULL, on_guard, &guard);
	*state = l;
	us_logcap_clear();
	return 0;
}

static int teardown(void **state)
{
	us_transport_free(srv.t);
	us_transport_free(cli.t);
	us_listener_free(*state);
	qb_loop_timer_del(srv.loop, guard);
	qb_loop_destroy(srv.loop);
	srv_primary = 0;
	return 0;
}

static void epoch_round_trip(void **state)
{
	static const struct us_transport_cbs cbs = { .msg = side_msg, .closed = side_closed };
	char pages[2 * US_PROTO_PAGE_SIZE];
	struct us_epoch_end e = { .epoch = 7 };

	memset(pages, 0x5a, sizeof(pages));
	cli.t = us_transport_connect(cli.loop, US_TRANSPORT_TCP, addr, 2000);
	assert_non_null(cli.t);
	us_transport_set_cbs(cli.t, &cbs, &cli);
	assert_int_equal(us_transport_auth_start(cli.t, &key, np, ns, 1), 0);
	assert_true(us_transport_authenticated(cli.t));
	assert_int_equal(us_transport_send_pages(cli.t, 7, 0, 2, pages), 0);
	assert_int_equal(us_transport_send_disk(cli.t, 7, 4096, US_DISK_WRITE, pages, 512), 0);
	assert_int_equal(us_transport_send_devstate(cli.t, 7, pages, 100), 0);
	assert_int_equal(us_transport_end_epoch(cli.t, &e), 0);
	qb_loop_run(cli.loop);
	assert_int_equal(cli.msgs[US_MSG_ACK], 1);
	assert_int_equal(srv.msgs[US_MSG_PAGES], 1);
	assert_int_equal(srv.msgs[US_MSG_DISK], 1);
	assert_int_equal(srv.msgs[US_MSG_DEVSTATE], 1);
	assert_int_equal(srv.msgs[US_MSG_EPOCH_END], 1);
	assert_int_equal(srv.closed, 0);
}

/* Raw bytes of one message, its header's tag made with @sess (zero if NULL). */
static size_t craft(char *out, struct us_auth_session *sess, uint16_t type, uint64_t epoch,
		    const void *body, uint32_t len)
{
	struct us_msg_hdr h = {
		.version = US_PROTO_VERSION, .type = type, .len = len, .epoch = epoch
	};

	us_proto_hdr_encode(out, &h);
	if (sess)
		us_auth_tag(sess, out, US_PROTO_HDR_SIZE, NULL, 0, body, len,
			    (unsigned char *)out + US_PROTO_TAG_OFF);
	if (len)
		memcpy(out + US_PROTO_HDR_SIZE, body, len);
	return US_PROTO_HDR_SIZE + len;
}

static void raw_send(const void *bytes, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons(atoi(strchr(addr, ':') + 1));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	qb_loop_run(srv.loop); /* until the server closes the connection */
	close(fd);
}

static void flipped_byte(void **state)
{
	struct us_auth_session p;
	char buf[2 * (US_PROTO_HDR_SIZE + 64)], page[64];
	size_t n;

	memset(page, 0x11, sizeof(page));
	us_auth_session_init(&p, &key, np, ns, 1);
	n = craft(buf, &p, US_MSG_DEVSTATE, 3, page, sizeof(page));
	n += craft(buf + n, &p, US_MSG_DEVSTATE, 3, page, sizeof(page));
	buf[n - 5] ^= 0x01; /* in the second message's body */
	raw_send(buf, n);
	assert_int_equal(srv.msgs[US_MSG_DEVSTATE], 1); /* the good one only */
	assert_true(srv.closed != 0);
	assert_non_null(strstr(us_logcap_text(), "authentication tag mismatch on DEVSTATE"));
}

static void replayed_message(void **state)
{
	struct us_auth_session p;
	char buf[2 * (US_PROTO_HDR_SIZE + 64)];
	struct us_epoch_end e = { .epoch = 9 };
	char body[64];
	size_t n, one;

	us_auth_session_init(&p, &key, np, ns, 1);
	one = craft(buf, &p, US_MSG_EPOCH_END, 9, body, us_proto_epoch_end_encode(body, &e));
	memcpy(buf + one, buf, one); /* the same bytes again */
	n = 2 * one;
	raw_send(buf, n);
	assert_int_equal(srv.msgs[US_MSG_EPOCH_END], 1);
	assert_true(srv.closed != 0);
	assert_non_null(strstr(us_logcap_text(), "authentication tag mismatch on EPOCH_END"));
}

static void earlier_session(void **state)
{
	unsigned char old_nonce[US_AUTH_NONCE_LEN];
	struct us_auth_session old;
	char buf[256], body[64];
	struct us_epoch_end e = { .epoch = 1 };

	memcpy(old_nonce, ns, sizeof(old_nonce));
	old_nonce[0] ^= 0xff; /* the standby's nonce of another connection */
	us_auth_session_init(&old, &key, np, old_nonce, 1);
	raw_send(buf,
		 craft(buf, &old, US_MSG_EPOCH_END, 1, body, us_proto_epoch_end_encode(body, &e)));
	assert_int_equal(srv.msgs[US_MSG_EPOCH_END], 0);
	assert_true(srv.closed != 0);
}

static void injected_untagged(void **state)
{
	struct us_auth_session p;
	char buf[256], body[64];
	struct us_epoch_end e = { .epoch = 2 };
	size_t n;

	us_auth_session_init(&p, &key, np, ns, 1);
	n = craft(buf, NULL, US_MSG_KEEPALIVE, 2, NULL, 0); /* no tag */
	n += craft(buf + n, &p, US_MSG_EPOCH_END, 2, body, us_proto_epoch_end_encode(body, &e));
	raw_send(buf, n);
	assert_int_equal(srv.msgs[US_MSG_KEEPALIVE] + srv.msgs[US_MSG_EPOCH_END], 0);
	assert_non_null(strstr(us_logcap_text(), "authentication tag mismatch on KEEPALIVE"));
}

/* The accepted side is the primary: an ACK it did not get tagged by the
 * standby's key must never reach it (it would release held output). */
static void forged_ack(void **state)
{
	struct us_auth_session wrong_dir;
	char buf[128];

	srv_primary = 1;
	us_auth_session_init(&wrong_dir, &key, np, ns, 1); /* tagged as if by the primary */
	raw_send(buf, craft(buf, &wrong_dir, US_MSG_ACK, 42, NULL, 0));
	assert_int_equal(srv.msgs[US_MSG_ACK], 0);
	assert_true(srv.closed != 0);
	assert_non_null(strstr(us_logcap_text(), "authentication tag mismatch on ACK"));
}

/* Two good messages in the wrong order: the first to arrive fails its tag. */
static void reordered(void **state)
{
	struct us_auth_session p;
	char first[US_PROTO_HDR_SIZE], buf[2 * US_PROTO_HDR_SIZE + 64], body[64];
	struct us_epoch_end e = { .epoch = 4 };
	size_t n;

	us_auth_session_init(&p, &key, np, ns, 1);
	craft(first, &p, US_MSG_KEEPALIVE, 4, NULL, 0);
	n = craft(buf, &p, US_MSG_EPOCH_END, 4, body, us_proto_epoch_end_encode(body, &e));
	memcpy(buf + n, first, sizeof(first)); /* sent second */
	raw_send(buf, n + sizeof(first));
	assert_int_equal(srv.msgs[US_MSG_KEEPALIVE] + srv.msgs[US_MSG_EPOCH_END], 0);
	assert_true(srv.closed != 0);
	assert_non_null(strstr(us_logcap_text(), "authentication tag mismatch on EPOCH_END"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(proofs),
		cmocka_unit_test(tags),
		cmocka_unit_test(key_files),
		cmocka_unit_test_setup_teardown(epoch_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(replayed_message, setup, teardown),
		cmocka_unit_test_setup_teardown(earlier_session, setup, teardown),
		cmocka_unit_test_setup_teardown(injected_untagged, setup, teardown),
		cmocka_unit_test_setup_teardown(forged_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(reordered, setup, teardown),
	};
	int rc;

	us_log_init("test_auth", LOG_ERR, 0);
	if (us_logcap_start() < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	us_logcap_stop();
	return rc;
}
