/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A frame counter for the lab's LAN checks: an AF_PACKET socket bound to one
 * ethertype on one interface prints every frame it receives from one source
 * MAC as "MS SRC DST ETHERTYPE LEN" (MS: wall-clock milliseconds since the
 * epoch, so a test can compare it with the moment it killed a host) and
 * stops after COUNT such frames, after SECONDS or on SIGTERM. It says
 * "framecap: listening" on stderr once the socket is bound. The takeover
 * tests use it to see the RARP (0x8035) that QEMU's announce-self sends from
 * the guest's MAC. ETHERTYPE "all" takes every frame (ETH_P_ALL): on a port
 * of a bridge only such a socket sees the frames the bridge forwards, which
 * understudy-lab's dual-active check needs. Exits 0 once COUNT frames
 * matched, 3 if fewer did, 1 on a usage or socket error.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct capture {
	const char *ifname;
	unsigned int ethertype;
	unsigned char mac[ETH_ALEN];
	long count;   /* stop after this many matching frames */
	long seconds; /* stop after this long */
	long matched;
	int fd;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static long now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: framecap [-c COUNT] [-t SECONDS] IFACE ETHERTYPE|all SRC-MAC\n"
			"  e.g. framecap -c 1 -t 60 lan0 0x8035 52:54:00:77:2a:10\n");
}

/* @return 0 or -EINVAL. */
static int parse_mac(const char *s, unsigned char *mac)
{
	unsigned int b[ETH_ALEN];
	char end;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) !=
	    ETH_ALEN)
		return -EINVAL;
	for (i = 0; i < ETH_ALEN; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = b[i];
	}
	return 0;
}

/* @return 0 or -EINVAL with the reason printed. */
static int parse_src(struct capture *c, const char *mac)
{
	if (parse_mac(mac, c->mac) < 0) {
		fprintf(stderr, "framecap: '%s' is not a MAC address\n", mac);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(struct capture *c, int argc, char **argv)
{
	char *end;
	int opt;

	while ((opt = getopt(argc, argv, "c:t:")) != -1) {
		if (opt == 'c')
			c->count = strtol(optarg, &end, 10);
		else if (opt == 't')
			c->seconds = strtol(optarg, &end, 10);
		else
			return -EINVAL;
		if (*end || end == optarg || c->count < 1 || c->seconds < 1) {
			fprintf(stderr, "framecap: -%c wants a positive number, not '%s'\n", opt,
				optarg);
			return -EINVAL;
		}
	}
	if (argc - optind != 3)
		return -EINVAL;
	c->ifname = argv[optind];
	if (!strcmp(argv[optind + 1], "all")) {
		c->ethertype = ETH_P_ALL;
		return parse_src(c, argv[optind + 2]);
	}
	c->ethertype = strtoul(argv[optind + 1], &end, 0);
	if (*end || c->ethertype < ETH_P_802_3_MIN || c->ethertype > 0xffff) {
		fprintf(stderr, "framecap: '%s' is not an ethertype (0x0600-0xffff)\n",
			argv[optind + 1]);
		return -EINVAL;
	}
	return parse_src(c, argv[optind + 2]);
}

/* Bind c->fd to the ethertype on the interface; @return 0 or -errno, printed. */
static int open_socket(struct capture *c)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(c->ethertype),
	};
	int rc;

	sll.sll_ifindex = if_nametoindex(c->ifname);
	if (!sll.sll_ifindex) {
		rc = -errno;
		fprintf(stderr, "framecap: no interface %s: %s\n", c->ifname, strerror(-rc));
		return rc;
	}
	c->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(c->ethertype));
	if (c->fd < 0) {
		rc = -errno;
		fprintf(stderr, "framecap: AF_PACKET socket: %s (root needed)\n", strerror(-rc));
		return rc;
	}
	if (bind(c->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		rc = -errno;
		fprintf(stderr, "framecap: cannot bind to %s: %s\n", c->ifname, strerror(-rc));
		return rc;
	}
	return 0;
}

static void print_mac(const unsigned char *m)
{
	printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Read one frame; count and print it if it comes from c->mac. @return 0 or -errno. */
static int take_frame(struct capture *c)
{
	unsigned char buf[2048];
	struct sockaddr_ll from;
	socklen_t fromlen = sizeof(from);
	const struct ether_header *eh = (const void *)buf;
	ssize_t n;

	n = recvfrom(c->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	if (n < 0) /* ENETDOWN: the link went down (a lab fault) and may come back */
		return errno == EINTR || errno == ENETDOWN ? 0 : -errno;
	if (n < (ssize_t)sizeof(*eh) || from.sll_pkttype == PACKET_OUTGOING ||
	    memcmp(eh->ether_shost, c->mac, ETH_ALEN))
		return 0;
	c->matched++;
	printf("%ld ", now_ms(CLOCK_REALTIME));
	print_mac(eh->ether_shost);
	putchar(' ');
	print_mac(eh->ether_dhost);
	printf(" 0x%04x %zd\n", ntohs(eh->ether_type), n);
	fflush(stdout);
	return 0;
}

/* Take frames until COUNT matched, the time is up or SIGTERM. @return 0 or -errno. */
static int capture(struct capture *c)
{
	long deadline = now_ms(CLOCK_MONOTONIC) + c->seconds * 1000;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	long left;
	int rc;

	while (!stop && c->matched < c->count) {
		left = deadline - now_ms(CLOCK_MONOTONIC);
		if (left <= 0)
			break;
		rc = poll(&p, 1, left > 200 ? 200 : (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		rc = take_frame(c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct capture c = { .count = 1, .seconds = 60, .fd = -1 };
	struct sigaction sa = { .sa_handler = on_term }; /* no SA_RESTART */
	int rc;

	if (parse_args(&c, argc, argv) < 0) {
		usage();
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (open_socket(&c) < 0)
		goto err;
	fprintf(stderr, "framecap: listening on %s for ethertype 0x%04x\n", c.ifname, c.ethertype);
	rc = capture(&c);
	if (rc < 0) {
		fprintf(stderr, "framecap: receiving on %s: %s\n", c.ifname, strerror(-rc));
		goto err;
	}
	close(c.fd);
	fprintf(stderr, "framecap: %ld matching frame(s) on %s\n", c.matched, c.ifname);
	return c.matched >= c.count ? 0 : 3;
err:
	if (c.fd >= 0)
		close(c.fd);
	return 1;
}
