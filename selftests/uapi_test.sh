#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The netlink ABI is in one place: include/uapi/linux/cowfs.h and the
# kernel's policies (kernel/netlink-gen.[ch]) must be exactly what the
# kernel's generator makes of Documentation/netlink/specs/cowfs.yaml, and
# the spec must validate against the genetlink schema (scripts/check-uapi.sh).
# Exit status: 0 passed, 1 failed, 4 skipped.
set -u

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
py=${PYTHON:-/usr/bin/python3}

[ -f "$repo/.ksrc/tools/net/ynl/ynl-gen-c.py" ] ||
	{ echo "SKIP: no ynl-gen-c.py (run scripts/ksrc.sh)"; exit 4; }
"$py" -c 'import yaml, jsonschema' 2>/dev/null ||
	{ echo "SKIP: $py lacks yaml or jsonschema"; exit 4; }
KSRC=$repo/.ksrc PYTHON=$py "$repo/scripts/check-uapi.sh"
