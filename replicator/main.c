/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `understudy` command: runs a daemon (primary or standby), checks a host
 * before it runs one (check), or talks to one over the control channel
 * (status, promote, degrade, pause, resume).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check/check.h"
#include "check/daemon.h"
#include "replicator/imgcmd.h"
#include "replicator/key.h"
#include "replicator/config.h"
#include "replicator/ctl.h"
#include "replicator/log.h"
#include "replicator/primary.h"
#include "replicator/proto.h"
#include "replicator/role.h"

struct cli {
	const char *cmd;
	const char *config;
	const char *vm;
	const char *peer;
	const char *listen;
	const char *run_dir;
	const char *promote;
	const char *stats;
	const char *role;
	const char *versus;
	int json;
	int host_only;
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: understudy COMMAND [options]\n"
		"\n"
		"daemons:\n"
		"  primary -c FILE [--peer HOST:PORT] [--run-dir DIR] [--stats CSV]\n"
		"                    run the VM and replicate it to the standby\n"
		"  standby -c FILE [--listen HOST:PORT] [--run-dir DIR] [--promote auto|manual]\n"
		"                    hold a replica and take over when the primary is lost\n"
		"                    (either daemon changes role as the VM moves: see man 8)\n"
		"preflight:\n"
		"  check [-c FILE] [--host] [--role primary|standby] [--json]\n"
		"                    PASS/WARN/FAIL per check, with the fix; exit 1 on any FAIL\n"
		"                    (--host: only the checks a daemon's start depends on)\n"
		"control (talks to the daemon of --vm NAME, or of the VM in -c FILE):\n"
		"  status [--json]   role, state, epochs, acknowledgements, lag\n"
		"  promote           make this standby run the VM now (primary must be gone)\n"
		"  pause             hold the guest stopped at an acknowledged epoch\n"
		"  resume            continue after pause\n"
		"  degrade           primary that lost its standby: release output unprotected now\n"
		"                    (only once you know the standby is off)\n"
		"  reprotect         VM running unprotected here: find a standby and sync it\n"
		"                    (what [failover] reprotect = auto does by itself)\n"
		"  switchover        move the VM to its standby at an epoch boundary, no resync;\n"
		"                    this host becomes the standby (run on either host)\n"
		"  suspend-protection  run unprotected for a while, output released, changes\n"
		"                    still tracked (the standby cannot be promoted meanwhile)\n"
		"  resume-protection   send only what changed and protect again\n"
		"  demote            Pacemaker's demote: stop the guest at an acknowledged epoch\n"
		"                    and wait; the standby's promote resumes it there\n"
		"  keygen FILE       write a new key for [replication] key_file (mode 0600);\n"
		"                    copy it to both hosts\n"
		"  image-state -c FILE [--versus TOKEN]\n"
		"                    this host's image: how fresh it is (no daemon needed);\n"
		"                    with --versus, fresher/older/tie against another host's\n"
		"  version           same as --version\n"
		"\n"
		"options: -v more logging, -h/--help this text, --version the version.\n"
		"Every command and config key: man 8 understudy.\n"
		"Report bugs to the project's issue tracker.\n");
}

static int parse_cli(int argc, char **argv, struct cli *c)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "vm", required_argument, NULL, 'n' },
		{ "peer", required_argument, NULL, 'p' }, { "listen", required_argument, NULL, 'l' },
		{ "run-dir", required_argument, NULL, 'r' }, { "promote", required_argument, NULL, 'P' },
		{ "stats", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ "host", no_argument, NULL, 'H' }, { "role", required_argument, NULL, 'R' },
		{ "versus", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	if (argc < 2)
		return -EINVAL;
	c->cmd = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "c:n:p:l:r:P:s:jvh", opts, NULL)) != -1) {
		switch (o) {
		case 'c': c->config = optarg; break;
		case 'n': c->vm = optarg; break;
		case 'p': c->peer = optarg; break;
		case 'l': c->listen = optarg; break;
		case 'r': c->run_dir = optarg; break;
		case 'P': c->promote = optarg; break;
		case 's': c->stats = optarg; break;
		case 'j': c->json = 1; break;
		case 'H': c->host_only = 1; break;
		case 'R': c->role = optarg; break;
		case 'V': c->versus = optarg; break;
		case 'v': c->verbose++; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

static int apply_overrides(struct us_config *cfg, const struct cli *c)
{
	if (c->peer)
		snprintf(cfg->peer, sizeof(cfg->peer), "%s", c->peer);
	if (c->listen)
		snprintf(cfg->listen, sizeof(cfg->listen), "%s", c->listen);
	if (c->run_dir)
		snprintf(cfg->vm.run_dir, sizeof(cfg->vm.run_dir), "%s", c->run_dir);
	if (c->promote && strcmp(c->promote, "auto") && strcmp(c->promote, "manual")) {
		fprintf(stderr, "understudy: --promote takes auto or manual\n");
		return -EINVAL;
	}
	if (c->promote)
		cfg->promote_auto = strcmp(c->promote, "auto") == 0;
	if (c->verbose)
		cfg->log_level = LOG_DEBUG;
	return 0;
}

static int load_config(struct us_config *cfg, const struct cli *c)
{
	us_config_defaults(cfg);
	if (c->config && us_config_load(cfg, c->config) < 0)
		return -EINVAL;
	return apply_overrides(cfg, c);
}

static int run_daemon(const struct cli *c)
{
	struct us_primary_opts po = { .stats_path = c->stats };
	struct us_config cfg;
	int rc;

	if (geteuid() != 0) {
		fprintf(stderr, "understudy: the daemons need root (ptrace of QEMU, /dev/shm, "
			"network set-up): run as root\n");
		return 1;
	}
	us_log_init("understudy", LOG_INFO, 1);
	signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error, not our end */
	if (load_config(&cfg, c) < 0 || us_config_check(&cfg, c->cmd) < 0 ||
	    us_check_daemon_start(&cfg, c->cmd) < 0) {
		us_log_fini();
		return 1;
	}
	us_log_set_level(cfg.log_level);
	rc = us_role_run(&cfg, strcmp(c->cmd, "primary") == 0 ? US_ROLE_PRIMARY : US_ROLE_STANDBY,
			 &po);
	us_log(rc ? LOG_ERR : LOG_NOTICE, US_TAG_MAIN, "daemon for VM '%s' stopped%s%s",
	       cfg.vm.name, rc ? ": " : "", rc ? strerror(-rc) : "");
	us_log_fini();
	return rc ? 1 : 0;
}

static int run_check(const struct cli *c)
{
	struct us_check_report r = { 0 };
	struct us_config cfg;
	json_t *j;
	char *text;

	if (c->role && strcmp(c->role, "primary") && strcmp(c->role, "standby")) {
		fprintf(stderr, "understudy: --role takes primary or standby\n");
		return 2;
	}
	us_log_init("understudy", LOG_WARNING, 0);
	if (load_config(&cfg, c) < 0) {
		us_log_fini();
		return 2;
	}
	us_check_host(&cfg, c->role, us_check_sys_real(), &r);
	if (!c->host_only)
		us_check_cluster(&cfg, c->role, 0, us_check_sys_real(), &r);
	us_log_fini();
	if (c->json) {
		j = us_check_json(&r);
		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(j);
	} else {
		us_check_print(&r, stdout);
	}
	return us_check_worst(&r) == US_CHECK_FAIL ? 1 : 0;
}

static void print_value(const char *key, json_t *v);

/* "members": [{name, role, epoch}, ...] as one line. */
static void print_members(const char *key, json_t *list)
{
	size_t i;
	json_t *m;

	printf("%-22s", key);
	json_array_foreach(list, i, m)
		printf(" %s(%s, epoch %lld)", json_string_value(json_object_get(m, "name")),
		       json_string_value(json_object_get(m, "role")),
		       (long long)json_integer_value(json_object_get(m, "epoch")));
	printf("%s\n", json_array_size(list) ? "" : " none");
}

static void print_object(const char *prefix, json_t *obj)
{
	const char *key;
	char name[64];
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (strcmp(key, "ok") == 0)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", key);
		print_value(name, v);
	}
}

static void print_value(const char *key, json_t *v)
{
	if (json_is_string(v))
		printf("%-22s %s\n", key, *json_string_value(v) ? json_string_value(v) : "-");
	else if (json_is_integer(v))
		printf("%-22s %lld\n", key, (long long)json_integer_value(v));
	else if (json_is_real(v))
		printf("%-22s %.1f\n", key, json_real_value(v));
	else if (json_is_boolean(v))
		printf("%-22s %s\n", key, json_is_true(v) ? "yes" : "no");
	else if (json_is_object(v))
		print_object(key, v);
	else if (json_is_array(v))
		print_members(key, v);
}

static void print_status(json_t *reply)
{
	print_object("", reply);
}

static int run_control(const struct cli *c)
{
	struct us_config cfg;
	json_t *reply = NULL;
	const char *vm;
	int rc;

	us_log_init("understudy", LOG_WARNING, 0);
	if (load_config(&cfg, c) < 0) {
		us_log_fini();
		return 1;
	}
	vm = c->vm ? c->vm : cfg.vm.name;
	rc = us_ctl_call(vm, c->cmd, NULL, &reply,
			 strcmp(c->cmd, "status") == 0 ? 10000 : 30000);
	us_log_fini();
	if (rc == -ENOENT) {
		fprintf(stderr, "understudy: no daemon for VM '%s' runs in this network namespace "
			"(start one with `understudy primary|standby`, or name the VM with --vm)\n", vm);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "understudy: %s to the daemon of VM '%s' failed: %s\n", c->cmd, vm,
			strerror(-rc));
		return 1;
	}
	if (c->json) {
		char *text = json_dumps(reply, JSON_COMPACT);

		printf("%s\n", text ? text : "{}");
		free(text);
	} else if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "understudy: %s refused: %s\n", c->cmd,
			json_string_value(json_object_get(reply, "error")));
	} else {
		print_status(reply);
	}
	rc = json_is_true(json_object_get(reply, "ok")) ? 0 : 1;
	json_decref(reply);
	return rc;
}

static int run_image_state(const struct cli *c)
{
	struct us_config cfg;
	int rc;

	us_log_init("understudy", LOG_WARNING, 0);
	rc = load_config(&cfg, c);
	us_log_fini();
	if (rc < 0)
		return 1;
	return us_imgcmd_run(cfg.vm.disk, c->versus);
}

static int run_keygen(int argc, char **argv)
{
	char why[512];

	if (argc != 3 || argv[2][0] == '-') {
		fprintf(stderr, "usage: understudy keygen FILE\n");
		return 2;
	}
	if (us_key_generate(argv[2], why, sizeof(why)) < 0) {
		fprintf(stderr, "understudy: keygen: %s\n", why);
		return 1;
	}
	printf("wrote a new key to %s (mode 0600): copy it to the other host and set "
	       "[replication] key_file = %s on both\n",
	       argv[2], argv[2]);
	return 0;
}

/* GNU form: name and version, then copyright and licence. */
static int print_version(void)
{
	printf("understudy %s\n"
	       "replication protocol %u\n"
	       "Copyright (C) 2026 the understudy authors.\n"
	       "License LGPL-2.1-or-later: GNU LGPL version 2.1 or later.\n"
	       "This is free software: you are free to change and redistribute it.\n"
	       "There is NO WARRANTY, to the extent permitted by law.\n",
	       PACKAGE_VERSION, US_PROTO_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const controls[] = { "status", "promote", "pause", "resume",
						"degrade", "reprotect", "switchover",
						"suspend-protection", "resume-protection", "demote" };
	struct cli c = { 0 };
	size_t i;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")))
		return print_version();
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return run_keygen(argc, argv);
	if (parse_cli(argc, argv, &c) < 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(c.cmd, "version") == 0)
		return print_version();
	if (strcmp(c.cmd, "check") == 0)
		return run_check(&c);
	if (strcmp(c.cmd, "primary") == 0 || strcmp(c.cmd, "standby") == 0)
		return run_daemon(&c);
	if (strcmp(c.cmd, "image-state") == 0)
		return run_image_state(&c);
	for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
		if (strcmp(c.cmd, controls[i]) == 0)
			return run_control(&c);
	fprintf(stderr, "understudy: unknown command '%s'\n", c.cmd);
	usage(stderr);
	return 2;
}
