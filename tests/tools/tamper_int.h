/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tampering proxy's state, shared by its I/O loop (tamperproxy.c), its
 * actions on messages (tamper_act.c) and its control commands
 * (tamper_ctl.c). A message ("unit") is what the peers act on: one frame,
 * with the frames that belong to it before it (its TAG).
 */
#ifndef US_TAMPER_INT_H
#define US_TAMPER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tests/tools/tamper_frame.h"

#define TP_MAX_SESSIONS 4
#define TP_MAX_CTL 4
#define TP_MAX_HS 4		  /* handshake units kept per session */
#define TP_REC_MAX (32u << 20)	  /* bytes of one recorded epoch */
#define TP_QUEUE_HIGH (16u << 20) /* stop reading a side while the other owes this */

enum { TP_P2S = 0, TP_S2P = 1 }; /* directions: primary -> standby, and back */

struct tp_unit {
	struct tp_unit *next;
	uint64_t due_ms;   /* sent no earlier (delay) */
	size_t len, off;   /* bytes, bytes written so far */
	size_t main_off;   /* where the message proper starts, after its prefix */
	struct tf_frame f; /* the message proper */
	unsigned char data[];
};

struct tp_list {
	struct tp_unit *head, *tail;
	size_t bytes;
	unsigned count;
};

struct tp_side {
	int fd;		   /* -1 when closed (or a replay's primary) */
	unsigned char *rx; /* bytes read, not yet a whole unit */
	size_t rx_len;
	size_t prefix_len;     /* bytes of rx that are a prefix awaiting its message */
	int raw;	       /* the framing was lost: bytes pass as they come */
	int closing;	       /* the other side is gone: close once out is written */
	uint64_t linger_until; /* finished (FIN sent): read and dropped until then */
	struct tp_list out;    /* units to write to this side */
	uint64_t units;	       /* units read from this side */
};

struct tp_session {
	int used, id;
	int replay;		/* the primary side is replay-hello's recording */
	unsigned replay_next;	/* next recorded handshake unit to send */
	struct tp_side side[2]; /* [0] the primary (accepted), [1] the standby */
	uint64_t vm_id;
	uint64_t last_end; /* epoch of the last EPOCH_END to the standby */
	struct tp_list hs; /* the primary's handshake units, as sent */
	int hs_done;
};

/* What the control commands arm; each fires on the next matching message. */
struct tp_rules {
	uint16_t flip_type, drop_type;
	unsigned flip_n, drop_n; /* flip the Nth next; drop N (drop_all: every one) */
	int drop_all;
	unsigned delay_ms;
	int forge_ack;
	int block;
};

enum tp_rec_state { REC_OFF, REC_WAIT, REC_CAPTURE, REC_DONE };

struct tp_rec {
	struct tp_list hello; /* the handshake units of a session */
	int hello_session;
	enum tp_rec_state state;
	struct tp_list epoch; /* one whole epoch, as the primary sent it */
	uint64_t epoch_no;
	int epoch_session;
};

struct tp_stats {
	uint64_t sessions, blocked, units[2], flipped, dropped, injected, forged, replayed_epochs,
		replayed_hellos;
	char last[96];		 /* the last action, "flip:PAGES:57" */
	char replay_answers[96]; /* what the standby answered the last replay-hello */
};

struct tp_proxy {
	const char *listen_addr, *connect_addr, *ctl_path;
	int lfd, cfd, sfd; /* listener, control listener, signalfd */
	int ctl[TP_MAX_CTL];
	char ctl_buf[TP_MAX_CTL][256];
	size_t ctl_len[TP_MAX_CTL];
	struct tp_session sess[TP_MAX_SESSIONS];
	int next_id;
	struct tp_rules rules;
	struct tp_rec rec;
	struct tp_stats st;
	int stop;
};

/* tamperproxy.c */
void tp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t tp_now_ms(void);
struct tp_unit *tp_unit_new(const void *data, size_t len, size_t main_off);
struct tp_unit *tp_unit_copy(const struct tp_unit *u);
void tp_list_push(struct tp_list *l, struct tp_unit *u);
void tp_list_clear(struct tp_list *l);
/** Queue @u to be written to @s's side @to (delay applied). Takes @u. */
void tp_send(struct tp_proxy *p, struct tp_session *s, int to, struct tp_unit *u);
/** The newest session with both peers connected, or NULL. */
struct tp_session *tp_live(struct tp_proxy *p);
/** Open replay-hello's connection to the standby. @return 0 or -errno. */
int tp_replay_open(struct tp_proxy *p);
const char *tp_dir_name(int dir);

/* tamper_act.c */
/** A whole unit read from @s in direction @dir: act on it, forward it. */
void tp_act_unit(struct tp_proxy *p, struct tp_session *s, int dir, struct tp_unit *u);
/** Inject a made-up message of @type into the live session. */
int tp_act_inject(struct tp_proxy *p, uint16_t type, char *msg, size_t len);
/** Resend the recorded epoch into the live session. */
int tp_act_replay_epoch(struct tp_proxy *p, char *msg, size_t len);
/** Keep the live session's handshake and capture its next whole epoch. */
int tp_act_record(struct tp_proxy *p, char *msg, size_t len);

/* tamper_ctl.c */
/** Run one command line; the one-line answer ("ok ..."/"err ...") in @out. */
void tp_ctl_run(struct tp_proxy *p, char *line, char *out, size_t len);

#endif
