/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tap devices for the relay: created non-persistent (gone when the fd closes),
 * up, and attached to the host's bridge.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netbuf/tap.h"
#include "replicator/log.h"

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}

static int link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int rc;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	rc = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	if (rc < 0)
		return rc;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

static int bridge_add(const char *bridge, const char *name)
{
	struct ifreq ifr = { 0 };

	ifr.ifr_ifindex = if_nametoindex(name);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", bridge);
	if (ifr.ifr_ifindex == 0)
		return -ENODEV;
	return ifreq_ioctl(SIOCBRADDIF, &ifr);
}

int us_tap_open(const char *name, const char *bridge)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd, rc;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		us_log(LOG_ERR, US_TAG_NET, "cannot open /dev/net/tun: %s (load the tun module: "
		       "modprobe tun)", strerror(errno));
		return -errno;
	}
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	rc = ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : link_up(name);
	if (rc == 0 && bridge && *bridge) {
		rc = bridge_add(bridge, name);
		if (rc < 0)
			us_log(LOG_ERR, US_TAG_NET, "cannot attach tap %s to bridge %s: %s (create it: "
			       "ip link add %s type bridge)", name, bridge, strerror(-rc), bridge);
	} else if (rc < 0) {
		us_log(LOG_ERR, US_TAG_NET, "cannot create tap %s: %s", name, strerror(-rc));
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}
