#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# loopback-adapter's vhost-user-net in a QEMU guest, against an unmodified
# dpdk-testpmd forwarding between two net_vhost ports:
# tests/adapter/run-vm.sh with the vm-vhost-net scenario.  Skips
# ("1..0 # SKIP") when dpdk-testpmd is not installed (Debian: dpdk-dev).
#
#   tests/adapter/run-vm-vhost-net.sh [-o OUTDIR]
#
# testpmd's drivers are plugins: net_vhost and the ring mempool come from
# DPDK's driver directory, as --binary (which brings the libraries they
# need) into the guest's /usr/local/bin, where the scenario loads them
# with -d.  iproute2's ip moves the interfaces into network namespaces.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
testpmd=${DPDK_TESTPMD:-/usr/bin/dpdk-testpmd}
if [ -z "${LOOPBACK_SKIP_VM:-}" ] && [ ! -x "$testpmd" ]; then
	echo "1..0 # SKIP no $testpmd: install dpdk-dev"
	exit 0
fi
bins=(--binary "$testpmd")
if [ -z "${LOOPBACK_SKIP_VM:-}" ]; then
	for pmd in librte_net_vhost librte_mempool_ring; do
		p=$(ls /usr/lib/*/dpdk/pmds-*/"$pmd".so.[0-9]* 2>/dev/null |
			sort | head -n 1)
		if [ -z "$p" ]; then
			echo "1..1"
			echo "not ok 1 - no $pmd.so in DPDK's driver directory"
			exit 1
		fi
		bins+=(--binary "$p")
	done
	ip=$(PATH=/usr/sbin:/sbin:$PATH command -v ip)
	bins+=(--binary "$(readlink -f "$ip")")
fi
# testpmd polls one vCPU, the namespaces' traffic needs the other; the
# Debian build of DPDK needs SSE4.2, which QEMU's default CPU lacks
exec "$here/run-vm.sh" --scenario vm-vhost-net --smp 2 \
	--qemu-arg -cpu --qemu-arg max "${bins[@]}" "$@"
