#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# loopback-adapter's generic vhost-user type (against qemu-storage-daemon)
# and vhost-user-fs (against virtiofsd) in a QEMU guest:
# tests/adapter/run-vm.sh with the vm-vhost-user-types scenario.  Skips
# ("1..0 # SKIP") when either program is not installed (Debian:
# qemu-system-common has both).
#
#   tests/adapter/run-vm-vhost-types.sh [-o OUTDIR]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
qsd=${QEMU_STORAGE_DAEMON:-/usr/bin/qemu-storage-daemon}
vfsd=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
if [ -z "${LOOPBACK_SKIP_VM:-}" ]; then
	for p in "$qsd" "$vfsd"; do
		if [ ! -x "$p" ]; then
			echo "1..0 # SKIP no $p: install qemu-system-common"
			exit 0
		fi
	done
fi
exec "$here/run-vm.sh" --scenario vm-vhost-user-types --binary "$qsd" \
	--binary "$vfsd" --guest-module virtiofs "$@"
