/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `understudy image-state` (imgcmd.c). */
#ifndef US_IMGCMD_H
#define US_IMGCMD_H

/**
 * Print image @disk's state token, or with @versus (another host's token)
 * "fresher", "older" or "tie". @return the command's exit status.
 */
int us_imgcmd_run(const char *disk, const char *versus);

#endif
