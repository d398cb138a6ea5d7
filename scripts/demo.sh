#!/bin/sh
# Installs what is missing, builds, and shows loopback's main job so far:
# loopback-mtree rebuilding QEMU's q35 memory map and printing its flat views.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" build
input="$top/tests/data/mtree/q35.treeD"
echo "== loopback-mtree -D $input (the region tree, QEMU's text)"
"$top/build/tools/loopback-mtree" -D "$input"
echo "== loopback-mtree -f $input (the rendered flat views)"
"$top/build/tools/loopback-mtree" -f $(cat "$top/tests/data/mtree/q35.args" 2>/dev/null) "$input"
