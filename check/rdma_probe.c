/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which RDMA device serves the replication address: rdma_cm binds an id to
 * the address and names the device it landed on. For the wildcard address,
 * any device in /sys/class/infiniband. Without rdma-core at build time there
 * is none.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "check/probe.h"

#ifdef HAVE_RDMA
#include <rdma/rdma_cma.h>

static int any_device(char *dev, size_t len)
{
	DIR *d = opendir("/sys/class/infiniband");
	struct dirent *e;
	int rc = -ENODEV;

	if (!d)
		return -ENODEV;
	while (rc && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(dev, len, "%s", e->d_name);
			rc = 0;
		}
	closedir(d);
	return rc;
}

/* Bind an rdma_cm id to @ai and read the device's name; librdmacm's -1/errno here. */
static int bind_device(struct addrinfo *ai, char *dev, size_t len)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct rdma_cm_id *id = NULL;
	int rc = -ENODEV;

	if (!ch)
		return -errno;
	if (rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) < 0) {
		rc = -errno;
		goto out;
	}
	if (rdma_bind_addr(id, ai->ai_addr) < 0)
		rc = -errno;
	else if (id->verbs) {
		snprintf(dev, len, "%s", ibv_get_device_name(id->verbs->device));
		rc = 0;
	}
	rdma_destroy_id(id);
out:
	rdma_destroy_event_channel(ch);
	return rc;
}

int us_check_rdma_probe(const char *host, char *dev, size_t len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV }, *ai;
	int rc;

	if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		return any_device(dev, len);
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	rc = bind_device(ai, dev, len);
	freeaddrinfo(ai);
	return rc == -EADDRNOTAVAIL || rc == -ENOENT ? -ENODEV : rc;
}
#else
int us_check_rdma_probe(const char *host, char *dev, size_t len)
{
	(void)host;
	(void)dev;
	(void)len;
	return -ENOTSUP; /* built without rdma-core */
}
#endif
