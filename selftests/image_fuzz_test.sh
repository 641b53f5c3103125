#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crafted-image fuzzer, short run (selftests/image_fuzz.py): lower and upper
# layers full of conflicting object types, misplaced whiteouts and hostile
# trusted.overlay.* xattrs (and, 30% of seeds, a bind volume as hostile as a
# layer; in 30% of the seeds with an upper layer, index=on over a spoilt
# workdir/index) are mounted, walked and changed; any kernel splat, hang,
# mount left behind, module reference left, visible st_nlink of 0 or over
# 1000, or failed index=on mount with nothing in the kernel log fails the
# test.
#
# By default: seeds 1..50 (fixed, so CI is reproducible) and 4 seeds from a
# clock-based start (printed), 25 to 30 s under TCG.  Environment:
#   IMGFUZZ_START, IMGFUZZ_COUNT   run exactly these seeds (no clock seeds);
#                                  'make fuzz-images' uses them
#   IMGFUZZ_RANDOM                 how many clock seeds (default 4)
#   IMGFUZZ_ARGS                   more options for image_fuzz.py
#                                  (e.g. --keep-going, --timeout 120)
#   COWFS_TEST_FSTYPE=overlay      the same on overlayfs (the reference)
# A failing seed replays with: selftests/image_fuzz.py --seed N -v
# Exit status: 0 pass, 1 a failing seed, 4 skip (not root, no python3 or
# filesystem).
set -u
cd "$(dirname "$0")" || exit 1
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "SKIP: no python3"; exit 4; }
if [ -n "${IMGFUZZ_START:-}" ] || [ -n "${IMGFUZZ_COUNT:-}" ]; then
	range=(--start "${IMGFUZZ_START:-1}" --seeds "${IMGFUZZ_COUNT:-1000}")
else
	range=(--start 1 --seeds 50 --random "${IMGFUZZ_RANDOM:-4}")
fi
# shellcheck disable=SC2086 # IMGFUZZ_ARGS is a list of options
exec "$py" ./image_fuzz.py "${range[@]}" ${IMGFUZZ_ARGS:-}
