# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run, busybox sh as root): loopback-adapter's
# generic vhost-user type serving qemu-storage-daemon's vhost-user-blk
# export as device id 2, and vhost-user-fs serving virtiofsd's shared
# directory to the host's virtiofs.  TAP on stdout.
#
# Needs in the guest: loopback-adapter, qemu-storage-daemon, virtiofsd,
# md5sum (busybox); modules loopback, virtio_blk, virtiofs (and fuse);
# vm-lib.sh.

. /root/vm-lib.sh

EXTRA_IDS=/sys/module/loopback/parameters/extra_device_ids

# ---- the generic type: qemu-storage-daemon as device id 2 ----
GEN="vhost-user,socket=$SOCK,device-id=2,config-size=60"
dd if=/dev/urandom of=$W/g.img bs=1M count=64 2>/dev/null
if start_qsd $W/g.img 1 && start_adapter --device $GEN,num-queues=1; then
	line=$(sed -n 1p $ADAPTER_OUT)
	case "$line" in "loopback"*" vhost-user /dev/vd"*) st=0 ;; *) st=1 ;; esac
	ok $st "gen: the adapter reports 'loopbackN vhost-user /dev/vdX' ($line)"
	dev=$(node_of 1)
	# the backend's capacity (GET_CONFIG) reached the driver
	sz=$(cat /sys/block/"$(basename "$dev")"/size 2>/dev/null)
	[ "$sz" = 131072 ]
	ok $? "gen: the disk has the image's 131072 sectors (got $sz)"
	both_ways gen $W/g.img
else
	ok 1 "gen: the adapter reports the device"
	sed 's/^/#   /' $ADAPTER_ERR
fi
# more queues than the export has: refused, with the backend's count
loopback-adapter --device $GEN,num-queues=2 >$W/bad.out 2>$W/bad.err
st=$?
[ $st -eq 1 ] && grep -q "has only 1" $W/bad.err
ok $? "gen: num-queues=2 against a 1-queue export: exit 1 (exit $st: $(head -n 1 $W/bad.err))"
stop_qsd

# ---- vhost-user-fs: virtiofsd's directory, both ways ----
VFS_SOCK=$W/vfs.sock
SHARE=$W/share
vfs_pid=""

start_virtiofsd() {
	rm -f $VFS_SOCK
	mkdir -p $SHARE
	# the initramfs is no mount namespace to pivot_root out of: chroot
	virtiofsd --socket-path=$VFS_SOCK -o source=$SHARE -o sandbox=chroot \
		-o cache=none >$W/virtiofsd.log 2>&1 &
	vfs_pid=$!
	wait_listen $VFS_SOCK $vfs_pid $W/virtiofsd.log virtiofsd
}

stop_virtiofsd() {
	[ -n "$vfs_pid" ] || return 0
	kill -TERM $vfs_pid 2>/dev/null
	wait $vfs_pid 2>/dev/null
	vfs_pid=""
}

VFS="vhost-user-fs,socket=$VFS_SOCK,tag=lbfs"
modprobe virtiofs
ok $? "fs: modprobe virtiofs"
if start_virtiofsd; then
	# class 26 is not in loopback.ko's default list: refused before the
	# backend is reached, saying what to do
	loopback-adapter --device $VFS >$W/bad.out 2>$W/bad.err
	st=$?
	[ $st -eq 1 ] && grep -q "extra_device_ids=26" $W/bad.err
	ok $? "fs: without extra_device_ids: exit 1 naming it (exit $st: $(head -n 1 $W/bad.err))"
	kill -0 $vfs_pid 2>/dev/null
	ok $? "fs: virtiofsd was not connected to (still running)"
fi
echo 26 >$EXTRA_IDS
if [ -n "$vfs_pid" ] && start_adapter --device $VFS; then
	line=$(sed -n 1p $ADAPTER_OUT)
	case "$line" in "loopback"*" vhost-user-fs "*) st=0 ;; *) st=1 ;; esac
	ok $st "fs: the adapter reports the device ($line)"
	mkdir -p /mnt/vfs
	mount -t virtiofs lbfs /mnt/vfs
	ok $? "fs: mount -t virtiofs lbfs"
	dd if=/dev/urandom of=$W/g.bin bs=1M count=6 2>/dev/null
	cp $W/g.bin /mnt/vfs/g.bin && sync
	[ "$(md5 $SHARE/g.bin 2>/dev/null)" = "$(md5 $W/g.bin)" ]
	ok $? "fs: a 6 MiB file written through the mount is in virtiofsd's directory"
	dd if=/dev/urandom of=$SHARE/h.bin bs=1M count=5 2>/dev/null
	mkdir $SHARE/dir && echo hello >$SHARE/dir/f
	[ "$(md5 /mnt/vfs/h.bin 2>/dev/null)" = "$(md5 $SHARE/h.bin)" ]
	ok $? "fs: a 5 MiB file put in the directory reads back through the mount"
	[ "$(cat /mnt/vfs/dir/f 2>/dev/null)" = hello ]
	ok $? "fs: a directory made on virtiofsd's side is seen"
	rm /mnt/vfs/g.bin && [ ! -e $SHARE/g.bin ]
	ok $? "fs: a file removed through the mount is gone from the directory"
	umount /mnt/vfs
	ok $? "fs: umount"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "fs: SIGTERM: the adapter exits 0 (got $st)"
	no_d_state
	ok $? "fs: no task in D state"
	# virtiofsd serves one frontend: it exits when the adapter has gone
	i=0
	while kill -0 $vfs_pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 $vfs_pid 2>/dev/null
	ok $? "fs: virtiofsd exits after the adapter left"
else
	ok 1 "fs: the adapter reports the device"
	sed 's/^/#   /' $ADAPTER_ERR
	sed 's/^/#   virtiofsd: /' $W/virtiofsd.log
fi
stop_virtiofsd
# virtiofsd answers GET_QUEUE_NUM 2: hiprio and one request queue
if start_virtiofsd; then
	loopback-adapter --device $VFS,num-queues=2 >$W/bad.out 2>$W/bad.err
	st=$?
	[ $st -eq 1 ] && grep -q "at most 1 request queues" $W/bad.err
	ok $? "fs: num-queues=2 against virtiofsd: exit 1 (exit $st: $(head -n 1 $W/bad.err))"
fi
stop_virtiofsd

# ---- bad options: one line, exit 2 ----
for bad in "vhost-user,socket=$SOCK,num-queues=1,config-size=60" \
	"vhost-user,socket=$SOCK,device-id=4,num-queues=2,config-size=0" \
	"vhost-user-fs,socket=$VFS_SOCK" \
	"vhost-user-fs,socket=$VFS_SOCK,tag=0123456789012345678901234567890123456"; do
	loopback-adapter --device "$bad" >$W/bad.out 2>$W/bad.err
	st=$?
	lines=$(wc -l <$W/bad.err)
	[ $st -eq 2 ] && [ "$lines" -eq 1 ]
	ok $? "options: '$bad': exit 2 with one line (exit $st: $(head -n 1 $W/bad.err))"
done

vm_end
