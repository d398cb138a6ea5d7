#!/bin/sh
# Installs what building and testing loopback needs on Debian 12.
# Every package the project uses is named here, and only here (the VM
# tests' own are in tests/vm/deps.sh).
#
#   scripts/deps.sh              build and test the tree
#   scripts/deps.sh --install    also what scripts/check-install.sh uses
set -eu

# clang and libclang-rt-dev (its sanitizer runtimes, only recommended by
# clang): the ThreadSanitizer build; Debian 12 has clang 14.
PACKAGES="build-essential autoconf automake libtool pkg-config
	libglib2.0-dev liburcu-dev libudev-dev liburing-dev libsystemd-dev
	clang libclang-rt-dev"
# dpdk-dev ships /usr/bin/dpdk-testpmd, the vhost-user-net backend that
# tests/test-vhost-user-dpdk drives (qemu-storage-daemon, the blk one, comes
# with qemu-system-common from tests/vm/deps.sh)
PACKAGES="$PACKAGES dpdk-dev"
# DKMS, Debian packaging, a clean chroot to install the packages into, and
# systemd-analyze (systemd) with man (man-db) to verify the unit
if [ "${1:-}" = --install ]; then
	PACKAGES="$PACKAGES dkms dh-dkms debhelper dpkg-dev fakeroot lintian
	debootstrap pkgconf xz-utils binutils systemd man-db"
fi

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps.sh: need root (or sudo) to install:$missing" >&2
	exit 1
fi
echo "deps.sh: installing:$missing"
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
