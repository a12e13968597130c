/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Control channel over libqb IPC (see ctl.h): the server on the daemon's
 * loop, and the blocking client used by the command-line tool.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qb/qbipcc.h>
#include <qb/qbipcs.h>

#include "replicator/ctl.h"
#include "replicator/log.h"

#define CTL_MAX_MSG (64 * 1024)

struct us_ctl {
	qb_ipcs_service_t *svc;
	us_ctl_handler fn;
	void *opaque;
};

struct us_ctl_req {
	qb_ipcs_connection_t *conn;
	int32_t id;
};

/* libqb's poll hooks carry no context; a daemon serves one loop. */
static qb_loop_t *ctl_loop;

static int32_t job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(ctl_loop, p, data, fn);
}

static int32_t dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(ctl_loop, p, fd, evts, data, fn);
}

static int32_t dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(ctl_loop, p, fd, evts, data, fn);
}

static int32_t dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(ctl_loop, fd);
}

static int32_t on_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	return uid == 0 ? 0 : -EACCES;	/* control is for root only */
}

void us_ctl_reply(struct us_ctl_req *req, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	struct qb_ipc_response_header hdr = { .id = req->id, .error = 0 };
	struct iovec iov[2];

	if (text) {
		hdr.size = sizeof(hdr) + strlen(text) + 1;
		iov[0] = (struct iovec){ &hdr, sizeof(hdr) };
		iov[1] = (struct iovec){ text, strlen(text) + 1 };
		if (qb_ipcs_response_sendv(req->conn, iov, 2) < 0)
			us_log(LOG_WARNING, US_TAG_CTL, "control client left before its reply");
	}
	free(text);
	json_decref(reply);
	qb_ipcs_connection_unref(req->conn);
	free(req);
}

void us_ctl_reply_error(struct us_ctl_req *req, const char *msg)
{
	us_ctl_reply(req, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

static int32_t on_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct us_ctl *ctl = qb_ipcs_connection_service_context_get(c);
	const struct qb_ipc_request_header *hdr = data;
	struct us_ctl_req *req = calloc(1, sizeof(*req));
	json_t *msg = NULL;
	const char *cmd = NULL;

	if (!req)
		return -ENOMEM;
	qb_ipcs_connection_ref(c);
	req->conn = c;
	req->id = hdr->id;
	if (size > sizeof(*hdr))
		msg = json_loadb((const char *)data + sizeof(*hdr), size - sizeof(*hdr) - 1, 0, NULL);
	if (msg && json_unpack(msg, "{s:s}", "cmd", &cmd) == 0)
		ctl->fn(ctl->opaque, cmd, msg, req);
	else
		us_ctl_reply_error(req, "malformed request: expected JSON {\"cmd\": ...}");
	json_decref(msg);
	return 0;
}

struct us_ctl *us_ctl_start(qb_loop_t *loop, const char *vm_name, us_ctl_handler fn, void *opaque)
{
	static struct qb_ipcs_service_handlers sh = { .connection_accept = on_accept,
						       .msg_process = on_msg };
	static struct qb_ipcs_poll_handlers ph = { .job_add = job_add, .dispatch_add = dispatch_add,
						   .dispatch_mod = dispatch_mod,
						   .dispatch_del = dispatch_del };
	struct us_ctl *ctl = calloc(1, sizeof(*ctl));
	char name[128];
	int rc;

	if (!ctl)
		return NULL;
	ctl_loop = loop;
	ctl->fn = fn;
	ctl->opaque = opaque;
	snprintf(name, sizeof(name), "understudy-%s", vm_name);
	ctl->svc = qb_ipcs_create(name, 0, QB_IPC_SOCKET, &sh);
	if (!ctl->svc) {
		free(ctl);
		return NULL;
	}
	qb_ipcs_service_context_set(ctl->svc, ctl);
	qb_ipcs_poll_handlers_set(ctl->svc, &ph);
	rc = qb_ipcs_run(ctl->svc);
	if (rc < 0) {
		us_log(LOG_ERR, US_TAG_CTL, "cannot serve control channel %s: %s%s", name,
		       strerror(-rc), rc == -EADDRINUSE ?
		       " (a daemon for this VM already runs in this network namespace)" : "");
		qb_ipcs_destroy(ctl->svc);
		free(ctl);
		errno = -rc;
		return NULL;
	}
	return ctl;
}

void us_ctl_free(struct us_ctl *ctl)
{
	if (!ctl)
		return;
	qb_ipcs_destroy(ctl->svc);
	free(ctl);
}

static int build_request(const char *cmd, json_t *args, char **text)
{
	json_t *req = args ? json_deep_copy(args) : json_object();

	if (!req || json_object_set_new(req, "cmd", json_string(cmd)) < 0) {
		json_decref(req);
		return -ENOMEM;
	}
	*text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return *text ? 0 : -ENOMEM;
}

int us_ctl_call(const char *vm_name, const char *cmd, json_t *args, json_t **reply,
		int timeout_ms)
{
	struct qb_ipc_request_header hdr = { .id = 1 };
	char name[128], *text = NULL, *res = NULL;
	struct iovec iov[2];
	qb_ipcc_connection_t *conn;
	ssize_t n;
	int rc;

	snprintf(name, sizeof(name), "understudy-%s", vm_name);
	conn = qb_ipcc_connect(name, CTL_MAX_MSG);
	if (!conn)
		return -ENOENT;
	rc = build_request(cmd, args, &text);
	res = malloc(CTL_MAX_MSG);
	if (rc < 0 || !res) {
		rc = -ENOMEM;
		goto out;
	}
	hdr.size = sizeof(hdr) + strlen(text) + 1;
	iov[0] = (struct iovec){ &hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ text, strlen(text) + 1 };
	n = qb_ipcc_sendv_recv(conn, iov, 2, res, CTL_MAX_MSG, timeout_ms);
	if (n < (ssize_t)sizeof(struct qb_ipc_response_header)) {
		rc = n < 0 ? (int)n : -EBADMSG;
		goto out;
	}
	*reply = json_loadb(res + sizeof(struct qb_ipc_response_header),
			    n - sizeof(struct qb_ipc_response_header) - 1, 0, NULL);
	rc = *reply ? 0 : -EBADMSG;
out:
	free(text);
	free(res);
	qb_ipcc_disconnect(conn);
	return rc;
}
