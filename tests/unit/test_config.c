/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the configuration (replicator/config.c): defaults, a full
 * file, and every kind of wrong input refused without touching good values.
 * Real files in a temporary directory, removed after each test.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "replicator/config.h"
#include "replicator/log.h"

static char path[] = "/tmp/us-test-config-XXXXXX";

static int write_conf(const char *text)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return 0;
}

static int cleanup(void **state)
{
	unlink(path);
	strcpy(path, "/tmp/us-test-config-XXXXXX");
	return 0;
}

static void defaults(void **state)
{
	struct us_config c;

	us_config_defaults(&c);
	assert_string_equal(c.vm.name, "vm0");
	assert_true(c.vm.mem_bytes == 256u << 20);
	assert_int_equal(c.epoch_ms, 50);
	assert_int_equal(c.transport, US_TRANSPORT_TCP);
	assert_int_equal(c.promote_auto, 1);
	assert_int_equal(us_config_check(&c, "standby"), -EINVAL);	/* nothing to boot */
}

static void full_file(void **state)
{
	struct us_config c;

	write_conf("[vm]\nname = web-1\nmemory = 512M\nvcpus = 2\nkernel = /k\ninitrd = /i\n"
		   "mac = 52:54:00:12:34:56\n[replication]\npeer = 10.0.0.2:7300\nepoch_ms = 25\n"
		   "transport = auto\nstaging_max = 64M\ndevstate = xen-save\n[failover]\npromote = manual\n"
		   "[daemon]\nrun_dir = /tmp/x\nlog_level = debug\n");
	us_config_defaults(&c);
	assert_int_equal(us_config_load(&c, path), 0);
	assert_string_equal(c.vm.name, "web-1");
	assert_true(c.vm.mem_bytes == 512u << 20);
	assert_int_equal(c.vm.vcpus, 2);
	assert_string_equal(c.peer, "10.0.0.2:7300");
	assert_int_equal(c.epoch_ms, 25);
	assert_int_equal(c.transport, US_TRANSPORT_AUTO);
	assert_true(c.staging_max == 64u << 20);
	assert_int_equal(c.promote_auto, 0);
	assert_int_equal(c.devstate_xen, 1);
	assert_int_equal(us_config_check(&c, "primary"), 0);
}

static void bad_inputs(void **state)
{
	static const char *const bad[] = {
		"[vm]\nmemory = lots\n", "[vm]\nmemory = 17M\n", "[vm]\nname = a/b\n",
		"[vm]\nvcpus = 0\n", "[vm]\nmac = 52:54:00:12:34\n", "[vm]\ncolour = red\n",
		"[replication]\nepoch_ms = 1\n", "[replication]\ntransport = carrier-pigeon\n",
		"[failover]\npromote = sometimes\n", "[replication]\ndevstate = telepathy\n", "no section or equals sign\n",
	};
	struct us_config c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_conf(bad[i]);
		us_config_defaults(&c);
		assert_int_equal(us_config_load(&c, path), -EINVAL);
		cleanup(state);
	}
	us_config_defaults(&c);
	assert_int_equal(us_config_load(&c, "/nonexistent/understudy.conf"), -ENOENT);
	assert_string_equal(c.vm.name, "vm0");
}

static void primary_needs_peer(void **state)
{
	struct us_config c;

	us_config_defaults(&c);
	strcpy(c.vm.kernel, "/k");
	assert_int_equal(us_config_check(&c, "primary"), -EINVAL);
	assert_int_equal(us_config_check(&c, "standby"), 0);
}

static void sizes(void **state)
{
	uint64_t v;

	assert_int_equal(us_config_parse_size("4096", &v), 0);
	assert_true(v == 4096);
	assert_int_equal(us_config_parse_size("64K", &v), 0);
	assert_true(v == 65536);
	assert_int_equal(us_config_parse_size("1GiB", &v), 0);
	assert_true(v == 1ull << 30);
	assert_int_equal(us_config_parse_size("2T", &v), 0);
	assert_true(v == 2ull << 40);
	assert_int_equal(us_config_parse_size("-1", &v), -EINVAL);
	assert_int_equal(us_config_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(us_config_parse_size("", &v), -EINVAL);
	assert_int_equal(us_config_parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(us_config_parse_size("99999999999T", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults), cmocka_unit_test_teardown(full_file, cleanup),
		cmocka_unit_test(bad_inputs), cmocka_unit_test(primary_needs_peer),
		cmocka_unit_test(sizes),
	};

	us_log_init("test_config", LOG_CRIT, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
