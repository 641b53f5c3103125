#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Differential test of cowfs against overlayfs: the same seeded random
# operations on both over identical layers must give the same results,
# merged trees and upper directories (see overlay_diff_test.py).  Three
# runs:
#   root     as root, trusted.overlay.*, overlayfs with redirect_dir=on
#   metacopy the same with metacopy=on,index=on on both (other seeds):
#            the lower layers' hard links stay linked over copy-up, and
#            the index directories on disk are compared too
#   userns   as uid 1000 in 'unshare -Urm', both mounted there with
#            userxattr (user.overlay.*, no redirects), the layers in a
#            directory of uid 1000 on /tmp, as a rootless container
#            engine mounts them (--userns: it fails unless it is in a
#            user namespace and both mounts show userxattr)
# DIFF_SEEDS and DIFF_OPS override the default 60 seeds x 200 operations
# of the root run (about 80 s under TCG), DIFF_USERNS_SEEDS the default 30
# seeds of the userns run (same operations).  Arguments go to both runs.
# Exit status: 0 pass, 1 divergence, 4 skip (not root, no cowfs or overlay).
set -u
cd "$(dirname "$0")" || exit 1
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "SKIP: no python3"; exit 4; }
uid=1000

echo "# overlay_diff: root run"
"$py" ./overlay_diff_test.py --seeds "${DIFF_SEEDS:-60}" \
	--ops "${DIFF_OPS:-200}" "$@"
rc=$?
[ "$rc" -eq 4 ] && exit 4

echo "# overlay_diff: metacopy=on,index=on run"
"$py" ./overlay_diff_test.py --metacopy --index --seeds "${DIFF_METACOPY_SEEDS:-30}" \
	--first-seed 1001 --ops "${DIFF_OPS:-200}" "$@"
mrc=$?
[ "$mrc" -eq 0 ] || rc=1

echo "# overlay_diff: userns run (uid $uid, unshare -Urm, userxattr)"
as_user=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)
if ! command -v unshare >/dev/null || ! "${as_user[@]}" unshare -Urm true; then
	echo "# overlay_diff: SKIP userns run: uid $uid cannot 'unshare -Urm'"
	exit "$rc"
fi
tmp=$(mktemp -d /tmp/ovldiff-userns.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
chown "$uid:$uid" "$tmp"
TMPDIR=$tmp "${as_user[@]}" unshare -Urm "$py" ./overlay_diff_test.py \
	--userns --seeds "${DIFF_USERNS_SEEDS:-30}" --ops "${DIFF_OPS:-200}" "$@"
urc=$?
# The root run found cowfs and overlay: a skip now is a failure
[ "$urc" -eq 4 ] && echo "# overlay_diff: the userns run could not run"
[ "$rc" -eq 0 ] && [ "$urc" -eq 0 ]
