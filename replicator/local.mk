# SPDX-License-Identifier: LGPL-2.1-or-later
libunderstudy_a_SOURCES += replicator/log.c replicator/log.h \
	replicator/vmconf.h

include replicator/dirty.mk
include replicator/qemu.mk
