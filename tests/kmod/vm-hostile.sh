# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): devices that attack the driver's side of
# their rings (writes to the descriptor table and the available ring) or
# that complete out of order, and die with requests in flight.
. /test/vm-lib.sh
lb_setup trap_timeout_ms=2000
lb_run test-hostile
modprobe virtio_blk || echo "# modprobe virtio_blk failed"
lb_run test-blk -s hostile -t 2000 -k "/lib/modules/$(uname -r)/extra/loopback.ko" -p trap_timeout_ms=2000
lb_finish
