/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tap devices for the network relay. */
#ifndef US_TAP_H
#define US_TAP_H

/**
 * Create tap @name (up, non-blocking, removed when the fd closes) and attach
 * it to @bridge unless it is NULL or "".
 * @return the tap fd, or -errno with the cause logged.
 */
int us_tap_open(const char *name, const char *bridge);

#endif
