#!/bin/sh
# Installs what is missing, builds, and does loopback's main job: loads
# loopback.ko, runs loopback-adapter with a 64 MiB image and an entropy
# source, and shows the host's own virtio_blk and virtio-rng drivers using
# them (lsblk, mkfs.ext4, mount, a file written and read back, bytes from
# /dev/hwrng), then tears it all down.  The scenario is
# scripts/demo-scenario.sh.
#
# On a host that cannot load this module (a kernel without module support,
# Secure Boot refusing an unsigned module, or no headers to build it
# against), the same scenario runs in the test VM (tests/vm/run, Debian's
# kernel under QEMU), and the script says so and why.  Run as root (or with
# sudo for the installs).  LOOPBACK_DEMO=vm forces the VM.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" build
kver=$(uname -r)

# Why this host cannot run the module, or nothing.
why_not_here() {
	if [ "${LOOPBACK_DEMO:-}" = vm ]; then
		echo "LOOPBACK_DEMO=vm asks for the VM"
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "loading a module needs root"
		return
	fi
	if [ ! -e /proc/modules ]; then
		echo "this kernel ($kver) has no module support (CONFIG_MODULES is off)"
		return
	fi
	sb=$(od -An -tu1 -j4 -N1 /sys/firmware/efi/efivars/SecureBoot-* 2>/dev/null | tr -d ' ' || true)
	if [ "$sb" = 1 ]; then
		echo "Secure Boot is on and refuses an unsigned loopback.ko (sign it with your MOK, see Documentation/)"
		return
	fi
	kdir=/lib/modules/$kver/build
	if [ ! -f "$kdir/Makefile" ]; then
		echo "installing linux-headers-$kver to build the module" >&2
		apt-get install -y -q --no-install-recommends "linux-headers-$kver" >/dev/null 2>&1 || true
	fi
	if [ ! -f "$kdir/Makefile" ]; then
		echo "no kernel headers for $kver (apt-get install linux-headers-$kver failed)"
		return
	fi
}

reason=$(why_not_here)
if [ -z "$reason" ]; then
	echo "== building loopback.ko for $kver"
	ko=$("$top/tests/vm/build-module" --kdir "/lib/modules/$kver/build" \
		-o "$top/build/kmod-host" "$top/kmod" | grep '/loopback\.ko$')
	# modprobe loopback then finds it, with its virtio dependencies
	mkdir -p "/lib/modules/$kver/extra"
	cp "$ko" "/lib/modules/$kver/extra/loopback.ko"
	depmod -a "$kver"
	PATH=$top/build/tools/loopback-adapter:$PATH
	export PATH
	if sh "$top/scripts/demo-scenario.sh" /tmp/loopback-demo; then
		st=0
	else
		st=1
	fi
	rm -f "/lib/modules/$kver/extra/loopback.ko"
	depmod -a "$kver"
	exit $st
fi

echo "demo: this host cannot load loopback.ko: $reason."
echo "demo: running the same scenario in the test VM (Debian's kernel under QEMU) instead."
"$top/tests/vm/deps.sh"
lsblk=$(command -v lsblk || true)
exec "$top/tests/vm/run" --script "$top/scripts/demo-scenario.sh" \
	--binary "$top/build/tools/loopback-adapter/loopback-adapter" \
	--binary "$(command -v mkfs.ext4 || echo /usr/sbin/mkfs.ext4)" \
	${lsblk:+--binary "$lsblk"} --guest-module ext4 --memory 768
