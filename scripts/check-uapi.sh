#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Keep the cowfs netlink ABI in one place: Documentation/netlink/specs/
# cowfs.yaml is the source, and the kernel's own generator (ynl-gen-c.py
# from linux-source-6.12, extracted by scripts/ksrc.sh) renders it into
#   include/uapi/linux/cowfs.h        the uAPI header (commands, attributes)
#   kernel/netlink-gen.h, .c          the kernel's policies and ops table
# This script validates the spec against the genetlink schema, renders
# the three files into a scratch directory and compares them with the
# committed ones: any difference (a hand edit of the header, a spec
# change without regeneration) fails.  --update writes them instead.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${PYTHON:-/usr/bin/python3}
spec=$repo/Documentation/netlink/specs/cowfs.yaml
ksrc=${KSRC:-$repo/.ksrc}
gen=$ksrc/tools/net/ynl/ynl-gen-c.py

usage() {
	echo "usage: scripts/check-uapi.sh [--update]" >&2
	exit 2
}

update=0
case "${1:-}" in
'') ;;
--update) update=1 ;;
*) usage ;;
esac

if [ ! -f "$gen" ]; then
	"$repo/scripts/ksrc.sh" >&2
fi
"$py" -c 'import yaml, jsonschema' 2>/dev/null || {
	echo "check-uapi: $py lacks yaml or jsonschema (apt-get install python3-yaml python3-jsonschema)" >&2
	exit 1
}

# ynl-gen-c.py looks for the schema two levels above the spec and for a
# MAINTAINERS file to find the "kernel root": give it a scratch tree.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/Documentation/netlink/specs" "$tmp/out"
cp "$ksrc"/Documentation/netlink/*.yaml "$tmp/Documentation/netlink/"
cp "$spec" "$tmp/Documentation/netlink/specs/cowfs.yaml"
touch "$tmp/MAINTAINERS"
tspec=$tmp/Documentation/netlink/specs/cowfs.yaml

"$py" - "$tmp/Documentation/netlink/genetlink.yaml" "$tspec" <<'PY'
import sys, yaml, jsonschema
schema = yaml.safe_load(open(sys.argv[1]))
try:
    jsonschema.validate(yaml.safe_load(open(sys.argv[2])), schema)
except jsonschema.ValidationError as e:
    sys.exit(f"check-uapi: the spec does not validate against genetlink.yaml: {e.message}")
PY

cd "$ksrc/tools/net/ynl"
"$py" "$gen" --mode uapi --header --spec "$tspec" -o "$tmp/out/cowfs.h" >/dev/null
"$py" "$gen" --mode kernel --header --spec "$tspec" -o "$tmp/out/netlink-gen.h" >/dev/null
"$py" "$gen" --mode kernel --source --spec "$tspec" -o "$tmp/out/netlink-gen.c" >/dev/null

rc=0
for pair in cowfs.h:include/uapi/linux/cowfs.h netlink-gen.h:kernel/netlink-gen.h \
	netlink-gen.c:kernel/netlink-gen.c; do
	new=$tmp/out/${pair%%:*}
	old=$repo/${pair#*:}
	if [ "$update" = 1 ]; then
		cmp -s "$new" "$old" || { cp "$new" "$old"; echo "check-uapi: wrote ${pair#*:}"; }
	elif ! diff -u --label "${pair#*:} (committed)" --label "${pair#*:} (from the spec)" \
		"$old" "$new"; then
		rc=1
	fi
done
if [ "$rc" != 0 ]; then
	echo "check-uapi: FAIL: the files above disagree with Documentation/netlink/specs/cowfs.yaml" >&2
	echo "check-uapi: edit the spec, not the generated files, then run scripts/check-uapi.sh --update" >&2
	exit 1
fi
[ "$update" = 1 ] || echo "check-uapi: ok: header and kernel policies match the spec"
