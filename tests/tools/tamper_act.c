/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tampering proxy's actions on the messages it carries: every whole
 * message passes here once, is recorded when a recording is armed, and is
 * flipped, dropped or replaced when a rule armed by a control command
 * matches it; and the messages it makes up itself: injected, replayed from
 * an earlier session, forged. Every action is logged with the message's
 * type and epoch, so a test can look for the peers' refusal of that very
 * message.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "replicator/proto.h"
#include "tests/tools/tamper_int.h"

static void set_last(struct tp_proxy *p, const char *what, const struct tf_frame *f)
{
	snprintf(p->st.last, sizeof(p->st.last), "%s:%s:%lu", what, tf_type_name(f->type),
		 (unsigned long)f->epoch);
}

/* ---- recording ---- */

static void keep_handshake(struct tp_session *s, const struct tp_unit *u)
{
	if (s->hs_done)
		return;
	if (tf_kind(u->f.type) != TF_HANDSHAKE) {
		s->hs_done = 1;
		return;
	}
	if (s->hs.count < TP_MAX_HS)
		tp_list_push(&s->hs, tp_unit_copy(u));
}

static void capture_epoch(struct tp_proxy *p, struct tp_session *s, const struct tp_unit *u)
{
	struct tp_rec *r = &p->rec;
	enum tf_kind k = tf_kind(u->f.type);

	if (r->state == REC_WAIT && k == TF_EPOCH_END) {
		r->state = REC_CAPTURE; /* the next epoch starts after this one */
		return;
	}
	if (r->state != REC_CAPTURE || (k != TF_EPOCH_DATA && k != TF_EPOCH_END))
		return;
	if (r->epoch.bytes + u->len > TP_REC_MAX) {
		tp_log("record: epoch %lu is over %u bytes: waiting for a smaller one",
		       (unsigned long)u->f.epoch, TP_REC_MAX);
		tp_list_clear(&r->epoch);
		r->state = REC_WAIT;
		return;
	}
	tp_list_push(&r->epoch, tp_unit_copy(u));
	if (k != TF_EPOCH_END)
		return;
	r->state = REC_DONE;
	r->epoch_no = u->f.epoch;
	r->epoch_session = s->id;
	tp_log("record: epoch %lu of session %d kept (%u messages, %zu bytes)",
	       (unsigned long)r->epoch_no, s->id, r->epoch.count, r->epoch.bytes);
}

/* ---- rules on passing messages ---- */

static int drop(struct tp_proxy *p, struct tp_session *s, int dir, struct tp_unit *u)
{
	struct tp_rules *r = &p->rules;

	if (!r->drop_type || r->drop_type != u->f.type)
		return 0;
	tp_log("session %d: DROPPED %s of epoch %lu (%s)%s", s->id, tf_type_name(u->f.type),
	       (unsigned long)u->f.epoch, tp_dir_name(dir), u->main_off ? " with its tag" : "");
	p->st.dropped++;
	set_last(p, "drop", &u->f);
	if (!r->drop_all && --r->drop_n == 0)
		r->drop_type = 0;
	free(u);
	return 1;
}

static void flip(struct tp_proxy *p, struct tp_session *s, int dir, struct tp_unit *u)
{
	struct tp_rules *r = &p->rules;
	size_t at;

	if (!r->flip_type || r->flip_type != u->f.type || --r->flip_n > 0)
		return;
	r->flip_type = 0;
	at = u->main_off + tf_flip_offset(&u->f);
	if (at >= u->len)
		at = u->len - 1;
	u->data[at] ^= 0x01;
	tp_log("session %d: FLIPPED a bit of byte %zu of %s of epoch %lu (%u body bytes, %s)",
	       s->id, at - u->main_off, tf_type_name(u->f.type), (unsigned long)u->f.epoch,
	       u->f.body_len, tp_dir_name(dir));
	p->st.flipped++;
	set_last(p, "flip", &u->f);
}

/* The standby's real ACK goes no further: the primary gets one made up in
 * its place, with a made-up tag (or, unauthenticated, one for the newest
 * epoch sent). */
static int forge_ack(struct tp_proxy *p, struct tp_session *s, int dir, struct tp_unit *u)
{
	struct tp_unit *f;
	uint64_t epoch;

	if (!p->rules.forge_ack || dir != TP_S2P || u->f.type != US_MSG_ACK)
		return 0;
	p->rules.forge_ack = 0;
	f = tp_unit_copy(u);
	epoch = tf_tagged(u->data + u->main_off) ? u->f.epoch : s->last_end;
	f->len = f->main_off + tf_forge(f->data + f->main_off, US_MSG_ACK, u->f.vm_id, epoch);
	f->f.epoch = epoch;
	tp_log("session %d: FORGED ACK of epoch %lu sent to the primary in place of the "
	       "standby's own (withheld)",
	       s->id, (unsigned long)f->f.epoch);
	p->st.forged++;
	set_last(p, "forge", &f->f);
	free(u);
	tp_send(p, s, 0, f);
	return 1;
}

/* replay-hello's session: what the standby answers is logged, not passed
 * on; each answer lets the next recorded handshake message go. */
static void replay_answer(struct tp_proxy *p, struct tp_session *s, struct tp_unit *u)
{
	char *seen = p->st.replay_answers;
	size_t n = strlen(seen);

	tp_log("replay-hello: the standby answered %s", tf_type_name(u->f.type));
	snprintf(seen + n, sizeof(p->st.replay_answers) - n, "%s%s", n ? "," : "",
		 tf_type_name(u->f.type));
	free(u);
	if (s->replay_next < p->rec.hello.count) {
		struct tp_unit *r = p->rec.hello.head;
		unsigned i;

		for (i = 0; i < s->replay_next; i++)
			r = r->next;
		s->replay_next++;
		tp_log("replay-hello: sending the recorded %s", tf_type_name(r->f.type));
		tp_send(p, s, 1, tp_unit_copy(r));
	}
}

void tp_act_unit(struct tp_proxy *p, struct tp_session *s, int dir, struct tp_unit *u)
{
	p->st.units[dir]++;
	if (s->replay && dir == TP_S2P) {
		replay_answer(p, s, u);
		return;
	}
	if (dir == TP_P2S) {
		s->vm_id = u->f.vm_id;
		keep_handshake(s, u);
		capture_epoch(p, s, u);
		if (u->f.type == US_MSG_EPOCH_END)
			s->last_end = u->f.epoch;
	}
	if (drop(p, s, dir, u) || forge_ack(p, s, dir, u))
		return;
	flip(p, s, dir, u);
	tp_send(p, s, dir == TP_P2S ? 1 : 0, u);
}

/* ---- messages made up here ---- */

int tp_act_inject(struct tp_proxy *p, uint16_t type, char *msg, size_t len)
{
	struct tp_session *s = tp_live(p);
	int to = tf_from_standby(type) ? 0 : 1, dir = to ? TP_P2S : TP_S2P;
	uint64_t epoch;
	unsigned char *buf;
	size_t n = 0, main_off = 0;

	if (!s) {
		snprintf(msg, len, "no session with both peers connected: nothing to inject into");
		return -ENOTCONN;
	}
	epoch = tf_kind(type) == TF_EPOCH_DATA ? s->last_end + 1 : s->last_end;
	buf = malloc(2 * (tf_hdr_size() + tf_max_body()));
	if (!buf)
		return -ENOMEM;
	n += tf_forge(buf + n, type, s->vm_id, epoch);
	struct tp_unit *u = tp_unit_new(buf, n, main_off);
	free(buf);
	if (!u)
		return -ENOMEM;
	tf_hdr_parse(u->data + main_off, &u->f, msg, len);
	tp_log("session %d: INJECTED %s of epoch %lu (%s%s)", s->id, tf_type_name(type),
	       (unsigned long)epoch, tp_dir_name(dir), main_off ? ", with a made-up tag" : "");
	p->st.injected++;
	set_last(p, "inject", &u->f);
	snprintf(msg, len, "injected %s of epoch %lu %s", tf_type_name(type), (unsigned long)epoch,
		 tp_dir_name(dir));
	tp_send(p, s, to, u);
	return 0;
}

int tp_act_replay_epoch(struct tp_proxy *p, char *msg, size_t len)
{
	struct tp_session *s = tp_live(p);
	struct tp_unit *u;

	if (p->rec.state != REC_DONE) {
		snprintf(msg, len, "no epoch recorded: run record first, and wait for an epoch");
		return -ENOENT;
	}
	if (!s) {
		snprintf(msg, len, "no session with both peers connected: nothing to replay into");
		return -ENOTCONN;
	}
	for (u = p->rec.epoch.head; u; u = u->next)
		tp_send(p, s, 1, tp_unit_copy(u));
	tp_log("session %d: REPLAYED epoch %lu recorded in session %d (%u messages, %zu bytes)",
	       s->id, (unsigned long)p->rec.epoch_no, p->rec.epoch_session, p->rec.epoch.count,
	       p->rec.epoch.bytes);
	p->st.replayed_epochs++;
	snprintf(p->st.last, sizeof(p->st.last), "replay-epoch:EPOCH_END:%lu",
		 (unsigned long)p->rec.epoch_no);
	snprintf(msg, len, "replayed epoch %lu of session %d into session %d",
		 (unsigned long)p->rec.epoch_no, p->rec.epoch_session, s->id);
	return 0;
}

int tp_act_record(struct tp_proxy *p, char *msg, size_t len)
{
	struct tp_session *s = tp_live(p);
	struct tp_unit *u;

	if (!s || !s->hs.count) {
		snprintf(msg, len,
			 "no session whose handshake this proxy saw: record once a "
			 "primary has connected through it");
		return -ENOTCONN;
	}
	tp_list_clear(&p->rec.hello);
	for (u = s->hs.head; u; u = u->next)
		tp_list_push(&p->rec.hello, tp_unit_copy(u));
	p->rec.hello_session = s->id;
	tp_list_clear(&p->rec.epoch);
	p->rec.state = REC_WAIT;
	tp_log("record: the handshake of session %d kept (%u messages); capturing its next "
	       "whole epoch",
	       s->id, p->rec.hello.count);
	snprintf(msg, len, "recording session %d: handshake kept, capturing the next epoch", s->id);
	return 0;
}
