#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# loopback-adapter end to end, in a QEMU guest: builds loopback.ko for the
# guest kernel, boots it with the built adapter, fio, mkfs.ext4 and e2fsck,
# runs a guest scenario (tests/adapter/SCENARIO.sh, default vm-builtin) and
# relays its TAP.
#
#   tests/adapter/run-vm.sh [-o OUTDIR] [--scenario NAME] [--smp N]
#                           [--memory MB] [--kernel stock|debug]
#                           [--binary PATH]... [--guest-module NAME]...
#                           [--qemu-arg ARG]...
#
# --binary adds a program the scenario needs (repeatable), --guest-module a
# module of the guest kernel (repeatable); --smp gives the guest N vCPUs
# (virtio_blk uses at most one queue per CPU); --memory its memory (default
# 1536); --qemu-arg passes ARG to QEMU (repeatable); --kernel picks
# Debian's kernel (stock, default) or tests/vm/build-kernel's (debug;
# default $LOOPBACK_VM_KERNEL).  OUTDIR (default $LOOPBACK_VM_OUT/adapter,
# else build/kmod-tests/adapter, kmod-tests-debug/ on the debug kernel; for
# another scenario adapter-NAME) keeps the module build and the console.
# LOOPBACK_BUILDDIR says where loopback-adapter was built (default: the
# top builddir, else build/).
# With LOOPBACK_SKIP_VM=REASON set, the run is skipped ("1..0 # SKIP").
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "${top_srcdir:-$here/../..}" && pwd)
out=""
scenario=vm-builtin
extra=()
memory=1536
while [ $# -gt 0 ]; do
	case "$1" in
	-o) out=${2:?-o needs a directory}; shift 2 ;;
	--scenario) scenario=${2:?--scenario needs a name}; shift 2 ;;
	--binary) extra+=(--binary "${2:?--binary needs a path}"); shift 2 ;;
	--smp) extra+=(--smp "${2:?--smp needs a number}"); shift 2 ;;
	--guest-module)
		extra+=(--guest-module "${2:?--guest-module needs a name}")
		shift 2 ;;
	--memory) memory=${2:?--memory needs a number}; shift 2 ;;
	--qemu-arg)
		extra+=(--qemu-arg "${2:?--qemu-arg needs a value}")
		shift 2 ;;
	--kernel) export LOOPBACK_VM_KERNEL=${2:?--kernel needs stock or debug}; shift 2 ;;
	--kernel=*) export LOOPBACK_VM_KERNEL=${1#*=}; shift ;;
	-h | --help) sed -n '3,/^set -/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run-vm.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -n "${LOOPBACK_SKIP_VM:-}" ]; then
	echo "1..0 # SKIP $LOOPBACK_SKIP_VM"
	exit 0
fi
suffix=""
[ "${LOOPBACK_VM_KERNEL:-stock}" = stock ] || suffix=-$LOOPBACK_VM_KERNEL
vm_out=${LOOPBACK_VM_OUT:-$top/build/kmod-tests$suffix}
sub=adapter
[ "$scenario" = vm-builtin ] || sub=adapter-${scenario#vm-}
out=${out:-$vm_out/$sub}
mkdir -p "$out"
out=$(cd "$out" && pwd)
builddir=${LOOPBACK_BUILDDIR:-${top_builddir:-$top/build}}
builddir=$(cd "$builddir" && pwd)

adapter=$builddir/tools/loopback-adapter/loopback-adapter
if [ ! -x "$adapter" ]; then
	echo "1..1"
	echo "not ok 1 - no $adapter: build the tree first"
	exit 1
fi

"$top/tests/vm/deps.sh" >/dev/null
PATH=$PATH:/usr/sbin:/sbin
echo "1..2"
if ko=$("$top/tests/vm/build-module" -o "$out/kmod" 2>"$out/build-module.log"); then
	ko=$(printf '%s\n' "$ko" | grep '/loopback\.ko$' | head -n 1)
fi
if [ -z "${ko:-}" ] || [ ! -f "$ko" ]; then
	echo "not ok 1 - build loopback.ko against the guest kernel"
	tail -n 40 "$out/build-module.log" | sed 's/^/# /'
	echo "not ok 2 - $scenario (not run)"
	exit 1
fi
echo "ok 1 - build loopback.ko against the guest kernel ($ko)"

bins=()
for b in "$adapter" "$(command -v fio)" "$(command -v mkfs.ext4)" \
	"$(command -v e2fsck)"; do
	bins+=(--binary "$b")
done
"$top/tests/vm/run" --module "$ko" "${bins[@]}" ${extra[@]+"${extra[@]}"} \
	--file "$here/vm-lib.sh:/root/vm-lib.sh" \
	--guest-module ext4 --guest-module loop --memory "$memory" \
	--script "$here/$scenario.sh" --timeout "${LOOPBACK_VM_TIMEOUT:-600}" \
	--log "$out/$scenario.console" >"$out/$scenario.out" 2>&1
st=$?
verdict=$(grep -a '^run: \(PASS\|FAIL\|SKIP\)' "$out/$scenario.out" | tail -n 1)
if [ "$st" -eq 0 ]; then
	echo "ok 2 - $scenario ${verdict#run: }"
else
	echo "not ok 2 - $scenario ${verdict#run: }"
fi
# the guest's lines, kernel messages left out
grep -avE '^\[ *[0-9]+\.[0-9]+\]' "$out/$scenario.out" | sed 's/^/#   /'
if [ "$st" -ne 0 ]; then
	echo "# failures:"
	grep -aE '^(not ok|Bail out!)|^run: FAIL' "$out/$scenario.out" | sed 's/^/#   >> /'
	echo "# full console: $out/$scenario.console"
fi
[ "$st" -eq 0 ]
