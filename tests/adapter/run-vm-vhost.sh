#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# loopback-adapter's vhost-user-blk in a QEMU guest, against an unmodified
# qemu-storage-daemon: tests/adapter/run-vm.sh with the vm-vhost-user
# scenario.  Skips ("1..0 # SKIP") when qemu-storage-daemon is not
# installed (Debian: qemu-system-common).
#
#   tests/adapter/run-vm-vhost.sh [-o OUTDIR]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
qsd=${QEMU_STORAGE_DAEMON:-/usr/bin/qemu-storage-daemon}
if [ -z "${LOOPBACK_SKIP_VM:-}" ] && [ ! -x "$qsd" ]; then
	echo "1..0 # SKIP no $qsd: install qemu-system-common"
	exit 0
fi
# two vCPUs: virtio_blk uses at most one queue per CPU, and the test wants 2
exec "$here/run-vm.sh" --scenario vm-vhost-user --smp 2 --binary "$qsd" "$@"
