/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `understudy image-state`: this host's image's state record (disk/imgstate.h)
 * in one token, for the Pacemaker agent's cold start rule, and with --versus
 * how it compares with another host's token. Runs without a daemon.
 *   token:  LINEAGE:EPOCH:RELEASED:SYNCED:TIME_MS, or "none"
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "disk/imgstate.h"
#include "replicator/imgcmd.h"

static int parse_token(const char *t, struct us_imgstate *st, int *have)
{
	unsigned long long lin, ms;
	long long ep;
	char end;

	*have = strcmp(t, "none") != 0;
	if (!*have)
		return 0;
	if (sscanf(t, "%llx:%lld:%d:%d:%llu%c", &lin, &ep, &st->released, &st->synced, &ms, &end) !=
	    5)
		return -EINVAL;
	st->lineage = lin;
	st->epoch = ep;
	st->time_ms = ms;
	return 0;
}

/* No record: an image never replicated; it ties only with another such. */
static int compare(const struct us_imgstate *a, int have_a, const struct us_imgstate *b, int have_b)
{
	if (have_a != have_b)
		return have_a ? 1 : -1;
	return have_a ? us_imgstate_cmp(a, b) : 0;
}

int us_imgcmd_run(const char *disk, const char *versus)
{
	struct us_imgstate mine = { 0 }, theirs = { 0 };
	int have_mine = 1, have_theirs, rc;

	if (!disk || !*disk) {
		have_mine = 0; /* a diskless VM: every host ties */
	} else {
		rc = us_imgstate_read(disk, &mine);
		if (rc == -ENOENT)
			have_mine = 0;
		else if (rc < 0) {
			fprintf(stderr, "understudy: cannot read the state record of %s: %s\n",
				disk, strerror(-rc));
			return 1;
		}
	}
	if (!versus) {
		if (have_mine)
			printf("%016" PRIx64 ":%" PRId64 ":%d:%d:%" PRIu64 "\n", mine.lineage,
			       mine.epoch, mine.released, mine.synced, mine.time_ms);
		else
			printf("none\n");
		return 0;
	}
	if (parse_token(versus, &theirs, &have_theirs) < 0) {
		fprintf(stderr,
			"understudy: --versus takes a token of `understudy image-state` "
			"(LINEAGE:EPOCH:RELEASED:SYNCED:TIME_MS or none), not '%s'\n",
			versus);
		return 2;
	}
	rc = compare(&mine, have_mine, &theirs, have_theirs);
	printf("%s\n", rc > 0 ? "fresher" : rc < 0 ? "older" : "tie");
	return 0;
}
