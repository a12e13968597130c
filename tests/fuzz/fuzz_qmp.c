/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness of the QMP client's reading side (replicator/qmp.c):
 * the input is what QEMU writes on the QMP socket, fed through
 * us_qmp_feed in chunks of a size the first byte chooses, to a client with
 * commands in flight and event listeners of every kind the daemon has: one
 * for all events, one that reads a MIGRATION event's status as
 * replicator/devstate.c does, one that removes itself, and a RESET that
 * frees the client from inside its own callback. Checks that every command's
 * callback runs exactly once (a reply, an error or the close), and that
 * nothing is dispatched after the connection closed.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "replicator/qmp_int.h"
#include "tests/fuzz/fuzz.h"

#define NCMDS 4

struct fz {
	struct us_qmp *q;
	int replies[NCMDS + 1]; /* callbacks run, per command (the last: sent from a reply) */
	int closed;
	int freed;
	int sent_more;
};

struct cmd {
	struct fz *f;
	int n;
};

static struct cmd cmds[NCMDS + 1];

static void on_reply(void *opaque, json_t *ret, const char *err)
{
	struct cmd *c = opaque;
	const char *status;

	c->f->replies[c->n]++;
	us_fuzz_assert("a reply is a return or an error", (ret == NULL) != (err == NULL));
	if (err)
		us_fuzz_assert("a QMP error says something", strlen(err) > 0);
	status = json_string_value(json_object_get(ret, "status"));
	if (status)
		(void)strcmp(status, "running");
	/* a command sent from a reply's callback, as devstate.c chains them */
	if (c->n == 1 && ret && !c->f->sent_more) {
		c->f->sent_more = 1;
		us_fuzz_assert("a command sent from a callback is queued",
			       us_qmp_send(c->f->q, "cont", NULL, on_reply, &cmds[NCMDS]) == 0);
	}
}

static void on_any(void *opaque, const char *event, json_t *data)
{
	struct fz *f = opaque;

	us_fuzz_assert("no event after the close", !f->closed && !f->freed);
	us_fuzz_assert("an event has a name", event != NULL);
	if (strcmp(event, "RESET") == 0) {
		f->freed = 1;
		us_qmp_free(f->q); /* from inside the dispatch: freed once it unwinds */
	}
}

static void on_migration(void *opaque, const char *event, json_t *data)
{
	const char *status = json_string_value(json_object_get(data, "status"));

	if (status && strcmp(status, "completed") == 0)
		(void)json_object_size(data);
}

static void on_stop_once(void *opaque, const char *event, json_t *data)
{
	struct fz *f = opaque;

	us_qmp_off_event(f->q, on_stop_once, opaque);
}

static void on_closed(void *opaque)
{
	struct fz *f = opaque;

	us_fuzz_assert("the close is reported once", !f->closed);
	f->closed = 1;
}

static struct us_qmp *client(struct fz *f)
{
	struct us_qmp *q = calloc(1, sizeof(*q));
	int i;

	us_fuzz_assert("calloc", q != NULL);
	q->fd = -1; /* nothing to write to: commands are queued and dropped */
	us_qmp_on_closed(q, on_closed, f);
	us_fuzz_assert("listeners added",
		       us_qmp_on_event(q, "*", on_any, f) == 0 &&
			       us_qmp_on_event(q, "MIGRATION", on_migration, f) == 0 &&
			       us_qmp_on_event(q, "STOP", on_stop_once, f) == 0);
	f->q = q;
	for (i = 0; i < NCMDS; i++) {
		cmds[i] = (struct cmd){ f, i };
		us_fuzz_assert("a command is queued",
			       us_qmp_send(q, "query-status", NULL, on_reply, &cmds[i]) == 0);
	}
	cmds[NCMDS] = (struct cmd){ f, NCMDS };
	return q;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	us_fuzz_log_init("fuzz_qmp");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { 0 };
	size_t chunk, pos = 1, n;
	int i;

	if (size < 1)
		return 0;
	chunk = data[0] ? data[0] : size;
	client(&f);
	while (pos < size && !f.freed && !f.closed) {
		n = size - pos < chunk ? size - pos : chunk;
		us_qmp_feed(f.q, (const char *)data + pos, n);
		pos += n;
	}
	if (!f.freed)
		us_qmp_free(f.q);
	for (i = 0; i < NCMDS; i++)
		us_fuzz_assert("every command's callback runs exactly once", f.replies[i] == 1);
	us_fuzz_assert("so does the one sent from a callback", f.replies[NCMDS] == f.sent_more);
	return 0;
}
