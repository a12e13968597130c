/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nbdserve SOCK IMAGE [EXPORT]: serve a raw image with understudy's NBD
 * server (disk/nbd.c) until SIGTERM or SIGINT, printing every change the
 * server reports as one line on stdout ("WRITE offset length" or "ZEROES
 * offset length"), so that tests/integration/nbd_conformance.sh can drive
 * it with real NBD clients and compare what they did with what was reported.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "disk/image.h"
#include "disk/nbd.h"
#include "replicator/log.h"

static void print_change(void *opaque, enum us_nbd_change kind, uint64_t offset, uint64_t length,
			 const void *data)
{
	printf("%s %" PRIu64 " %" PRIu64 "\n", kind == US_NBD_WRITE ? "WRITE" : "ZEROES", offset,
	       length);
	fflush(stdout);
}

static const struct us_nbd_ops print_ops = { .wrote = print_change };

/* Block the stop signals in every thread, so that sigwait takes them here. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

int main(int argc, char **argv)
{
	struct us_nbd_stats st;
	struct us_image *img = NULL;
	struct us_nbd *srv;
	sigset_t set;
	int sig, ret;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: nbdserve SOCK IMAGE [EXPORT]\n");
		return 2;
	}
	us_log_init("nbdserve", LOG_INFO, 0);
	block_signals(&set);
	ret = us_image_open(argv[2], &img);
	if (ret)
		return 1;
	srv = us_nbd_start(argv[1], argc > 3 ? argv[3] : "disk0", us_image_fd(img),
			   us_image_size(img), &print_ops, NULL);
	if (!srv) {
		us_image_close(img);
		return 1;
	}
	sigwait(&set, &sig);
	us_nbd_stats(srv, &st);
	us_nbd_stop(srv);
	us_image_close(img);
	fprintf(stderr,
		"nbdserve: %s: %" PRIu64 " connections, %" PRIu64 " requests, %" PRIu64
		" bytes read, %" PRIu64 " written, %" PRIu64 " errors\n",
		strsignal(sig), st.connections, st.requests, st.bytes_read, st.bytes_written,
		st.errors);
	us_log_fini();
	return 0;
}
