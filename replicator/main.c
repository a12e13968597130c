/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder, replaced by the daemon */
int main(void) { return 0; }
