#!/bin/bash
# Block-device benchmark in one VM: loopback's built-in blk and loopback
# through qemu-storage-daemon's vhost-user-blk export against the loop
# device, VDUSE + qemu-storage-daemon and null_blk, with fio, on
# Debian's 6.12 guest kernel (which has VDUSE, loop and null_blk as
# modules).  Every target serves the same image on the same tmpfs.
#
#   bench/blk-vm.sh [--runtime SEC] [--image-mb MB] [--rounds N]
#                   [--aio threads|io_uring] [--profile | --trace | --cpu]
#                   [--keep]
#
# Environment: LOOPBACK_VM_ABI (default: the newest 6.12 cloud kernel apt
# knows), LOOPBACK_BUILDDIR (where loopback-adapter was built, default
# build/).  Under TCG every user/kernel crossing is slow and runs vary: only
# compare figures of one run; each job runs --rounds times (default 3) and
# the table gives medians.  --aio sets qemu-storage-daemon's file I/O for
# the VDUSE and vhost-user rows alike (default threads, its own default).
# --profile instead counts qemu-storage-daemon's system calls (strace -c)
# during a QD1 read job on each of its two rows, VDUSE and vhost-user.
# --trace instead times the functions of the data path (ftrace's
# function_graph) during a QD1 and a QD32 read job on those two rows.
# --cpu instead splits the guest's CPU time per request by who spent it
# (the daemon, fio, kernel workers) during every job on those two rows,
# --rounds times, the two rows taking turns.
# Nothing here fails on a slow result.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

runtime=6
rounds=3
profile=0
aio=threads
image_mb=256
keep=()
while [ $# -gt 0 ]; do
	case $1 in
	--runtime) runtime=$2; shift 2 ;;
	--image-mb) image_mb=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--aio) aio=$2; shift 2 ;;
	--profile) profile=1; shift ;;
	--trace) profile=trace; shift ;;
	--cpu) profile=cpu; shift ;;
	--keep) keep=(--keep); shift ;;
	-h | --help) sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "blk-vm.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
done
for n in "$runtime" "$image_mb" "$rounds"; do
	case $n in '' | *[!0-9]* | 0) echo "blk-vm.sh: not a positive number: '$n'" >&2; exit 2 ;; esac
done
case $aio in
threads | io_uring) ;;
*) echo "blk-vm.sh: --aio: threads or io_uring, not '$aio'" >&2; exit 2 ;;
esac

# fio, qemu-storage-daemon, vdpa, and pahole for the 6.12 module build
"$top/tests/vm/deps.sh"

if [ -z "${LOOPBACK_VM_ABI:-}" ]; then
	LOOPBACK_VM_ABI=$(apt-cache search --names-only \
		'^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$' |
		sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12\)-cloud.*/\1/p' |
		sort -t. -k3,3n | tail -n 1)
	[ -n "$LOOPBACK_VM_ABI" ] || {
		echo "blk-vm.sh: apt knows no 6.12 cloud kernel (apt-get update?)" >&2
		exit 1
	}
fi
export LOOPBACK_VM_ABI
echo "blk-vm.sh: guest kernel $LOOPBACK_VM_ABI"

binaries=(--binary "$(command -v fio)" --binary "$(command -v qemu-storage-daemon)")
binaries+=(--binary "$(PATH=$PATH:/usr/sbin:/sbin command -v vdpa)")
[ "$profile" != 1 ] || binaries+=(--binary "$(command -v strace)")
builddir=${LOOPBACK_BUILDDIR:-$top/build}
adapter=$builddir/tools/loopback-adapter/loopback-adapter
if [ -x "$adapter" ]; then
	binaries+=(--binary "$adapter")
else
	echo "blk-vm.sh: no $adapter: the loopback row is left out"
fi

env_file=$(mktemp)
trap 'rm -f "$env_file"' EXIT
printf 'RUNTIME=%s\nIMG_MB=%s\nROUNDS=%s\nPROFILE=%s\nAIO=%s\n' "$runtime" \
	"$image_mb" "$rounds" "$profile" "$aio" >"$env_file"

exec "$top/tests/vm/run" --script "$here/blk-guest.sh" \
	--file "$env_file:/root/bench.env" \
	"${binaries[@]}" \
	--guest-module null_blk --guest-module loop --guest-module vduse \
	--guest-module vdpa --guest-module virtio_vdpa \
	--memory $((1024 + image_mb * 2)) --timeout $((600 + rounds * 5 * 4 * (runtime + 5))) "${keep[@]}"
