# SPDX-License-Identifier: GPL-2.0-or-later
# What the adapter's guest scenarios (vm-builtin.sh, vm-vhost-user*.sh)
# share: TAP output, a tmpfs work area, the modules, starting and stopping
# loopback-adapter and qemu-storage-daemon.  run-vm.sh copies it to
# /root/vm-lib.sh.

n=0
failed=0
ok() { # STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
note() { echo "# $*"; }

W=/mnt/work
mkdir -p $W /mnt/fs
# the images live on a tmpfs: O_DIRECT needs 6.6 there, so cache=writeback
mount -t tmpfs -o size=900m tmpfs $W || exit 1

modprobe virtio_blk
modprobe virtio_rng
modprobe ext4 2>/dev/null
modprobe loop 2>/dev/null
modprobe loopback || { echo "Bail out! modprobe loopback failed"; exit 1; }

ADAPTER_OUT=$W/adapter.out
ADAPTER_ERR=$W/adapter.err
adapter_pid=""

# start_adapter ARGS...: runs loopback-adapter in the background and waits
# until it printed one line per --device (or died)
start_adapter() {
	want=0
	for a in "$@"; do [ "$a" = --device ] && want=$((want + 1)); done
	: >$ADAPTER_OUT
	: >$ADAPTER_ERR
	loopback-adapter "$@" >$ADAPTER_OUT 2>$ADAPTER_ERR &
	adapter_pid=$!
	i=0
	while [ "$(wc -l <$ADAPTER_OUT)" -lt "$want" ] && [ $i -lt 300 ]; do
		kill -0 $adapter_pid 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$(wc -l <$ADAPTER_OUT)" -lt "$want" ]; then
		note "adapter printed $(wc -l <$ADAPTER_OUT) of $want lines; stderr:"
		sed 's/^/#   /' $ADAPTER_ERR
		return 1
	fi
	return 0
}

# stop_adapter SIGNAL: signals the adapter and waits for it; its exit
# status goes to $st (not a subshell: only this shell can wait for it)
stop_adapter() {
	kill -"$1" $adapter_pid 2>/dev/null
	wait $adapter_pid
	st=$?
	adapter_pid=""
}

# the node of the Nth device line (1-based)
node_of() { sed -n "${1}p" $ADAPTER_OUT | awk '{ print $3 }'; }
# node_of_device N: the node of the Nth --device.  Lines come as devices
# bind, in any order; the adapter creates them in --device order and the
# kernel gives each the lowest free loopbackN, so sort by that number.
node_of_device() {
	awk '{ n = $1; sub(/^loopback/, "", n); print n, $3 }' $ADAPTER_OUT |
		sort -n | sed -n "${1}p" | awk '{ print $2 }'
}

# wait_gone PATH: the node disappears within 10 s
wait_gone() {
	i=0
	while [ -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ ! -e "$1" ]
}

# no task may be left in uninterruptible sleep
no_d_state() {
	# a worker may pass through D for a moment (a flush, a lock): only
	# D states that last 3 s count as a hang
	i=0
	while :; do
		d=""
		for s in /proc/[0-9]*/stat; do
			[ "$(cut -d' ' -f3 "$s" 2>/dev/null)" = D ] &&
				d="$d $(cat "${s%/stat}/comm" 2>/dev/null)"
		done
		[ -n "$d" ] || return 0
		[ $i -lt 30 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	note "D state for 3 s:$d"
	return 1
}

md5() { md5sum "$1" | cut -d' ' -f1; }

SOCK=$W/vub.sock
QSD_LOG=$W/qsd.log
qsd_pid=""

# wait_listen SOCKET PID LOG NAME: the program PID (NAME, logging to LOG)
# listens on SOCKET within 10 s, or its log is shown
wait_listen() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt 100 ]; do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$1" ] && return 0
	note "$4 did not listen on $1:"
	sed 's/^/#   /' "$3"
	return 1
}

# start_qsd IMAGE [QUEUES]: qemu-storage-daemon exports IMAGE on $SOCK with
# QUEUES queues (default 2), waits for the socket
start_qsd() {
	rm -f $SOCK
	qemu-storage-daemon \
		--blockdev driver=file,node-name=f0,filename="$1" \
		--export type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$SOCK,writable=on,num-queues=${2:-2} \
		>$QSD_LOG 2>&1 &
	qsd_pid=$!
	wait_listen $SOCK $qsd_pid $QSD_LOG qemu-storage-daemon
}

stop_qsd() {
	[ -n "$qsd_pid" ] || return 0
	kill -TERM $qsd_pid 2>/dev/null
	wait $qsd_pid 2>/dev/null
	qsd_pid=""
}


# both_ways LABEL IMAGE: the adapter serves IMAGE (64 MiB) as its first
# device: the image reads back through it, 8 MiB written through it at
# 16 MiB, SIGTERM (exit 0, the device gone), the written pattern is in IMAGE
both_ways() {
	bdev=$(node_of 1)
	[ -b "$bdev" ]
	ok $? "$1: $bdev is a block device"
	[ "$(dd if="$bdev" bs=1M count=64 2>/dev/null | md5sum | cut -d' ' -f1)" = "$(md5 "$2")" ]
	ok $? "$1: the image's pattern reads back through $bdev"
	dd if=/dev/urandom of=$W/pat bs=1M count=8 2>/dev/null
	dd if=$W/pat of="$bdev" bs=1M seek=16 conv=fsync 2>/dev/null
	ok $? "$1: 8 MiB written through $bdev at 16 MiB"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "$1: SIGTERM: the adapter exits 0 (got $st)"
	wait_gone "$bdev"
	ok $? "$1: $bdev is gone after the orderly removal"
	[ "$(dd if="$2" bs=1M skip=16 count=8 2>/dev/null | md5sum | cut -d' ' -f1)" = "$(md5 $W/pat)" ]
	ok $? "$1: the pattern written through the device is in the image"
}

# fio_ok DESCRIPTION DEV FIO-ARGS...: a verifying fio run on DEV (O_DIRECT,
# libaio, stops at the first bad block), one TAP line
fio_ok() {
	what=$1
	fdev=$2
	shift 2
	fio --filename="$fdev" --direct=1 --ioengine=libaio --verify_fatal=1 \
		--group_reporting "$@" >$W/fio.log 2>&1
	fst=$?
	[ $fst -ne 0 ] && tail -n 20 $W/fio.log | sed 's/^/#   /'
	ok $fst "$what"
}

# vm_end: the module goes away with nothing stuck; the plan; the status
vm_end() {
	no_d_state
	ok $? "end: no task in D state"
	rmmod loopback
	ok $? "end: rmmod loopback"
	echo "1..$n"
	[ $failed -eq 0 ] || exit 1
	exit 0
}
