# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the tests/kmod/vm-*.sh scenarios, which tests/vm/run runs in the
# guest (busybox sh, as root).  tests/kmod/run-vm.sh copies this file to
# /test/vm-lib.sh.
#
#   lb_setup [MODULE PARAMS...]  load virtio_rng and loopback.ko
#   lb_run PROGRAM [ARGS...]     run one TAP test program; notes its status
#                                and any kernel trouble it caused
#   lb_finish                    exit 0 (all passed), 4 (all skipped) or 1

lb_failed=0
lb_passed=0
lb_skipped=0
lb_bad_re='BUG:|WARNING:|Oops|Call Trace|general protection|kernel BUG|list_add corruption|list_del corruption|Poison overwritten|Redzone overwritten|Object padding overwritten|blocked for more than'

lb_dmesg_lines() { dmesg | wc -l; }

lb_setup() {
	echo "# kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s), $(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
	if ! modprobe virtio_rng; then
		echo "# modprobe virtio_rng failed"
		lb_failed=$((lb_failed + 1))
	fi
	if ! modprobe loopback "$@"; then
		echo "# modprobe loopback $* failed"
		lb_failed=$((lb_failed + 1))
		lb_finish
	fi
	i=0
	while [ ! -c /dev/loopback ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ls -l /dev/loopback | sed 's/^/# /'
	for p in /sys/module/loopback/parameters/*; do
		[ -e "$p" ] && echo "# $(basename "$p") = $(cat "$p")"
	done
	lb_mark=$(lb_dmesg_lines)
}

lb_run() {
	prog=$1
	echo "# ==== $* ===="
	start=$(cut -d' ' -f1 /proc/uptime)
	"$@"
	st=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	trouble=$(dmesg | tail -n +$((lb_mark + 1)) | grep -E "$lb_bad_re")
	lb_mark=$(lb_dmesg_lines)
	if [ -n "$trouble" ]; then
		echo "# ==== $prog: the kernel log reports trouble while it ran:"
		echo "$trouble" | head -n 20 | sed 's/^/#   /'
		[ "$st" -eq 0 ] && st=1
	fi
	case $st in
	0) lb_passed=$((lb_passed + 1)); verdict=PASS ;;
	4) lb_skipped=$((lb_skipped + 1)); verdict=SKIP ;;
	*) lb_failed=$((lb_failed + 1)); verdict=FAIL ;;
	esac
	echo "# ==== $prog: $verdict (exit $st, ${start}s -> ${end}s uptime)"
}

lb_finish() {
	echo "# scenario: $lb_passed passed, $lb_failed failed, $lb_skipped skipped"
	if [ "$lb_failed" -gt 0 ]; then
		echo "# kernel log tail:"
		dmesg | tail -n 40 | sed 's/^/#   /'
		exit 1
	fi
	if [ "$lb_passed" -eq 0 ] && [ "$lb_skipped" -gt 0 ]; then
		exit 4
	fi
	exit 0
}
