# SPDX-License-Identifier: LGPL-2.1-or-later
# Dirty tracking: runs, uffd injection, PAGEMAP_SCAN.
