# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run, busybox sh as root): loopback-adapter's
# vhost-user-blk device with an unmodified qemu-storage-daemon serving the
# host's virtio_blk through loopback.ko, the adapter off the data path.
# Checked with dd both ways, fio --verify on 2 queues, mkfs.ext4, mount,
# e2fsck, SIGTERM, the backend going away, and reconnect= (the daemon
# killed with SIGKILL during writes at depth 1 and 32, then restarted; or
# never).  TAP on stdout.
#
# Needs in the guest: loopback-adapter, qemu-storage-daemon, fio,
# mkfs.ext4, e2fsck, md5sum (busybox); modules loopback, virtio_blk, ext4;
# vm-lib.sh.

. /root/vm-lib.sh

VUB="vhost-user-blk,socket=$SOCK"

# ---- data both ways ----
dd if=/dev/urandom of=$W/a.img bs=1M count=64 2>/dev/null
if start_qsd $W/a.img && start_adapter --device $VUB,num-queues=2; then
	line=$(sed -n 1p $ADAPTER_OUT)
	dev=$(node_of 1)
	ok 0 "vub: the adapter reports $line"
	case "$line" in "loopback"*" vhost-user-blk /dev/vd"*) st=0 ;; *) st=1 ;; esac
	ok $st "vub: the line has the form 'loopbackN vhost-user-blk /dev/vdX'"
	nq=$(ls /sys/block/"$(basename "$dev")"/mq 2>/dev/null | wc -l)
	[ "$nq" -eq 2 ]
	ok $? "vub: the driver uses 2 queues (got $nq)"
	both_ways vub $W/a.img
	kill -0 $qsd_pid 2>/dev/null
	ok $? "vub: qemu-storage-daemon is still running after the adapter left"
else
	ok 1 "vub: the adapter reports the device"
	sed 's/^/#   /' $ADAPTER_ERR
fi
stop_qsd

# ---- fio with verification, 2 queues ----
truncate -s 128M $W/f.img
if start_qsd $W/f.img && start_adapter --device $VUB; then
	dev=$(node_of 1)
	fio_ok "vub: fio: 2 jobs x QD16 random writes, every block verified" \
		"$dev" --name=verify --rw=randwrite --bs=4k --iodepth=16 \
		--numjobs=2 --size=32m --offset_increment=64m --verify=crc32c \
		--do_verify=1
	fio_ok "vub: fio: mixed read/write QD16, mixed sizes, verified" \
		"$dev" --name=mixed --rw=randrw --bs=4k,64k --iodepth=16 \
		--numjobs=2 --size=32m --offset_increment=64m --verify=md5
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "vub: SIGTERM after fio: exit 0 (got $st)"
else
	ok 1 "vub: adapter for fio"
	sed 's/^/#   /' $ADAPTER_ERR
fi
stop_qsd

# ---- a file system, then e2fsck ----
truncate -s 128M $W/e.img
if start_qsd $W/e.img && start_adapter --device $VUB; then
	dev=$(node_of 1)
	mkfs.ext4 -q -F "$dev" >$W/mkfs.log 2>&1
	ok $? "vub fs: mkfs.ext4 on $dev"
	mount -t ext4 "$dev" /mnt/fs
	ok $? "vub fs: mount"
	dd if=/dev/urandom of=/mnt/fs/data bs=1M count=20 2>/dev/null
	umount /mnt/fs
	ok $? "vub fs: a 20 MiB file written, umount"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "vub fs: SIGTERM: exit 0 (got $st)"
	stop_qsd
	e2fsck -fn $W/e.img >$W/fsck.log 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/#   /' $W/fsck.log
	ok $st "vub fs: e2fsck -fn on the image reports it clean"
else
	ok 1 "vub fs: adapter for mkfs"
	sed 's/^/#   /' $ADAPTER_ERR
fi
stop_qsd

# ---- the backend goes away: the device is removed, nothing hangs ----
truncate -s 32M $W/d.img
if start_qsd $W/d.img && start_adapter --device $VUB; then
	dev=$(node_of 1)
	dd if="$dev" of=/dev/null bs=1M count=4 2>/dev/null
	ok $? "vub gone: a read before the backend goes"
	stop_qsd
	wait_gone "$dev"
	ok $? "vub gone: $dev is removed after qemu-storage-daemon exited"
	i=0
	while kill -0 $adapter_pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 $adapter_pid 2>/dev/null
	ok $? "vub gone: the adapter exits"
	stop_adapter TERM
	grep -q "went away" $ADAPTER_ERR
	ok $? "vub gone: it says why ($(head -n 1 $ADAPTER_ERR))"
	no_d_state
	ok $? "vub gone: no task left in D state"
else
	ok 1 "vub gone: adapter"
	sed 's/^/#   /' $ADAPTER_ERR
fi
stop_qsd

# ---- reconnect (Documentation/vhost-user.md, "Reconnect") ----

# kill_qsd: the daemon dies at once (SIGKILL), as in a crash
kill_qsd() {
	[ -n "$qsd_pid" ] || return 0
	kill -KILL $qsd_pid 2>/dev/null
	wait $qsd_pid 2>/dev/null
	qsd_pid=""
}

# wait_pid PID SECONDS: PID ends within SECONDS; its status goes to $wst
wait_pid() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		wst=255
		return 1
	fi
	wait "$1"
	wst=$?
	return 0
}

# background_fio NAME DEV FIO-ARGS...: a verifying O_DIRECT fio in the
# background ($fio_pid), its output in $W/NAME.log
background_fio() {
	fname=$1
	fdev=$2
	shift 2
	fio --filename="$fdev" --name="$fname" --direct=1 --verify=crc32c \
		--do_verify=1 --verify_fatal=1 "$@" >$W/$fname.log 2>&1 &
	fio_pid=$!
}

# wait_written DEV MIB: until DEV has had MIB MiB written, by progress and
# not by time (how fast fio goes depends on the host); false if fio ended
# first or 30 s passed
wait_written() {
	i=0
	while kill -0 $fio_pid 2>/dev/null && [ $i -lt 600 ]; do
		[ "$(awk '{ print $7 }' "/sys/block/${1#/dev/}/stat")" -lt \
			$(($2 * 2048)) ] || return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# got_eio LOG: fio reported EIO
got_eio() { grep -q "Input/output error\|error=5\|errno=5" "$1"; }

# reconnects: how many times the adapter said it reconnected
reconnects() { grep -c "reconnected to the backend" $ADAPTER_ERR; }

# QD1: every write is the only one in flight; three crashes, each followed
# at once by a restart on the same socket and image
truncate -s 64M $W/r.img
if start_qsd $W/r.img && start_adapter --device $VUB,reconnect=30; then
	dev=$(node_of 1)
	background_fio qd1 "$dev" --rw=write --bs=4k --size=12m \
		--ioengine=psync
	kills=0
	# 1, 3 and 5 MiB into the 12, counting what is written again
	for mib in 1 3 5; do
		wait_written "$dev" $mib || break
		kill_qsd
		start_qsd $W/r.img || break
		kills=$((kills + 1))
		# the next crash only after this reconnect
		i=0
		while [ "$(reconnects)" -lt $kills ] && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	done
	wait_pid $fio_pid 300
	ok $? "reconnect qd1: fio ends (no hang)"
	note "qd1: $(grep -m1 'WRITE:' $W/qd1.log)"
	[ $wst -ne 0 ] && tail -n 15 $W/qd1.log | sed 's/^/#   /'
	ok $wst "reconnect qd1: fio's writes, $kills crashes of qemu-storage-daemon in their middle, no error and every block verified"
	[ $kills -eq 3 ]
	ok $? "reconnect qd1: the daemon was killed during the writes ($kills times)"
	[ "$(reconnects)" -eq $kills ]
	ok $? "reconnect qd1: the adapter reconnected after each crash ($(reconnects) of $kills)"
	[ -b "$dev" ]
	ok $? "reconnect qd1: $dev is still there"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "reconnect qd1: SIGTERM: exit 0 (got $st)"
	sed 's/^/#   /' $ADAPTER_ERR | head -n 8
else
	ok 1 "reconnect qd1: adapter"
	sed 's/^/#   /' $ADAPTER_ERR
fi
kill_qsd

# QD32: qemu-storage-daemon completes out of order.  Documented: each
# write completes with its data, or, when the crash caught a completion
# published out of order, the device fails with EIO; never a hang, never a
# block read back wrong.  fio writes every block once (no overlap).
truncate -s 64M $W/q.img
if start_qsd $W/q.img && start_adapter --device $VUB,reconnect=30; then
	dev=$(node_of 1)
	background_fio qd32 "$dev" --rw=randwrite --bs=4k --size=24m \
		--ioengine=libaio --iodepth=32
	crashed=0
	# 4 MiB into the 24
	if wait_written "$dev" 4; then
		kill_qsd
		start_qsd $W/q.img && crashed=1
	fi
	ok $([ $crashed -eq 1 ]; echo $?) "reconnect qd32: qemu-storage-daemon killed during the writes and restarted"
	wait_pid $fio_pid 300
	ok $? "reconnect qd32: fio ends (no hang)"
	note "qd32: $(grep -m1 'WRITE:' $W/qd32.log)"
	if [ $wst -eq 0 ]; then
		note "qd32: outcome: reconnected, every write completed"
		[ "$(reconnects)" -eq 1 ]
		ok $? "reconnect qd32: fio: no error, every block verified, after a reconnect"
	elif got_eio $W/qd32.log &&
		! grep -q "verify: bad\|bad magic\|crc32c: verify failed" $W/qd32.log; then
		note "qd32: outcome: the device failed (out-of-order completion at the crash)"
		sed 's/^/#   /' $ADAPTER_ERR | head -n 6
		ok 0 "reconnect qd32: fio got EIO, no wrong data read"
	else
		tail -n 15 $W/qd32.log | sed 's/^/#   /'
		ok 1 "reconnect qd32: fio: neither success nor EIO (exit $wst)"
	fi
	no_d_state
	ok $? "reconnect qd32: no task in D state"
	stop_adapter TERM
else
	ok 1 "reconnect qd32: adapter"
	sed 's/^/#   /' $ADAPTER_ERR
fi
kill_qsd

# the daemon never comes back: after reconnect=3 the writes fail with EIO
truncate -s 32M $W/n.img
if start_qsd $W/n.img && start_adapter --device $VUB,reconnect=3; then
	dev=$(node_of 1)
	background_fio never "$dev" --rw=write --bs=4k --size=16m \
		--ioengine=psync
	# 2 MiB into the 16
	wait_written "$dev" 2
	kill_qsd
	wait_pid $fio_pid 60
	ok $? "reconnect never: fio ends within 60 s of the crash (no hang)"
	got_eio $W/never.log
	st2=$?
	[ $st2 -ne 0 ] && tail -n 10 $W/never.log | sed 's/^/#   /'
	ok $([ $wst -ne 0 ] && [ $st2 -eq 0 ]; echo $?) "reconnect never: fio fails with EIO (exit $wst)"
	wait_gone "$dev"
	ok $? "reconnect never: $dev is removed"
	grep -q "did not come back" $ADAPTER_ERR
	ok $? "reconnect never: the adapter says why ($(grep "did not come back" $ADAPTER_ERR | head -n 1 | cut -c1-160))"
	wait_pid $adapter_pid 20
	ok $? "reconnect never: the adapter exits"
	adapter_pid=""
	no_d_state
	ok $? "reconnect never: no task in D state"
else
	ok 1 "reconnect never: adapter"
	sed 's/^/#   /' $ADAPTER_ERR
fi
kill_qsd

# ---- bad options and no backend ----
for bad in "--device vhost-user-blk" "--device vhost-user-blk,socket=$SOCK,bogus=1" \
	"--device vhost-user-blk,socket=$SOCK,num-queues=0" \
	"--device vhost-user-blk,socket=$SOCK,reconnect=-1"; do
	# shellcheck disable=SC2086
	loopback-adapter $bad >$W/bad.out 2>$W/bad.err
	st=$?
	lines=$(wc -l <$W/bad.err)
	[ $st -eq 2 ] && [ "$lines" -eq 1 ]
	ok $? "options: '$bad': exit 2 with one line (exit $st: $(head -n 1 $W/bad.err))"
done
loopback-adapter --device $VUB >$W/bad.out 2>$W/bad.err
st=$?
[ $st -eq 1 ] && [ "$(wc -l <$W/bad.err)" -eq 1 ]
ok $? "no backend: exit 1 with one line (exit $st: $(head -n 1 $W/bad.err))"

vm_end
