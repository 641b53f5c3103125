#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Volumes made by an older cowfs, which recorded each one in a text file
# STORE/NAME/meta, still work after 'cowctl volume migrate' (issue 12):
#
#   skipped     the module reads no text: such a volume is not loaded,
#               and the kernel log says to run 'cowctl volume migrate'
#   migrated    the command converts each meta file into the record the
#               module reads (xattr trusted.cowfs.volume), removes it, and
#               has the module load the store again: the volumes are back
#               with their type, path, creation time, labels and options
#               (values with '=' and blanks included), and a local
#               volume's data is there in a union
#   refused     a meta file that is not one (garbage, another name, a
#               local volume with a path) is left as it is, named in a
#               message, and the command fails; the rest are converted
#   idempotent  a second run converts nothing
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}

say() { echo "# volume_migrate: $*"; }
skip() { say "SKIP: $*"; exit 4; }

# shellcheck source=selftests/tap_lib.sh
. "$repo/selftests/tap_lib.sh"
require_cowctl_and_module
command -v python3 >/dev/null || skip "no python3 to read JSON"
tmp=$(mktemp -d /tmp/volume-migrate.XXXXXX)
volume_test_init
trap 'volume_test_cleanup old-local old-bind' EXIT

# A store as the old module wrote it
s=$tmp/store
mkdir -p "$s/old-local/_data/sub" "$s/old-bind" "$s/garbage" \
	"$s/impostor/_data" "$s/local-path/_data" "$tmp/bindsrc" "$tmp/l" "$tmp/u" "$tmp/w" "$tmp/m"
echo "volume data" >"$s/old-local/_data/sub/file"
printf 'cowfs-volume 1\nname=old-local\ntype=local\ncreated=1700000000123456789\nlabel=com.example.app=web=1 b\nlabel=empty=\noption=o=x\n' \
	>"$s/old-local/meta"
printf 'cowfs-volume 1\nname=old-bind\ntype=bind\ncreated=42\npath=%s\n' "$tmp/bindsrc" \
	>"$s/old-bind/meta"
printf 'not a meta file\n' >"$s/garbage/meta"
printf 'cowfs-volume 1\nname=old-local\ntype=local\ncreated=1\n' >"$s/impostor/meta"
printf 'cowfs-volume 1\nname=local-path\ntype=local\ncreated=1\npath=/etc\n' >"$s/local-path/meta"
echo lower >"$tmp/l/f"

mark=$(dmesg | wc -l)
"$cowctl" config set --store "$s" >/dev/null || skip "cannot move the volume store to $s"

# ---- the module skips them ------------------------------------------------

check "volumes with only a meta file are not loaded" \
	sh -c "! '$cowctl' volume inspect old-local && ! '$cowctl' volume inspect old-bind"
check "the kernel log says how to convert them" \
	sh -c "dmesg | tail -n +$((mark + 1)) | grep -q 'old-local.*cowctl volume migrate'"

# ---- migrate ----------------------------------------------------------------

"$cowctl" -j volume migrate --store "$s" >"$tmp/mig.json" 2>"$tmp/mig.err"
rc=$?
sed 's/^/#   /' "$tmp/mig.err"
result $((rc != 1)) "migrate fails (status 1) because of the broken ones"
check "it names each broken one and why" sh -c "
	grep -q 'garbage:.*not a cowfs meta file' '$tmp/mig.err' &&
	grep -q 'impostor:.*not its directory' '$tmp/mig.err' &&
	grep -q 'local-path:.*local one with one' '$tmp/mig.err'"
check "it reports what it converted, and what not (JSON)" python3 - "$tmp/mig.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d["Migrated"]) == ["old-bind", "old-local"], d
assert sorted(d["Failed"]) == ["garbage", "impostor", "local-path"], d
EOF
check "the broken meta files are left as they were" sh -c "
	test -f '$s/garbage/meta' && test -f '$s/impostor/meta' && test -f '$s/local-path/meta' &&
	! getfattr -n trusted.cowfs.volume '$s/garbage' 2>/dev/null"
check "converted: no meta file, a record" sh -c "
	test ! -e '$s/old-local/meta' && test ! -e '$s/old-bind/meta' &&
	getfattr -n trusted.cowfs.volume '$s/old-local' >/dev/null 2>&1"

"$cowctl" -j volume inspect old-local old-bind >"$tmp/insp.json" 2>"$tmp/insp.err"
check "the module loaded them again" sh -c "test -s '$tmp/insp.json'"
sed 's/^/#   /' "$tmp/insp.err"
check "type, path, creation time, labels and options as before" python3 - "$tmp/insp.json" "$s" "$tmp/bindsrc" <<'EOF'
import json, sys
vols = {v["Name"]: v for v in json.load(open(sys.argv[1]))}
loc, bind = vols["old-local"], vols["old-bind"]
assert loc["Type"] == "local", loc
assert loc["Mountpoint"] == sys.argv[2] + "/old-local/_data", loc
assert loc["Labels"] == {"com.example.app": "web=1 b", "empty": ""}, loc
assert loc["Options"] == {"o": "x"}, loc
assert loc["CreatedAt"].startswith("2023-11-14T22:13:20"), loc["CreatedAt"]
assert bind["Type"] == "bind" and bind["Mountpoint"] == sys.argv[3], bind
EOF
check "a union shows the local volume's data" sh -c "
	mount -t cowfs none '$tmp/m' -o 'lowerdir=$tmp/l,upperdir=$tmp/u,workdir=$tmp/w,volume=old-local:/vol' &&
	test \"\$(cat '$tmp/m/vol/sub/file')\" = 'volume data' &&
	echo new >'$tmp/m/vol/new' && umount '$tmp/m' &&
	test \"\$(cat '$s/old-local/_data/new')\" = new"
check "a second run converts nothing" sh -c "
	'$cowctl' -j volume migrate --store '$s' 2>/dev/null |
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"Migrated\"] == [], d'"
check "a converted volume is deleted like any other" sh -c "
	'$cowctl' volume rm old-local >/dev/null && test ! -e '$s/old-local'"

tap_end
