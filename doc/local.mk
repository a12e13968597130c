# SPDX-License-Identifier: LGPL-2.1-or-later
# The manual page: hand-written roff (man(7) macros), shipped and installed as is.
dist_man8_MANS = doc/understudy.8
