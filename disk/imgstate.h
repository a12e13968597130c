/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a host's copy of the VM's disk holds, recorded beside it in
 * IMAGE.understudy-state, so that a cold start (no daemon running anywhere)
 * can tell which host has the freshest image and whether an image is usable
 * at all: one left mid-sync is torn. One line, rewritten in place:
 *   understudy-image 1 lineage=HEX epoch=N released=0|1 synced=0|1 time=UNIX_MS
 * released: output left this host beyond that epoch (it ran the guest
 * unprotected), so its image is ahead of any replica holding epoch N.
 */
#ifndef US_IMGSTATE_H
#define US_IMGSTATE_H

#include <stddef.h>
#include <stdint.h>

struct us_imgstate {
	uint64_t lineage;
	int64_t epoch; /* -1: none */
	int released;
	int synced;	  /* 0: a sync was under way, the image is torn */
	uint64_t time_ms; /* wall clock of the record */
};

/** @return the state file's path for image @disk in @out. */
void us_imgstate_path(const char *disk, char *out, size_t len);

/** Read @disk's record. @return 0, -ENOENT (none: never replicated), -EBADMSG. */
int us_imgstate_read(const char *disk, struct us_imgstate *st);

/** Record @st for @disk (time_ms is set to now). @return 0 or -errno. */
int us_imgstate_write(const char *disk, struct us_imgstate *st);

/**
 * May the guest boot from @disk? No record (an image never replicated) or a
 * synced one: yes (0). A torn one: -EUCLEAN with the cause and fix in @why.
 */
int us_imgstate_check(const char *disk, char *why, size_t len);

/**
 * Order two records by freshness: >0 when @a is fresher, <0 when @b is, 0
 * when neither is (a tie). A torn record is never fresher. Two records of
 * the same run and epoch (a pair stopped in step) tie unless one released
 * output beyond it; otherwise the later record is fresher: epochs restart at
 * each resync, so only the wall clock orders two hosts' histories (the
 * cluster's clocks must agree, as Pacemaker's logs need anyway).
 */
int us_imgstate_cmp(const struct us_imgstate *a, const struct us_imgstate *b);

/* A daemon's writer: the last record written and when (monotonic ms). */
struct us_imgstate_writer {
	struct us_imgstate last;
	uint64_t at_ms;
	int written;
};

/**
 * Record @now for @disk (NULL or "": no disk, nothing to do) when it differs
 * from the last record: at once if released or synced changed (or the
 * lineage) or with @force (a clean stop), else at most once a second. A
 * failure is logged once.
 */
void us_imgstate_note(struct us_imgstate_writer *w, const char *disk, const struct us_imgstate *now,
		      int force);

#endif
