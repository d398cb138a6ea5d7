# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): killed and silent device processes, trap
# timeouts (the module is loaded with a 2 s trap timeout), block I/O in
# flight when the device goes away, hostile device processes and back ends,
# rmmod/insmod.
. /test/vm-lib.sh
lb_setup trap_timeout_ms=2000
lb_run test-kill -t 2000
modprobe virtio_net || echo "# modprobe virtio_net failed"
lb_run test-untrusted -t 2000
modprobe virtio_blk || echo "# modprobe virtio_blk failed"
lb_run test-blk -t 2000 -k "/lib/modules/$(uname -r)/extra/loopback.ko" -p trap_timeout_ms=2000
lb_run test-rmmod -k "/lib/modules/$(uname -r)/extra/loopback.ko" -p trap_timeout_ms=2000
lb_finish
