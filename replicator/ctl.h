/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control channel between the `understudy` command and a running daemon:
 * libqb IPC (a per-VM service "understudy-NAME", abstract unix sockets, so one
 * per network namespace), JSON requests {"cmd": ..} and JSON replies
 * {"ok": true, ..} or {"ok": false, "error": ".."}.
 */
#ifndef US_CTL_H
#define US_CTL_H

#include <jansson.h>
#include <qb/qbloop.h>

struct us_ctl;
struct us_ctl_req;

/*
 * One request. The handler answers with us_ctl_reply(), now or later, exactly
 * once (a pause, for example, answers when the epoch is acknowledged).
 */
typedef void (*us_ctl_handler)(void *opaque, const char *cmd, json_t *req,
			       struct us_ctl_req *pending);

/**
 * Serve "understudy-@vm_name" on @loop.
 * @return the server, or NULL with errno set (EADDRINUSE: a daemon for that
 * VM already runs here).
 */
struct us_ctl *us_ctl_start(qb_loop_t *loop, const char *vm_name, us_ctl_handler fn, void *opaque);

/** Answer @pending with @reply (reference stolen) and release it. */
void us_ctl_reply(struct us_ctl_req *pending, json_t *reply);

/** Answer @pending with {"ok": false, "error": @msg}. */
void us_ctl_reply_error(struct us_ctl_req *pending, const char *msg);

/** Stop serving; NULL-safe. */
void us_ctl_free(struct us_ctl *ctl);

/**
 * Client side: send @cmd (with the members of @args, may be NULL, borrowed)
 * to the daemon of @vm_name and wait up to @timeout_ms for the reply.
 * @return 0 with *reply set, -ENOENT (no such daemon here), -ETIMEDOUT, -errno.
 */
int us_ctl_call(const char *vm_name, const char *cmd, json_t *args, json_t **reply,
		int timeout_ms);

#endif
