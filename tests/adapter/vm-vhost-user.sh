# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run, busybox sh as root): loopback-adapter's
# vhost-user-blk device with an unmodified qemu-storage-daemon serving the
# host's virtio_blk through loopback.ko, the adapter off the data path.
# Checked with dd both ways, fio --verify on 2 queues, mkfs.ext4, mount,
# e2fsck, SIGTERM, and the backend going away.  TAP on stdout.
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

# ---- bad options and no backend ----
for bad in "--device vhost-user-blk" "--device vhost-user-blk,socket=$SOCK,bogus=1" \
	"--device vhost-user-blk,socket=$SOCK,num-queues=0"; do
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
