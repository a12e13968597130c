/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A client of the guest's counter service for the output-commit tests: one
 * TCP connection, one request at a time, as fast as replies come. Each reply
 * (the counter's new value) is logged as "MS VALUE US" (milliseconds since the
 * first reply, the value, the request's round trip in microseconds); with
 * a fifth argument "wall", MS is wall-clock milliseconds since the epoch
 * instead (understudy-lab lines the replies up with its faults). Exits 0 on
 * SIGTERM or after SECONDS, 3 if the connection was reset or closed, 4 on a
 * malformed reply, 2 if it never connected. Installed for understudy-lab.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long now_ms(void)
{
	return now_us() / 1000;
}

/* The time stamp of a reply: since the first reply, or the wall clock. */
static long stamp_ms(int wall, long t0)
{
	struct timespec ts;

	if (!wall)
		return now_ms() - t0;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static int connect_retry(const char *host, int port, int seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	long deadline = now_ms() + seconds * 1000L;
	int fd;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	while (!stop && now_ms() < deadline) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(200000);
	}
	return -1;
}

/* Read one line; @return its length, 0 on EOF, -1 on error, -2 on stop. */
static int read_line(int fd, char *buf, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	ssize_t r;

	while (n < cap - 1) {
		if (stop)
			return -2;
		if (poll(&p, 1, 200) <= 0)
			continue;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return r == 0 ? 0 : (errno == EINTR ? -2 : -1);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return n;
}

int main(int argc, char **argv)
{
	char line[64];
	long t0 = -1, count = 0, seconds, sent;
	FILE *log;
	int fd, n, wall;

	if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "wall"))) {
		fprintf(stderr, "usage: reqclient HOST PORT SECONDS LOGFILE [wall]\n");
		return 1;
	}
	wall = argc == 6;
	struct sigaction sa = { .sa_handler = on_term }; /* no SA_RESTART */

	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	seconds = atol(argv[3]);
	log = fopen(argv[4], "w");
	fd = connect_retry(argv[1], atoi(argv[2]), 120);
	if (!log || fd < 0) {
		fprintf(stderr, "reqclient: cannot connect to %s:%s\n", argv[1], argv[2]);
		return 2;
	}
	while (!stop && (t0 < 0 || now_ms() - t0 < seconds * 1000)) {
		sent = now_us();
		if (write(fd, "+\n", 2) != 2)
			break;
		n = read_line(fd, line, sizeof(line));
		if (n == -2)
			break;
		if (n <= 0) {
			fprintf(stderr, "reqclient: connection %s after %ld replies\n",
				n == 0 ? "closed" : strerror(errno), count);
			return 3;
		}
		if (t0 < 0)
			t0 = now_ms();
		if (line[0] < '0' || line[0] > '9') {
			fprintf(stderr, "reqclient: malformed reply '%s'\n", line);
			return 4;
		}
		fprintf(log, "%ld %ld %ld\n", stamp_ms(wall, t0), atol(line), now_us() - sent);
		fflush(log);
		count++;
	}
	fprintf(stderr, "reqclient: %ld replies, connection intact\n", count);
	return 0;
}
