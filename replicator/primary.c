/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The primary daemon's life: start-up as a table of stages torn down in
 * reverse, finding the standby and the HELLO handshake, the initial sync
 * (epoch 0: all of RAM streamed while the guest runs, then a checkpoint),
 * ACKs, losing the standby, and the control requests status/pause/resume.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/daemon.h"
#include "replicator/log.h"
#include "replicator/primary.h"
#include "replicator/primary_int.h"
#include "replicator/handover.h"
#include "replicator/vmnet.h"

#define SYNC_BATCH_PAGES (16u * US_PROTO_MAX_RUN)	/* 16 MiB in flight */
#define CONNECT_RETRY_MS 500

static const char *const phase_names[] = {
	[PH_CONNECTING] = "connecting", [PH_HANDSHAKE] = "handshake", [PH_SYNC] = "initial-sync",
	[PH_IDLE] = "protected", [PH_CHECKPOINT] = "protected", [PH_PAUSED] = "paused",
	[PH_DEGRADED] = "standby-lost", [PH_SWITCHING] = "switching", [PH_HANDING] = "switching",
	[PH_HANDED] = "switched",
};

static uint64_t now_ms(void)
{
	return us_epoch_now_us() / 1000;
}

/* ---- initial sync ---- */

static void sync_progress(struct us_primary *p, uint64_t npages)
{
	int pct = (int)(p->sync_next * 100 / npages);

	if (pct / 10 == p->sync_last_pct / 10 && pct != 100)
		return;
	p->sync_last_pct = pct;
	us_log(LOG_NOTICE, US_TAG_PRIMARY, "initial sync: %3d%% (%lu of %lu MiB)", pct,
	       (unsigned long)(p->sync_next * US_PROTO_PAGE_SIZE >> 20),
	       (unsigned long)(npages * US_PROTO_PAGE_SIZE >> 20));
}

/* Queue the next batch of RAM, copied so the guest may keep writing. */
static int sync_batch(struct us_primary *p)
{
	uint64_t npages = p->ram.size / US_PROTO_PAGE_SIZE;
	size_t off = 0, i;
	uint32_t n;
	int rc = 0;

	if (us_epoch_reserve(p, SYNC_BATCH_PAGES, SYNC_BATCH_PAGES / US_PROTO_MAX_RUN) < 0)
		return -ENOMEM;
	p->n_chunks = 0;
	while (p->sync_next < npages && off < (size_t)SYNC_BATCH_PAGES * US_PROTO_PAGE_SIZE) {
		n = npages - p->sync_next > US_PROTO_MAX_RUN ? US_PROTO_MAX_RUN
							       : npages - p->sync_next;
		us_epoch_stage_chunk(p, p->sync_next, n, off);
		off += (size_t)n * US_PROTO_PAGE_SIZE;
		p->sync_next += n;
		p->sync_sent_total += (uint64_t)n * US_PROTO_PAGE_SIZE;
	}
	for (i = 0; i < p->n_chunks && rc == 0; i++)
		rc = us_transport_send_pages(p->tx, 0, p->chunks[i].first, p->chunks[i].count,
					     p->sendbuf + p->chunks[i].off);
	sync_progress(p, npages);
	return rc;
}

static void sync_continue(struct us_primary *p)
{
	int rc;

	if (p->sync_next < p->ram.size / US_PROTO_PAGE_SIZE) {
		if (sync_batch(p) < 0)
			us_primary_lost_standby(p, "cannot queue initial sync pages");
		return;
	}
	if (!us_pdisk_hashes_ready(&p->disk))
		return;	/* the standby's block hashes are still coming */
	rc = us_pdisk_on(&p->disk) ? us_pdisk_sync_step(&p->disk, p->tx, p->unsummed ? NULL : p->sum) : 0;
	if (rc < 0)
		us_primary_lost_standby(p, "cannot queue initial sync disk blocks");
	if (rc != 0)
		return;	/* more on the next drain */
	if (!p->sync_streamed)	/* once: a drain may come again before epoch 0 starts */
		us_log(LOG_NOTICE, US_TAG_PRIMARY, "initial sync streamed in %lu ms; taking epoch 0",
		       (unsigned long)(now_ms() - p->sync_started_ms));
	p->sync_streamed = 1;
	us_epoch_start(p);
}

void us_primary_sync_start(struct us_primary *p)
{
	p->phase = PH_SYNC;
	p->sync_streamed = 0;
	p->sync_started_ms = now_ms();
	p->sync_last_pct = -10;
	XXH3_64bits_reset(p->sum);
	p->n_pages = p->n_page_bytes = 0;
	us_pagehash_forget(&p->sent);	/* a new standby holds only what this session sends */
	us_pdisk_epoch_reset(&p->disk);
	sync_continue(p);
}

static void on_guest_started(void *opaque, json_t *ret, const char *err)
{
	struct us_primary *p = opaque;

	if (err) {
		us_log(LOG_CRIT, US_TAG_PRIMARY, "cannot start the guest: %s", err);
		p->exit_rc = -EIO;
		qb_loop_stop(p->loop);
		return;
	}
	us_primary_sync_start(p);
}

/* ---- messages from the standby ---- */

static int on_hello_ok(struct us_primary *p, const struct us_msg_hdr *h, const void *body)
{
	struct us_hello_ok ok;
	char why[128];

	if (p->phase != PH_HANDSHAKE || us_proto_hello_ok_decode(body, h->len, &ok, why, sizeof(why)) < 0) {
		us_primary_lost_standby(p, "unexpected HELLO_OK");
		return 1;
	}
	p->staging_max = ok.staging_max;
	if (p->switch_waiting)
		return us_primary_switch_standby(p, ok.committed) < 0;
	if (p->seeking)	/* the guest runs already */
		return us_primary_seek_synced(p, ok.sync_pages) < 0;
	us_pdisk_record(&p->disk, 1);	/* before the guest runs: the sync covers the rest */
	us_log(LOG_NOTICE, US_TAG_PRIMARY, "standby %s accepted VM '%s'; starting the initial sync",
	       us_transport_peer(p->tx), p->cfg->vm.name);
	if (us_qmp_send(p->qmp, "cont", NULL, on_guest_started, p) < 0)
		qb_loop_stop(p->loop);
	return 0;
}

static int on_hashes(struct us_primary *p, const struct us_msg_hdr *h, const void *body)
{
	struct us_disk_hashes m;
	char why[128];

	if (us_proto_hashes_decode(body, h->len, &m, why, sizeof(why)) < 0 ||
	    us_pdisk_take_hashes(&p->disk, &m) < 0) {
		us_primary_lost_standby(p, "malformed or out-of-order DISK_HASHES");
		return 1;
	}
	if (us_pdisk_hashes_ready(&p->disk) && p->phase == PH_SYNC && !us_transport_busy(p->tx))
		sync_continue(p);
	return 0;
}

/* One CSV line per epoch, once both its ACK and its "cont" are in. */
void us_primary_stats(struct us_primary *p, struct epoch_times *t)
{
	if (!p->stats || !t->acked || !t->resumed)
		return;
	fprintf(p->stats, "%lu,%lu,%lu,%lu,%lu,%lu,%lu,%lu,%lu,%lu,%lu\n", (unsigned long)t->epoch,
		(unsigned long)t->pages, (unsigned long)t->dev_bytes, (unsigned long)t->stop_us,
		(unsigned long)t->scan_us, (unsigned long)t->copy_us, (unsigned long)t->dev_us,
		(unsigned long)t->cont_us, (unsigned long)t->ack_ms, (unsigned long)t->send_us,
		(unsigned long)t->vm_pause_us);
	fflush(p->stats);
}

static void record_ack(struct us_primary *p, uint64_t epoch)
{
	struct epoch_times *t = &p->hist[epoch % 256];

	if (t->epoch != epoch)
		return;
	t->ack_ms = now_ms() - t->sent_ms;
	t->acked = 1;
	p->ack_ms_last = t->ack_ms;
	us_primary_stats(p, t);
}

static void answer_pause(struct us_primary *p, uint64_t epoch)
{
	if (!p->pause_req || p->phase != PH_PAUSED || epoch + 1 != p->epoch)
		return;
	us_ctl_reply(p->pause_req, json_pack("{s:b, s:I}", "ok", 1, "epoch", (json_int_t)epoch));
	p->pause_req = NULL;
}

static int on_ack(struct us_primary *p, const struct us_msg_hdr *h)
{
	uint64_t want = p->acked == US_EPOCH_NONE ? 0 : p->acked + 1;

	if (h->epoch != want || h->epoch >= p->epoch) {
		us_log(LOG_ERR, US_TAG_PRIMARY, "ACK(%lu) out of order: expected ACK(%lu)",
		       (unsigned long)h->epoch, (unsigned long)want);
		us_primary_lost_standby(p, "acknowledgements out of order");
		return 1;
	}
	p->acked = h->epoch;
	if (h->epoch == 0 && p->seeking)
		us_primary_seek_done(p);
	else if (h->epoch == 0)
		us_log(LOG_NOTICE, US_TAG_PRIMARY, "epoch 0 committed on the standby: VM '%s' is "
		       "protected", p->cfg->vm.name);
	record_ack(p, h->epoch);
	us_primary_acked(p);
	us_primary_release_output(p);
	answer_pause(p, h->epoch);
	us_primary_switch_acked(p, h->epoch);
	us_primary_resume_acked(p, h->epoch);
	us_epoch_drained(p);
	return 0;
}

static int on_refuse(struct us_primary *p, const struct us_msg_hdr *h, const void *body)
{
	struct us_refuse r;
	char why[160];

	if (us_proto_refuse_decode(body, h->len, &r, why, sizeof(why)) < 0)
		snprintf(r.reason, sizeof(r.reason), "%s", why);
	us_log(LOG_CRIT, US_TAG_PRIMARY, "standby %s refused: %s", us_transport_peer(p->tx), r.reason);
	us_primary_switch_abort(p, "the standby refused to take the VM");
	if (p->phase == PH_HANDSHAKE && !p->seeking) {
		p->exit_rc = -EPROTO;
		qb_loop_stop(p->loop);
	}
	return 1;
}

static int on_msg(void *opaque, int hdr_rc, const struct us_msg_hdr *h, const void *body)
{
	struct us_primary *p = opaque;

	if (hdr_rc == -EPROTONOSUPPORT) {
		us_log(LOG_CRIT, US_TAG_PRIMARY, "standby speaks protocol version %u, this primary "
		       "speaks %u: run the same understudy release on both hosts", h->version,
		       US_PROTO_VERSION);
		p->exit_rc = -EPROTONOSUPPORT;
		qb_loop_stop(p->loop);
		return 1;
	}
	if (hdr_rc == 0) {
		char why[256];
		int rc = us_chanauth_primary_msg(&p->auth, p->tx, h, body, why, sizeof(why));

		if (rc < 0) {
			us_log(LOG_CRIT, US_TAG_PRIMARY, "%s", why);
			us_primary_lost_standby(p, "authentication failed");
			return 1;
		}
		if (rc > 0)
			return 0;
	}
	switch (h->type) {
	case US_MSG_DISK_HASHES:
		return on_hashes(p, h, body);
	case US_MSG_HELLO_OK:
		return on_hello_ok(p, h, body);
	case US_MSG_ACK:
		return on_ack(p, h);
	case US_MSG_REFUSE:
		return on_refuse(p, h, body);
	case US_MSG_SWITCHED:
		return us_primary_switched(p, h->epoch);
	case US_MSG_HANDOFF_OK:
		return us_primary_handoff_ok(p, h->epoch);
	case US_MSG_SUSPEND_OK:
		return us_primary_suspend_ok(p, h->epoch);
	case US_MSG_SWITCH_ASK: {
		char why[160];

		if (us_primary_switchover(p, NULL, why, sizeof(why)) < 0)
			us_log(LOG_WARNING, US_TAG_PRIMARY, "switchover asked on the standby's host "
			       "refused: %s", why);
		return 0;
	}
	default:
		us_log(LOG_ERR, US_TAG_PRIMARY, "unexpected %s from the standby",
		       us_proto_type_name(h->type));
		return 1;
	}
}

static void on_drained(void *opaque)
{
	struct us_primary *p = opaque;

	us_pdisk_drained(&p->disk);
	if (p->phase == PH_SYNC)
		sync_continue(p);
	else
		us_epoch_drained(p);
}

static void on_closed(void *opaque, int err, const char *why)
{
	struct us_primary *p = opaque;

	if (p->phase == PH_HANDED)
		return;
	if (p->phase == PH_HANDSHAKE && p->exit_rc == 0 && !p->seeking && !p->switch_waiting) {
		us_log(LOG_CRIT, US_TAG_PRIMARY, "standby closed the connection during the "
		       "handshake: %s", why);
		p->exit_rc = -ECONNRESET;
		qb_loop_stop(p->loop);
	}
	us_primary_lost_standby(p, why);
}

void us_primary_epoch_sent(struct us_primary *p)
{
	us_log(LOG_DEBUG, US_TAG_PRIMARY, "epoch %lu: %lu pages, %lu device bytes, pause %lu us",
	       (unsigned long)p->cur.epoch, (unsigned long)p->cur.pages,
	       (unsigned long)p->cur.dev_bytes,
	       (unsigned long)(p->cur.stop_us + p->cur.scan_us + p->cur.copy_us + p->cur.dev_us));
}

/* ---- finding the standby ---- */

static void send_hello(struct us_primary *p)
{
	struct us_hello h = { .ram_size = p->cfg->vm.mem_bytes, .page_size = US_PROTO_PAGE_SIZE };
	static const struct us_transport_cbs cbs = { .msg = on_msg, .drained = on_drained,
						     .closed = on_closed };
	char body[160];
	size_t len;

	snprintf(h.vm_name, sizeof(h.vm_name), "%s", p->cfg->vm.name);
	snprintf(h.accel, sizeof(h.accel), "%s", p->cfg->vm.accel);
	h.disk_size = us_pdisk_size(&p->disk);
	h.lineage = p->lineage;
	h.base_epoch = p->base_epoch;
	h.keepalive_ms = us_primary_keepalive_ms(p->cfg);
	us_pdisk_new_peer(&p->disk);
	us_transport_set_cbs(p->tx, &cbs, p);
	us_transport_set_vm(p->tx, p->vm_id);
	p->phase = PH_HANDSHAKE;
	if (us_chanauth_hello(&p->auth, &h) < 0) {
		us_primary_lost_standby(p, "no random bytes for the HELLO's nonce");
		return;
	}
	len = us_proto_hello_encode(body, &h);
	us_chanauth_sent(&p->auth, body, len);
	us_transport_send_msg(p->tx, US_MSG_HELLO, 0, body, len);
}

static void try_connect(void *data)
{
	struct us_primary *p = data;

	p->connect_timer = 0;
	if (p->phase == PH_CHECKPOINT && !p->tx) {
		us_primary_connect_later(p, 100);	/* its "cont" comes first */
		return;
	}
	if (p->phase != PH_CONNECTING || p->tx)
		return;
	p->tx = us_transport_connect(p->loop, p->cfg->transport, p->cfg->peer, 1000);
	p->unsummed = p->auth.on || p->auth.tls; /* as the standby decides (receiver.h) */
	if (p->tx && us_chanauth_connected(&p->auth, p->tx, 0) < 0) {
		us_transport_free(p->tx); /* logged; TLS cannot start: the next try says it again */
		p->tx = NULL;
	}
	if (p->tx) {
		us_log(LOG_NOTICE, US_TAG_PRIMARY, "connected to standby %s over %s", p->cfg->peer,
		       us_transport_name(p->tx));
		send_hello(p);
		return;
	}
	if (p->seeking || p->switch_waiting) {
		us_primary_connect_later(p, p->switch_waiting ? 100 : CONNECT_RETRY_MS);
		return;
	}
	if (p->cfg->connect_timeout_ms && now_ms() > p->connect_deadline_ms) {
		us_log(LOG_CRIT, US_TAG_PRIMARY, "no standby answered at %s within %u ms: start "
		       "`understudy standby` there first, or check [replication] peer and the "
		       "firewall", p->cfg->peer, p->cfg->connect_timeout_ms);
		p->exit_rc = -ETIMEDOUT;
		qb_loop_stop(p->loop);
		return;
	}
	us_log(LOG_INFO, US_TAG_PRIMARY, "waiting for the standby at %s (%s)", p->cfg->peer,
	       strerror(errno));
	qb_loop_timer_add(p->loop, QB_LOOP_LOW, CONNECT_RETRY_MS * 1000000ULL, p, try_connect,
			  &p->connect_timer);
}

void us_primary_connect_later(struct us_primary *p, unsigned ms)
{
	if (p->connect_timer)
		qb_loop_timer_del(p->loop, p->connect_timer);
	p->connect_timer = 0;
	qb_loop_timer_add(p->loop, QB_LOOP_LOW, ms * 1000000ULL, p, try_connect, &p->connect_timer);
}

/* ---- control requests ---- */

static json_t *status_json(struct us_primary *p)
{
	json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:I}",
			 "ok", 1, "role", "primary", "vm", p->cfg->vm.name,
			 "state", us_primary_state_name(p),
			 "epoch", (json_int_t)p->epoch,
			 "acked", (json_int_t)(p->acked == US_EPOCH_NONE ? -1 : (json_int_t)p->acked),
			 "lag_epochs", (json_int_t)us_epoch_inflight(p),
			 "last_ack_ms", (json_int_t)p->ack_ms_last,
			 "queued_bytes", (json_int_t)(p->tx ? us_transport_queued(p->tx) : 0),
			 "peer", p->cfg->peer, "degraded", p->degraded,
			 "qemu_pid", (json_int_t)us_qemu_pid(p->qemu));

	if (o) {
		us_vmnet_status(p->relay, o);
		us_primary_loss_status(p, o);
		json_object_set_new(o, "accel", json_string(p->cfg->vm.accel));
		json_object_set_new(o, "epoch_ms", json_integer((json_int_t)p->len.cur_ms));
		json_object_set_new(o, "epoch_auto", json_boolean(!p->cfg->epoch_ms));
		json_object_set_new(o, "paused_permille",
				    json_integer((json_int_t)us_epochlen_share_permille(&p->len)));
		json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
		json_object_set_new(o, "ram_sent_bytes", json_integer((json_int_t)p->ram_sent_bytes));
		json_object_set_new(o, "unchanged_pages",
				    json_integer((json_int_t)p->unchanged_pages));
		json_object_set_new(o, "compress", json_string(p->cfg->compress_lz4 ? "lz4" : "off"));
		json_object_set_new(o, "compress_saved_bytes",
				    json_integer((json_int_t)p->lz4_saved_bytes));
		json_object_set_new(o, "sync_ram_bytes", json_integer((json_int_t)p->sync_ram_bytes));
		json_object_set_new(o, "syncs", json_integer((json_int_t)p->syncs));
		json_object_set_new(o, "sync_sent_bytes", json_integer((json_int_t)p->sync_sent_total));
		json_object_set_new(o, "sync_pct", json_integer((json_int_t)(p->sync_next * 100 /
			(p->ram.size / US_PROTO_PAGE_SIZE ? p->ram.size / US_PROTO_PAGE_SIZE : 1))));
		json_object_set_new(o, "switchovers", json_integer((json_int_t)p->switches));
		json_object_set_new(o, "switch_pause_ms", json_integer((json_int_t)p->switch_pause_ms));
		json_object_set_new(o, "resume_ram_bytes", json_integer((json_int_t)p->resume_ram_bytes));
		json_object_set_new(o, "resume_disk_bytes",
				    json_integer((json_int_t)p->resume_disk_bytes));
		if (us_pdisk_on(&p->disk))
			json_object_set_new(o, "disk", us_pdisk_status(&p->disk));
		json_object_set_new(o, "checks", us_check_daemon_status(p->cfg, "primary"));
	}
	return o;
}

static void do_resume(struct us_primary *p, struct us_ctl_req *req)
{
	if (p->phase != PH_PAUSED) {
		us_ctl_reply_error(req, "not paused");
		return;
	}
	p->pause_wanted = 0;
	p->phase = PH_IDLE;
	if (us_qmp_call(p->qmp, "cont", NULL, NULL, NULL, 0, 5000) < 0) {
		us_ctl_reply_error(req, "QEMU refused cont");
		return;
	}
	us_epoch_schedule(p, 0);
	us_ctl_reply(req, json_pack("{s:b}", "ok", 1));
}

/* Answer a request that either worked or failed for @why. */
static void reply_done(struct us_ctl_req *req, int rc, const char *why)
{
	if (rc < 0)
		us_ctl_reply_error(req, why);
	else
		us_ctl_reply(req, json_pack("{s:b}", "ok", 1));
}

const char *us_primary_state_name(const struct us_primary *p)
{
	if (p->seeking)
		return p->phase == PH_SYNC || p->phase == PH_CHECKPOINT ? "syncing" : "unprotected";
	if (p->switch_waiting)
		return "switched-waiting";
	if (p->demoted || p->handed_off)
		return "demoted";
	if (p->handoff)
		return "demoting";
	if (p->suspended)
		return "suspended";
	return p->degraded ? "degraded" : phase_names[p->phase];
}

static void on_ctl(void *opaque, const char *cmd, json_t *msg, struct us_ctl_req *req)
{
	struct us_primary *p = opaque;

	if (strcmp(cmd, "status") == 0) {
		us_ctl_reply(req, status_json(p));
	} else if (strcmp(cmd, "pause") == 0) {
		if (p->pause_req || p->phase == PH_PAUSED || !p->tx || p->phase < PH_IDLE ||
		    p->suspended) {
			us_ctl_reply_error(req, "cannot pause now: not protected, or already paused");
			return;
		}
		p->pause_wanted = 1;
		p->pause_req = req;
	} else if (strcmp(cmd, "resume") == 0) {
		do_resume(p, req);
	} else if (strcmp(cmd, "suspend-protection") == 0 ||
		   strcmp(cmd, "resume-protection") == 0) {
		char why[200];
		int rc = cmd[0] == 's' ? us_primary_suspend(p, why, sizeof(why))
				       : us_primary_resume_protection(p, "operator request", why,
								      sizeof(why));

		if (rc < 0)
			us_ctl_reply_error(req, why);
		else
			us_ctl_reply(req, json_pack("{s:b, s:I}", "ok", 1, "epoch",
						    (json_int_t)(p->epoch - 1)));
	} else if (strcmp(cmd, "switchover") == 0) {
		char why[160];

		if (us_primary_switchover(p, req, why, sizeof(why)) < 0)
			us_ctl_reply_error(req, why);
	} else if (strcmp(cmd, "demote") == 0) {
		char why[160];

		if (us_primary_demote(p, req, why, sizeof(why)) < 0)
			us_ctl_reply_error(req, why);
	} else if (strcmp(cmd, "promote") == 0) {
		char why[160];

		reply_done(req, us_primary_undemote(p, why, sizeof(why)), why);
	} else if (strcmp(cmd, "reprotect") == 0) {
		char why[128];

		reply_done(req, us_primary_reprotect(p, why, sizeof(why)), why);
	} else if (strcmp(cmd, "degrade") == 0) {
		char why[96];

		reply_done(req, us_primary_degrade(p, why, sizeof(why)), why);
	} else {
		us_ctl_reply_error(req, "unknown command for a primary (try status, pause, resume, "
				   "degrade, reprotect, switchover, demote, promote, suspend-protection, "
				   "resume-protection)");
	}
}

/* ---- start-up and tear-down ---- */

static void path_in(char *out, size_t len, const char *dir, const char *name, const char *suffix)
{
	snprintf(out, len, "%s/understudy-%s%s", dir, name, suffix);
}

static int up_checks(struct us_primary *p)
{
	char why[256];
	int rc = us_dirty_kernel_check(why, sizeof(why));

	if (rc < 0)
		us_log(LOG_CRIT, US_TAG_PRIMARY, "%s", why);
	if (rc == 0)
		rc = us_chanauth_load(&p->auth, p->cfg, "primary");
	if (rc == 0 && mkdir(p->cfg->vm.run_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		us_log(LOG_CRIT, US_TAG_PRIMARY, "cannot create run_dir %s: %s", p->cfg->vm.run_dir,
		       strerror(errno));
	}
	return rc;
}

static void down_checks(struct us_primary *p)
{
	us_chanauth_free(&p->auth);
}

/*
 * The high-water mark came before the guest ran its share since the last
 * pause (pace.h): checkpointing now would pause a guest writing fast more
 * than a fifth of its time (bench/disk.sh: a quarter and more with
 * 64 MiB of disk_log_max, an epoch cut at every 29 MiB). So the checkpoint
 * waits for that share, or for the hard mark if the log gets there first.
 */
static void defer_disk_checkpoint(struct us_primary *p, uint64_t now_ms)
{
	p->disk_deferred = 1;
	us_wlog_escalate(p->disk.wlog);
	us_primary_watch_disk(p);
	/* 0 when the timer already fired (a checkpoint waits for the transport) */
	if (now_ms + qb_loop_timer_expire_time_remaining(p->loop, p->timer) / 1000000 >
	    p->pace_ready_ms) {
		qb_loop_timer_del(p->loop, p->timer);
		us_epoch_schedule(p, p->pace_ready_ms - now_ms);
	}
}

/* The write log filled past its high-water mark: checkpoint soon, not at the timer. */
static int32_t on_disk_high_water(int32_t fd, int32_t revents, void *data)
{
	struct us_primary *p = data;
	uint64_t now_ms = us_epoch_now_us() / 1000;

	qb_loop_poll_del(p->loop, fd);	/* readable until the cut: re-armed after it */
	p->disk_polled = 0;
	if (!p->suspended && p->phase == PH_IDLE && !p->disk_deferred &&
	    now_ms < p->pace_ready_ms) {
		defer_disk_checkpoint(p, now_ms);
		return 0;
	}
	if (p->suspended) {
		char why[64];

		us_primary_resume_protection(p, "the guest wrote half of disk_log_max while "
					     "suspended", why, sizeof(why));
	} else if (p->phase == PH_IDLE) {
		us_pdisk_note_early(&p->disk, p->disk_deferred, (unsigned long)p->epoch, now_ms);
		qb_loop_timer_del(p->loop, p->timer);
		us_epoch_start(p);
	}
	return 0;
}

void us_primary_watch_disk(struct us_primary *p)
{
	if (!p->disk.wlog || p->disk_polled)
		return;
	if (qb_loop_poll_add(p->loop, QB_LOOP_HIGH, us_wlog_fd(p->disk.wlog), POLLIN, p,
			     on_disk_high_water) == 0)
		p->disk_polled = 1;
}

/* Send the guest's output of every epoch acknowledged and, for a checkpoint whose
 * `stop` flushed the disk, whose flush is on stable storage (pdisk_flush.c). */
void us_primary_release_output(struct us_primary *p)
{
	uint64_t last = us_pdisk_output_limit(&p->disk, p->acked);

	if (p->relay && last != US_EPOCH_NONE)
		us_relay_release(p->relay, last);
}

/* A flush the guest was told of did not reach stable storage here: its output
 * must never go out, so the daemon stops with it held and the standby takes over. */
static int flush_failed(struct us_primary *p, int rc)
{
	us_log(LOG_CRIT, US_TAG_PRIMARY, "fdatasync of the disk image failed: %s; the guest was "
	       "told its writes are flushed: its output stays held, stopping so that the "
	       "standby takes over", strerror(-rc));
	p->exit_rc = -EIO;
	qb_loop_stop(p->loop);
	return -EIO;
}

/* Pay an owed disk flush now: what holds the output is about to stop holding it.
 * @return 0, or -EIO: the daemon stops, the output stays held. */
int us_primary_settle_output(struct us_primary *p)
{
	int rc = us_pdisk_settle(&p->disk);

	if (rc < 0)
		return flush_failed(p, rc);
	us_primary_release_output(p);
	return 0;
}

/* Output passes unheld from now on (no standby, or none that would promote). */
void us_primary_pass_output(struct us_primary *p)
{
	if (us_primary_settle_output(p) == 0 && p->relay)
		us_relay_set_mode(p->relay, US_RELAY_PASSTHROUGH);
}

/* The flusher paid a checkpoint's disk flush: the output it held may go. */
static int32_t on_disk_flushed(int32_t fd, int32_t revents, void *data)
{
	struct us_primary *p = data;
	int rc = us_pdisk_flushed(&p->disk);

	(void)fd;
	(void)revents;
	if (rc < 0)
		flush_failed(p, rc);
	else
		us_primary_release_output(p);
	return 0;
}

static int up_disk(struct us_primary *p)
{
	struct us_handover *h = p->h;
	int rc;

	if (p->adopted) {
		rc = us_pdisk_adopt(&p->disk, h->img, h->nbd, h->disk_sock, p->cfg->disk_log_max);
		h->img = NULL;
		h->nbd = NULL;
		if (rc == 0 && p->resuming)
			us_pdisk_record(&p->disk, 1);	/* writes from cont on are epoch n+1's */
	} else {
		rc = us_pdisk_up(&p->disk, p->cfg->vm.disk, p->cfg->vm.run_dir, p->cfg->vm.name,
				 p->cfg->disk_log_max);
	}

	if (rc == 0)
		us_primary_watch_disk(p);
	if (rc == 0 && us_pdisk_flusher_fd(&p->disk) >= 0 &&
	    qb_loop_poll_add(p->loop, QB_LOOP_HIGH, us_pdisk_flusher_fd(&p->disk), POLLIN, p,
			     on_disk_flushed) == 0)
		p->flush_polled = 1;
	return rc;
}

void us_primary_unwatch_disk(struct us_primary *p)
{
	if (p->disk_polled)
		qb_loop_poll_del(p->loop, us_wlog_fd(p->disk.wlog));
	p->disk_polled = 0;
	if (p->flush_polled)
		qb_loop_poll_del(p->loop, us_pdisk_flusher_fd(&p->disk));
	p->flush_polled = 0;
}

static void down_disk(struct us_primary *p)
{
	us_primary_note_image(p, 1); /* a clean stop: the cold start rule reads it */
	us_primary_unwatch_disk(p);
	us_pdisk_down(&p->disk);
}

static int up_ram(struct us_primary *p)
{
	char path[PATH_MAX];

	if (p->adopted) {
		p->ram = p->h->ram;
		p->h->ram.fd = -1;
		p->h->ram.map = NULL;
		return 0;
	}
	if (us_ramfile_check_dir(p->cfg->vm.shm_dir, p->cfg->vm.hugepages) < 0)
		return -EINVAL;
	path_in(path, sizeof(path), p->cfg->vm.shm_dir, p->cfg->vm.name, ".ram");
	return us_ramfile_create(&p->ram, path, p->cfg->vm.mem_bytes);
}

static void down_ram(struct us_primary *p)
{
	us_ramfile_close(&p->ram, 1);
}

static void down_qemu(struct us_primary *p)
{
	us_qemu_free(p->qemu);
	p->qemu = NULL;
	us_relay_free(p->relay);
	p->relay = NULL;
}

/* QEMU and its NIC's relay (which must listen before QEMU connects). */
static int up_qemu(struct us_primary *p)
{
	char serial[PATH_MAX];
	struct us_qemu_opts o = { .mode = US_QEMU_RUN, .ram_path = p->ram.path,
				  .serial_log = serial, .tag = "primary", .start_paused = 1 };
	int rc;

	if (p->adopted) {	/* running, its output passing unprotected */
		p->qemu = p->h->qemu;
		p->relay = p->h->relay;
		p->h->qemu = NULL;
		p->h->relay = NULL;
		snprintf(p->net_sock, sizeof(p->net_sock), "%s", p->h->net_sock);
		if (p->relay)	/* a switchover's output is held from its first frame */
			us_relay_set_mode(p->relay, p->resuming ? US_RELAY_BUFFERED
								: US_RELAY_PASSTHROUGH);
		return 0;
	}
	rc = us_vmnet_start(p->loop, p->cfg, US_RELAY_BUFFERED, &p->relay, p->net_sock,
				sizeof(p->net_sock));

	if (rc < 0)
		return rc;
	o.netdev_sock = p->relay ? p->net_sock : NULL;
	o.disk_sock = us_pdisk_on(&p->disk) ? p->disk.sock : NULL;

	snprintf(serial, sizeof(serial), "%s/%s.serial", p->cfg->vm.run_dir, p->cfg->vm.name);
	o.loop = p->loop;
	p->qemu = us_qemu_start(&p->cfg->vm, &o);
	if (p->qemu)
		return 0;
	rc = -errno;
	down_qemu(p);
	return rc;
}

static void on_qmp_closed(void *opaque)
{
	struct us_primary *p = opaque;

	us_log(LOG_CRIT, US_TAG_PRIMARY, "QEMU closed its QMP connection: the VM is gone");
	p->exit_rc = -EPIPE;
	qb_loop_stop(p->loop);
}

/*
 * QEMU's own STOP and RESUME events of a checkpoint: their timestamps give
 * the time the guest's vCPUs were stopped, which the daemon's clock can only
 * bound from above (its loop may read the "cont" reply late).
 */
static void on_vm_run_event(void *opaque, const char *event, json_t *data)
{
	struct us_primary *p = opaque;
	uint64_t at = us_qmp_event_us(p->qmp);

	if (p->phase != PH_CHECKPOINT || !at)
		return;
	if (!strcmp(event, "STOP"))
		p->vm_stop_us = at;
	else if (p->vm_stop_us && at >= p->vm_stop_us) /* before or after the epoch is queued */
		p->cur.vm_pause_us = p->hist[p->cur.epoch % 256].vm_pause_us = at - p->vm_stop_us;
}

static void down_qmp(struct us_primary *p)
{
	if (p->qmp)
		us_qmp_off_event(p->qmp, on_vm_run_event, p);
	us_devstate_free(p->dev);
	p->dev = NULL;
	us_qmp_free(p->qmp);
	p->qmp = NULL;
}

static int up_qmp(struct us_primary *p)
{
	char sock[PATH_MAX];

	p->qmp = p->adopted ? p->h->qmp : us_qmp_connect(p->loop, us_qemu_qmp_path(p->qemu));
	p->h->qmp = NULL;
	if (!p->qmp)
		return -errno;
	us_qmp_on_closed(p->qmp, on_qmp_closed, p);
	if (us_qmp_on_event(p->qmp, "STOP", on_vm_run_event, p) < 0 ||
	    us_qmp_on_event(p->qmp, "RESUME", on_vm_run_event, p) < 0) {
		down_qmp(p);
		return -ENOMEM;
	}
	snprintf(sock, sizeof(sock), "%s/%s-devstate.sock", p->cfg->vm.run_dir, p->cfg->vm.name);
	if (us_devstate_prepare(p->qmp) == 0)
		p->dev = us_devstate_new(p->loop, p->qmp, sock);
	if (p->dev && us_devstate_set_method(p->dev, p->cfg->devstate_xen ? US_DEVSTATE_XEN_SAVE
					     : US_DEVSTATE_MIGRATE) == 0)
		return 0;
	down_qmp(p);
	return -EIO;
}

/* The pause's copy threads: one per CPU, at most COPY_THREADS_MAX. */
#define COPY_THREADS_MAX 4
static int up_copier(struct us_primary *p)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cpus < 1 ? 1 : cpus > COPY_THREADS_MAX ? COPY_THREADS_MAX : (unsigned)cpus;

	p->copier = us_copier_new(n);
	if (!p->copier) {
		us_log(LOG_CRIT, US_TAG_PRIMARY, "cannot start %u page-copy threads: %s", n,
		       strerror(errno));
		return -errno;
	}
	us_log(LOG_INFO, US_TAG_PRIMARY, "the pause copies dirty pages on up to %u threads", n);
	return 0;
}

static int up_dirty(struct us_primary *p)
{
	uint64_t addr, len;
	int rc = us_dirty_find_mapping(us_qemu_pid(p->qemu), p->ram.path, &addr, &len);

	if (rc < 0) {
		us_log(LOG_CRIT, US_TAG_DIRTY, "guest RAM %s is not mapped in QEMU %d: %s",
		       p->ram.path, us_qemu_pid(p->qemu), strerror(-rc));
		return rc;
	}
	p->dirty = us_dirty_attach(us_qemu_pid(p->qemu), addr, len);
	if (!p->dirty) {
		us_log(LOG_CRIT, US_TAG_DIRTY, "cannot track writes of QEMU %d: %s",
		       us_qemu_pid(p->qemu), strerror(errno));
		return -errno;
	}
	rc = us_dirty_set_threads(p->dirty, p->cfg->vm.scan_threads ? p->cfg->vm.scan_threads
								  : us_dirty_auto_threads(len));
	if (rc < 0)
		return rc;
	rc = up_copier(p);
	if (rc < 0)
		return rc;
	return p->resuming ? us_primary_switch_resume(p) : 0;
}

static void down_dirty(struct us_primary *p)
{
	us_copier_free(p->copier);
	p->copier = NULL;
	us_dirty_free(p->dirty);
	p->dirty = NULL;
}

static int up_ctl(struct us_primary *p)
{
	p->ctl = us_ctl_start(p->loop, p->cfg->vm.name, on_ctl, p);
	return p->ctl ? 0 : -errno;
}

static void down_ctl(struct us_primary *p)
{
	if (p->pause_req)
		us_ctl_reply_error(p->pause_req, "daemon stopping");
	p->pause_req = NULL;
	if (p->switch_req)
		us_ctl_reply_error(p->switch_req, "daemon stopping");
	p->switch_req = NULL;
	us_ctl_free(p->ctl);
	p->ctl = NULL;
}

static int up_standby(struct us_primary *p)
{
	if (p->resuming) {	/* the old primary parks a QEMU, then listens */
		p->phase = PH_CONNECTING;
		p->switch_waiting = 1;
		p->switch_since_ms = now_ms();
		us_primary_connect_later(p, 0);
		return 0;
	}
	if (p->adopted) {
		us_primary_seek(p, "promoted after a takeover");
		return 0;
	}
	p->connect_deadline_ms = now_ms() + p->cfg->connect_timeout_ms;
	try_connect(p);
	return 0;
}

static void down_standby(struct us_primary *p)
{
	qb_loop_timer_del(p->loop, p->timer);
	qb_loop_timer_del(p->loop, p->connect_timer);
	us_transport_free(p->tx);
	p->tx = NULL;
}

struct stage {
	const char *name;
	int (*up)(struct us_primary *p);
	void (*down)(struct us_primary *p);
};

static const struct stage stages[] = {
	{ "checks", up_checks, down_checks },
	{ "guest RAM file", up_ram, down_ram },
	{ "disk and its NBD server", up_disk, down_disk },
	{ "QEMU", up_qemu, down_qemu },
	{ "QMP and device state", up_qmp, down_qmp },
	{ "dirty tracking", up_dirty, down_dirty },
	{ "control channel", up_ctl, down_ctl },
	{ "cluster membership", us_primary_loss_up, us_primary_loss_down },
	{ "standby connection", up_standby, down_standby },
};

#define N_STAGES (sizeof(stages) / sizeof(stages[0]))

static int32_t on_signal(int32_t sig, void *data)
{
	struct us_primary *p = data;

	us_log(LOG_NOTICE, US_TAG_PRIMARY, "signal %d: stopping; the VM stops with the daemon", sig);
	qb_loop_stop(p->loop);
	return 0;
}

static int init(struct us_primary *p, const struct us_config *cfg, const struct us_primary_opts *o,
		struct us_handover *h)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	us_epochlen_init(&p->len, cfg->epoch_ms, cfg->pause_share_pct, cfg->epoch_ms_min,
			 cfg->epoch_ms_max);
	p->h = h;
	p->loop = h->loop;
	p->adopted = h->qemu != NULL;
	p->epoch = h->epoch;
	p->lineage = h->lineage;
	p->base_epoch = US_EPOCH_NONE;
	if (!p->lineage && getrandom(&p->lineage, sizeof(p->lineage), 0) != sizeof(p->lineage))
		p->lineage = us_epoch_now_us() ^ ((uint64_t)getpid() << 32);
	p->ram.fd = -1;
	p->acked = US_EPOCH_NONE;
	if (h->resume) {	/* a switchover: the guest goes on from h->epoch here */
		p->resuming = 1;
		p->epoch = h->epoch + 1;
		p->acked = h->epoch;
		p->base_epoch = h->epoch;
		p->switch_pause_ms = h->pause_us / 1000;
		h->resume = 0;
	}
	p->vm_id = us_proto_vm_id(cfg->vm.name);
	us_runs_init(&p->runs);
	p->sum = XXH3_createState();
	if (!p->sum)
		return -ENOMEM;
	if (o && o->stats_path) {
		p->stats = fopen(o->stats_path, "w");
		if (!p->stats)
			return -errno;
		fprintf(p->stats, "epoch,pages,dev_bytes,stop_us,scan_us,copy_us,dev_us,cont_us,ack_ms,"
			"send_us,vm_pause_us\n");
	}
	qb_loop_signal_add(p->loop, QB_LOOP_HIGH, SIGTERM, p, on_signal, &p->sig_term);
	qb_loop_signal_add(p->loop, QB_LOOP_HIGH, SIGINT, p, on_signal, &p->sig_int);
	return 0;
}

static void fini(struct us_primary *p)
{
	if (p->stats)
		fclose(p->stats);
	us_runs_free(&p->runs);
	us_epoch_free_sendbuf(p);
	us_pagehash_free(&p->sent);
	free(p->spans);
	free(p->zbuf);
	free(p->chunks);
	XXH3_freeState(p->sum);
	free(p->switch_dev);
	if (p->sig_term)
		qb_loop_signal_del(p->loop, p->sig_term);
	if (p->sig_int)
		qb_loop_signal_del(p->loop, p->sig_int);
}

int us_primary_run(const struct us_config *cfg, const struct us_primary_opts *opts,
		   struct us_handover *h)
{
	struct us_primary p;
	size_t up = 0;
	int rc = init(&p, cfg, opts, h);

	for (; rc == 0 && up < N_STAGES; up++) {
		rc = stages[up].up(&p);
		if (rc < 0)
			us_log(LOG_CRIT, US_TAG_PRIMARY, "start-up failed at %s: %s", stages[up].name,
			       strerror(-rc));
	}
	if (rc == 0) {
		qb_loop_run(p.loop);
		rc = p.exit_rc;
	} else {
		up--;
	}
	while (up-- > 0)
		if (stages[up].down)
			stages[up].down(&p);
	fini(&p);
	return rc;
}
