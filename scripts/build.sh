#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configures and builds understudy out of tree in build/ (warnings fatal).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh >/dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure --enable-fatal-warnings
make -j"$(nproc)"
