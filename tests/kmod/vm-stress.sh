# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): 16 devices, control paths racing I/O, 200
# create/destroy cycles, and a
# run of the latency benchmark (100,000 round trips each, 5,000 for hwrng;
# under TCG the numbers only show that it works).
. /test/vm-lib.sh
lb_setup
lb_run test-multi
lb_run test-race
lb_run test-leak -n 200
lb_run bench-trap -n 100000 -w 1000 -H 5000
lb_finish
