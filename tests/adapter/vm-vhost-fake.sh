# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run, busybox sh as root): loopback-adapter's
# vhost-user-blk device against fake-vhost-blk, a scripted backend that
# misbehaves at a chosen point (tests/adapter/fake-vhost-blk.c).  First a
# healthy run, so that a broken fake cannot pass the rest, and a resize the
# backend announces (CONFIG_CHANGE_MSG) seen in /sys/block; then each
# misbehaviour: the adapter's error line, a bounded exit, the host's I/O
# failing with EIO where it ran, no task in D state, no device left.
# TAP on stdout.
#
# Needs in the guest: loopback-adapter, fake-vhost-blk, md5sum and dd
# (busybox); modules loopback, virtio_blk; vm-lib.sh.

. /root/vm-lib.sh

SOCK=$W/fake.sock
FAKE_ERR=$W/fake.err
VUB="vhost-user-blk,socket=$SOCK"
fake_pid=""

# alive PID: running and not a zombie (busybox sh reaps late)
alive() {
	[ -e /proc/$1/stat ] && [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" != Z ]
}

# gone_within PID SECONDS: true once PID ended, false after SECONDS
gone_within() {
	i=0
	while alive $1 && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! alive $1
}

# start_fake CASE [ARGS]: the fake listens on $SOCK
start_fake() {
	c=$1
	shift
	rm -f $SOCK
	fake-vhost-blk --misbehave="$c" "$@" $SOCK 2>$FAKE_ERR &
	fake_pid=$!
	i=0
	while [ ! -S $SOCK ] && [ $i -lt 100 ]; do
		alive $fake_pid || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -S $SOCK ] && return 0
	note "fake-vhost-blk did not listen on $SOCK:"
	sed 's/^/#   /' $FAKE_ERR
	return 1
}

stop_fake() {
	[ -n "$fake_pid" ] || return 0
	kill -TERM $fake_pid 2>/dev/null
	wait $fake_pid 2>/dev/null
	fake_pid=""
}

# the adapter, if still there, is killed (a hang was already counted)
kill_adapter() {
	[ -n "$adapter_pid" ] || return 0
	kill -KILL $adapter_pid 2>/dev/null
	wait $adapter_pid 2>/dev/null
	adapter_pid=""
}

# adapter_exits LABEL SECONDS: one TAP line; its status in $st
adapter_exits() {
	if gone_within $adapter_pid $2; then
		wait $adapter_pid
		st=$?
		adapter_pid=""
		ok 0 "$1: the adapter exits within $2 s (status $st)"
	else
		st=hang
		ok 1 "$1: the adapter exits within $2 s (still running)"
		kill_adapter
	fi
}

# says LABEL TEXT: the adapter's stderr has TEXT
says() {
	grep -qF "$2" $ADAPTER_ERR
	ok $? "$1: the adapter says '$2'"
	sed 's/^/#   stderr: /' $ADAPTER_ERR
}

virtio_count() { ls /sys/bus/virtio/devices 2>/dev/null | wc -l; }
BASE_VIRTIO=$(virtio_count)

# nothing_left LABEL: no loopback device left, no task in D state
nothing_left() {
	[ "$(virtio_count)" -eq "$BASE_VIRTIO" ]
	ok $? "$1: no loopback virtio device is left ($(virtio_count) virtio devices, $BASE_VIRTIO before)"
	no_d_state
	ok $? "$1: no task in D state"
}

# pattern_at LABEL DEV BLOCKS: $W/pat written at BLOCKS x 64 KiB and read
# back, both with O_DIRECT
pattern_at() {
	dd if=$W/pat of="$2" bs=64k seek=$3 oflag=direct 2>$W/dd.err
	ok $? "$1: 4 MiB written through $2 at $(($3 / 16)) MiB (O_DIRECT; $(tail -n 1 $W/dd.err))"
	[ "$(dd if="$2" bs=64k skip=$3 count=64 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)" = "$(md5 $W/pat)" ]
	ok $? "$1: they read back through $2 (O_DIRECT)"
}

# term_gone LABEL DEV: SIGTERM; the adapter exits 0 and DEV goes
term_gone() {
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "$1: SIGTERM: the adapter exits 0 (got $st)"
	wait_gone "$2"
	ok $? "$1: $2 is gone"
}

# ---- healthy: data written through the fake and read back ----
dd if=/dev/urandom of=$W/pat bs=1M count=4 2>/dev/null
if start_fake none --dump=$W/dump.img && start_adapter --device $VUB; then
	dev=$(node_of 1)
	case "$(sed -n 1p $ADAPTER_OUT)" in
	"loopback"*" vhost-user-blk /dev/vd"*) st=0 ;;
	*) st=1 ;;
	esac
	ok $st "healthy: the adapter reports $(sed -n 1p $ADAPTER_OUT)"
	[ "$(virtio_count)" -eq $((BASE_VIRTIO + 1)) ]
	ok $? "healthy: one more virtio device while it runs ($(virtio_count))"
	pattern_at healthy "$dev" 32
	term_gone healthy "$dev"
	gone_within $fake_pid 10
	ok $? "healthy: the fake sees the frontend leave and ends"
	[ "$(dd if=$W/dump.img bs=64k skip=32 count=64 2>/dev/null | md5sum | cut -d' ' -f1)" = "$(md5 $W/pat)" ]
	ok $? "healthy: the data is in the fake's disk (the fake served it)"
	nothing_left healthy
else
	ok 1 "healthy: the adapter reports the device"
	sed 's/^/#   /' $ADAPTER_ERR $FAKE_ERR
	kill_adapter
fi
stop_fake
rm -f $W/dump.img

# ---- resize: the backend grows its disk and says so ----
# After 8 writes the fake grows from 16 to 32 MiB and sends
# CONFIG_CHANGE_MSG; the adapter re-reads GET_CONFIG and raises the config
# interrupt, so the host's driver takes the new capacity.
if start_fake none --after=8 --resize-mib=32 && start_adapter --device $VUB; then
	dev=$(node_of 1)
	blk=${dev#/dev/}
	sz=$(cat /sys/block/$blk/size)
	[ "$sz" = 32768 ]
	ok $? "resize: $dev starts at 32768 sectors, 16 MiB (got $sz)"
	dd if=$W/pat of="$dev" bs=4k count=16 oflag=direct 2>$W/dd.err
	ok $? "resize: 16 writes of 4 KiB (O_DIRECT)"
	i=0
	while [ "$(cat /sys/block/$blk/size)" != 65536 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sz=$(cat /sys/block/$blk/size)
	[ "$sz" = 65536 ]
	ok $? "resize: /sys/block/$blk/size follows the backend to 65536 sectors, 32 MiB (got $sz)"
	grep -q "resized to 32 MiB after 8 write requests; CONFIG_CHANGE_MSG sent" $FAKE_ERR
	ok $? "resize: the fake resized and sent CONFIG_CHANGE_MSG"
	dmesg | grep -q "\[$blk\] new size: 65536 "
	ok $? "resize: virtio_blk logs the new size ($(dmesg | grep "\[$blk\] new size" | tail -n 1 | cut -c1-90))"
	# past the old end
	pattern_at resize "$dev" 384
	term_gone resize "$dev"
	nothing_left resize
else
	ok 1 "resize: the adapter reports the device"
	sed 's/^/#   /' $ADAPTER_ERR $FAKE_ERR
	kill_adapter
fi
stop_fake

# ---- during setup: the adapter exits 1 with one line, no device ----
# setup_case CASE TEXT: TEXT is in the adapter's line
setup_case() {
	if ! start_fake "$1"; then
		ok 1 "$1: the fake listens"
		return
	fi
	: >$ADAPTER_ERR
	loopback-adapter --device $VUB >$ADAPTER_OUT 2>$ADAPTER_ERR &
	adapter_pid=$!
	adapter_exits "$1" 30
	[ "$st" = 1 ] && [ "$(wc -l <$ADAPTER_ERR)" -eq 1 ]
	ok $? "$1: exit 1 with one line on stderr (exit $st, $(wc -l <$ADAPTER_ERR) lines)"
	says "$1" "$2"
	gone_within $fake_pid 10
	ok $? "$1: the fake sees the connection closed"
	nothing_left "$1"
	stop_fake
}

setup_case wrong-size \
	"the backend's reply to GET_QUEUE_NUM has 4 bytes of payload, 8 expected"
setup_case wrong-request \
	"the backend answered GET_CONFIG (24) with a reply to GET_FEATURES (1)"
setup_case no-reply-config \
	"after GET_CONFIG: vhost-user: timed out waiting for a message header"
setup_case extra-fd \
	"after GET_CONFIG: vhost-user: the backend sent more file descriptors than a message header carries"
setup_case huge-size \
	"the backend's message (GET_FEATURES) says its payload has 4294901760 bytes"

# ---- during I/O, refused and carried on: the I/O completes ----
# io_ok_case CASE REQUEST: the fake's request REQUEST on the backend
# channel after 32 writes is answered non-zero; the data is intact
io_ok_case() {
	if ! start_fake "$1" --after=32 || ! start_adapter --device $VUB; then
		ok 1 "$1: the adapter reports the device"
		sed 's/^/#   /' $ADAPTER_ERR $FAKE_ERR
		kill_adapter
		stop_fake
		return
	fi
	dev=$(node_of 1)
	dd if=$W/pat of="$dev" bs=4k oflag=direct 2>$W/dd.err
	ok $? "$1: 4 MiB written in 4 KiB O_DIRECT writes"
	[ "$(dd if="$dev" bs=64k count=64 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)" = "$(md5 $W/pat)" ]
	ok $? "$1: they read back"
	grep -q "$1 after 32 write requests" $FAKE_ERR
	ok $? "$1: the fake misbehaved during the writes"
	ans=$(sed -n "s/.*backend channel: request $2 answered \([0-9]*\).*/\1/p" $FAKE_ERR)
	[ -n "$ans" ] && [ "$ans" != 0 ]
	ok $? "$1: the adapter refused request $2 (answered '$ans')"
	[ "$(grep -c "the backend asked for .* ($2) on its channel; it is not served here and was refused" $ADAPTER_ERR)" = 1 ]
	ok $? "$1: the adapter says so, once"
	sed 's/^/#   fake: /' $FAKE_ERR
	alive $adapter_pid
	ok $? "$1: the adapter still serves the device"
	term_gone "$1" "$dev"
	nothing_left "$1"
	stop_fake
}

io_ok_case backend-unknown 99
io_ok_case backend-no-fd 3

# ---- during I/O, fatal: the device fails, the host's I/O gets EIO ----
# io_fail_case CASE TEXT: after 32 writes the fake misbehaves and stops
# serving; TEXT is in the adapter's error
io_fail_case() {
	if ! start_fake "$1" --after=32 || ! start_adapter --device $VUB; then
		ok 1 "$1: the adapter reports the device"
		sed 's/^/#   /' $ADAPTER_ERR $FAKE_ERR
		kill_adapter
		stop_fake
		return
	fi
	dev=$(node_of 1)
	dd if=/dev/zero of="$dev" bs=4k count=2048 oflag=direct 2>$W/dd.err &
	dd_pid=$!
	if gone_within $dd_pid 60; then
		wait $dd_pid
		dst=$?
		[ $dst -ne 0 ] && grep -q "Input/output error" $W/dd.err
		ok $? "$1: the host's dd fails with EIO (exit $dst: $(tail -n 1 $W/dd.err))"
	else
		ok 1 "$1: the host's dd ends within 60 s (hangs: $(cut -d' ' -f3 /proc/$dd_pid/stat))"
	fi
	grep -q "$1 after 32 write requests" $FAKE_ERR
	ok $? "$1: the fake misbehaved during the writes"
	adapter_exits "$1" 30
	[ "$st" = 1 ]
	ok $? "$1: the adapter's status is 1 (got $st)"
	says "$1" "$2"
	wait_gone "$dev"
	ok $? "$1: $dev is gone"
	nothing_left "$1"
	stop_fake
}

io_fail_case backend-bad-config \
	"the backend's CONFIG_CHANGE_MSG has 4 bytes of payload, it has none"
io_fail_case backend-huge-size \
	"message (CONFIG_CHANGE_MSG) says its payload has 4294901760 bytes"
io_fail_case close-io \
	"the backend closed the connection"

# ---- at DRIVER_OK: SET_MEM_TABLE never acked ----
# The driver's probe is under way (DRIVER_OK, then its first reads): the
# start fails after the timeout, the device is removed and its reads fail.
ioerr_count() { dmesg | grep -c "I/O error, dev vd"; }
if start_fake no-reply-mem-table; then
	ioerr0=$(ioerr_count)
	: >$ADAPTER_ERR
	loopback-adapter --device $VUB >$ADAPTER_OUT 2>$ADAPTER_ERR &
	adapter_pid=$!
	adapter_exits no-reply-mem-table 40
	[ "$st" = 1 ]
	ok $? "no-reply-mem-table: the adapter's status is 1 (got $st)"
	ioerr1=$(ioerr_count)
	[ "$ioerr1" -gt "$ioerr0" ]
	ok $? "no-reply-mem-table: the probe's reads fail with I/O errors ($((ioerr1 - ioerr0)) in the kernel log)"
	grep -q "SET_MEM_TABLE: not acked" $FAKE_ERR
	ok $? "no-reply-mem-table: the fake left SET_MEM_TABLE unacked"
	says no-reply-mem-table \
		"start failed: after SET_MEM_TABLE: vhost-user: timed out waiting for a message header"
	nothing_left no-reply-mem-table
else
	ok 1 "no-reply-mem-table: the fake listens"
fi
stop_fake

# ---- at stop: GET_VRING_BASE never answered ----
if start_fake no-reply-vring-base && start_adapter --device $VUB; then
	dev=$(node_of 1)
	dd if=$W/pat of="$dev" bs=64k oflag=direct 2>$W/dd.err
	ok $? "no-reply-vring-base: 4 MiB written"
	kill -TERM $adapter_pid
	adapter_exits no-reply-vring-base 40
	grep -q "GET_VRING_BASE: not answered" $FAKE_ERR
	ok $? "no-reply-vring-base: the fake left GET_VRING_BASE unanswered"
	says no-reply-vring-base \
		"queue 0: after GET_VRING_BASE: vhost-user: timed out waiting for a message header"
	grep -q "(loopback-adapter:[0-9]*): .*WARNING" $ADAPTER_ERR
	ok $? "no-reply-vring-base: the warning names loopback-adapter"
	wait_gone "$dev"
	ok $? "no-reply-vring-base: $dev is gone"
	nothing_left no-reply-vring-base
else
	ok 1 "no-reply-vring-base: the adapter reports the device"
	sed 's/^/#   /' $ADAPTER_ERR $FAKE_ERR
	kill_adapter
fi
stop_fake

vm_end
