/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS on the TCP transport (rdma/tls.c, rdma/tcp_tls.c), over loopback with
 * a real libqb loop and real GnuTLS on both sides: an epoch and its ACK
 * through TLS 1.3 with a PSK and with x509 certificates in libvirt's layout
 * (made by tests/lib/mkcerts.sh with openssl); then the refusals, each
 * with nothing delivered to the owner on either side and the cause in the
 * log: another key, a primary whose certificate another CA signed, a
 * standby whose certificate names another host, a peer without TLS against
 * one with it, in both directions, an older understudy without TLS (told
 * to upgrade, not to set tls). And the config: tls = auto means psk
 * with a key on TCP, off otherwise; psk without a key, and TLS on RDMA, are
 * refused in words.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "rdma/tls.h"
#include "rdma/transport.h"
#include "replicator/config.h"
#include "replicator/log.h"
#include "tests/lib/logcap.h"

static const struct us_auth_key key = { .k = "0123456789abcdef0123456789abcdef" };
static const struct us_auth_key other_key = { .k = "another key, 32 bytes, not ours" };
static char certs[] = "/tmp/us-test-tls-XXXXXX";
static char good[300], other_ca[300], other_host[300];

struct side {
	qb_loop_t *loop;
	struct us_transport *t;
	struct us_tls *tls; /* NULL: plain TCP */
	int msgs[US_MSG_TYPE_MAX];
	int closed;
	char why[512];
	char pages[2 * US_PROTO_PAGE_SIZE];
};

static struct side srv, cli;
static struct us_listener *listener;
static char addr[32];
static qb_loop_timer_handle guard;

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
	if (h->type == US_MSG_PAGES)
		memcpy(s->pages, (const char *)body + US_PROTO_PAGES_DESC, sizeof(s->pages));
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
	snprintf(s->why, sizeof(s->why), "%s", why);
	qb_loop_stop(s->loop);
}

static void on_accept(void *opaque, struct us_transport *t)
{
	static const struct us_transport_cbs cbs = { .msg = side_msg, .closed = side_closed };

	srv.t = t;
	us_transport_set_cbs(t, &cbs, &srv);
	if (srv.tls)
		assert_int_equal(us_transport_tls_start(t, srv.tls, 1), 0);
}

static int group_setup(void **state)
{
	char cmd[1200];

	assert_non_null(mkdtemp(certs));
	snprintf(good, sizeof(good), "%s/good", certs);
	snprintf(other_ca, sizeof(other_ca), "%s/other-ca", certs);
	snprintf(other_host, sizeof(other_host), "%s/other-host", certs);
	snprintf(cmd, sizeof(cmd),
		 "%s/tests/lib/mkcerts.sh %s 127.0.0.1 && %s/tests/lib/mkcerts.sh %s 127.0.0.1 "
		 "'another CA' && %s/tests/lib/mkcerts.sh %s standby.example && cp %s/ca-cert.pem "
		 "%s/ca-key.pem %s",
		 getenv("top_srcdir"), good, getenv("top_srcdir"), other_ca, getenv("top_srcdir"),
		 other_host, good, good, other_host);
	if (!getenv("top_srcdir") || system(cmd) != 0)
		return -1;
	/* other-host: signed by good's CA, naming another host */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && printf "
		 "'subjectAltName=DNS:standby.example\\nextendedKeyUsage=serverAuth\\n'"
		 " > e && openssl req -new -key server-key.pem -subj /CN=x -out r 2>/dev/null && "
		 "openssl x509 -req -in r -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -days "
		 "1 "
		 "-extfile e -out server-cert.pem 2>/dev/null && rm -f r e",
		 other_host);
	return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", certs);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	qb_loop_t *loop = qb_loop_create();
	int port;

	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	srv.loop = cli.loop = loop;
	listener = NULL;
	for (port = 23000 + getpid() % 20000; !listener; port++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		listener = us_transport_listen(loop, US_TRANSPORT_TCP, addr, on_accept, NULL);
	}
	qb_loop_timer_add(loop, QB_LOOP_LOW, 20000000000ULL, NULL, on_guard, &guard);
	us_logcap_clear();
	return 0;
}

static int teardown(void **state)
{
	us_transport_free(srv.t);
	us_transport_free(cli.t);
	us_listener_free(listener);
	us_tls_free(srv.tls);
	us_tls_free(cli.tls);
	qb_loop_timer_del(srv.loop, guard);
	qb_loop_destroy(srv.loop);
	return 0;
}

static struct us_tls *creds(enum us_tls_mode mode, const struct us_auth_key *k, const char *dir,
			    int server)
{
	char why[512] = "";
	struct us_tls *t = us_tls_new(mode, k, dir, server, why, sizeof(why));

	if (!t)
		fail_msg("us_tls_new: %s", why);
	return t;
}

/* Connect, start TLS if the client has it, send one epoch; run until it is acked or both closed. */
static void run_epoch(void)
{
	static const struct us_transport_cbs cbs = { .msg = side_msg, .closed = side_closed };
	struct us_epoch_end e = { .epoch = 5 };
	int i;

	memset(cli.pages, 0x5a, sizeof(cli.pages));
	cli.t = us_transport_connect(cli.loop, US_TRANSPORT_TCP, addr, 2000);
	assert_non_null(cli.t);
	us_transport_set_cbs(cli.t, &cbs, &cli);
	if (cli.tls)
		assert_int_equal(us_transport_tls_start(cli.t, cli.tls, 0), 0);
	assert_int_equal(us_transport_send_pages(cli.t, 5, 0, 2, cli.pages), 0);
	assert_int_equal(us_transport_end_epoch(cli.t, &e), 0);
	for (i = 0; i < 50 && !cli.msgs[US_MSG_ACK] && !(cli.closed && srv.closed); i++)
		qb_loop_run(cli.loop);
}

static void assert_refused(const char *srv_says, const char *cli_says)
{
	assert_int_equal(srv.msgs[US_MSG_PAGES] + srv.msgs[US_MSG_EPOCH_END], 0);
	assert_int_equal(cli.msgs[US_MSG_ACK], 0);
	assert_true(srv.closed != 0 && cli.closed != 0);
	if (!strstr(srv.why, srv_says))
		fail_msg("standby said '%s', expected '%s'", srv.why, srv_says);
	if (cli_says && !strstr(cli.why, cli_says))
		fail_msg("primary said '%s', expected '%s'", cli.why, cli_says);
}

static void psk_epoch(void **state)
{
	srv.tls = creds(US_TLS_PSK, &key, NULL, 1);
	cli.tls = creds(US_TLS_PSK, &key, NULL, 0);
	run_epoch();
	assert_int_equal(cli.msgs[US_MSG_ACK], 1);
	assert_int_equal(srv.msgs[US_MSG_PAGES], 1);
	assert_memory_equal(srv.pages, cli.pages, sizeof(cli.pages));
	assert_true(us_transport_tls(cli.t) && us_transport_tls(srv.t));
	assert_int_equal(srv.closed + cli.closed, 0);
	assert_non_null(strstr(us_logcap_text(), "TLS up ((TLS1.3)"));
	assert_non_null(strstr(us_logcap_text(), "kernel TLS "));
}

static void x509_epoch(void **state)
{
	srv.tls = creds(US_TLS_X509, NULL, good, 1);
	cli.tls = creds(US_TLS_X509, NULL, good, 0);
	run_epoch();
	if (cli.msgs[US_MSG_ACK] != 1)
		fail_msg("no ACK: standby '%s', primary '%s'", srv.why, cli.why);
	assert_memory_equal(srv.pages, cli.pages, sizeof(cli.pages));
	assert_int_equal(srv.closed + cli.closed, 0);
}

static void wrong_psk(void **state)
{
	srv.tls = creds(US_TLS_PSK, &key, NULL, 1);
	cli.tls = creds(US_TLS_PSK, &other_key, NULL, 0);
	run_epoch();
	assert_refused("key_file differ", "refused our key");
}

static void client_cert_of_another_ca(void **state)
{
	srv.tls = creds(US_TLS_X509, NULL, good, 1);
	cli.tls = creds(US_TLS_X509, NULL, other_ca, 0);
	run_epoch();
	assert_refused("refused our certificate", "not trusted"); /* the primary checks first */
}

static void server_names_another_host(void **state)
{
	srv.tls = creds(US_TLS_X509, NULL, other_host, 1);
	cli.tls = creds(US_TLS_X509, NULL, good, 0);
	run_epoch();
	assert_refused("TLS", "name the host in [replication] peer");
}

static void plain_primary_tls_standby(void **state)
{
	srv.tls = creds(US_TLS_PSK, &key, NULL, 1);
	run_epoch();
	assert_refused("without TLS: set [replication] tls the same on both hosts",
		       NULL); /* closed or reset: a plain peer cannot know why */
}

static void tls_primary_plain_standby(void **state)
{
	cli.tls = creds(US_TLS_PSK, &key, NULL, 0);
	run_epoch();
	assert_refused("the peer speaks TLS", "closed the connection during the handshake");
}

/* An understudy of protocol 5 (before TLS) is told to upgrade, not to set tls. */
static void older_plain_peer(void **state)
{
	struct us_msg_hdr h = { .version = 5, .type = US_MSG_HELLO };
	char buf[US_PROTO_HDR_SIZE + 8] = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), i;
	char want[160];

	srv.tls = creds(US_TLS_PSK, &key, NULL, 1);
	us_proto_hdr_encode(buf, &h);
	sa.sin_port = htons(atoi(strchr(addr, ':') + 1));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	for (i = 0; i < 50 && !srv.closed; i++)
		qb_loop_run(srv.loop);
	close(fd);
	assert_int_equal(srv.msgs[US_MSG_HELLO], 0);
	snprintf(want, sizeof(want),
		 "speaks protocol version 5 without TLS, this understudy "
		 "speaks %u: run the same understudy on both hosts",
		 US_PROTO_VERSION);
	assert_non_null(strstr(srv.why, want));
}

static void missing_certificates(void **state)
{
	char why[512] = "";

	assert_null(us_tls_new(US_TLS_X509, NULL, "/nonexistent", 1, why, sizeof(why)));
	assert_non_null(strstr(why, "/nonexistent/server-cert.pem"));
	assert_null(us_tls_new(US_TLS_PSK, NULL, NULL, 1, why, sizeof(why)));
	assert_non_null(strstr(why, "needs a key_file"));
}

/* ---- the config ---- */

static int load_conf(struct us_config *c, const char *text)
{
	char path[] = "/tmp/us-test-tls-conf-XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	us_config_defaults(c);
	rc = us_config_load(c, path);
	unlink(path);
	return rc;
}

static void config_tls(void **state)
{
	struct us_config c;

	assert_int_equal(load_conf(&c, "[replication]\nkey_file = /k\n"), 0);
	assert_int_equal(c.tls, US_TLS_PSK); /* auto: a key on TCP */
	assert_int_equal(load_conf(&c, "[replication]\n"), 0);
	assert_int_equal(c.tls, US_TLS_OFF);
	assert_int_equal(load_conf(&c, "[replication]\nkey_file = /k\ntransport = rdma\n"), 0);
	assert_int_equal(c.tls, US_TLS_OFF); /* RDMA: authenticated, not encrypted */
	assert_int_equal(load_conf(&c, "[replication]\ntls = x509\ntls_dir = /etc/x\n"), 0);
	assert_int_equal(c.tls, US_TLS_X509);
	assert_string_equal(c.tls_dir, "/etc/x");
	us_logcap_clear();
	assert_int_equal(load_conf(&c, "[replication]\ntls = psk\n"), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "tls = psk takes its key from key_file"));
	assert_int_equal(load_conf(&c, "[replication]\ntls = x509\ntransport = rdma\n"), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "RDMA carries no TLS"));
	assert_int_equal(load_conf(&c, "[replication]\ntls = yes\n"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(psk_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(x509_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_psk, setup, teardown),
		cmocka_unit_test_setup_teardown(client_cert_of_another_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(server_names_another_host, setup, teardown),
		cmocka_unit_test_setup_teardown(plain_primary_tls_standby, setup, teardown),
		cmocka_unit_test_setup_teardown(tls_primary_plain_standby, setup, teardown),
		cmocka_unit_test_setup_teardown(older_plain_peer, setup, teardown),
		cmocka_unit_test(missing_certificates),
		cmocka_unit_test(config_tls),
	};
	int rc;

	us_log_init("test_tls", LOG_INFO, 0);
	if (us_logcap_start() < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	us_logcap_stop();
	return rc;
}
