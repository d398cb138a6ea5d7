# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run): loopback-adapter's skeleton, built with the
# tests' device types (loopback-adapter-test): the hint when no driver
# binds, one line per bound device, SIGHUP, SIGTERM's orderly exit,
# --daemonize with --pid-file and two devices, SIGKILL, --config with
# NOTIFY_SOCKET (notify-listen standing for systemd).
. /test/vm-lib.sh
lb_mark=$(lb_dmesg_lines)
A=loopback-adapter-test

check() { # DESCRIPTION COMMAND...: one TAP-style line in the guest's log
	what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		lb_passed=$((lb_passed + 1))
	else
		echo "not ok - $what"
		lb_failed=$((lb_failed + 1))
	fi
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds
wait_for() {
	n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

no_devices() { [ -z "$(ls /sys/class/loopback/ 2>/dev/null)" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
lines() { [ "$(wc -l <"$2" 2>/dev/null)" -ge "$1" ]; }
hwrng_reads() { [ "$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c)" -eq 64 ]; }

modprobe loopback trap_timeout_ms=5000
ls -l /dev/loopback | sed 's/^/# /'

# 1. no virtio_rng: the adapter names the driver to load, then reports
$A --verbose --device test-rng >/tmp/out1 2>/tmp/err1 &
pid=$!
check "no driver within 10 s: the adapter says which to load" \
	wait_for 20 grep -q 'no driver bound within 10 s: load virtio_rng (modprobe virtio_rng)' /tmp/err1
modprobe virtio_rng
check "once virtio_rng binds: one line NAME TYPE NODE" \
	wait_for 20 grep -qx 'loopback[0-9]* test-rng /dev/hwrng' /tmp/out1
check "/dev/hwrng reads the adapter's device" hwrng_reads
kill -HUP $pid
sleep 0.5
check "SIGHUP reloads and keeps serving" kill -0 $pid
check "SIGHUP: the device type was reloaded" grep -q 'reloaded' /tmp/err1
kill -TERM $pid
wait $pid
st=$?
check "SIGTERM: exit status 0 (was $st)" [ "$st" -eq 0 ]
check "SIGTERM: the device is gone" wait_for 20 no_devices
check "SIGTERM: it was an orderly removal" grep -q 'loopback0 removed$' /tmp/err1
sed 's/^/# stderr: /' /tmp/err1

# 2. --daemonize, --pid-file, two devices in one process
$A --daemonize --pid-file /tmp/a.pid --device test-rng \
	--device test-rng,eventfds=off >/tmp/out2 2>/tmp/err2
st=$?
check "--daemonize: the foreground exits 0 (was $st)" [ "$st" -eq 0 ]
check "--daemonize: one line per device before that" lines 2 /tmp/out2
sed 's/^/# stdout: /' /tmp/out2
dpid=$(cat /tmp/a.pid 2>/dev/null)
check "--pid-file names the running daemon" kill -0 "${dpid:-0}"
check "both devices are served (/dev/hwrng)" hwrng_reads
kill -TERM "$dpid"
check "the daemon exits on SIGTERM" wait_for 20 gone "$dpid"
check "its devices are gone" wait_for 20 no_devices
check "its pid file is removed" [ ! -e /tmp/a.pid ]

# 3. SIGKILL: the kernel removes what the process served
$A --device test-rng >/tmp/out3 2>/tmp/err3 &
pid=$!
check "a third adapter reports its device" \
	wait_for 20 grep -q 'test-rng /dev/hwrng' /tmp/out3
kill -KILL $pid
wait $pid
check "SIGKILL: the device is gone" wait_for 20 no_devices

# 4. as a systemd service: --config, READY=1 once both drivers are bound
# (after the devices' lines), STOPPING=1 on SIGTERM
printf '# two devices\ntest-rng\n\n--device test-rng,eventfds=off\n' >/tmp/a.conf
notify-listen /tmp/notify 60 >/tmp/notify.out 2>&1 &
lpid=$!
wait_for 5 test -S /tmp/notify
NOTIFY_SOCKET=/tmp/notify $A --config /tmp/a.conf >/tmp/out5 2>/tmp/err5 &
pid=$!
check "NOTIFY_SOCKET: READY=1 once the drivers are bound" \
	wait_for 20 grep -qx 'READY=1' /tmp/notify.out
check "... after both devices' lines (--config)" lines 2 /tmp/out5
check "... with STATUS= naming both" \
	grep -q '^STATUS=Serving loopback[0-9]* /dev/hwrng, loopback[0-9]* /dev/hwrng$' /tmp/notify.out
kill -TERM $pid
wait $pid
st=$?
check "SIGTERM: exit status 0 (was $st)" [ "$st" -eq 0 ]
check "SIGTERM: STOPPING=1 was sent" wait_for 10 grep -qx 'STOPPING=1' /tmp/notify.out
check "SIGTERM: the devices are gone" wait_for 20 no_devices
wait $lpid
sed 's/^/# notify: /' /tmp/notify.out

# a bad option: one line, exit 2
$A --device test-rng,colour=red >/tmp/out4 2>/tmp/err4
st=$?
check "an unknown key of a known type: exit 2 (was $st)" [ "$st" -eq 2 ]
check "... with one line" [ "$(wc -l </tmp/err4)" -eq 1 ]
lb_finish
