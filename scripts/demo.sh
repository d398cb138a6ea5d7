#!/bin/sh
# Installs what is missing, builds, and shows loopback's main job so far:
# loopback-mtree rebuilding QEMU's q35 memory map and printing its flat views.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" build
input="$top/tests/data/mtree/q35.treeD"
echo "== loopback-mtree -D $input (the region tree, QEMU's text)"
"$top/build/tools/loopback-mtree/loopback-mtree" -D "$input"
echo "== loopback-mtree -f $input (the rendered flat views)"
# the i/o regions "io" and "rtc" have children and still terminate, and the
# PAM aliases are read-only: the text alone cannot say so (see the man page)
"$top/build/tools/loopback-mtree/loopback-mtree" -f --terminates io --terminates rtc \
	--readonly pam-rom "$input"
