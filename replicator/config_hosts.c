/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * [replication] hosts: one config file for either role on either host. It
 * names each host's replication address by its [heartbeat] node; a daemon
 * listens on its own node's address when it is the standby and connects to
 * the other node's when it is the primary, whichever role it holds now.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replicator/config.h"
#include "replicator/log.h"

/* One "NODE=HOST:PORT" of @len bytes at @s. */
static int parse_entry(struct us_host_addr *h, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen = eq ? (size_t)(eq - s) : 0, alen = eq ? len - nlen - 1 : 0;

	if (!eq || nlen == 0 || nlen >= sizeof(h->node) || alen == 0 || alen >= sizeof(h->addr))
		return -EINVAL;
	if (!memchr(eq + 1, ':', alen))
		return -EINVAL;
	memcpy(h->node, s, nlen);
	h->node[nlen] = 0;
	memcpy(h->addr, eq + 1, alen);
	h->addr[alen] = 0;
	return 0;
}

int us_config_set_hosts(struct us_config *c, const char *v)
{
	const char *sep = " ,\t";
	size_t len;
	unsigned n = 0;

	while (*v) {
		v += strspn(v, sep);
		len = strcspn(v, sep);
		if (!len)
			break;
		if (n == US_CONFIG_MAX_HOSTS || parse_entry(&c->hosts[n], v, len) < 0)
			return -EINVAL;
		n++;
		v += len;
	}
	if (n != US_CONFIG_MAX_HOSTS || strcmp(c->hosts[0].node, c->hosts[1].node) == 0)
		return -EINVAL;
	c->n_hosts = n;
	return 0;
}

int us_config_resolve_hosts(struct us_config *c, const char *path)
{
	const struct us_host_addr *self = NULL, *other = NULL;
	unsigned i;

	if (!c->n_hosts)
		return 0;
	for (i = 0; i < c->n_hosts; i++) {
		if (strcmp(c->hosts[i].node, c->node) == 0)
			self = &c->hosts[i];
		else
			other = &c->hosts[i];
	}
	if (!self || !other) {
		us_log(LOG_ERR, US_TAG_MAIN,
		       "%s: [replication] hosts has no entry for this host's "
		       "node '%s': name it there, or set [heartbeat] node to one of '%s' and '%s'",
		       path, c->node, c->hosts[0].node, c->hosts[1].node);
		return -EINVAL;
	}
	if (!c->listen_set)
		snprintf(c->listen, sizeof(c->listen), "%s", self->addr);
	if (!c->peer_set)
		snprintf(c->peer, sizeof(c->peer), "%s", other->addr);
	snprintf(c->peer_node, sizeof(c->peer_node), "%s", other->node);
	return 0;
}
