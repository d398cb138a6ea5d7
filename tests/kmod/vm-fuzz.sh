# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): fuzz-uapi, random operations on
# /dev/loopback and on many devices at once (entropy, block, network
# without a control queue, the extra class 0x7ff0), with virtio_blk and
# virtio_net loaded so that drivers bind and have I/O in flight, a short
# trap timeout so that late and missing replies break devices, then rmmod
# and insmod.  run-vm.sh passes LOOPBACK_FUZZ_OPS, LOOPBACK_FUZZ_SEED,
# LOOPBACK_FUZZ_WORKERS and LOOPBACK_FUZZ_SKIP (fuzz-uapi's -x) on the kernel
# command line (loopback_fuzz.ops=...).
. /test/vm-lib.sh
arg() { # NAME DEFAULT: loopback_fuzz.NAME=VALUE from the kernel command line
	v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^loopback_fuzz\.$1=//p" | tail -n 1)
	echo "${v:-$2}"
}
ops=$(arg ops 30000)
seed=$(arg seed "")
workers=$(arg workers 6)
skip=$(arg skip "")
params="trap_timeout_ms=1000 extra_device_ids=0x7ff0"
lb_setup $params
modprobe virtio_blk || echo "# modprobe virtio_blk failed"
modprobe virtio_net || echo "# modprobe virtio_net failed"
lb_run fuzz-uapi ${seed:+-s "$seed"} -n "$ops" -w "$workers" ${skip:+-x "$skip"} \
	-k "/lib/modules/$(uname -r)/extra/loopback.ko" -p "$params"
lb_finish
