/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness of the configuration parser (replicator/config.c and
 * config_hosts.c, over inih): the input is the text of a config file, read
 * through a memfd (no file is made). A file that loads must leave every
 * field within its documented range, every string terminated; then the
 * role checks run for both roles.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "replicator/config.h"
#include "tests/fuzz/fuzz.h"

#define TERMINATED(f) us_fuzz_assert(#f " is terminated", memchr((f), 0, sizeof(f)) != NULL)

static void check_strings(const struct us_config *c)
{
	unsigned i;

	TERMINATED(c->vm.name);
	TERMINATED(c->vm.qemu);
	TERMINATED(c->vm.accel);
	TERMINATED(c->vm.kernel);
	TERMINATED(c->vm.initrd);
	TERMINATED(c->vm.append);
	TERMINATED(c->vm.disk);
	TERMINATED(c->vm.mac);
	TERMINATED(c->vm.run_dir);
	TERMINATED(c->vm.shm_dir);
	TERMINATED(c->peer);
	TERMINATED(c->key_file);
	TERMINATED(c->listen);
	TERMINATED(c->peer_node);
	TERMINATED(c->bridge);
	TERMINATED(c->tap);
	TERMINATED(c->node);
	TERMINATED(c->fence_command);
	for (i = 0; i < US_CONFIG_MAX_HOSTS; i++) {
		TERMINATED(c->hosts[i].node);
		TERMINATED(c->hosts[i].addr);
	}
}

/* What the keys' documentation promises of a loaded file. */
static void check_loaded(const struct us_config *c)
{
	check_strings(c);
	us_fuzz_assert("[vm] name is not empty", c->vm.name[0] != 0);
	us_fuzz_assert("[vm] memory is at least 16M in whole 2M",
		       c->vm.mem_bytes >= (16u << 20) && c->vm.mem_bytes % (2u << 20) == 0);
	us_fuzz_assert("[vm] vcpus is 1 to 64", c->vm.vcpus >= 1 && c->vm.vcpus <= 64);
	us_fuzz_assert("epoch_ms is 5 to 10000", c->epoch_ms >= 5 && c->epoch_ms <= 10000);
	us_fuzz_assert("[heartbeat] nodes is 2 to 32", c->nodes >= 2 && c->nodes <= 32);
	us_fuzz_assert("[replication] hosts names both hosts or none",
		       c->n_hosts == 0 || c->n_hosts == US_CONFIG_MAX_HOSTS);
	if (c->n_hosts)
		us_fuzz_assert("[replication] hosts names two different nodes",
			       strcmp(c->hosts[0].node, c->hosts[1].node) != 0 && c->peer_node[0]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	us_fuzz_log_init("fuzz_config");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct us_config c;
	char path[64];
	int fd = us_fuzz_memfd("config", data, size), rc;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	us_config_defaults(&c);
	snprintf(c.node, sizeof(c.node),
		 "hA"); /* not this machine's name: the same run each time */
	rc = us_config_load(&c, path);
	close(fd);
	us_fuzz_assert("us_config_load returns 0 or -EINVAL", rc == 0 || rc == -EINVAL);
	check_strings(&c);
	if (rc < 0)
		return 0;
	check_loaded(&c);
	us_config_check(&c, "primary");
	us_config_check(&c, "standby");
	return 0;
}
