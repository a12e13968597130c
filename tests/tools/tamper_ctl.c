/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tampering proxy's control commands (the protocol is in tamperproxy.c's
 * top comment): one table, one handler each; every handler answers one line
 * and logs what it armed or did.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replicator/proto.h"
#include "tests/tools/tamper_int.h"

struct cmd {
	const char *name;
	int min, max; /* arguments */
	int (*run)(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len);
	const char *usage;
};

static int parse_type(const char *name, uint16_t *type, char *msg, size_t len)
{
	*type = tf_type_by_name(name);
	if (*type && !tf_is_prefix(*type))
		return 0;
	if (*type)
		snprintf(msg, len, "%s travels with the message after it: name that message", name);
	else
		snprintf(msg, len,
			 "unknown message type '%s' (PAGES, DEVSTATE, EPOCH_END, ACK, ...)", name);
	return -EINVAL;
}

static int parse_count(const char *s, unsigned *n, char *msg, size_t len)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s && !*end && v <= 1000000) {
		*n = (unsigned)v;
		return 0;
	}
	snprintf(msg, len, "'%s' is not a count (0-1000000)", s);
	return -EINVAL;
}

static int cmd_pass(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	memset(&p->rules, 0, sizeof(p->rules));
	tp_log("pass: every rule off, messages pass unchanged");
	snprintf(msg, len, "passing");
	return 0;
}

static int cmd_flip(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	unsigned n = 1;

	if (parse_type(argv[1], &p->rules.flip_type, msg, len) < 0 ||
	    (argc > 2 && parse_count(argv[2], &n, msg, len) < 0))
		return -EINVAL;
	p->rules.flip_n = n ? n : 1;
	tp_log("flip: armed on the %s %s from now", argv[2] ? argv[2] : "next",
	       tf_type_name(p->rules.flip_type));
	snprintf(msg, len, "flip armed on %s number %u", tf_type_name(p->rules.flip_type),
		 p->rules.flip_n);
	return 0;
}

static int cmd_drop(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	unsigned n = 1;

	if (parse_type(argv[1], &p->rules.drop_type, msg, len) < 0 ||
	    (argc > 2 && parse_count(argv[2], &n, msg, len) < 0))
		return -EINVAL;
	p->rules.drop_n = n;
	p->rules.drop_all = n == 0;
	tp_log("drop: armed on %s %s", n ? argv[2] ? argv[2] : "the next" : "every",
	       tf_type_name(p->rules.drop_type));
	snprintf(msg, len, "dropping %s %s", n ? "the next" : "every",
		 tf_type_name(p->rules.drop_type));
	return 0;
}

static int cmd_delay(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	if (parse_count(argv[1], &p->rules.delay_ms, msg, len) < 0)
		return -EINVAL;
	tp_log("delay: every message held %u ms", p->rules.delay_ms);
	snprintf(msg, len, "delaying %u ms", p->rules.delay_ms);
	return 0;
}

static int cmd_block(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	p->rules.block = 1;
	tp_log("block: new connections are closed at once (open ones go on)");
	snprintf(msg, len, "blocking new connections");
	return 0;
}

static int cmd_forge(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	p->rules.forge_ack = 1;
	tp_log("forge-ack: the standby's next ACK will be replaced by a forged one");
	snprintf(msg, len, "forging the next ACK");
	return 0;
}

static int cmd_inject(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	uint16_t type;

	if (parse_type(argv[1], &type, msg, len) < 0)
		return -EINVAL;
	return tp_act_inject(p, type, msg, len);
}

static int cmd_record(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	return tp_act_record(p, msg, len);
}

static int cmd_replay_epoch(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	return tp_act_replay_epoch(p, msg, len);
}

static int cmd_replay_hello(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	int rc;

	if (!p->rec.hello.count) {
		snprintf(msg, len, "no HELLO recorded: run record while a primary is connected");
		return -ENOENT;
	}
	rc = tp_replay_open(p);
	if (rc < 0) {
		snprintf(msg, len, "cannot connect to the standby at %s: %s", p->connect_addr,
			 strerror(-rc));
		return rc;
	}
	snprintf(msg, len, "replaying the HELLO of session %d", p->rec.hello_session);
	return 0;
}

static int cmd_stats(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	const struct tp_stats *s = &p->st;
	const struct tp_session *live = tp_live(p);
	const char *answered = s->replay_answers;
	snprintf(msg, len,
		 "sessions=%lu live=%d blocked=%lu p2s=%lu s2p=%lu flipped=%lu dropped=%lu "
		 "injected=%lu forged=%lu replayed_epochs=%lu replayed_hellos=%lu "
		 "recorded_hello=%u recorded_epoch=%ld replay_answers=%s last=%s",
		 (unsigned long)s->sessions, live ? live->id : 0, (unsigned long)s->blocked,
		 (unsigned long)s->units[TP_P2S], (unsigned long)s->units[TP_S2P],
		 (unsigned long)s->flipped, (unsigned long)s->dropped, (unsigned long)s->injected,
		 (unsigned long)s->forged, (unsigned long)s->replayed_epochs,
		 (unsigned long)s->replayed_hellos, p->rec.hello.count,
		 p->rec.state == REC_DONE ? (long)p->rec.epoch_no : -1L, *answered ? answered : "-",
		 *s->last ? s->last : "-");
	return 0;
}

static int cmd_help(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len);

static const struct cmd cmds[] = {
	{ "pass", 0, 0, cmd_pass, "pass" },
	{ "flip", 1, 2, cmd_flip, "flip TYPE [N]" },
	{ "drop", 1, 2, cmd_drop, "drop TYPE [N|0]" },
	{ "delay", 1, 1, cmd_delay, "delay MS" },
	{ "block", 0, 0, cmd_block, "block" },
	{ "record", 0, 0, cmd_record, "record" },
	{ "replay-hello", 0, 0, cmd_replay_hello, "replay-hello" },
	{ "replay-epoch", 0, 0, cmd_replay_epoch, "replay-epoch" },
	{ "inject", 1, 1, cmd_inject, "inject TYPE" },
	{ "forge-ack", 0, 0, cmd_forge, "forge-ack" },
	{ "stats", 0, 0, cmd_stats, "stats" },
	{ "help", 0, 0, cmd_help, "help" },
};

static int cmd_help(struct tp_proxy *p, int argc, char **argv, char *msg, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && n < len; i++)
		n += (size_t)snprintf(msg + n, len - n, "%s%s",
				      i ? ", " : "commands: ", cmds[i].usage);
	return 0;
}

void tp_ctl_run(struct tp_proxy *p, char *line, char *out, size_t len)
{
	char *argv[8] = { 0 }, *save = NULL, msg[400] = "";
	int argc = 0;
	size_t i;

	for (char *w = strtok_r(line, " \t\r\n", &save); w && argc < 7;
	     w = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = w;
	if (!argc) {
		snprintf(out, len, "err empty command (try help)");
		return;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name) != 0)
			continue;
		if (argc - 1 < cmds[i].min || argc - 1 > cmds[i].max) {
			snprintf(out, len, "err usage: %s", cmds[i].usage);
			return;
		}
		if (cmds[i].run(p, argc, argv, msg, sizeof(msg)) < 0)
			snprintf(out, len, "err %s", msg);
		else
			snprintf(out, len, "ok %s", msg);
		return;
	}
	snprintf(out, len, "err unknown command '%s' (try help)", argv[0]);
}
