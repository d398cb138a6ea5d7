#!/bin/sh
# Builds loopback out of tree in DIR (default build/): scripts/build.sh [DIR [configure args...]]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
[ $# -gt 0 ] && shift
cd "$top"
if [ -f config.status ]; then
	echo "build.sh: the source tree is configured in place; run 'make distclean' first" >&2
	exit 1
fi
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p "$dir"
cd "$dir"
"$top/configure" -q "$@"
make -s -j"$(nproc)"
