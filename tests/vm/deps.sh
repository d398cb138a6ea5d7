#!/bin/bash
# Installs the host packages that the VM test tools (tests/vm/*) need on
# Debian 12.  Every package these tools use is named here, and only here;
# the other scripts call this one when something is missing.
#
#   tests/vm/deps.sh            install what is missing (no-op otherwise)
#   tests/vm/deps.sh --update   also refresh apt's package lists (needed to
#                               look up the current kernel on a fresh machine)
#
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

PACKAGES=(
	qemu-system-x86   # qemu-system-x86_64 (TCG), seabios
	busybox-static    # the guest's userland
	cpio              # initramfs archive
	kmod              # depmod/modprobe for the guest's module tree
	gcc-12            # the compiler Debian's 6.1 kernels are built with
	make
	libelf1           # objtool (linux-kbuild)
	libssl3           # sign-file (linux-kbuild)
	bc
	flex              # the debug kernel build (build-kernel)
	bison
	libelf-dev
	libssl-dev
	xz-utils
	dwarves           # pahole: BTF for modules built against 6.12 kernels
	fio               # block I/O with verification, in guests and benchmarks
	e2fsprogs         # mkfs.ext4 and e2fsck in guests
	iproute2          # vdpa (VDUSE in the 6.12 guest), ip netns (vhost-user-net guest)
	qemu-system-common # qemu-storage-daemon and virtiofsd: vhost-user and VDUSE peers
	dpdk-dev          # dpdk-testpmd: the vhost-user-net peer in guests
	strace            # loopback-bench blk --profile: system calls per request
)

update=0
for arg in "$@"; do
	case "$arg" in
	--update) update=1 ;;
	-h | --help)
		sed -n '2,10s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "deps.sh: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -eq 0 ] && [ "$update" -eq 0 ]; then
	exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "deps.sh: need root (or sudo) to run apt-get${missing[*]:+ and install: ${missing[*]}}" >&2
		exit 1
	fi
fi

echo "deps.sh: apt-get update" >&2
"${SUDO[@]}" apt-get update -q >&2
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps.sh: installing: ${missing[*]}" >&2
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
