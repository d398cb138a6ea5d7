# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): killed and silent device processes, trap
# timeouts (the module is loaded with a 2 s trap timeout), rmmod/insmod.
. /test/vm-lib.sh
lb_setup trap_timeout_ms=2000
lb_run test-kill -t 2000
lb_run test-rmmod -k "/lib/modules/$(uname -r)/extra/loopback.ko" -p trap_timeout_ms=2000
lb_finish
