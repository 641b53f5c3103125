#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Differential test of cowfs against overlayfs (redirect_dir=on): the same
# seeded random operations on both over identical layers must give the same
# results, merged trees and upper directories (see overlay_diff_test.py).
# DIFF_SEEDS and DIFF_OPS override the default 60 seeds x 200 operations (about 80 s under TCG).
# Exit status: 0 pass, 1 divergence, 4 skip (not root, no cowfs or overlay).
set -u
cd "$(dirname "$0")" || exit 1
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "SKIP: no python3"; exit 4; }
exec "$py" ./overlay_diff_test.py --seeds "${DIFF_SEEDS:-60}" \
	--ops "${DIFF_OPS:-200}" "$@"
