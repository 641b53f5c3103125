#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Differential test of cowfs copyup=partial against copyup=full: the same
# seeded random operations (pwrite, reads, truncate, O_APPEND, mmap
# writes, punched holes, renames, links, fsync, remounts, ...) on both
# over one lower layer of a few multi-MiB files must give the same
# results and the same files, which must match a model of each file; on
# disk, each partial file's record must agree with its data (see
# partial_diff_test.py).
# DIFF_SEEDS and DIFF_OPS override the default 50 seeds x 100 operations
# (about a minute under TCG).  Arguments go to partial_diff_test.py.
# Exit status: 0 pass, 1 divergence, 4 skip (not root, no cowfs).
set -u
cd "$(dirname "$0")" || exit 1
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "SKIP: no python3"; exit 4; }

echo "# partial_diff: copyup=partial against copyup=full"
exec "$py" ./partial_diff_test.py --seeds "${DIFF_SEEDS:-50}" \
	--ops "${DIFF_OPS:-100}" "$@"
