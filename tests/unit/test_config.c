/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the configuration (replicator/config.c): defaults, a full
 * file, and every kind of wrong input refused without touching good values,
 * with a message (captured by tests/lib/logcap) that names section and key,
 * and for an unknown key the nearest known one; the shipped example config
 * loads. Real files in a temporary directory, removed after each test.
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
#include "tests/lib/logcap.h"

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
	assert_int_equal(c.vm.hugepages, 0);
	assert_int_equal(c.vm.scan_threads, 0);	/* auto */
	assert_int_equal(c.transport, US_TRANSPORT_TCP);
	assert_int_equal(c.promote_auto, 1);
	assert_int_equal(us_config_check(&c, "standby"), -EINVAL);	/* nothing to boot */
}

static void full_file(void **state)
{
	struct us_config c;

	write_conf("[vm]\nname = web-1\nmemory = 512M\nvcpus = 2\nkernel = /k\ninitrd = /i\n"
		   "mac = 52:54:00:12:34:56\nhugepages = on\nscan_threads = 3\n[replication]\npeer = 10.0.0.2:7300\nepoch_ms = 25\n"
		   "transport = auto\nstaging_max = 64M\ndevstate = xen-save\ndisk_log_max = 32M\n"
		   "disk_staging_max = 1G\n[failover]\npromote = manual\n"
		   "[daemon]\nrun_dir = /tmp/x\nlog_level = debug\n");
	us_config_defaults(&c);
	assert_int_equal(us_config_load(&c, path), 0);
	assert_string_equal(c.vm.name, "web-1");
	assert_true(c.vm.mem_bytes == 512u << 20);
	assert_int_equal(c.vm.vcpus, 2);
	assert_int_equal(c.vm.hugepages, 1);
	assert_int_equal(c.vm.scan_threads, 3);
	assert_string_equal(c.peer, "10.0.0.2:7300");
	assert_int_equal(c.epoch_ms, 25);
	assert_int_equal(c.transport, US_TRANSPORT_AUTO);
	assert_true(c.staging_max == 64u << 20);
	assert_true(c.disk_log_max == 32u << 20 && c.disk_staging_max == 1u << 30);
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
		"[replication]\ndisk_log_max = 1M\n", "[replication]\ndisk_staging_max = big\n",
		"[vm]\nhugepages = maybe\n", "[vm]\nscan_threads = 0\n", "[vm]\nscan_threads = 17\n",
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

/* epoch_ms = auto with its bound and range; a range upside down is refused. */
static void epoch_auto(void **state)
{
	static const char *const bad[] = {
		"[replication]\npause_share = 0%\n", "[replication]\npause_share = 60\n",
		"[replication]\npause_share = %\n", "[replication]\nepoch_ms = automatic\n",
		"[replication]\nepoch_ms_max = 2\n",
	};
	struct us_config c;
	size_t i;

	write_conf("[vm]\nkernel = /k\n[replication]\npeer = h:1\nepoch_ms = auto\n"
		   "pause_share = 5%\nepoch_ms_min = 20\nepoch_ms_max = 300\n");
	us_config_defaults(&c);
	assert_int_equal(c.pause_share_pct, 10);
	assert_int_equal(us_config_load(&c, path), 0);
	assert_int_equal(c.epoch_ms, 0);
	assert_int_equal(c.pause_share_pct, 5);
	assert_int_equal(c.epoch_ms_min, 20);
	assert_int_equal(c.epoch_ms_max, 300);
	assert_int_equal(us_config_check(&c, "primary"), 0);
	c.epoch_ms_min = 400;
	assert_int_equal(us_config_check(&c, "primary"), -EINVAL);
	cleanup(state);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_conf(bad[i]);
		us_config_defaults(&c);
		assert_int_equal(us_config_load(&c, path), -EINVAL);
		cleanup(state);
	}
}

static void primary_needs_peer(void **state)
{
	struct us_config c;

	us_config_defaults(&c);
	strcpy(c.vm.kernel, "/k");
	assert_int_equal(us_config_check(&c, "primary"), -EINVAL);
	assert_int_equal(us_config_check(&c, "standby"), 0);
}

/* [replication] hosts: one file for either role on either host. */
static void hosts_either_role(void **state)
{
	static const char text[] = "[vm]\nkernel = /k\n[replication]\n"
				   "hosts = hA=10.0.0.1:7300, hB=10.0.0.2:7301\n"
				   "[heartbeat]\nnode = %s\n";
	char buf[256];
	struct us_config c;

	snprintf(buf, sizeof(buf), text, "hB");
	write_conf(buf);
	us_config_defaults(&c);
	assert_int_equal(us_config_load(&c, path), 0);
	assert_string_equal(c.listen, "10.0.0.2:7301");
	assert_string_equal(c.peer, "10.0.0.1:7300");
	assert_string_equal(c.peer_node, "hA");
	cleanup(state);

	snprintf(buf, sizeof(buf), text, "hA");
	write_conf(buf);
	us_config_defaults(&c);
	assert_int_equal(us_config_load(&c, path), 0);
	assert_string_equal(c.listen, "10.0.0.1:7300");
	assert_string_equal(c.peer, "10.0.0.2:7301");
	cleanup(state);

	/* a node the list does not name is refused, naming both */
	snprintf(buf, sizeof(buf), text, "hZ");
	write_conf(buf);
	us_config_defaults(&c);
	us_logcap_clear();
	assert_int_equal(us_config_load(&c, path), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "no entry for this host's node 'hZ'"));
}

static void hosts_bad(void **state)
{
	struct us_config c;

	us_config_defaults(&c);
	assert_int_equal(us_config_set_hosts(&c, "hA=10.0.0.1:7300"), -EINVAL);
	assert_int_equal(us_config_set_hosts(&c, "hA=10.0.0.1:7300 hA=10.0.0.2:7300"), -EINVAL);
	assert_int_equal(us_config_set_hosts(&c, "hA=10.0.0.1 hB=10.0.0.2:7300"), -EINVAL);
	assert_int_equal(us_config_set_hosts(&c, "hA:10.0.0.1:1 hB=10.0.0.2:7300"), -EINVAL);
	assert_int_equal(us_config_set_hosts(&c, "a=h:1 b=h:2 c=h:3"), -EINVAL);
	assert_int_equal(us_config_set_hosts(&c, "a=h:1 b=h:2"), 0);
	assert_int_equal(c.n_hosts, 2);
	assert_int_equal(c.reprotect_auto, 1);
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

static void heartbeat_defaults(void **state)
{
	char host[256] = "";
	struct us_config c;

	us_config_defaults(&c);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_int_equal(c.membership, 1);
	if (strlen(host) < sizeof(c.node))
		assert_string_equal(c.node, host);
	else
		assert_string_equal(c.node, "");	/* too long: the check asks for one */
	assert_string_equal(c.fence_command, "");
	assert_int_equal(c.fence_timeout_ms, 30000);
	assert_int_equal(c.fence_delay_ms, 3000);
	assert_int_equal(c.silence_ms, 500);
	assert_int_equal(c.nodes, 2);
	assert_int_equal(c.allow_unfenced, 0);
}

static void load_ok(struct us_config *c, const char *text)
{
	write_conf(text);
	us_config_defaults(c);
	us_logcap_clear();
	if (us_config_load(c, path) != 0)
		fail_msg("refused:\n%s\nlog:\n%s", text, us_logcap_text());
	cleanup(NULL);
}

static void heartbeat_good(void **state)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };
	char text[256], big[184];
	struct us_config c;
	size_t i;

	load_ok(&c, "[heartbeat]\nmembership = none\nnode = host-b.lab_2\n"
		"fence_command = /usr/sbin/fence_ipmilan --ip 10.0.0.9 --plug\n"
		"fence_timeout_ms = 100\nfence_delay_ms = 0\nsilence_ms = 10\nnodes = 32\n"
		"allow_unfenced = yes\n");
	assert_int_equal(c.membership, 0);
	assert_string_equal(c.node, "host-b.lab_2");
	assert_string_equal(c.fence_command, "/usr/sbin/fence_ipmilan --ip 10.0.0.9 --plug");
	assert_int_equal(c.fence_timeout_ms, 100);
	assert_int_equal(c.fence_delay_ms, 0);
	assert_int_equal(c.silence_ms, 10);
	assert_int_equal(c.nodes, 32);
	assert_int_equal(c.allow_unfenced, 1);

	load_ok(&c, "[heartbeat]\nmembership = corosync\nfence_timeout_ms = 600000\n"
		"fence_delay_ms = 600000\nsilence_ms = 600000\nnodes = 2\nfence_command =\n");
	assert_int_equal(c.membership, 1);
	assert_int_equal(c.fence_timeout_ms, 600000);
	assert_int_equal(c.fence_delay_ms, 600000);
	assert_int_equal(c.silence_ms, 600000);
	assert_int_equal(c.nodes, 2);
	assert_string_equal(c.fence_command, "");

	/* the longest value inih's 200-byte line holds comes through whole */
	memset(big, 'f', 183);
	big[183] = '\0';
	snprintf(text, sizeof(text), "[heartbeat]\nfence_command = %s\n", big);
	load_ok(&c, text);
	assert_string_equal(c.fence_command, big);

	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "[heartbeat]\nallow_unfenced = %s\n", yes[i]);
		load_ok(&c, text);
		assert_int_equal(c.allow_unfenced, 1);
		snprintf(text, sizeof(text), "[heartbeat]\nallow_unfenced = %s\n", no[i]);
		load_ok(&c, text);
		assert_int_equal(c.allow_unfenced, 0);
	}
}

/* A key's bad value and the words its error message must hold. */
struct bad_key {
	const char *text;
	const char *said;
};

static const struct bad_key bad_heartbeat[] = {
	{ "membership = maybe",
	  "[heartbeat] membership = 'maybe' is not valid: expected corosync or none" },
	{ "membership = Corosync", "[heartbeat] membership = " },
	{ "membership =", "[heartbeat] membership = " },
	{ "node = host a", "[heartbeat] node = 'host a'" },
	{ "node =", "[heartbeat] node = ''" },
	{ "node = a-node-name-far-longer-than-thirty-two-chars", "[heartbeat] node = " },
	{ "fence_timeout_ms = 99",
	  "[heartbeat] fence_timeout_ms = '99' is not valid: expected 100 to 600000" },
	{ "fence_timeout_ms = 600001", "[heartbeat] fence_timeout_ms = " },
	{ "fence_timeout_ms = 5s", "[heartbeat] fence_timeout_ms = " },
	{ "fence_delay_ms = -1",
	  "[heartbeat] fence_delay_ms = '-1' is not valid: expected 0 to 600000" },
	{ "fence_delay_ms = 600001", "[heartbeat] fence_delay_ms = " },
	{ "silence_ms = 9",
	  "[heartbeat] silence_ms = '9' is not valid: expected 10 to 600000" },
	{ "silence_ms =", "[heartbeat] silence_ms = " },
	{ "nodes = 1", "[heartbeat] nodes = '1' is not valid: expected 2 to 32" },
	{ "nodes = 33", "[heartbeat] nodes = " },
	{ "nodes = two", "[heartbeat] nodes = " },
	{ "allow_unfenced = perhaps",
	  "[heartbeat] allow_unfenced = 'perhaps' is not valid: expected yes or no" },
	{ "allow_unfenced = YES", "[heartbeat] allow_unfenced = " },
	{ "fence_delay = 10", "unknown key 'fence_delay' in section [heartbeat]" },
};

static void expect_refused(const char *text, const char *said)
{
	struct us_config c, d;

	write_conf(text);
	us_config_defaults(&c);
	us_config_defaults(&d);
	us_logcap_clear();
	if (us_config_load(&c, path) != -EINVAL)
		fail_msg("accepted:\n%s", text);
	if (!strstr(us_logcap_text(), said) || !strstr(us_logcap_text(), path))
		fail_msg("for:\n%swant \"%s\" and the path in the log:\n%s", text, said,
			 us_logcap_text());
	/* the refused value left the defaults as they were */
	assert_int_equal(c.membership, d.membership);
	assert_string_equal(c.node, d.node);
	assert_string_equal(c.fence_command, d.fence_command);
	assert_int_equal(c.fence_timeout_ms, d.fence_timeout_ms);
	assert_int_equal(c.fence_delay_ms, d.fence_delay_ms);
	assert_int_equal(c.silence_ms, d.silence_ms);
	assert_int_equal(c.nodes, d.nodes);
	assert_int_equal(c.allow_unfenced, d.allow_unfenced);
	cleanup(NULL);
}

static void heartbeat_bad(void **state)
{
	char text[512], big[300];
	struct us_config c;
	size_t i;

	for (i = 0; i < sizeof(bad_heartbeat) / sizeof(bad_heartbeat[0]); i++) {
		snprintf(text, sizeof(text), "[heartbeat]\n%s\n", bad_heartbeat[i].text);
		expect_refused(text, bad_heartbeat[i].said);
	}
	/* Too long for [heartbeat] fence_command: refused, but inih splits lines
	 * at 200 bytes, so the message is a syntax error on the next line, not
	 * one naming the key (reported; the 256-byte field is unreachable). */
	memset(big, 'f', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(text, sizeof(text), "[heartbeat]\nfence_command = %s\n", big);
	write_conf(text);
	us_config_defaults(&c);
	assert_int_equal(us_config_load(&c, path), -EINVAL);
	cleanup(NULL);
	/* a heartbeat key in another section is unknown there */
	expect_refused("[failover]\nnodes = 3\n", "unknown key 'nodes' in section [failover]");
}

/* An unknown key and all that is logged for it (after "PATH: "). */
struct typo {
	const char *text;
	const char *said;
};

static const struct typo typos[] = {
	{ "[vm]\nmemroy = 1G\n", "unknown key 'memroy' in section [vm]: did you mean 'memory'?" },
	{ "[vm]\nMemory = 1G\n", "unknown key 'Memory' in section [vm]: did you mean 'memory'?" },
	{ "[vm]\ncpu = 2\n", "unknown key 'cpu' in section [vm]: did you mean 'vcpus'?" },
	{ "[replication]\nepoch = 20\n",
	  "unknown key 'epoch' in section [replication]: did you mean 'epoch_ms'?" },
	{ "[heartbeat]\nfence_delay = 10\n",
	  "unknown key 'fence_delay' in section [heartbeat]: did you mean 'fence_delay_ms'?" },
	{ "[daemon]\nloglevel = debug\n",
	  "unknown key 'loglevel' in section [daemon]: did you mean 'log_level'?" },
	/* a swap of neighbours is one edit (OSA), not two: close even in 'mac' */
	{ "[vm]\namc = 52:54:00:12:34:56\n", "unknown key 'amc' in section [vm]: did you mean 'mac'?" },
	/* the key exists, in another section */
	{ "[failover]\nnodes = 3\n",
	  "unknown key 'nodes' in section [failover]: did you mean '[heartbeat] nodes'?" },
	{ "[vm]\nbridge = br0\n", "unknown key 'bridge' in section [vm]: did you mean '[net] bridge'?" },
	{ "[vmm]\nmemory = 1G\n", "unknown key 'memory' in section [vmm]: did you mean '[vm] memory'?" },
	{ "[replication]\nrun_dri = /tmp\n",
	  "unknown key 'run_dri' in section [replication]: did you mean '[daemon] run_dir'?" },
	/* 'tac' is one edit from [vm] mac and from [net] tap: its own section wins
	 * the tie; from a third section, the first in the table */
	{ "[vm]\ntac = x\n", "unknown key 'tac' in section [vm]: did you mean 'mac'?" },
	{ "[net]\ntac = x\n", "unknown key 'tac' in section [net]: did you mean 'tap'?" },
	{ "[replication]\ntac = x\n",
	  "unknown key 'tac' in section [replication]: did you mean '[vm] mac'?" },
	/* nothing close: no guess */
	{ "[vm]\nram = 1G\n", "unknown key 'ram' in section [vm]" },
	{ "[vm]\ncolour = red\n", "unknown key 'colour' in section [vm]" },
	{ "[replication]\ntimeout = 5\n", "unknown key 'timeout' in section [replication]" },
	{ "[vm]\nan_unknown_key_longer_than_any_known_one_by_far = 1\n",
	  "unknown key 'an_unknown_key_longer_than_any_known_one_by_far' in section [vm]" },
};

static void unknown_key_suggestions(void **state)
{
	char want[512];
	struct us_config c;
	size_t i;

	for (i = 0; i < sizeof(typos) / sizeof(typos[0]); i++) {
		write_conf(typos[i].text);
		us_config_defaults(&c);
		us_logcap_clear();
		assert_int_equal(us_config_load(&c, path), -EINVAL);
		snprintf(want, sizeof(want), "%s: %s\n", path, typos[i].said);
		assert_string_equal(us_logcap_text(), want);
		cleanup(NULL);
	}
}

/* The commented example installed with the documentation loads as it is. */
static void shipped_example(void **state)
{
	const char *top = getenv("top_srcdir");
	char file[4096];
	struct us_config c;

	if (!top)
		skip();		/* run by hand: make check sets top_srcdir */
	snprintf(file, sizeof(file), "%s/dist/web.conf.example", top);
	us_config_defaults(&c);
	us_logcap_clear();
	if (us_config_load(&c, file) != 0)
		fail_msg("%s refused:\n%s", file, us_logcap_text());
	assert_string_equal(c.vm.name, "web");
	assert_int_equal(us_config_check(&c, "standby"), 0);
}

static void check_node_name(void **state)
{
	struct us_config c;

	us_config_defaults(&c);
	strcpy(c.vm.kernel, "/k");
	strcpy(c.peer, "10.0.0.2:7300");
	c.node[0] = '\0';
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "set [heartbeat] node"));
	assert_int_equal(us_config_check(&c, "primary"), -EINVAL);
	c.membership = 0;	/* no cluster, no name needed */
	assert_int_equal(us_config_check(&c, "standby"), 0);
	assert_int_equal(us_config_check(&c, "primary"), 0);
	c.membership = 1;
	strcpy(c.node, "host-a");
	assert_int_equal(us_config_check(&c, "standby"), 0);
}

/* Two nodes without fencing: the standby is told it will not promote by
 * itself, or that the override allows split brain; the check still passes. */
static void check_two_node_notice(void **state)
{
	struct us_config c;

	us_config_defaults(&c);
	strcpy(c.vm.kernel, "/k");
	strcpy(c.node, "host-b");
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), 0);
	assert_non_null(strstr(us_logcap_text(), "automatic promotion is refused"));
	c.allow_unfenced = 1;
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), 0);
	assert_non_null(strstr(us_logcap_text(), "split brain"));
	strcpy(c.fence_command, "fence_x");
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), 0);
	assert_null(strstr(us_logcap_text(), "fence_command"));
}

/* [failover] promote = pacemaker: the daemon leaves membership and fencing
 * to Pacemaker, and says so when a fence command is configured anyway. */
static void promote_pacemaker(void **state)
{
	struct us_config c;

	load_ok(&c, "[heartbeat]\nmembership = corosync\nnode = hA\nfence_command =\n"
		    "[failover]\npromote = pacemaker\n[vm]\nkernel = /k\n");
	assert_int_equal(c.promote_pacemaker, 1);
	assert_int_equal(c.promote_auto, 0);
	assert_int_equal(c.membership, 0);
	assert_int_equal(us_config_check(&c, "standby"), 0);
	strcpy(c.fence_command, "fence_x");
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "Pacemaker fences"));
	load_ok(&c, "[failover]\npromote = manual\n");
	assert_int_equal(c.promote_pacemaker, 0);
	assert_int_equal(c.promote_auto, 0);
	assert_int_equal(c.membership, 1);
}

/* [failover] decide = silence: only with membership, a fence command and a
 * daemon that promotes; each refusal names what is missing and the way out. */
static void decide_silence(void **state)
{
	struct us_config c;

	load_ok(&c, "[heartbeat]\nnode = hB\nfence_command = /f\n[failover]\ndecide = silence\n"
		    "[vm]\nkernel = /k\n");
	assert_int_equal(c.decide_silence, 1);
	assert_int_equal(c.silence_ms, US_SILENCE_MS_DEFAULT); /* the same in the fast mode */
	assert_int_equal(us_config_check(&c, "standby"), 0);
	assert_int_equal(us_config_check(&c, "primary"), -EINVAL); /* no peer: unrelated */
	c.fence_command[0] = '\0';
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "decide = silence cannot work with no "
				 "[heartbeat] fence_command"));
	assert_non_null(strstr(us_logcap_text(), "or use decide = membership"));
	strcpy(c.fence_command, "/f");
	c.membership = 0;
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "membership = none"));
	load_ok(&c, "[failover]\ndecide = silence\npromote = pacemaker\n[vm]\nkernel = /k\n");
	us_logcap_clear();
	assert_int_equal(us_config_check(&c, "standby"), -EINVAL);
	assert_non_null(strstr(us_logcap_text(), "promote = pacemaker"));
	load_ok(&c, "[heartbeat]\nsilence_ms = 350\n[failover]\ndecide = silence\n");
	assert_int_equal(c.silence_ms, 350); /* set: kept */
	load_ok(&c, "[failover]\ndecide = membership\n");
	assert_int_equal(c.decide_silence, 0);
	assert_int_equal(c.silence_ms, US_SILENCE_MS_DEFAULT);
	expect_refused("[failover]\ndecide = fast\n",
		       "[failover] decide = 'fast' is not valid: expected membership or silence");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults), cmocka_unit_test_teardown(full_file, cleanup),
		cmocka_unit_test(bad_inputs), cmocka_unit_test_teardown(epoch_auto, cleanup),
		cmocka_unit_test(primary_needs_peer),
		cmocka_unit_test(sizes), cmocka_unit_test(heartbeat_defaults),
		cmocka_unit_test_teardown(hosts_either_role, cleanup), cmocka_unit_test(hosts_bad),
		cmocka_unit_test_teardown(heartbeat_good, cleanup),
		cmocka_unit_test_teardown(heartbeat_bad, cleanup),
		cmocka_unit_test(check_node_name), cmocka_unit_test(check_two_node_notice),
		cmocka_unit_test_teardown(unknown_key_suggestions, cleanup),
		cmocka_unit_test(shipped_example), cmocka_unit_test_teardown(promote_pacemaker, cleanup),
		cmocka_unit_test_teardown(decide_silence, cleanup),
	};
	int rc;

	us_log_init("test_config", LOG_CRIT, 0);
	if (us_logcap_start() < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	us_logcap_stop();
	return rc;
}
