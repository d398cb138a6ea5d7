#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# loopback-adapter's vhost-user-blk in a QEMU guest, against a scripted,
# misbehaving backend (tests/adapter/fake-vhost-blk.c): tests/adapter/run-vm.sh
# with the vm-vhost-fake scenario.
#
#   tests/adapter/run-vm-vhost-fake.sh [-o OUTDIR]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "${top_srcdir:-$here/../..}" && pwd)
builddir=${LOOPBACK_BUILDDIR:-${top_builddir:-$top/build}}
builddir=$(cd "$builddir" 2>/dev/null && pwd)
fake=$builddir/tests/adapter/fake-vhost-blk
if [ -z "${LOOPBACK_SKIP_VM:-}" ] && [ ! -x "$fake" ]; then
	echo "1..1"
	echo "not ok 1 - no $fake: build it with 'make check' (or make tests/adapter/fake-vhost-blk)"
	exit 1
fi
exec "$here/run-vm.sh" --scenario vm-vhost-fake --binary "$fake" "$@"
