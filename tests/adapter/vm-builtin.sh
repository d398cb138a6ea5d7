# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run, busybox sh as root): loopback-adapter
# end to end with the host's own drivers.  virtio_blk and virtio-rng
# serve images and a byte source through loopback.ko; checked with dd,
# fio --verify, mkfs.ext4, mount and e2fsck.  TAP on stdout.
#
# Needs in the guest: loopback-adapter, fio, mkfs.ext4, e2fsck, md5sum
# (busybox); modules loopback, virtio_blk, virtio_rng, ext4; vm-lib.sh.

. /root/vm-lib.sh

# ---- rng ----
head -c 65536 /dev/zero | tr '\0' 'Z' >$W/z.src
if start_adapter --device rng,file=$W/z.src; then
	line=$(sed -n 1p $ADAPTER_OUT)
	ok 0 "rng: the adapter reports the device ($line)"
	case "$line" in "loopback"*" rng /dev/hwrng") st=0 ;; *) st=1 ;; esac
	ok $st "rng: the line has the form 'loopbackN rng /dev/hwrng'"
	# the hwrng core may have several rngs: pick ours
	cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
	note "rng_current: $cur"
	head -c 64 /dev/hwrng >$W/rng.out
	bad=$(tr -d 'Z' <$W/rng.out | wc -c)
	size=$(wc -c <$W/rng.out)
	[ "$size" -eq 64 ] && [ "$bad" -eq 0 ]
	ok $? "rng: /dev/hwrng gives the source's bytes ($size read, $bad foreign)"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "rng: SIGTERM: the adapter exits 0 (got $st)"
else
	ok 1 "rng: the adapter reports the device"
fi

# ---- blk: data both ways ----
dd if=/dev/urandom of=$W/a.img bs=1M count=64 2>/dev/null
if start_adapter --device blk,file=$W/a.img,num-queues=2; then
	ok 0 "blk: the adapter reports $(sed -n 1p $ADAPTER_OUT)"
	both_ways blk $W/a.img
else
	ok 1 "blk: the adapter reports the device"
fi

# ---- blk: fio with verification, concurrent jobs ----
truncate -s 128M $W/f.img
if start_adapter --device blk,file=$W/f.img,num-queues=2,queue-size=128; then
	dev=$(node_of 1)
	fio_ok "blk: fio: 4 jobs x QD16 random writes, every block verified" \
		"$dev" --name=verify --rw=randwrite --bs=4k --iodepth=16 \
		--numjobs=4 --size=24m --offset_increment=32m --verify=crc32c \
		--do_verify=1
	fio_ok "blk: fio: mixed read/write QD32, mixed sizes, verified" \
		"$dev" --name=mixed --rw=randrw --bs=4k,64k --iodepth=32 \
		--numjobs=2 --size=32m --offset_increment=64m --verify=md5
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "blk: SIGTERM after fio: exit 0 (got $st)"
else
	ok 1 "blk: adapter for fio"
fi

# ---- blk: a file system, then e2fsck ----
truncate -s 128M $W/e.img
if start_adapter --device blk,file=$W/e.img; then
	dev=$(node_of 1)
	mkfs.ext4 -q -F "$dev" >$W/mkfs.log 2>&1
	ok $? "fs: mkfs.ext4 on $dev"
	mount -t ext4 "$dev" /mnt/fs
	ok $? "fs: mount"
	dd if=/dev/urandom of=/mnt/fs/data bs=1M count=20 2>/dev/null
	sum=$(md5 /mnt/fs/data)
	umount /mnt/fs
	ok $? "fs: a 20 MiB file written, umount"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "fs: SIGTERM: exit 0 (got $st)"
	e2fsck -fn $W/e.img >$W/fsck.log 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/#   /' $W/fsck.log
	ok $st "fs: e2fsck -fn on the image reports it clean"
else
	ok 1 "fs: adapter for mkfs"
fi

# ---- blk: SIGTERM with the file system mounted and a writer busy ----
if start_adapter --device blk,file=$W/e.img; then
	dev=$(node_of 1)
	mount -t ext4 "$dev" /mnt/fs
	ok $? "fs: mounted again through a new adapter"
	[ "$(md5 /mnt/fs/data)" = "$sum" ]
	ok $? "fs: the file reads back"
	dd if=/dev/urandom of=/mnt/fs/acked bs=1M count=4 conv=fsync 2>/dev/null
	acked=$(md5 /mnt/fs/acked)
	dd if=/dev/urandom of=/mnt/fs/busy bs=64k count=400 2>/dev/null &
	busy=$!
	sleep 1
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "fs: SIGTERM mid-write with the fs mounted: exit 0 (got $st)"
	wait $busy 2>/dev/null
	umount -l /mnt/fs 2>/dev/null
	wait_gone "$dev"
	ok $? "fs: the device went away"
	e2fsck -fy $W/e.img >$W/fsck2.log 2>&1
	st=$?
	note "e2fsck -fy: exit $st (1 = fixed journal replay or orphans)"
	[ $st -le 1 ]
	ok $? "fs: e2fsck finds nothing it cannot fix"
	if mount -o loop,ro $W/e.img /mnt/fs 2>/dev/null ||
		mount -t ext4 -o loop,ro $W/e.img /mnt/fs; then
		[ "$(md5 /mnt/fs/acked)" = "$acked" ]
		ok $? "fs: the file fsync()ed before SIGTERM is intact"
		umount /mnt/fs
	else
		ok 1 "fs: the image mounts after the orderly removal"
	fi
else
	ok 1 "fs: adapter for the SIGTERM case"
fi

# ---- blk: SIGKILL at QD32 ----
truncate -s 64M $W/k.img
if start_adapter --device blk,file=$W/k.img,queue-size=64; then
	dev=$(node_of 1)
	fio --name=kill --filename="$dev" --direct=1 --ioengine=libaio \
		--rw=randrw --bs=4k --iodepth=32 --runtime=30 --time_based \
		>$W/fio-kill.log 2>&1 &
	fio=$!
	sleep 2
	kill -KILL $adapter_pid
	wait $adapter_pid 2>/dev/null
	adapter_pid=""
	i=0
	while kill -0 $fio 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 $fio 2>/dev/null
	ok $? "kill: fio ends within 20 s of the adapter's SIGKILL"
	wait $fio
	st=$?
	[ $st -ne 0 ]
	ok $? "kill: fio saw its I/O fail (exit $st)"
	wait_gone "$dev"
	ok $? "kill: $dev is gone"
	no_d_state
	ok $? "kill: no task left in D state"
	if start_adapter --device blk,file=$W/k.img; then
		ok 0 "kill: a new device can be created ($(sed -n 1p $ADAPTER_OUT))"
		stop_adapter TERM
	else
		ok 1 "kill: a new device can be created"
	fi
else
	ok 1 "kill: adapter for the SIGKILL case"
fi

# ---- 8 devices in one process ----
args=""
for i in 1 2 3 4 5 6 7 8; do
	dd if=/dev/urandom of=$W/m$i.img bs=1M count=4 2>/dev/null
	args="$args --device blk,file=$W/m$i.img"
done
# shellcheck disable=SC2086
if start_adapter $args; then
	good=0
	for i in 1 2 3 4 5 6 7 8; do
		dev=$(node_of_device $i)
		[ "$(dd if="$dev" bs=1M count=4 2>/dev/null | md5sum | cut -d' ' -f1)" = "$(md5 $W/m$i.img)" ] &&
			good=$((good + 1))
	done
	ok $([ $good -eq 8 ]; echo $?) "multi: 8 devices in one process, each reads its own image ($good/8)"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "multi: SIGTERM removes all 8: exit 0 (got $st)"
else
	ok 1 "multi: 8 devices in one process"
fi

# ---- readonly=on ----
dd if=/dev/urandom of=$W/r.img bs=1M count=4 2>/dev/null
rsum=$(md5 $W/r.img)
if start_adapter --device blk,file=$W/r.img,readonly=on; then
	dev=$(node_of 1)
	# one queue (the default): the window is sized for loopback.ko's
	# bound on one request (kmod/loopback_blk.c), so the driver gets the
	# segments the adapter offers
	q=/sys/block/$(basename "$dev")/queue
	segs="$(cat $q/max_segments) x $(cat $q/max_segment_size)"
	[ "$segs" = "254 x 131072" ]
	ok $? "blk: one queue: the driver gets seg_max 254 x size_max 128 KiB (got $segs)"
	[ "$(cat /sys/block/"$(basename "$dev")"/ro)" = 1 ]
	ok $? "readonly: the kernel sees a read-only disk"
	! dd if=/dev/zero of="$dev" bs=4k count=1 conv=fsync 2>/dev/null
	ok $? "readonly: a write fails"
	stop_adapter TERM
	[ "$(md5 $W/r.img)" = "$rsum" ]
	ok $? "readonly: the image is unchanged"
else
	ok 1 "readonly: adapter"
fi

# ---- capacity change on SIGHUP ----
truncate -s 16M $W/h.img
if start_adapter --device blk,file=$W/h.img; then
	dev=$(node_of 1)
	sysz=/sys/block/$(basename "$dev")/size
	before=$(cat "$sysz")
	truncate -s 48M $W/h.img
	kill -HUP $adapter_pid
	i=0
	while [ "$(cat "$sysz")" = "$before" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	after=$(cat "$sysz")
	[ "$before" = 32768 ] && [ "$after" = 98304 ]
	ok $? "resize: SIGHUP: capacity $before -> $after sectors (want 32768 -> 98304)"
	stop_adapter TERM
else
	ok 1 "resize: adapter"
fi

# ---- bad options ----
for bad in "--device" "--device nosuchtype" "--device blk" \
	"--device blk,file=/nonexistent" "--device blk,file=$W/h.img,num-queues=0" \
	"--device blk,file=$W/h.img,queue-size=3" "--device blk,file=$W/h.img,bogus=1" \
	"--device rng,source=nosuch" "--nosuchoption"; do
	# shellcheck disable=SC2086
	loopback-adapter $bad >$W/bad.out 2>$W/bad.err
	st=$?
	lines=$(wc -l <$W/bad.err)
	[ $st -eq 2 ] && [ "$lines" -eq 1 ] && [ ! -s $W/bad.out ]
	ok $? "options: '$bad': exit 2 with one line (exit $st, $lines lines: $(head -n 1 $W/bad.err))"
done

vm_end
