# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): the uapi, the window mapping, the rng device,
# a window too small for what the driver maps, the orderly removal.
. /test/vm-lib.sh
lb_setup extra_device_ids=0x7ff0
lb_run test-uapi
lb_run test-mmap
lb_run test-rng
lb_run test-window-full
lb_run test-remove
lb_finish
