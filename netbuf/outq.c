/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Output-commit queue (see outq.h): a FIFO of copied frames, each tagged with
 * its epoch once the epoch is sealed at the checkpoint's "stop".
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netbuf/outq.h"

#define EPOCH_OPEN UINT64_MAX

struct frame {
	struct frame *next;
	uint64_t epoch;		/* EPOCH_OPEN until sealed */
	size_t len;
	unsigned char data[];
};

struct us_outq {
	struct frame *head, *tail;
	struct frame *first_open;	/* first frame not yet sealed, or NULL */
	uint64_t max_bytes, max_frames;
	struct us_outq_stats st;
};

struct us_outq *us_outq_new(uint64_t max_bytes, uint64_t max_frames)
{
	struct us_outq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->max_bytes = max_bytes;
	q->max_frames = max_frames;
	return q;
}

static struct frame *pop(struct us_outq *q)
{
	struct frame *f = q->head;

	q->head = f->next;
	if (!q->head)
		q->tail = NULL;
	if (q->first_open == f)
		q->first_open = q->head;
	q->st.queued_frames--;
	q->st.queued_bytes -= f->len;
	return f;
}

void us_outq_free(struct us_outq *q)
{
	if (!q)
		return;
	while (q->head)
		free(pop(q));
	free(q);
}

int us_outq_room(const struct us_outq *q, size_t len)
{
	return q->st.queued_frames < q->max_frames && q->st.queued_bytes + len <= q->max_bytes;
}

int us_outq_push(struct us_outq *q, const void *data, size_t len)
{
	struct frame *f;

	if (!us_outq_room(q, len))
		return -ENOBUFS;
	f = malloc(sizeof(*f) + len);
	if (!f)
		return -ENOMEM;
	f->next = NULL;
	f->epoch = EPOCH_OPEN;
	f->len = len;
	memcpy(f->data, data, len);
	if (q->tail)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	if (!q->first_open)
		q->first_open = f;
	q->st.queued_frames++;
	q->st.queued_bytes += len;
	return 0;
}

void us_outq_seal(struct us_outq *q, uint64_t epoch)
{
	struct frame *f;

	for (f = q->first_open; f; f = f->next)
		f->epoch = epoch;
	q->first_open = NULL;
}

static void emit_one(struct us_outq *q, us_outq_emit_fn emit, void *opaque)
{
	struct frame *f = pop(q);

	emit(opaque, f->data, f->len);
	q->st.released_frames++;
	q->st.released_bytes += f->len;
	free(f);
}

size_t us_outq_release(struct us_outq *q, uint64_t epoch, us_outq_emit_fn emit, void *opaque)
{
	size_t n = 0;

	while (q->head && q->head->epoch != EPOCH_OPEN && q->head->epoch <= epoch) {
		emit_one(q, emit, opaque);
		n++;
	}
	return n;
}

size_t us_outq_flush(struct us_outq *q, us_outq_emit_fn emit, void *opaque)
{
	size_t n = 0;

	for (; q->head; n++)
		emit_one(q, emit, opaque);
	return n;
}

void us_outq_stats(const struct us_outq *q, struct us_outq_stats *st)
{
	*st = q->st;
}
