# SPDX-License-Identifier: LGPL-2.1-or-later
libunderstudy_a_SOURCES += failover/failover.h failover/decide.c failover/promote.c
