# SPDX-License-Identifier: GPL-2.0-or-later
# Guest scenario (tests/vm/run, busybox sh as root): two loopback-adapter
# vhost-user-net devices served by an unmodified dpdk-testpmd, which
# forwards between its two net_vhost ports (io forwarding).  The host's
# virtio_net gets two interfaces; each goes into a network namespace of its
# own, so the only way between them is through testpmd.  Checked: the
# features negotiated, ping both ways, a TCP transfer each way whose md5
# matches at both ends, jumbo frames with mtu=, SIGTERM, reconnect= across
# a restart of testpmd, and testpmd going away.  Reports the transfer's
# rate and testpmd's packets per second.
# TAP on stdout.
#
# Needs in the guest: loopback-adapter, dpdk-testpmd and, in
# /usr/local/bin, librte_net_vhost.so.* and librte_mempool_ring.so.*,
# iproute2's ip as /usr/local/bin/ip; busybox nc, ping, md5sum, timeout;
# modules loopback, virtio_net; vm-lib.sh.

. /root/vm-lib.sh

modprobe virtio_net || { echo "Bail out! modprobe virtio_net failed"; exit 1; }
# busybox sh runs its own ip applet whatever PATH says: iproute2's by path
IP=/usr/local/bin/ip
# DPDK refuses plugins below a world-writable directory, which the
# initramfs root is; DPDK and ip netns keep state in /var/run
chmod 755 /
mkdir -p /var
[ -e /var/run ] || ln -s /run /var/run

S0=$W/vn0.sock
S1=$W/vn1.sock
TP_LOG=$W/testpmd.log
tp_pid=""

# start_testpmd: two vhost ports in server mode, io forwarding between
# them, stats every second; waits for both sockets
start_testpmd() {
	rm -f $S0 $S1
	set --
	for p in /usr/local/bin/librte_net_vhost.so.* \
		/usr/local/bin/librte_mempool_ring.so.*; do
		set -- "$@" -d "$p"
	done
	# both lcores on CPU 1: the forwarding one busy-polls it
	dpdk-testpmd --lcores 0@1,1@1 --no-huge -m 256 --no-shconf --no-pci \
		"$@" \
		--vdev "net_vhost0,iface=$S0,queues=1" \
		--vdev "net_vhost1,iface=$S1,queues=1" -- \
		--forward-mode=io --total-num-mbufs=8192 -a --stats-period=1 \
		</dev/null >$TP_LOG 2>&1 &
	tp_pid=$!
	i=0
	while { [ ! -S $S0 ] || [ ! -S $S1 ]; } && [ $i -lt 300 ]; do
		kill -0 $tp_pid 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -S $S0 ] && [ -S $S1 ] && return 0
	note "dpdk-testpmd did not listen on $S0 and $S1:"
	tail -n 30 $TP_LOG | sed 's/^/#   /'
	return 1
}

stop_testpmd() {
	[ -n "$tp_pid" ] || return 0
	kill -INT $tp_pid 2>/dev/null
	wait $tp_pid 2>/dev/null
	tp_pid=""
}

# the packets testpmd forwarded, from the totals it prints as it exits
# (its stdout is a file, so the periodic ones come late)
tp_forwarded() {
	awk '/Accumulated forward statistics/ { acc = 1 }
		acc && /RX-packets:/ { print $2; exit }' $TP_LOG
}

ns() { # NS COMMAND...: runs COMMAND in network namespace NS
	n_=$1
	shift
	$IP netns exec "$n_" "$@"
}

# up NS IFACE ADDR: moves IFACE into NS and gives it ADDR/24
up() {
	$IP link set "$2" netns "$1" &&
		ns "$1" $IP link set lo up &&
		ns "$1" $IP addr add "$3/24" dev "$2" &&
		ns "$1" $IP link set "$2" up
}

now_cs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }

# transfer FROM TO TO_ADDR LABEL: 8 MiB over TCP from namespace FROM to
# TO; the md5 at both ends matches; the rate goes to $rate (Mbit/s).
# Each transfer has a port of its own.
port=5000
transfer() {
	port=$((port + 1))
	rm -f $W/rx
	dd if=/dev/urandom of=$W/tx bs=1M count=8 2>/dev/null
	# busybox nc stops reading the socket early once its own stdin ends:
	# the listener's stdin is a fifo that this shell keeps open
	rm -f $W/hold
	mkfifo $W/hold
	exec 7<>$W/hold
	# ip netns exec and timeout exec: $l_pid ends up being nc's
	ns "$2" timeout 200 nc -l -p $port <$W/hold >$W/rx 2>$W/nc-l.err &
	l_pid=$!
	# the listener may take a while to start under TCG; each try is
	# bounded: connecting by 10 s, the whole transfer by 180 s
	for try in 1 2 3 4 5; do
		sleep 1
		t0=$(now_cs)
		ns "$1" timeout 180 nc -w 10 "$3" $port <$W/tx 2>$W/nc.err
		c_st=$?
		[ $c_st -eq 0 ] && break
		kill -0 $l_pid 2>/dev/null || break
	done
	[ $c_st -eq 0 ] || kill $l_pid 2>/dev/null
	wait $l_pid
	l_st=$?
	exec 7>&-
	t1=$(now_cs)
	cs=$((t1 - t0))
	[ $cs -gt 0 ] || cs=1
	rate=$(awk -v cs=$cs 'BEGIN { printf "%.1f", 8 * 8 * 1.048576 / (cs / 100) }')
	if [ $c_st -eq 0 ] && [ $l_st -eq 0 ] &&
		[ "$(md5 $W/tx)" = "$(md5 $W/rx)" ]; then
		note "$4: 8 MiB in $((cs / 100)).$((cs % 100 / 10)) s:" \
			"$rate Mbit/s"
		return 0
	fi
	note "$4: failed after $((cs / 100)) s: received $(wc -c <$W/rx)" \
		"bytes; nc exits $c_st: $(cat $W/nc.err);" \
		"listener exits $l_st: $(cat $W/nc-l.err)"
	for n_ in A B; do ns $n_ $IP -s link | sed "s/^/#   $n_: /"; done
	return 1
}

# bit N of a virtio device's negotiated features (sysfs: a 0/1 string)
feature() { cut -c$(($2 + 1)) "$1/features"; }

$IP netns add A && $IP netns add B
ok $? "netns: namespaces A and B"

# ---- two interfaces through testpmd ----
VN0="vhost-user-net,socket=$S0"
VN1="vhost-user-net,socket=$S1"
if start_testpmd && start_adapter --device $VN0 --device $VN1; then
	l1=$(sed -n 1p $ADAPTER_OUT)
	l2=$(sed -n 2p $ADAPTER_OUT)
	ok 0 "vun: the adapter reports '$l1' and '$l2'"
	st=0
	for l in "$l1" "$l2"; do
		case "$l" in "loopback"*" vhost-user-net "?*) ;; *) st=1 ;; esac
	done
	ok $st "vun: the lines have the form 'loopbackN vhost-user-net IFACE'"
	e0=$(node_of 1)
	e1=$(node_of 2)
	v0=$(readlink -f /sys/class/net/$e0/device)
	v1=$(readlink -f /sys/class/net/$e1/device)
	note "negotiated: $(cat $v0/features)"
	st=0
	for v in $v0 $v1; do
		# CSUM GUEST_CSUM MAC MRG_RXBUF STATUS EVENT_IDX VERSION_1
		# ACCESS_PLATFORM
		for b in 0 1 5 15 16 29 32 33; do
			[ "$(feature $v $b)" = 1 ] ||
				{ note "$v: bit $b not negotiated"; st=1; }
		done
		# CTRL_VQ and what needs it, GSO, MTU (no mtu=), packed rings
		for b in 3 7 8 11 12 17 18 19 21 22 23 34; do
			[ "$(feature $v $b)" = 0 ] ||
				{ note "$v: bit $b negotiated"; st=1; }
		done
	done
	ok $st "vun: both drivers negotiated the expected bits, none refused"
	a0=$(cat /sys/class/net/$e0/address)
	a1=$(cat /sys/class/net/$e1/address)
	first=$(printf '%d' "0x${a0%%:*}")
	[ "$a0" != "$a1" ] && [ $((first & 3)) -eq 2 ]
	ok $? "vun: default MACs $a0 and $a1: different, locally administered"
	up A "$e0" 10.77.0.1 && up B "$e1" 10.77.0.2
	ok $? "vun: $e0 in A as 10.77.0.1, $e1 in B as 10.77.0.2"
	ns A ping -c 3 -W 10 10.77.0.2 >$W/ping.log 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/#   /' $W/ping.log
	ok $st "vun: ping from A to B"
	ns B ping -c 3 -W 10 10.77.0.1 >$W/ping.log 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/#   /' $W/ping.log
	ok $st "vun: ping from B to A"
	transfer A B 10.77.0.2 "A to B"
	ok $? "vun: TCP, 8 MiB from A to B, md5 equal at both ends"
	rate_ab=$rate
	xfer_cs=$cs
	transfer B A 10.77.0.1 "B to A"
	ok $? "vun: TCP, 8 MiB from B to A, md5 equal at both ends"
	rate_ba=$rate
	xfer_cs=$((xfer_cs + cs))
	# 6.1's virtio_net says so when a frame cannot be mapped (no window)
	! dmesg | grep -q "Unexpected TXQ"
	ok $? "vun: no frame was dropped for want of window space"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "vun: SIGTERM: the adapter exits 0 (got $st)"
	! ns A $IP link show "$e0" >/dev/null 2>&1 &&
		! ns B $IP link show "$e1" >/dev/null 2>&1
	ok $? "vun: both interfaces are gone"
	kill -0 $tp_pid 2>/dev/null
	ok $? "vun: dpdk-testpmd is still running after the adapter left"
	stop_testpmd
	fwd=$(tp_forwarded)
	grep -i "csum" $TP_LOG | sort -u | sed 's/^/# testpmd: /'
	# pings and ARP are a few dozen of them
	pps=$(awk -v p="${fwd:-0}" -v cs=$xfer_cs \
		'BEGIN { printf "%d", p / (cs / 100) }')
	note "testpmd forwarded ${fwd:-no} packets, ${pps} per second of the transfers"
	note "PERF vhost-user-net A-to-B ${rate_ab} Mbit/s" \
		"B-to-A ${rate_ba} Mbit/s testpmd ${pps} packets/s"
	# 16 MiB is 11,500 full frames, plus the ACKs
	[ "${fwd:-0}" -gt 11500 ]
	ok $? "vun: the transfers went through testpmd (${fwd:-no} packets forwarded)"
else
	ok 1 "vun: the adapter reports two devices"
	sed 's/^/#   /' $ADAPTER_ERR
fi

# ---- reconnect=: testpmd killed and restarted under the interfaces ----
if start_testpmd &&
	start_adapter --device $VN0,reconnect=30 --device $VN1,reconnect=30
then
	e0=$(node_of 1)
	e1=$(node_of 2)
	up A "$e0" 10.77.0.1 && up B "$e1" 10.77.0.2
	ok $? "reconnect: the interfaces are up in A and B"
	ns A ping -c 2 -W 10 10.77.0.2 >$W/ping.log 2>&1
	ok $? "reconnect: ping from A to B before"
	kill -KILL $tp_pid
	wait $tp_pid 2>/dev/null
	tp_pid=""
	start_testpmd
	ok $? "reconnect: dpdk-testpmd killed (SIGKILL) and started again"
	i=0
	while [ "$(grep -c "reconnected to the backend" $ADAPTER_ERR)" -lt 2 ] &&
		[ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(grep -c "reconnected to the backend" $ADAPTER_ERR)" -eq 2 ]
	ok $? "reconnect: both devices say they reconnected"
	[ -n "$(ns A $IP link show "$e0" 2>/dev/null)" ] &&
		[ -n "$(ns B $IP link show "$e1" 2>/dev/null)" ]
	ok $? "reconnect: both interfaces are still there"
	# the first frames may have been lost with the old testpmd
	ns A ping -c 3 -W 10 10.77.0.2 >$W/ping.log 2>&1 ||
		ns A ping -c 3 -W 10 10.77.0.2 >$W/ping.log 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/#   /' $W/ping.log
	ok $st "reconnect: ping from A to B after"
	transfer B A 10.77.0.1 "B to A, after a reconnect"
	ok $? "reconnect: TCP, 8 MiB from B to A, md5 equal at both ends"
	stop_adapter TERM
	ok $([ "$st" -eq 0 ]; echo $?) "reconnect: SIGTERM: exit 0 (got $st)"
	sed 's/^/#   adapter: /' $ADAPTER_ERR
else
	ok 1 "reconnect: the adapter reports two devices with reconnect=30"
	sed 's/^/#   /' $ADAPTER_ERR
fi
stop_testpmd

# ---- mtu= and mac=: jumbo frames; then testpmd goes away ----
M0=02:4c:42:00:00:01
M1=02:4c:42:00:00:02
if start_testpmd &&
	start_adapter --device $VN0,mtu=9000,mac=$M0 \
		--device $VN1,mtu=9000,mac=$M1; then
	e0=$(node_of 1)
	e1=$(node_of 2)
	[ "$(cat /sys/class/net/$e0/mtu)" = 9000 ] &&
		[ "$(cat /sys/class/net/$e1/mtu)" = 9000 ]
	ok $? "mtu: both interfaces start with MTU 9000"
	# the lines come in the order the drivers bound
	got=$(cat /sys/class/net/$e0/address /sys/class/net/$e1/address |
		sort | tr '\n' ' ')
	[ "$got" = "$M0 $M1 " ]
	ok $? "mtu: their addresses are the mac= ones ($got)"
	up A "$e0" 10.77.0.1 && up B "$e1" 10.77.0.2
	ok $? "mtu: the interfaces are up in A and B"
	# 8000 bytes of ICMP data: with MTU 9000 at both ends, one frame
	ns A ping -c 3 -W 10 -s 8000 10.77.0.2 >$W/ping.log 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/#   /' $W/ping.log
	ok $st "mtu: 8000-byte pings from A to B and back"
	transfer B A 10.77.0.1 "B to A, MTU 9000"
	ok $? "mtu: TCP, 8 MiB from B to A, md5 equal at both ends"
	stop_testpmd
	wait_gone /sys/class/loopback/"$(sed -n 1p $ADAPTER_OUT | cut -d' ' -f1)"
	ok $? "gone: the first device is removed after testpmd exited"
	i=0
	while kill -0 $adapter_pid 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! kill -0 $adapter_pid 2>/dev/null
	ok $? "gone: the adapter exits"
	stop_adapter TERM
	grep -q "went away" $ADAPTER_ERR
	ok $? "gone: it says why ($(head -n 1 $ADAPTER_ERR))"
else
	ok 1 "mtu: the adapter reports two devices with mtu=9000"
	sed 's/^/#   /' $ADAPTER_ERR
fi
stop_testpmd

# ---- no backend ----
loopback-adapter --device $VN0 >$W/bad.out 2>$W/bad.err
st=$?
[ $st -eq 1 ] && [ "$(wc -l <$W/bad.err)" -eq 1 ]
ok $? "no backend: exit 1 with one line (exit $st: $(head -n 1 $W/bad.err))"

$IP netns del A
$IP netns del B
vm_end
