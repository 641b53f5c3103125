#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own YNL CLI (tools/net/ynl/cli.py from linux-source-6.12,
# extracted by scripts/ksrc.sh) drives the cowfs family from its spec,
# Documentation/netlink/specs/cowfs.yaml, with no code of ours: the spec
# validates against the genetlink schema, and volume-new, volume-get
# (dump), mount-get (dump) and volume-del work and report what they did.
# Exit status: 0 passed, 1 failed, 4 skipped.
set -u

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# Debian's python3, which has python3-yaml and python3-jsonschema
py=${PYTHON:-/usr/bin/python3}
cli=$repo/.ksrc/tools/net/ynl/cli.py
spec=$repo/Documentation/netlink/specs/cowfs.yaml
schema=$repo/.ksrc/Documentation/netlink/genetlink.yaml

skip() { echo "SKIP: $*"; exit 4; }
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

[ -f "$cli" ] || skip "no $cli (run scripts/ksrc.sh)"
"$py" -c 'import yaml, jsonschema' 2>/dev/null ||
	skip "$py lacks yaml or jsonschema (scripts/deps.sh installs python3-yaml python3-jsonschema)"
[ -d /sys/module/cowfs ] || skip "the cowfs module is not loaded"

tmp=$(mktemp -d /tmp/cowfs-ynl.XXXXXX)
cleanup() {
	umount "$tmp/m" 2>/dev/null
	ynl --do volume-del --json '{"name": "ynl-vol"}' >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/store" "$tmp/l0" "$tmp/m"

# Validate the spec once (slow under emulation), then skip the schema.
ynl() { "$py" "$cli" --spec "$spec" --no-schema "$@"; }

echo "# config-set, validating the spec against genetlink.yaml"
out=$("$py" "$cli" --spec "$spec" --schema "$schema" --output-json \
	--do config-set --json "{\"store\": \"$tmp/store\"}") ||
	fail "config-set: $out"
echo "$out"
grep -qF "\"store\": \"$tmp/store\"" <<<"$out" || fail "config-set reply"
ok "spec validates; config-set"

echo "# volume-new"
out=$(ynl --output-json --do volume-new \
	--json '{"name": "ynl-vol", "type": "local", "label": [{"key": "by", "value": "ynl"}]}') ||
	fail "volume-new: $out"
echo "$out"
grep -qF '"name": "ynl-vol"' <<<"$out" || fail "volume-new: no name in the reply"
grep -qF '"type": "local"' <<<"$out" || fail "volume-new: no type in the reply"
grep -qF "\"path\": \"$tmp/store/ynl-vol/_data\"" <<<"$out" || fail "volume-new: path"
grep -qF '"label": [{"key": "by", "value": "ynl"}]' <<<"$out" || fail "volume-new: label"
[ -d "$tmp/store/ynl-vol/_data" ] || fail "volume-new: no $tmp/store/ynl-vol/_data"
ok "volume-new"

mount -t cowfs -o "lowerdir=$tmp/l0" none "$tmp/m" || fail "mount"

echo "# volume-get --dump"
out=$(ynl --output-json --dump volume-get) || fail "volume-get dump: $out"
echo "$out"
grep -qF '"name": "ynl-vol"' <<<"$out" || fail "volume-get dump: ynl-vol missing"
ok "volume-get dump"

echo "# mount-get --dump"
out=$(ynl --output-json --dump mount-get) || fail "mount-get dump: $out"
echo "$out"
grep -qF "\"lower\": [\"$tmp/l0\"]" <<<"$out" || fail "mount-get dump: the mount is missing"
dev=$(mountpoint -d "$tmp/m")
grep -qF "\"dev-major\": ${dev%:*}, \"dev-minor\": ${dev#*:}" <<<"$out" ||
	fail "mount-get dump: dev $dev missing"
ok "mount-get dump"
umount "$tmp/m" || fail "umount"

echo "# volume-del, twice"
out=$(ynl --do volume-del --json '{"name": "ynl-vol"}') || fail "volume-del: $out"
[ ! -e "$tmp/store/ynl-vol" ] || fail "volume-del left $tmp/store/ynl-vol"
out=$(ynl --do volume-del --json '{"name": "ynl-vol"}') && fail "a second volume-del worked"
echo "$out"
grep -q "No such file or directory" <<<"$out" || fail "second volume-del: not ENOENT"
grep -q "no volume ynl-vol" <<<"$out" || fail "second volume-del: no extack message"
ok "volume-del"
echo "ynl_test: all passed"
