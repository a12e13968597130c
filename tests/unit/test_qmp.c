/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QMP client against a fake QEMU: a unix socket in a temporary directory, a
 * thread that plays QEMU's greeting and capability negotiation, then the test
 * itself writes QEMU's side line by line and drives the client through the
 * libqb loop, us_qmp_read/us_qmp_feed (exact read boundaries) or us_qmp_call.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "replicator/log.h"
#include "replicator/qmp_int.h"
#include "tests/lib/logcap.h"

#define GUARD_MS 5000		/* a hang guard, not a timing threshold */
#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, " \
		 "\"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n"

enum greet_mode { GREET_OK, GREET_WRONG, GREET_HANGUP, GREET_AFTER_EVENT };

struct fx {
	char dir[64];
	char path[96];
	int lfd;		/* fake QEMU's listening socket */
	int sfd;		/* fake QEMU's end of the connection */
	enum greet_mode mode;
	int saw_capabilities;	/* the thread read qmp_capabilities */
	qb_loop_t *loop;
	struct us_qmp *q;
	int *watch;		/* run_until: stop when *watch >= want */
	int want;
	int64_t guard_end;
};

struct reply {
	int calls;
	json_t *ret;		/* own reference */
	char err[512];
};

struct events {
	int calls;
	char last[64];
	json_t *data;		/* own reference to the last data */
};

static int closed_calls;

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_all(int fd, const char *s)
{
	size_t n = strlen(s);
	ssize_t w;

	while (n) {
		w = write(fd, s, n);
		assert_true(w > 0);
		s += w;
		n -= w;
	}
}

/* One line from the client, parsed; NULL if none within GUARD_MS. */
static json_t *read_command(int fd)
{
	char line[4096];
	size_t n = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (n < sizeof(line) - 1) {
		if (poll(&pfd, 1, GUARD_MS) <= 0 || read(fd, line + n, 1) != 1)
			return NULL;
		if (line[n] == '\n')
			break;
		n++;
	}
	return json_loadb(line, n, 0, NULL);
}

static int64_t command_id(json_t *cmd)
{
	return json_integer_value(json_object_get(cmd, "id"));
}

static void *fake_qemu(void *arg)
{
	struct fx *f = arg;
	char buf[128];
	json_t *cmd;

	f->sfd = accept(f->lfd, NULL, NULL);
	if (f->sfd < 0)
		return NULL;
	if (f->mode == GREET_HANGUP) {
		close(f->sfd);	/* accepted, then closed without a word */
		f->sfd = -1;
		return NULL;
	}
	if (f->mode == GREET_WRONG) {
		write_all(f->sfd, "{\"return\": {}}\n");
		return NULL;
	}
	if (f->mode == GREET_AFTER_EVENT)	/* left over from QEMU's previous client */
		write_all(f->sfd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
			  "\"event\": \"NETDEV_STREAM_CONNECTED\", \"data\": {}}\r\n");
	write_all(f->sfd, GREETING);
	cmd = read_command(f->sfd);
	if (!cmd)
		return NULL;
	f->saw_capabilities = !strcmp(json_string_value(json_object_get(cmd, "execute")),
				      "qmp_capabilities");
	snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %lld}\r\n", (long long)command_id(cmd));
	json_decref(cmd);
	write_all(f->sfd, buf);
	return NULL;
}

static struct fx *make_fixture(enum greet_mode mode)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	assert_non_null(f);
	f->sfd = f->lfd = -1;
	f->mode = mode;
	strcpy(f->dir, "/tmp/us-test-qmp-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/qmp.sock", f->dir);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	f->loop = qb_loop_create();
	assert_non_null(f->loop);
	return f;
}

static struct us_qmp *connect_fake(struct fx *f)
{
	pthread_t th;
	struct us_qmp *q;
	int saved;

	assert_int_equal(pthread_create(&th, NULL, fake_qemu, f), 0);
	q = us_qmp_connect(f->loop, f->path);
	saved = errno;
	pthread_join(th, NULL);
	errno = saved;
	return q;
}

static int setup(void **state)
{
	struct fx *f = make_fixture(GREET_OK);

	closed_calls = 0;
	f->q = connect_fake(f);
	assert_non_null(f->q);
	assert_true(f->saw_capabilities);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	us_qmp_free(f->q);
	if (f->sfd >= 0)
		close(f->sfd);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	qb_loop_destroy(f->loop);
	free(f);
	return 0;
}

static void check_watch(void *data)
{
	struct fx *f = data;
	qb_loop_timer_handle th;

	if (*f->watch >= f->want || ms_now() > f->guard_end) {
		qb_loop_stop(f->loop);
		return;
	}
	qb_loop_timer_add(f->loop, QB_LOOP_LOW, 1000000, f, check_watch, &th);
}

/* Run the loop until *counter reaches @want (or the hang guard). */
static void run_until(struct fx *f, int *counter, int want)
{
	qb_loop_timer_handle th;

	f->watch = counter;
	f->want = want;
	f->guard_end = ms_now() + GUARD_MS;
	qb_loop_timer_add(f->loop, QB_LOOP_LOW, 1000000, f, check_watch, &th);
	qb_loop_run(f->loop);
	assert_int_equal(*counter, want);
}

static void on_reply(void *opaque, json_t *ret, const char *err)
{
	struct reply *r = opaque;

	r->calls++;
	json_decref(r->ret);
	r->ret = json_incref(ret);
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

static void on_event(void *opaque, const char *event, json_t *data)
{
	struct events *e = opaque;

	e->calls++;
	snprintf(e->last, sizeof(e->last), "%s", event);
	json_decref(e->data);
	e->data = json_incref(data);
}

static void on_closed(void *opaque)
{
	closed_calls++;
}

static int64_t ret_int(const struct reply *r, const char *key)
{
	return json_integer_value(json_object_get(r->ret, key));
}

static void reply_with(int fd, int64_t id, const char *ret)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"return\": %s, \"id\": %lld}\r\n", ret, (long long)id);
	write_all(fd, buf);
}

static void test_connect_negotiates(void **state)
{
	struct fx *f = *state;

	assert_true(f->q->greeted);
	assert_false(f->q->closed);
	assert_int_equal(f->q->pending == NULL, 1);
}

/* Three commands in flight, answered in reverse order. */
static void test_replies_matched_by_id(void **state)
{
	struct fx *f = *state;
	struct reply r[3] = { 0 };
	int64_t ids[3];
	json_t *cmd;
	char ret[32];
	int i, done = 0;

	for (i = 0; i < 3; i++) {
		assert_int_equal(us_qmp_send(f->q, "query-status", json_pack("{s:i}", "n", i),
					     on_reply, &r[i]), 0);
		cmd = read_command(f->sfd);
		assert_non_null(cmd);
		assert_string_equal(json_string_value(json_object_get(cmd, "execute")), "query-status");
		assert_int_equal(json_integer_value(json_object_get(json_object_get(cmd, "arguments"), "n")), i);
		ids[i] = command_id(cmd);
		json_decref(cmd);
	}
	assert_true(ids[0] != ids[1] && ids[1] != ids[2]);
	for (i = 2; i >= 0; i--) {
		snprintf(ret, sizeof(ret), "{\"n\": %d}", i * 10);
		reply_with(f->sfd, ids[i], ret);
	}
	while (done < 3) {
		run_until(f, &r[done].calls, 1);
		done++;
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(ret_int(&r[i], "n"), i * 10);
		assert_string_equal(r[i].err, "");
		json_decref(r[i].ret);
	}
}

static void test_events_by_name_and_star(void **state)
{
	struct fx *f = *state;
	struct events stop = { 0 }, all = { 0 };

	assert_int_equal(us_qmp_on_event(f->q, "STOP", on_event, &stop), 0);
	assert_int_equal(us_qmp_on_event(f->q, "*", on_event, &all), 0);
	write_all(f->sfd, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n"
		  "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"completed\"}}\r\n");
	run_until(f, &all.calls, 2);
	assert_int_equal(stop.calls, 1);
	assert_string_equal(stop.last, "STOP");
	assert_null(stop.data);
	assert_string_equal(all.last, "MIGRATION");
	assert_string_equal(json_string_value(json_object_get(all.data, "status")), "completed");

	us_qmp_off_event(f->q, on_event, &stop);
	write_all(f->sfd, "{\"event\": \"STOP\"}\r\n");
	run_until(f, &all.calls, 3);
	assert_int_equal(stop.calls, 1);
	json_decref(all.data);
}

struct stamps {
	struct us_qmp *q;
	int calls;
	uint64_t at[4];
};

static void on_stamped(void *opaque, const char *event, json_t *data)
{
	struct stamps *s = opaque;

	if (s->calls < 4)
		s->at[s->calls] = us_qmp_event_us(s->q);
	s->calls++;
}

/* Each event's QEMU timestamp, in microseconds; 0 when absent or malformed. */
static void test_event_timestamps(void **state)
{
	struct fx *f = *state;
	struct stamps s = { .q = f->q };

	assert_int_equal(us_qmp_on_event(f->q, "*", on_stamped, &s), 0);
	write_all(f->sfd,
		  "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 7, \"microseconds\": 250}}\r\n"
		  "{\"event\": \"RESUME\"}\r\n"
		  "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 7, \"microseconds\": 1000000}}\r\n"
		  "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 8, \"microseconds\": 999999}}\r\n");
	run_until(f, &s.calls, 4);
	assert_int_equal(s.at[0], 7000250);
	assert_int_equal(s.at[1], 0);
	assert_int_equal(s.at[2], 0);
	assert_int_equal(s.at[3], 8999999);
}

static void test_error_reply(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };
	json_t *cmd;
	char buf[256];

	assert_int_equal(us_qmp_send(f->q, "cont", NULL, on_reply, &r), 0);
	cmd = read_command(f->sfd);
	assert_non_null(cmd);
	assert_null(json_object_get(cmd, "arguments"));
	snprintf(buf, sizeof(buf), "{\"error\": {\"class\": \"GenericError\", \"desc\": "
		 "\"migration is not finished\"}, \"id\": %lld}\n", (long long)command_id(cmd));
	json_decref(cmd);
	write_all(f->sfd, buf);
	run_until(f, &r.calls, 1);
	assert_null(r.ret);
	assert_string_equal(r.err, "GenericError: migration is not finished");
}

/* A reply split across two reads is dispatched only when whole. */
static void test_partial_line_across_reads(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };
	char line[128];
	json_t *cmd;
	size_t half;

	assert_int_equal(us_qmp_send(f->q, "query-status", NULL, on_reply, &r), 0);
	cmd = read_command(f->sfd);
	assert_non_null(cmd);
	snprintf(line, sizeof(line), "{\"return\": {\"status\": \"running\"}, \"id\": %lld}\r\n",
		 (long long)command_id(cmd));
	json_decref(cmd);
	half = strlen(line) / 2;
	assert_int_equal(write(f->sfd, line, half), (ssize_t)half);
	assert_int_equal(us_qmp_read(f->q), 0);
	assert_int_equal(r.calls, 0);
	assert_int_equal(f->q->in.len - f->q->in.off, half);
	write_all(f->sfd, line + half);
	assert_int_equal(us_qmp_read(f->q), 0);
	assert_int_equal(r.calls, 1);
	assert_string_equal(json_string_value(json_object_get(r.ret, "status")), "running");
	json_decref(r.ret);
}

/* An event and a reply in one read are both dispatched. */
static void test_two_objects_in_one_read(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };
	struct events all = { 0 };
	char buf[256];

	assert_int_equal(us_qmp_on_event(f->q, "*", on_event, &all), 0);
	assert_int_equal(us_qmp_send(f->q, "stop", NULL, on_reply, &r), 0);
	snprintf(buf, sizeof(buf), "{\"event\": \"STOP\"}\r\n{\"return\": {}, \"id\": %lld}\r\n",
		 (long long)(f->q->next_id - 1));
	write_all(f->sfd, buf);
	assert_int_equal(us_qmp_read(f->q), 0);
	assert_int_equal(all.calls, 1);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.err, "");
	json_decref(r.ret);
}

/* Fed one byte at a time, a reply is dispatched exactly once, at its '\n'. */
static void test_feed_byte_by_byte(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };
	char line[128];
	size_t i, n;

	assert_int_equal(us_qmp_send(f->q, "query-kvm", NULL, on_reply, &r), 0);
	n = snprintf(line, sizeof(line), "{\"return\": {\"enabled\": false}, \"id\": %lld}\r\n",
		     (long long)(f->q->next_id - 1));
	for (i = 0; i < n; i++) {
		assert_int_equal(r.calls, 0);
		assert_int_equal(us_qmp_feed(f->q, line + i, 1), 0);
	}
	assert_int_equal(r.calls, 1);
	assert_true(json_is_false(json_object_get(r.ret, "enabled")));
	json_decref(r.ret);
}

static void test_malformed_json_closes(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };

	us_qmp_on_closed(f->q, on_closed, NULL);
	assert_int_equal(us_qmp_send(f->q, "stop", NULL, on_reply, &r), 0);
	write_all(f->sfd, "{\"return\": {}, \"id\": \r\n");
	run_until(f, &r.calls, 1);
	assert_null(r.ret);
	assert_non_null(strstr(r.err, "QMP connection lost"));
	assert_non_null(strstr(r.err, "malformed JSON"));
	assert_int_equal(closed_calls, 1);
	assert_int_equal(us_qmp_send(f->q, "cont", NULL, on_reply, &r), -EPIPE);
	assert_int_equal(r.calls, 1);
}

static void test_not_an_object_closes(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };

	assert_int_equal(us_qmp_send(f->q, "stop", NULL, on_reply, &r), 0);
	assert_int_equal(us_qmp_feed(f->q, "[1, 2]\n", 7), -EPROTO);
	assert_int_equal(r.calls, 1);
	assert_non_null(strstr(r.err, "not a JSON object"));
}

static void test_connection_loss_fails_pending(void **state)
{
	struct fx *f = *state;
	struct reply a = { 0 }, b = { 0 };

	us_qmp_on_closed(f->q, on_closed, NULL);
	assert_int_equal(us_qmp_send(f->q, "stop", NULL, on_reply, &a), 0);
	assert_int_equal(us_qmp_send(f->q, "cont", NULL, on_reply, &b), 0);
	close(f->sfd);
	f->sfd = -1;
	run_until(f, &closed_calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_non_null(strstr(a.err, "QMP connection lost"));
	assert_non_null(strstr(b.err, "QMP connection lost"));
	assert_int_equal(us_qmp_call(f->q, "stop", NULL, NULL, NULL, 0, 100), -EPIPE);
}

/* us_qmp_call returns its own reply and dispatches what arrives before it. */
static void test_call_dispatches_meanwhile(void **state)
{
	struct fx *f = *state;
	struct reply other = { 0 };
	struct events all = { 0 };
	int64_t call_id;
	json_t *ret = NULL;
	char err[128];

	assert_int_equal(us_qmp_on_event(f->q, "*", on_event, &all), 0);
	assert_int_equal(us_qmp_send(f->q, "query-kvm", NULL, on_reply, &other), 0);
	call_id = f->q->next_id;
	write_all(f->sfd, "{\"event\": \"RESUME\"}\r\n");
	reply_with(f->sfd, call_id - 1, "{\"n\": 1}");
	reply_with(f->sfd, call_id, "{\"status\": \"paused\"}");
	assert_int_equal(us_qmp_call(f->q, "query-status", NULL, &ret, err, sizeof(err), GUARD_MS), 0);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "paused");
	assert_int_equal(all.calls, 1);
	assert_int_equal(other.calls, 1);
	assert_int_equal(ret_int(&other, "n"), 1);
	json_decref(ret);
	json_decref(other.ret);
}

static void test_call_error(void **state)
{
	struct fx *f = *state;
	char buf[256], err[128];
	json_t *ret = (json_t *)1;

	snprintf(buf, sizeof(buf), "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
		 "\"The command nope has not been found\"}, \"id\": %lld}\n", (long long)f->q->next_id);
	write_all(f->sfd, buf);
	assert_int_equal(us_qmp_call(f->q, "nope", NULL, &ret, err, sizeof(err), GUARD_MS), -EIO);
	assert_null(ret);
	assert_string_equal(err, "CommandNotFound: The command nope has not been found");
}

/* A call that times out leaves the client usable; the late reply is dropped. */
static void test_call_timeout_then_late_reply(void **state)
{
	struct fx *f = *state;
	int64_t late_id = f->q->next_id;
	char err[128];

	assert_int_equal(us_qmp_call(f->q, "stop", NULL, NULL, err, sizeof(err), 20), -ETIMEDOUT);
	assert_non_null(strstr(err, "no reply to stop"));
	reply_with(f->sfd, late_id, "{}");
	reply_with(f->sfd, late_id + 1, "{\"ok\": true}");
	assert_int_equal(us_qmp_call(f->q, "cont", NULL, NULL, err, sizeof(err), GUARD_MS), 0);
	assert_null(f->q->pending);
}

struct nested {
	struct fx *f;
	int rc;
	char status[32];
};

static void call_from_event(void *opaque, const char *event, json_t *data)
{
	struct nested *n = opaque;
	json_t *ret = NULL;

	n->rc = us_qmp_call(n->f->q, "query-status", NULL, &ret, NULL, 0, GUARD_MS);
	snprintf(n->status, sizeof(n->status), "%s",
		 n->rc ? "" : json_string_value(json_object_get(ret, "status")));
	json_decref(ret);
}

/* A blocking call from inside an event callback reads on while the loop waits. */
static void test_call_inside_callback(void **state)
{
	struct fx *f = *state;
	struct nested n = { .f = f, .rc = 1 };
	struct events all = { 0 };
	char buf[256];

	assert_int_equal(us_qmp_on_event(f->q, "STOP", call_from_event, &n), 0);
	assert_int_equal(us_qmp_on_event(f->q, "*", on_event, &all), 0);
	/* The reply to the nested call and a second event, behind the first. */
	snprintf(buf, sizeof(buf), "{\"event\": \"STOP\"}\r\n{\"event\": \"RESUME\"}\r\n"
		 "{\"return\": {\"status\": \"paused\"}, \"id\": %lld}\r\n",
		 (long long)f->q->next_id);
	write_all(f->sfd, buf);
	run_until(f, &all.calls, 2);
	assert_int_equal(n.rc, 0);
	assert_string_equal(n.status, "paused");
	assert_string_equal(all.last, "RESUME");
}

static void free_from_event(void *opaque, const char *event, json_t *data)
{
	struct fx *f = opaque;

	us_qmp_free(f->q);
	f->q = NULL;
}

/* Freeing inside a callback fails what is pending and frees once unwound. */
static void test_free_inside_callback(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };

	assert_int_equal(us_qmp_on_event(f->q, "STOP", free_from_event, f), 0);
	assert_int_equal(us_qmp_send(f->q, "cont", NULL, on_reply, &r), 0);
	write_all(f->sfd, "{\"event\": \"STOP\"}\r\n{\"event\": \"STOP\"}\r\n");
	run_until(f, &r.calls, 1);
	assert_null(f->q);
	assert_non_null(strstr(r.err, "closed by us_qmp_free"));
}

static void test_free_fails_pending(void **state)
{
	struct fx *f = *state;
	struct reply r = { 0 };

	assert_int_equal(us_qmp_send(f->q, "stop", NULL, on_reply, &r), 0);
	us_qmp_free(f->q);
	f->q = NULL;
	assert_int_equal(r.calls, 1);
	us_qmp_free(NULL);
}

static void test_wrong_greeting(void **state)
{
	struct fx *f = make_fixture(GREET_WRONG);
	struct us_qmp *q;

	*state = f;
	us_logcap_clear();
	q = connect_fake(f);
	assert_null(q);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(us_logcap_text(), "expected QEMU's QMP greeting"));
}

/* QEMU hands a new client what its monitor held for the last one, then the
 * greeting (seen in the lab: NETDEV_STREAM_CONNECTED first): not an error. */
static void test_event_before_greeting(void **state)
{
	struct fx *f = make_fixture(GREET_AFTER_EVENT);

	*state = f;
	f->q = connect_fake(f);
	assert_non_null(f->q);
	assert_true(f->saw_capabilities);
}

static void test_hangup_before_greeting(void **state)
{
	struct fx *f = make_fixture(GREET_HANGUP);
	struct us_qmp *q;

	*state = f;
	q = connect_fake(f);
	assert_null(q);
	assert_int_equal(errno, ECONNRESET);
}

static void test_no_socket(void **state)
{
	struct us_qmp *q = us_qmp_connect(NULL, "/nonexistent/us-test/qmp.sock");

	assert_null(q);
	assert_int_equal(errno, ENOENT);
}

static int teardown_plain(void **state)
{
	return *state ? teardown(state) : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_negotiates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replies_matched_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_by_name_and_star, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_timestamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_line_across_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_objects_in_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_json_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_an_object_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_loss_fails_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_dispatches_meanwhile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_timeout_then_late_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_inside_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_inside_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_fails_pending, setup, teardown),
		cmocka_unit_test_teardown(test_wrong_greeting, teardown_plain),
		cmocka_unit_test_teardown(test_hangup_before_greeting, teardown_plain),
		cmocka_unit_test_teardown(test_event_before_greeting, teardown),
		cmocka_unit_test(test_no_socket),
	};
	int rc;

	us_log_init("test_qmp", LOG_CRIT, 0);
	us_logcap_start();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	us_logcap_stop();
	us_log_fini();
	return rc;
}
