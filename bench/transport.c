/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/transport: how fast one epoch crosses the replication transport.
 * A standby (the real replicator/receiver.c on a replica buffer) runs on its
 * own thread and libqb loop behind a listener of KIND on HOST; the primary,
 * on the main thread, sends epochs of 1k, 10k and 50k distinct random pages
 * (PAGES messages of up to 256 pages in one or more runs, packed as the
 * primary packs them; a small DEVSTATE, EPOCH_END) and times
 * each from the first send to its ACK, REPEATS times. Each table row puts
 * the median pages/s and GB/s beside two baselines measured in the same run
 * on the same bytes: a single-threaded memcpy, and a plain TCP stream over
 * 127.0.0.1 (write() on one thread, read() on another). After the repeats
 * the replica is compared with what was sent ("exact" column). Over rdma it
 * also prints the RDMA devices' retry counters of the run (an RNR NAK
 * stalls a queue pair 0.64 ms and must not happen; a retransmission waits
 * for the ACK timeout, 67 ms). The page data
 * is offered to the transport as the primary offers its send buffer
 * (us_transport_register: verbs writes large bodies from there without a
 * copy; the header says whether it was taken). Then the same
 * epochs again over a second connection with the authenticated channel
 * (rdma/transport_auth.c: a UMAC-64 tag in every message's header, checked
 * before the receiver sees it): the "auth GB/s" column and its cost in
 * percent; and over TCP a third connection with TLS 1.3 (rdma/tls.c, PSK,
 * GnuTLS): the "tls GB/s" column and its cost.
 * With --netns NS the standby's sockets (and the TCP baseline's receiving
 * end) live in network namespace NS, so that both cross a real link, e.g.
 * a veth pair shaped to a NIC's rate (bench/transport.sh); HOST is then the
 * standby's address in NS. --modes plain,auth,tls runs only those (for a
 * profiler; a cost needs the plain row). With US_BENCH_PERF_CTL=FIFO (perf
 * record -D -1 --control fifo:FIFO) the profiler is enabled only around the
 * timed epochs of US_BENCH_PERF_PAGES pages (default 50000).
 * Usage: bench/transport [--netns NS] [--modes M,...] tcp|rdma HOST [REPEATS]
 *   (default 20 repeats)
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "rdma/auth.h"
#include "rdma/tls.h"
#include "rdma/transport.h"
#include "replicator/log.h"
#include "replicator/receiver.h"

#define PG US_PROTO_PAGE_SIZE
#define NPAGES 65536u /* 256 MiB of guest RAM */
#define MAX_EPOCH 50000u
#define DEV_BYTES 4096u /* a small device state */
#define VM "bench"
#define WAIT_NS (600ull * 1000000000ull)
#define TCP_CHUNK (1u << 20)

static const uint32_t sizes[] = { 1000, 10000, MAX_EPOCH };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The authenticated and TLS runs: a fixed key and nonces (handshakes are not timed). */
enum run_mode { RUN_PLAIN, RUN_AUTH, RUN_TLS, RUN_MODES };
static const char *const mode_names[RUN_MODES] = { "plain", "authenticated", "TLS" };
static enum run_mode mode;
static unsigned modes = (1u << RUN_MODES) - 1; /* --modes */
static const char *standby_ns;		       /* --netns */
static struct us_tls *tls_srv, *tls_cli;
static const struct us_auth_key bench_key = { .k = "bench key, 32 bytes, not secret" };
static const unsigned char nonce_p[US_AUTH_NONCE_LEN] = "bench primary nonce, 32 bytes..";
static const unsigned char nonce_s[US_AUTH_NONCE_LEN] = "bench standby nonce, 32 bytes..";

/*
 * One epoch's page set: runs of distinct pages, packed in send order as the
 * primary's send buffer holds them: each run's PAGES descriptor, then its
 * pages (at off[r]), so that consecutive runs leave as one message.
 */
struct pageset {
	uint32_t npages;
	size_t nruns, bytes;
	uint64_t first[MAX_EPOCH];
	uint32_t count[MAX_EPOCH];
	size_t off[MAX_EPOCH];
	struct us_epoch_end end;
};

/* The standby: its loop, thread, receiver and connection. */
static struct {
	qb_loop_t *loop;
	pthread_t thread;
	int quit[2];
	struct us_listener *listener;
	struct us_receiver *rx;
	struct us_transport *t;
	char *replica;
	int committed; /* epochs committed (atomic) */
	int closed;    /* atomic */
	char why[256];
} sb = { .quit = { -1, -1 } };

/* The primary: its loop and connection, and the last answer it got. */
static struct {
	qb_loop_t *loop;
	struct us_transport *t;
	char *data; /* page data of the current set, borrowed */
	char dev[DEV_BYTES];
	size_t data_len;
	uint64_t want_ack, last_ack;
	int got_hello_ok, refused, closed, timed_out, stop_on_drain;
	int registered; /* us_transport_register's answer for data */
} pr = { .last_ack = US_EPOCH_NONE };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of both threads (primary and standby), user and system. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double last_cpu; /* CPU seconds of the last send_epoch */

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- standby, on its own thread ---- */

static int rx_send(void *opaque, uint16_t type, uint64_t epoch, const void *body, size_t len)
{
	return sb.t ? us_transport_send_msg(sb.t, type, epoch, body, len) : -EPIPE;
}

static void rx_committed(void *opaque, uint64_t epoch)
{
	__atomic_add_fetch(&sb.committed, 1, __ATOMIC_SEQ_CST);
}

static int sb_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	return us_receiver_input(sb.rx, hdr_rc, h, body, sb.why, sizeof(sb.why)) < 0;
}

static void *sb_place(void *opaque, const struct us_msg_hdr *h)
{
	return us_receiver_place(sb.rx, h);
}

static void sb_closed(void *opaque, int err, const char *why)
{
	if (!sb.why[0])
		snprintf(sb.why, sizeof(sb.why), "%s", why);
	us_receiver_reset(sb.rx);
	__atomic_store_n(&sb.closed, 1, __ATOMIC_SEQ_CST);
}

static void sb_accept(void *opaque, struct us_transport *t)
{
	static const struct us_transport_cbs cbs = { .msg = sb_msg,
						     .closed = sb_closed,
						     .place = sb_place };

	us_transport_free(sb.t);
	sb.t = t;
	us_transport_set_cbs(t, &cbs, NULL);
	us_receiver_set_authenticated(sb.rx, mode != RUN_PLAIN); /* as the daemons do */
	if (mode == RUN_AUTH)
		us_transport_auth_start(t, &bench_key, nonce_p, nonce_s, 0);
	if (mode == RUN_TLS && us_transport_tls_start(t, tls_srv, 1) < 0)
		snprintf(sb.why, sizeof(sb.why), "cannot start TLS");
}

static int32_t sb_quit(int32_t fd, int32_t revents, void *data)
{
	qb_loop_stop(sb.loop);
	return 0;
}

static void *sb_main(void *arg)
{
	qb_loop_run(sb.loop);
	return NULL;
}

/*
 * Enter the standby's network namespace (--netns) on this thread: sockets
 * made until ns_leave belong to it. @return the namespace to go back to
 * (-1: none asked), or -errno.
 */
static int ns_enter(void)
{
	char path[300];
	int back, fd, rc;

	if (!standby_ns)
		return -1;
	snprintf(path, sizeof(path), "/var/run/netns/%s", standby_ns);
	back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = back < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0 ? -errno : back;
	if (fd >= 0)
		close(fd);
	if (rc < 0 && back >= 0)
		close(back);
	if (rc < 0)
		fprintf(stderr, "bench/transport: cannot enter netns %s: %s\n", standby_ns,
			strerror(-rc));
	return rc;
}

static void ns_leave(int back)
{
	if (back < 0)
		return;
	if (setns(back, CLONE_NEWNET) < 0)
		abort(); /* the primary's sockets would land in the wrong namespace */
	close(back);
}

/* Listen on the first free port from a pid-derived one; "host:port" in @addr. */
static int sb_listen(enum us_transport_kind kind, const char *host, char *addr, size_t len)
{
	int port, back = ns_enter(), err;

	if (standby_ns && back < 0)
		return back;
	for (port = 20000 + getpid() % 20000; port < 65000; port++) {
		snprintf(addr, len, "%s:%d", host, port);
		sb.listener = us_transport_listen(sb.loop, kind, addr, sb_accept, NULL);
		if (sb.listener || errno != EADDRINUSE)
			break;
	}
	err = errno;
	ns_leave(back);
	return sb.listener ? 0 : -err;
}

static int sb_start(enum us_transport_kind kind, const char *host, char *addr, size_t len)
{
	struct us_receiver_cfg cfg = { .vm_name = VM,
				       .ram_size = (uint64_t)NPAGES * PG,
				       .staging_max = 256u << 20,
				       .devstate_max = 1u << 20 };
	struct us_receiver_ops ops = { .send = rx_send, .committed = rx_committed };
	int rc;

	sb.loop = qb_loop_create();
	sb.replica = calloc(NPAGES, PG);
	if (!sb.loop || !sb.replica || pipe2(sb.quit, O_CLOEXEC) < 0)
		return -ENOMEM;
	qb_loop_poll_add(sb.loop, QB_LOOP_HIGH, sb.quit[0], POLLIN, NULL, sb_quit);
	cfg.replica = sb.replica;
	sb.rx = us_receiver_new(&cfg, &ops, NULL);
	if (!sb.rx)
		return -errno;
	rc = sb_listen(kind, host, addr, len);
	if (rc < 0)
		return rc;
	return -pthread_create(&sb.thread, NULL, sb_main, NULL);
}

static void sb_stop(void)
{
	if (sb.quit[1] >= 0 && write(sb.quit[1], "q", 1) == 1)
		pthread_join(sb.thread, NULL);
	us_transport_free(sb.t);
	us_listener_free(sb.listener);
	us_receiver_free(sb.rx);
	if (sb.loop)
		qb_loop_destroy(sb.loop);
	if (sb.quit[0] >= 0)
		close(sb.quit[0]);
	if (sb.quit[1] >= 0)
		close(sb.quit[1]);
	free(sb.replica);
	memset(&sb, 0, sizeof(sb)); /* the next connection starts afresh */
	sb.quit[0] = sb.quit[1] = -1;
}

/* ---- primary, on the main thread ---- */

static int pr_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	if (h->type == US_MSG_HELLO_OK)
		pr.got_hello_ok = 1;
	else if (h->type == US_MSG_REFUSE)
		pr.refused = 1;
	else if (h->type == US_MSG_ACK)
		pr.last_ack = h->epoch;
	if (h->type != US_MSG_ACK || pr.last_ack == pr.want_ack)
		qb_loop_stop(pr.loop);
	return 0;
}

static void pr_drained(void *opaque)
{
	if (pr.stop_on_drain)
		qb_loop_stop(pr.loop);
}

static void pr_closed(void *opaque, int err, const char *why)
{
	pr.closed = 1;
	fprintf(stderr, "bench/transport: the connection closed: %s\n", why);
	qb_loop_stop(pr.loop);
}

static void pr_timeout(void *data)
{
	pr.timed_out = 1;
	qb_loop_stop(pr.loop);
}

/* Run the primary's loop until @done says so, or the connection fails. */
static int pr_wait(int (*done)(void))
{
	qb_loop_timer_handle th;

	pr.timed_out = 0;
	qb_loop_timer_add(pr.loop, QB_LOOP_LOW, WAIT_NS, NULL, pr_timeout, &th);
	while (!done() && !pr.closed && !pr.refused && !pr.timed_out)
		qb_loop_run(pr.loop);
	qb_loop_timer_del(pr.loop, th);
	return done() ? 0 : pr.timed_out ? -ETIMEDOUT : -ECONNABORTED;
}

static int hello_done(void)
{
	return pr.got_hello_ok;
}

static int ack_done(void)
{
	return pr.last_ack == pr.want_ack;
}

static int drained_done(void)
{
	return !us_transport_busy(pr.t);
}

static int pr_connect(const char *addr, enum us_transport_kind kind)
{
	static const struct us_transport_cbs cbs = { .msg = pr_msg,
						     .drained = pr_drained,
						     .closed = pr_closed };
	struct us_hello h = { .ram_size = (uint64_t)NPAGES * PG, .page_size = PG, .accel = "tcg" };
	char body[160];
	int rc;

	pr.loop = qb_loop_create();
	pr.t = pr.loop ? us_transport_connect(pr.loop, kind, addr, 10000) : NULL;
	if (!pr.t)
		return -errno;
	us_transport_set_cbs(pr.t, &cbs, NULL);
	us_transport_set_vm(pr.t, us_proto_vm_id(VM));
	pr.registered = us_transport_register(pr.t, pr.data, pr.data_len);
	if (mode == RUN_AUTH && us_transport_auth_start(pr.t, &bench_key, nonce_p, nonce_s, 1) < 0)
		return -ENOMEM;
	if (mode == RUN_TLS && us_transport_tls_start(pr.t, tls_cli, 0) < 0)
		return -EPROTO;
	snprintf(h.vm_name, sizeof(h.vm_name), "%s", VM);
	rc = us_transport_send_msg(pr.t, US_MSG_HELLO, 0, body, us_proto_hello_encode(body, &h));
	return rc < 0 ? rc : pr_wait(hello_done);
}

/* ---- the page sets ---- */

/* Choose @n distinct random pages, sorted, grouped into runs of <= 256. */
static void pageset_pick(struct pageset *ps, uint32_t n, uint64_t *seed)
{
	static uint64_t pfn[NPAGES];
	uint64_t i;

	for (i = 0; i < NPAGES; i++)
		pfn[i] = i;
	for (i = 0; i < n; i++) {
		uint64_t j = i + next_rand(seed) % (NPAGES - i), t = pfn[i];

		pfn[i] = pfn[j];
		pfn[j] = t;
	}
	qsort(pfn, n, sizeof(*pfn), cmp_u64);
	ps->npages = n;
	ps->nruns = 0;
	for (i = 0; i < n; i++) {
		size_t r = ps->nruns;

		if (r && pfn[i] == ps->first[r - 1] + ps->count[r - 1] &&
		    ps->count[r - 1] < US_PROTO_MAX_RUN) {
			ps->count[r - 1]++;
			continue;
		}
		ps->first[r] = pfn[i];
		ps->count[r] = 1;
		ps->nruns++;
	}
	for (i = 0, ps->bytes = 0; i < ps->nruns; i++) {
		ps->off[i] = ps->bytes + US_PROTO_PAGES_DESC;
		ps->bytes = ps->off[i] + (size_t)ps->count[i] * PG;
	}
}

/* Fill the data and descriptors, and EPOCH_END's counts and checksum (epoch set per send). */
static void pageset_fill(struct pageset *ps, uint64_t *seed)
{
	XXH3_state_t *sum = XXH3_createState();
	size_t r, i;

	for (i = 0; i < ps->bytes / 8; i++)
		((uint64_t *)pr.data)[i] = next_rand(seed);
	for (r = 0; r < ps->nruns; r++)
		us_proto_pages_desc_encode(pr.data + ps->off[r] - US_PROTO_PAGES_DESC, ps->first[r],
					   ps->count[r]);
	for (i = 0; i < DEV_BYTES; i++)
		pr.dev[i] = next_rand(seed) | 1;
	memset(&ps->end, 0, sizeof(ps->end));
	ps->end.page_bytes = ps->bytes;
	ps->end.pages = ps->npages;
	ps->end.devstate_bytes = DEV_BYTES;
	XXH3_64bits_reset(sum);
	XXH3_64bits_update(sum, pr.data, ps->bytes); /* the runs, as sent */
	XXH3_64bits_update(sum, pr.dev, DEV_BYTES);
	ps->end.checksum = XXH3_64bits_digest(sum);
	XXH3_freeState(sum);
}

/* Send the runs as the primary does: consecutive runs of up to 256 pages in all per message. */
static int send_runs(const struct pageset *ps, uint64_t n)
{
	size_t r, start = 0, len = 0;
	uint32_t pages = 0;
	int rc = 0;

	for (r = 0; r <= ps->nruns && rc == 0; r++) {
		if (len && (r == ps->nruns || pages + ps->count[r] > US_PROTO_MAX_RUN)) {
			rc = us_transport_send_page_runs(pr.t, n, pr.data + start, len);
			start += len;
			len = 0;
			pages = 0;
		}
		if (r < ps->nruns) {
			len += US_PROTO_PAGES_DESC + (size_t)ps->count[r] * PG;
			pages += ps->count[r];
		}
	}
	return rc;
}

/* US_BENCH_PERF_CTL: tell a waiting perf record to @cmd ("enable"/"disable") for @npages. */
static void perf_ctl(uint32_t npages, const char *cmd)
{
	static int fd = -2;
	const char *want = getenv("US_BENCH_PERF_PAGES");

	if (fd == -2)
		fd = getenv("US_BENCH_PERF_CTL") ? open(getenv("US_BENCH_PERF_CTL"), O_WRONLY) : -1;
	if (fd >= 0 && npages == (want ? (uint32_t)atoi(want) : MAX_EPOCH) &&
	    write(fd, cmd, strlen(cmd)) < 0)
		fd = -1;
}

/* Send the set as epoch @n and wait for its ACK. @return seconds, or -errno. */
static double send_epoch(struct pageset *ps, uint64_t n)
{
	double t0 = now_s(), c0 = cpu_s();
	int rc;

	ps->end.epoch = n;
	pr.want_ack = n;
	rc = send_runs(ps, n);
	if (rc == 0)
		rc = us_transport_send_devstate(pr.t, n, pr.dev, DEV_BYTES);
	if (rc == 0) {
		struct us_epoch_end e = ps->end;

		if (mode != RUN_PLAIN)
			e.checksum = 0; /* the authenticated link checks every byte */
		rc = us_transport_end_epoch(pr.t, &e);
	}
	if (rc == 0)
		rc = pr_wait(ack_done);
	last_cpu = cpu_s() - c0;
	return rc < 0 ? rc : now_s() - t0;
}

/* After the ACK: let sends drain and the standby apply the epoch. */
static int settle(int committed)
{
	int rc;

	pr.stop_on_drain = 1;
	rc = pr_wait(drained_done);
	pr.stop_on_drain = 0;
	while (rc == 0 && __atomic_load_n(&sb.committed, __ATOMIC_SEQ_CST) < committed) {
		if (__atomic_load_n(&sb.closed, __ATOMIC_SEQ_CST))
			return -ECONNABORTED;
		usleep(200);
	}
	return rc;
}

/* Does the replica hold exactly the pages of @ps? */
static int pageset_exact(const struct pageset *ps)
{
	size_t r;

	for (r = 0; r < ps->nruns; r++)
		if (memcmp(sb.replica + ps->first[r] * PG, pr.data + ps->off[r],
			   (size_t)ps->count[r] * PG))
			return 0;
	return 1;
}

/* ---- baselines ---- */

/*
 * Where the baselines land: memory of their own, written once ahead, since
 * they run between the epochs and the replica must keep what was sent.
 */
static char *landing;

static double memcpy_once(size_t bytes)
{
	double t0 = now_s();

	memcpy(landing, pr.data, bytes);
	__asm__ __volatile__("" ::: "memory");
	return now_s() - t0;
}

struct tcp_job {
	int fd;
	size_t bytes;
	int err;
};

static void *tcp_writer(void *arg)
{
	struct tcp_job *j = arg;
	size_t off = 0;

	while (off < j->bytes) {
		size_t n = j->bytes - off < TCP_CHUNK ? j->bytes - off : TCP_CHUNK;
		ssize_t w = write(j->fd, pr.data + off, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			j->err = -errno;
			break;
		}
		off += w;
	}
	return NULL;
}

/* One connected pair of TCP sockets to @host (IPv4), over the standby's link. */
static int tcp_pair(const char *host, int fd[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int back = ns_enter(), l, rc = -1;

	fd[0] = fd[1] = -1;
	if (standby_ns && back < 0)
		return back;
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ns_leave(back);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "bench/transport: the TCP baseline needs an IPv4 HOST, not %s\n",
			host);
		if (l >= 0)
			close(l);
		return -EINVAL;
	}
	if (l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 1) == 0 &&
	    getsockname(l, (struct sockaddr *)&sa, &len) == 0) {
		fd[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd[0] >= 0 && connect(fd[0], (struct sockaddr *)&sa, sizeof(sa)) == 0)
			fd[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		rc = fd[1] >= 0 ? 0 : -1;
	}
	rc = rc < 0 ? -errno : 0;
	if (l >= 0)
		close(l);
	return rc;
}

/* Stream @bytes writer -> reader; the reader lands them beside the replica. */
static double tcp_once(const int fd[2], size_t bytes)
{
	struct tcp_job j = { .fd = fd[0], .bytes = bytes };
	double t0 = now_s();
	size_t off = 0;
	pthread_t th;

	if (pthread_create(&th, NULL, tcp_writer, &j) != 0)
		return -EAGAIN;
	while (off < bytes) {
		ssize_t r = read(fd[1], landing + off, bytes - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += r;
	}
	pthread_join(th, NULL);
	return off == bytes && !j.err ? now_s() - t0 : -EIO;
}

/* ---- the RDMA devices' retry counters ---- */

#define HW_COUNTERS "/sys/class/infiniband/*/ports/*/hw_counters/"
static const char *const retry_counters[] = {
	"rcvd_rnr_err",
	"completer_retry_err",
	"rcvd_seq_err",
	"duplicate_request",
};
#define NCOUNTERS (sizeof(retry_counters) / sizeof(retry_counters[0]))

/* Sum of counter @name over every RDMA port (0 when there is none). */
static uint64_t counter_sum(const char *name)
{
	char pattern[128];
	uint64_t sum = 0;
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), HW_COUNTERS "%s", name);
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *fp = fopen(g.gl_pathv[i], "r");
		unsigned long long v;

		if (fp && fscanf(fp, "%llu", &v) == 1)
			sum += v;
		if (fp)
			fclose(fp);
	}
	globfree(&g);
	return sum;
}

static void counters_read(uint64_t *v)
{
	size_t i;

	for (i = 0; i < NCOUNTERS; i++)
		v[i] = counter_sum(retry_counters[i]);
}

static void counters_print(const uint64_t *before)
{
	uint64_t now[NCOUNTERS];
	size_t i;

	counters_read(now);
	printf("rdma retries during the run (" HW_COUNTERS "):");
	for (i = 0; i < NCOUNTERS; i++)
		printf(" %s %llu", retry_counters[i], (unsigned long long)(now[i] - before[i]));
	printf("\n");
}

/* ---- the table ---- */

struct row {
	double xfer_s, auth_s, tls_s, memcpy_s, tcp_s;
	double cpu[RUN_MODES]; /* median CPU seconds per epoch, both threads */
	int exact;
};

static int run_size(struct pageset *ps, uint32_t n, int repeats, uint64_t *epoch, const int fd[2],
		    struct row *row)
{
	double *t = calloc(4 * (size_t)repeats, sizeof(*t)), *cpu;
	size_t bytes = (size_t)n * PG;
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ n;
	int i, rc = 0;

	if (!t)
		return -ENOMEM;
	cpu = t + 3 * (size_t)repeats;
	pageset_pick(ps, n, &seed);
	pageset_fill(ps, &seed);
	if (*epoch == 0) { /* epoch 0, the initial sync, goes straight to the replica: untimed */
		rc = send_epoch(ps, 0) < 0 ? -EIO : settle((int)++*epoch);
	}
	/*
	 * One untimed epoch of this size first: the standby's staging grows to
	 * it (fresh pages cleared by the kernel) and the timed epochs see the
	 * steady state. With 1 repeat the one timed epoch paid that growth, and
	 * plain TCP came out slower than TLS, which ran after it.
	 */
	if (rc == 0)
		rc = send_epoch(ps, *epoch) < 0 ? -EIO : settle((int)++*epoch);
	/*
	 * The baselines by turns with the epochs (plain mode): a run of all the
	 * epochs and then all the TCP streams put the machine's drift between
	 * them (50k pages at 80 % of the stream in one run, 119 % in another).
	 */
	for (i = 0; i < repeats && rc == 0; i++) {
		perf_ctl(n, "enable\n");
		t[i] = send_epoch(ps, *epoch);
		perf_ctl(n, "disable\n");
		cpu[i] = last_cpu;
		rc = t[i] < 0 ? (int)t[i] : settle((int)++*epoch);
		if (rc || mode != RUN_PLAIN)
			continue;
		t[repeats + i] = memcpy_once(bytes);
		t[2 * repeats + i] = tcp_once(fd, bytes);
		rc = t[2 * repeats + i] < 0 ? (int)t[2 * repeats + i] : 0;
	}
	row->exact = rc == 0 && pageset_exact(ps);
	if (rc == 0)
		row->cpu[mode] = median(cpu, repeats);
	if (rc == 0 && mode == RUN_AUTH) {
		row->auth_s = median(t, repeats);
	} else if (rc == 0 && mode == RUN_TLS) {
		row->tls_s = median(t, repeats);
	} else if (rc == 0) {
		row->xfer_s = median(t, repeats);
		row->memcpy_s = median(t + repeats, repeats);
		row->tcp_s = median(t + 2 * repeats, repeats);
	}
	free(t);
	return rc;
}

static void print_head(const char *kind, const char *host, const char *addr, int repeats)
{
	printf("bench/transport: kind=%s standby=%s, median of %d repeats per epoch size\n", kind,
	       addr, repeats);
	if (!strcmp(kind, "rdma"))
		printf("soft-RoCE under TCG: proves correctness, not speed\n");
	printf("page data offered to the transport (us_transport_register): %s%s\n",
	       pr.registered == 0 ? "taken, large bodies leave without a copy" : "not taken: ",
	       pr.registered == 0 ? "" : strerror(-pr.registered));
	printf("cost: wall-clock time against plain; cpu ms: CPU time of both threads per epoch; "
	       "cpu: that against plain (less sensitive to a loaded machine)\n");
	printf("tcp: a plain TCP stream (write/read) to %s%s%s, over the same link; of tcp: "
	       "plain xfer against it\n",
	       host, standby_ns ? " in netns " : "", standby_ns ? standby_ns : "");
	printf("%8s | %12s %9s %9s %7s | %9s %6s %6s | %9s %6s %6s | %11s | %9s %6s | %s\n",
	       "pages", "xfer pages/s", "xfer GB/s", "epoch ms", "cpu ms", "auth GB/s", "cost",
	       "cpu", "tls GB/s", "cost", "cpu", "memcpy GB/s", "tcp GB/s", "of tcp", "replica");
}

/* A column of throughput, its cost against plain and its CPU against plain ("-": not run). */
static void print_cost(double gb, double s, double plain_s, double cpu, double plain_cpu)
{
	if (s <= 0) {
		printf("%9s %6s %6s | ", "-", "-", "-");
		return;
	}
	printf("%9.3f ", gb / s);
	if (plain_s > 0)
		printf("%5.0f%% %5.0f%% | ", 100.0 * (s - plain_s) / plain_s,
		       100.0 * (cpu - plain_cpu) / plain_cpu);
	else
		printf("%6s %6s | ", "-", "-");
}

static void print_row(uint32_t n, const struct row *r)
{
	double gb = (double)n * PG / 1e9, plain = r->cpu[RUN_PLAIN];

	if (r->xfer_s > 0)
		printf("%8u | %12.0f %9.3f %9.2f %7.2f | ", n, n / r->xfer_s, gb / r->xfer_s,
		       r->xfer_s * 1e3, plain * 1e3);
	else
		printf("%8u | %12s %9s %9s %7s | ", n, "-", "-", "-", "-");
	print_cost(gb, r->auth_s, r->xfer_s, r->cpu[RUN_AUTH], plain);
	print_cost(gb, r->tls_s, r->xfer_s, r->cpu[RUN_TLS], plain); /* RDMA carries no TLS */
	if (r->xfer_s > 0)
		printf("%11.3f | %9.3f %5.0f%% | %s\n", gb / r->memcpy_s, gb / r->tcp_s,
		       100.0 * r->tcp_s / r->xfer_s, r->exact ? "exact" : "DIFFERS");
	else
		printf("%11s | %9s %6s | %s\n", "-", "-", "-", r->exact ? "exact" : "DIFFERS");
	fflush(stdout);
}

/* One connection: every epoch size, plain, authenticated or over TLS (mode). */
static int run_conn(enum us_transport_kind kind, const char *host, int repeats, struct row *rows,
		    char *addr, size_t addrlen)
{
	static struct pageset ps;
	uint64_t epoch = 0;
	int fd[2] = { -1, -1 }, rc;
	size_t i;

	pr.got_hello_ok = pr.refused = pr.closed = 0;
	pr.last_ack = US_EPOCH_NONE;
	rc = sb_start(kind, host, addr, addrlen);
	if (rc == 0)
		rc = pr_connect(addr, kind);
	if (rc == 0 && mode == RUN_PLAIN)
		rc = tcp_pair(host, fd);
	for (i = 0; i < NSIZES && rc == 0; i++) {
		rc = run_size(&ps, sizes[i], repeats, &epoch, fd, &rows[i]);
		rc = rc == 0 && !rows[i].exact ? -EBADMSG : rc;
	}
	if (fd[0] >= 0)
		close(fd[0]);
	if (fd[1] >= 0)
		close(fd[1]);
	us_transport_free(pr.t);
	pr.t = NULL;
	sb_stop();
	if (pr.loop)
		qb_loop_destroy(pr.loop);
	pr.loop = NULL;
	return rc;
}

static int run_all(enum us_transport_kind kind, const char *kname, const char *host, int repeats)
{
	struct row rows[NSIZES];
	uint64_t counters[NCOUNTERS];
	char addr[80];
	size_t i;
	int rc;

	memset(rows, 0, sizeof(rows));
	counters_read(counters);
	for (mode = RUN_PLAIN, rc = 0; mode < RUN_MODES && rc == 0; mode++) {
		if (mode == RUN_TLS && kind != US_TRANSPORT_TCP)
			break;
		if (modes & 1u << mode)
			rc = run_conn(kind, host, repeats, rows, addr, sizeof(addr));
	}
	if (rc == 0) {
		print_head(kname, host, addr, repeats);
		for (i = 0; i < NSIZES; i++)
			print_row(sizes[i], &rows[i]);
	}
	if (kind == US_TRANSPORT_RDMA)
		counters_print(counters);
	if (rc < 0)
		fprintf(stderr, "bench/transport: failed (%s): %s%s%s\n", mode_names[mode - 1],
			strerror(-rc), sb.why[0] ? "; standby says: " : "", sb.why);
	return rc;
}

/* --modes plain,auth,tls: the runs to make. @return 0 or -EINVAL. */
static int parse_modes(const char *arg)
{
	static const char *const names[RUN_MODES] = { "plain", "auth", "tls" };
	char buf[64], *tok, *save = NULL;
	int m;

	snprintf(buf, sizeof(buf), "%s", arg);
	modes = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (m = 0; m < RUN_MODES && strcmp(tok, names[m]); m++)
			;
		if (m == RUN_MODES)
			return -EINVAL;
		modes |= 1u << m;
	}
	return modes ? 0 : -EINVAL;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench/transport [--netns NS] [--modes plain,auth,tls] tcp|rdma "
			"HOST [REPEATS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "netns", required_argument, NULL, 'n' },
					      { "modes", required_argument, NULL, 'm' },
					      { NULL, 0, NULL, 0 } };
	enum us_transport_kind kind;
	int repeats, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			standby_ns = optarg;
		else if (c != 'm' || parse_modes(optarg) < 0)
			return usage();
	}
	argc -= optind - 1;
	argv += optind - 1;
	repeats = argc > 3 ? atoi(argv[3]) : 20;
	if (argc < 3 || us_transport_kind_parse(argv[1], &kind) < 0 || kind == US_TRANSPORT_AUTO ||
	    repeats < 1)
		return usage();
#ifndef HAVE_RDMA
	if (kind == US_TRANSPORT_RDMA) {
		fprintf(stderr, "this build has no RDMA transport: install rdma-core's "
				"libibverbs-dev and librdmacm-dev and rerun configure\n");
		return 77;
	}
#endif
	us_log_init("bench_transport", LOG_ERR, 0);
	tls_srv = us_tls_new(US_TLS_PSK, &bench_key, NULL, 1, NULL, 0);
	tls_cli = us_tls_new(US_TLS_PSK, &bench_key, NULL, 0, NULL, 0);
	if (!tls_srv || !tls_cli) {
		fprintf(stderr, "bench/transport: GnuTLS cannot hold the PSK credentials\n");
		return 1;
	}
	pr.data_len = (size_t)MAX_EPOCH * (PG + US_PROTO_PAGES_DESC);
	pr.data = malloc(pr.data_len);
	landing = malloc((size_t)MAX_EPOCH * PG);
	if (!pr.data || !landing) {
		fprintf(stderr,
			"bench/transport: cannot allocate twice %u MiB (page data, and "
			"where the baselines land)\n",
			MAX_EPOCH * PG >> 20);
		return 1;
	}
	memset(landing, 0, (size_t)MAX_EPOCH * PG);
	return run_all(kind, argv[1], argv[2], repeats) < 0 ? 1 : 0;
}
