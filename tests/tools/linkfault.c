// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * linkfault: netem's loss, delay, duplication and reordering in userspace,
 * for kernels without sch_netem (understudy-lab's fallback, lab/faults.sh).
 * It takes the packets an iptables NFQUEUE rule queues to it (the rule on
 * the replication link's OUTPUT, with --queue-bypass so that a dead
 * linkfault passes everything) and gives each a verdict: drop (loss), accept
 * after a timer (delay, jitter; reorder: some packets at once, the others
 * late), or accept plus a copy sent through a raw socket carrying MARK,
 * which the rule skips (duplicate). Randomness comes from --seed, so a
 * campaign replays. On SIGTERM it accepts what it holds, writes its
 * counters to --stats and exits.
 *
 * Usage: linkfault --queue N --mark M --seed S [--loss PCT] [--delay MS]
 *        [--jitter MS] [--duplicate PCT] [--reorder PCT] --stats FILE
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LF_MAX_HELD 65536

struct lf_opts {
	unsigned int queue, mark;
	uint64_t seed;
	double loss, duplicate, reorder; /* fractions */
	long delay_ms, jitter_ms;
	const char *stats;
};

struct lf_held {
	uint64_t due_ns, seq;
	uint32_t id;
};

struct lf_counts {
	unsigned long seen, dropped, delayed, sent_at_once, duplicated;
};

static struct lf_opts opt;
static struct lf_counts cnt;
static struct lf_held heap[LF_MAX_HELD];
static size_t nheld;
static uint64_t rng_state, seq;
static int raw_fd = -1;
static struct nfq_q_handle *qh;
static volatile sig_atomic_t stop;

/* splitmix64: small, seeded, the same sequence for the same seed */
static double lf_rand(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / (double)(1ULL << 53);
}

static uint64_t lf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int lf_before(const struct lf_held *a, const struct lf_held *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void lf_swap(size_t a, size_t b)
{
	struct lf_held t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
}

static void lf_push(uint32_t id, uint64_t due)
{
	size_t i = nheld++;

	heap[i].due_ns = due;
	heap[i].seq = seq++;
	heap[i].id = id;
	while (i > 0 && lf_before(&heap[i], &heap[(i - 1) / 2])) {
		lf_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void lf_pop(void)
{
	size_t i = 0;

	heap[0] = heap[--nheld];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < nheld && lf_before(&heap[l], &heap[m]))
			m = l;
		if (r < nheld && lf_before(&heap[r], &heap[m]))
			m = r;
		if (m == i)
			return;
		lf_swap(i, m);
		i = m;
	}
}

/* lf_release: accept every held packet due by NOW (all with NOW = ~0) */
static void lf_release(uint64_t now)
{
	while (nheld > 0 && heap[0].due_ns <= now) {
		nfq_set_verdict(qh, heap[0].id, NF_ACCEPT, 0, NULL);
		lf_pop();
	}
}

/* lf_duplicate: send a copy of the IPv4 packet DATA through the raw socket */
static void lf_duplicate(const unsigned char *data, int len)
{
	const struct iphdr *ip = (const struct iphdr *)data;
	struct sockaddr_in to = { .sin_family = AF_INET };

	if (len < (int)sizeof(*ip) || ip->version != 4)
		return;
	to.sin_addr.s_addr = ip->daddr;
	if (sendto(raw_fd, data, len, 0, (struct sockaddr *)&to, sizeof(to)) == len)
		cnt.duplicated++;
}

static long lf_delay_ms(void)
{
	long d = opt.delay_ms;

	if (opt.jitter_ms > 0)
		d += (long)(lf_rand() * (2 * opt.jitter_ms + 1)) - opt.jitter_ms;
	return d < 0 ? 0 : d;
}

static int lf_packet(struct nfq_q_handle *q, struct nfgenmsg *m, struct nfq_data *nfa, void *arg)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *data = NULL;
	uint32_t id;
	int len;

	if (!ph)
		return 0;
	id = ntohl(ph->packet_id);
	cnt.seen++;
	if (opt.loss > 0 && lf_rand() < opt.loss) {
		cnt.dropped++;
		return nfq_set_verdict(q, id, NF_DROP, 0, NULL);
	}
	if (opt.duplicate > 0 && lf_rand() < opt.duplicate) {
		len = nfq_get_payload(nfa, &data);
		if (len > 0)
			lf_duplicate(data, len);
	}
	if (opt.delay_ms <= 0 && opt.jitter_ms <= 0)
		return nfq_set_verdict(q, id, NF_ACCEPT, 0, NULL);
	if ((opt.reorder > 0 && lf_rand() < opt.reorder) || nheld == LF_MAX_HELD) {
		cnt.sent_at_once++;
		return nfq_set_verdict(q, id, NF_ACCEPT, 0, NULL);
	}
	cnt.delayed++;
	lf_push(id, lf_now_ns() + (uint64_t)lf_delay_ms() * 1000000ULL);
	return 0;
}

static void lf_write_stats(void)
{
	FILE *f;
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.tmp", opt.stats);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f,
		"mechanism nfqueue queue %u seen %lu dropped %lu delayed %lu sent_at_once %lu "
		"duplicated %lu\n",
		opt.queue, cnt.seen, cnt.dropped, cnt.delayed, cnt.sent_at_once, cnt.duplicated);
	if (fclose(f) == 0)
		rename(tmp, opt.stats);
}

static void lf_on_signal(int sig)
{
	stop = 1;
}

static double lf_pct(const char *s)
{
	return strtod(s, NULL) / 100.0;
}

static int lf_parse(int argc, char **argv)
{
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--queue"))
			opt.queue = strtoul(v, NULL, 0);
		else if (!strcmp(k, "--mark"))
			opt.mark = strtoul(v, NULL, 0);
		else if (!strcmp(k, "--seed"))
			opt.seed = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--loss"))
			opt.loss = lf_pct(v);
		else if (!strcmp(k, "--delay"))
			opt.delay_ms = strtol(v, NULL, 0);
		else if (!strcmp(k, "--jitter"))
			opt.jitter_ms = strtol(v, NULL, 0);
		else if (!strcmp(k, "--duplicate"))
			opt.duplicate = lf_pct(v);
		else if (!strcmp(k, "--reorder"))
			opt.reorder = lf_pct(v);
		else if (!strcmp(k, "--stats"))
			opt.stats = v;
		else
			return -EINVAL;
	}
	return i == argc && opt.stats && opt.mark ? 0 : -EINVAL;
}

/* lf_open: the raw socket for copies (marked), the queue, fail-open */
static int lf_open(struct nfq_handle **h)
{
	raw_fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (raw_fd < 0 || setsockopt(raw_fd, SOL_SOCKET, SO_MARK, &opt.mark, sizeof(opt.mark)) < 0)
		return -errno;
	*h = nfq_open();
	if (!*h)
		return -errno ? -errno : -EIO;
	nfq_bind_pf(*h, AF_INET);
	qh = nfq_create_queue(*h, opt.queue, lf_packet, NULL);
	if (!qh)
		return -errno ? -errno : -EIO;
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0)
		return -EIO;
	nfq_set_queue_maxlen(qh, LF_MAX_HELD);
	nfnl_rcvbufsiz(nfq_nfnlh(*h), 8 << 20);
	/* a full queue passes packets rather than dropping them */
	nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
	return 0;
}

static int lf_timeout_ms(void)
{
	uint64_t now = lf_now_ns();

	if (nheld == 0)
		return 200;
	if (heap[0].due_ns <= now)
		return 0;
	return (int)((heap[0].due_ns - now) / 1000000ULL) + 1;
}

int main(int argc, char **argv)
{
	struct nfq_handle *h = NULL;
	struct pollfd pfd = { .events = POLLIN };
	char buf[65536 + 4096];
	uint64_t last_stats = 0;
	int rc;

	if (lf_parse(argc, argv) < 0) {
		fprintf(stderr, "usage: linkfault --queue N --mark M --seed S [--loss PCT] "
				"[--delay MS] "
				"[--jitter MS] [--duplicate PCT] [--reorder PCT] --stats FILE\n");
		return 2;
	}
	rng_state = opt.seed;
	signal(SIGTERM, lf_on_signal);
	signal(SIGINT, lf_on_signal);
	rc = lf_open(&h);
	if (rc < 0) {
		fprintf(stderr, "linkfault: cannot open queue %u: %s\n", opt.queue, strerror(-rc));
		return 1;
	}
	fprintf(stderr,
		"linkfault: mechanism nfqueue (no sch_netem): queue %u, seed %llu, loss %.1f%%, "
		"delay %ld ms "
		"+- %ld, duplicate %.1f%%, reorder %.1f%%\n",
		opt.queue, (unsigned long long)opt.seed, opt.loss * 100, opt.delay_ms,
		opt.jitter_ms, opt.duplicate * 100, opt.reorder * 100);
	lf_write_stats();
	pfd.fd = nfq_fd(h);
	while (!stop) {
		if (poll(&pfd, 1, lf_timeout_ms()) > 0) {
			ssize_t n = recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n > 0)
				nfq_handle_packet(h, buf, (int)n);
		}
		lf_release(lf_now_ns());
		if (lf_now_ns() - last_stats > 500000000ULL) {
			lf_write_stats();
			last_stats = lf_now_ns();
		}
	}
	lf_release(UINT64_MAX);
	lf_write_stats();
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
