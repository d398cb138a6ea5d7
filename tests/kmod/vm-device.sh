# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): libloopback's device layer against
# loopback.ko: the error without the module, waiting for a module being
# loaded, a virtio-rng device served through the GSource and read through
# /dev/hwrng, orderly removal, a device left unserved past the trap
# timeout, and the serving process killed.
. /test/vm-lib.sh
lb_mark=$(lb_dmesg_lines)
lb_run vm-device-rng --tap -p /device-vm/module-not-loaded-says-modprobe
modprobe virtio_rng
# loopback_device_new() waits for /dev/loopback through a udev monitor
(sleep 1; modprobe loopback trap_timeout_ms=2000) &
lb_run vm-device-rng --tap -p /device-vm/waits-for-module-just-loaded
wait
lb_setup trap_timeout_ms=2000
lb_run vm-device-rng --tap -s /device-vm/module-not-loaded-says-modprobe \
	-s /device-vm/waits-for-module-just-loaded
lb_finish
