/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The image's state record (imgstate.h): written by the daemons as epochs
 * commit, read by `understudy image-state` for the Pacemaker agent's cold
 * start rule. Written with a rename so a crash leaves the old or the new
 * line, never half of one.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disk/imgstate.h"
#include "replicator/log.h"

#define MAGIC "understudy-image 1"

void us_imgstate_path(const char *disk, char *out, size_t len)
{
	snprintf(out, len, "%s.understudy-state", disk);
}

int us_imgstate_read(const char *disk, struct us_imgstate *st)
{
	char path[4096], line[256];
	unsigned long long lin, t;
	long long ep;
	FILE *f;
	int n;

	us_imgstate_path(disk, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fgets(line, sizeof(line), f) ? 1 : 0;
	fclose(f);
	if (!n || strncmp(line, MAGIC " ", strlen(MAGIC) + 1) != 0)
		return -EBADMSG;
	n = sscanf(line + strlen(MAGIC), " lineage=%llx epoch=%lld released=%d synced=%d time=%llu",
		   &lin, &ep, &st->released, &st->synced, &t);
	if (n != 5 || ep < -1)
		return -EBADMSG;
	st->lineage = lin;
	st->epoch = ep;
	st->time_ms = t;
	return 0;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int us_imgstate_write(const char *disk, struct us_imgstate *st)
{
	char path[4096], tmp[4200], line[256];
	int fd, len, rc = 0;

	st->time_ms = wall_ms();
	us_imgstate_path(disk, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	len = snprintf(line, sizeof(line),
		       MAGIC " lineage=%016" PRIx64 " epoch=%" PRId64 " released=%d synced=%d "
			     "time=%" PRIu64 "\n",
		       st->lineage, st->epoch, st->released, st->synced, st->time_ms);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)len) != len)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int us_imgstate_check(const char *disk, char *why, size_t len)
{
	struct us_imgstate st;
	int rc = us_imgstate_read(disk, &st);

	if (rc == -ENOENT || (rc == 0 && st.synced))
		return 0;
	if (rc == 0)
		snprintf(why, len,
			 "the image %s was left mid-sync (torn): it cannot boot the VM; "
			 "start the VM where a synced copy is, or restore this image",
			 disk);
	else
		snprintf(why, len,
			 "the image's state record beside %s is unreadable (%s): "
			 "remove it only if you know the image is whole",
			 disk, strerror(-rc));
	return -EUCLEAN;
}

int us_imgstate_cmp(const struct us_imgstate *a, const struct us_imgstate *b)
{
	if (a->synced != b->synced)
		return a->synced ? 1 : -1;
	if (a->lineage == b->lineage && a->epoch == b->epoch)
		return a->released - b->released;
	if (a->time_ms != b->time_ms)
		return a->time_ms > b->time_ms ? 1 : -1;
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void us_imgstate_note(struct us_imgstate_writer *w, const char *disk, const struct us_imgstate *now,
		      int force)
{
	struct us_imgstate rec = *now;
	int urgent, rc;

	if (!disk || !*disk)
		return;
	urgent = !w->written || rec.released != w->last.released || rec.synced != w->last.synced ||
		 rec.lineage != w->last.lineage;
	if (!urgent && !force && (rec.epoch == w->last.epoch || mono_ms() - w->at_ms < 1000))
		return;
	rc = us_imgstate_write(disk, &rec);
	if (rc < 0 && (w->written || w->at_ms == 0))
		us_log(LOG_ERR, US_TAG_MAIN,
		       "cannot record the image's state beside %s: %s "
		       "(a cold start cannot tell how fresh this image is)",
		       disk, strerror(-rc));
	w->at_ms = mono_ms();
	w->written = rc == 0;
	if (rc == 0)
		w->last = rec;
}
