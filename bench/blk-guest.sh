# Runs inside the benchmark VM (busybox sh, see bench/blk-vm.sh): 4 KiB
# random reads and writes at QD1 and QD32 with fio on each block device
# that can be set up here, all backed by one image on one tmpfs, and prints
# a table of IOPS with the ratios the targets are stated in.
#
# Environment (set by blk-vm.sh through /root/bench.env):
#   RUNTIME   seconds per fio job (default 6)
#   IMG_MB    image size in MiB (default 256)
#   ROUNDS    how many times each job runs on each target (default 3); the
#             table gives the median IOPS, each ratio is the median of the
#             per-round ratios
#   AIO       qemu-storage-daemon's aio= for its file (default threads)
#   PROFILE   1: only qemu-storage-daemon's rows, one QD1 read job each
#             under strace -c; trace: the same rows, a QD1 and a QD32
#             read job each with the data path's functions timed; cpu:
#             the same rows, every job ROUNDS times with the guest's CPU
#             time per request split by who spent it (default 0)
set -u
[ -f /root/bench.env ] && . /root/bench.env
RUNTIME=${RUNTIME:-6}
IMG_MB=${IMG_MB:-256}
ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-0}
AIO=${AIO:-threads}

log() { echo "bench: $*"; }

# no udev here to load drivers by modalias
modprobe virtio_blk

mkdir -p /mnt/t
mount -t tmpfs -o size=$((IMG_MB + 64))m tmpfs /mnt/t || exit 1
img=/mnt/t/disk.img
# written, not sparse: every target reads real pages
dd if=/dev/zero of="$img" bs=1M count="$IMG_MB" 2>/dev/null || exit 1

# fio_job DEV RW DEPTH SECONDS: the benchmark's fio job, terse output on
# stdout, errors in /tmp/fio.err
fio_job() {
	fio --name=b --filename="$1" --direct=1 --ioengine=libaio \
		--rw="$2" --bs=4k --iodepth="$3" --runtime="$4" \
		--time_based --size="$((IMG_MB / 2))m" --randrepeat=0 \
		--minimal 2>/tmp/fio.err
}

# fio_iops DEV RW DEPTH: prints the job's IOPS (terse format v3: field 8 is
# read IOPS, field 49 write IOPS)
fio_iops() {
	out=$(fio_job "$1" "$2" "$3" "$RUNTIME") ||
		{ cat /tmp/fio.err >&2; echo 0; return; }
	case $2 in
	randread) echo "$out" | awk -F';' '{ print $8 }' ;;
	*) echo "$out" | awk -F';' '{ print $49 }' ;;
	esac
}

# wait_for PATH SECONDS
wait_for() {
	n=0
	while [ ! -e "$1" ] && [ "$n" -lt "$(($2 * 10))" ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ -e "$1" ]
}

# the newest /dev/vdX
newest_vd() {
	ls /dev/vd? 2>/dev/null | tail -n 1
}

results=/tmp/results
: >"$results"
# profile NAME DEV: the system calls of qemu-storage-daemon ($qsd) while
# fio reads at QD1, for the rows it serves
profile() {
	case $1 in vduse | vhost-user) ;; *) return ;; esac
	strace -c -f -p "$qsd" -o /tmp/strace."$1" 2>/dev/null &
	tracer=$!
	sleep 1
	iops=$(fio_iops "$2" randread 1)
	kill -INT "$tracer"
	wait "$tracer" 2>/dev/null
	echo "== $1: qemu-storage-daemon's system calls during ${RUNTIME} s of randread QD1: $iops IOPS, about $((iops * RUNTIME)) requests"
	cat /tmp/strace."$1"
}

# The data path's functions: virtio_blk's submission and completion,
# virtio_ring's, and each transport's DMA mapping and interrupt.  Only
# what is loaded can be traced; the rest is skipped.  Each traced call
# costs a few us under TCG, and a function's time includes that of the
# traced calls inside it: so no small helper of one side only.
TRACE_FUNCS="virtio_queue_rqs virtqueue_add_sgs virtqueue_kick_prepare
virtqueue_notify vring_interrupt virtblk_done
lbdma_map_page lbdma_unmap_page vduse_dev_map_page vduse_dev_unmap_page
loopback_irqfd_wakeup vduse_vq_irq_inject"
T=/sys/kernel/tracing

# trace_row NAME DEV QD: fio reads at QD with the functions above under
# function_graph; prints, per function, its calls per request and its
# mean and per-request time (tracing included: compare rows, not
# absolutes).  A request is one virtqueue_add_sgs(): with fio's plugged
# submissions blk-mq hands virtio_blk its requests in batches
# (virtio_queue_rqs()).
trace_row() {
	case $1 in vduse | vhost-user) ;; *) return ;; esac
	echo 0 >$T/tracing_on
	echo nop >$T/current_tracer
	: >$T/set_ftrace_filter
	for f in $TRACE_FUNCS; do
		echo "$f" >>$T/set_ftrace_filter 2>/dev/null
	done
	echo 32768 >$T/buffer_size_kb
	echo 0 >$T/options/overwrite
	echo 1 >$T/options/funcgraph-tail
	echo function_graph >$T/current_tracer
	: >$T/trace
	echo 1 >$T/tracing_on
	iops=$(fio_iops "$2" randread "$3")
	echo 0 >$T/tracing_on
	echo "== $1: randread QD$3 under function_graph: $iops IOPS (traced)"
	printf "%-26s %9s %9s %9s %12s\n" function calls "per req" "mean us" "us per req"
	awk '
	/ us +\|/ {
		if (!match($0, /[0-9]+\.[0-9]+ us/))
			next
		d = substr($0, RSTART, RLENGTH - 3) + 0
		# the functions of a module end in " [module]"
		if (match($0, /\/\* [A-Za-z0-9_.]+/))
			f = substr($0, RSTART + 3, RLENGTH - 3)
		else if (match($0, /\| +[A-Za-z0-9_.]+( \[[A-Za-z0-9_]+\])?\(\);/))
			f = substr($0, RSTART, RLENGTH)
		else
			next
		sub(/^\| +/, "", f)
		sub(/( \[[A-Za-z0-9_]+\])?\(\);$/, "", f)
		n[f]++
		t[f] += d
	}
	END {
		req = n["virtqueue_add_sgs"]
		if (!req) {
			print "no virtqueue_add_sgs() in the trace"
			exit
		}
		for (f in n)
			printf "%-26s %9d %9.2f %9.2f %12.2f\n", f, n[f], n[f] / req, t[f] / n[f], t[f] / req
	}' $T/trace | sort -k5,5nr
	echo nop >$T/current_tracer
	: >$T/set_ftrace_filter
}

# in_turn FN NAME DEV [NAME2 DEV2]: FN NAME DEV RW QD ROUND for each job,
# ROUNDS times; the rounds interleave the jobs, so a slow spell of the
# host spreads over all four instead of sinking one.  Two targets take
# turns job by job (NAME first in odd rounds, NAME2 in even ones), so a
# slow spell weighs on both sides of a per-round ratio.
in_turn() {
	fn=$1
	shift
	round=1
	while [ "$round" -le "$ROUNDS" ]; do
		for rw in randread randwrite; do
			for qd in 1 32; do
				if [ $# -lt 4 ]; then
					"$fn" "$1" "$2" "$rw" "$qd" "$round"
				elif [ $((round % 2)) = 1 ]; then
					"$fn" "$1" "$2" "$rw" "$qd" "$round"
					"$fn" "$3" "$4" "$rw" "$qd" "$round"
				else
					"$fn" "$3" "$4" "$rw" "$qd" "$round"
					"$fn" "$1" "$2" "$rw" "$qd" "$round"
				fi
			done
		done
		round=$((round + 1))
	done
}

# ticks: the "cpu" line of /proc/stat (user nice system idle iowait irq
# softirq, in USER_HZ ticks); pticks PID...: utime + stime of processes,
# summed (a process's figures include its threads')
ticks() { awk '/^cpu / { print $2, $3, $4, $5, $6, $7, $8; exit }' /proc/stat; }
pticks() {
	for p in "$@"; do
		cat /proc/"$p"/stat 2>/dev/null
	done | awk '{ u += $14; s += $15 } END { print u + 0, s + 0 }'
}
counter() { awk -v k="$1" '$1 == k { print $2; exit }' /proc/stat; }

# cpu_job NAME DEV RW QD [ROUND]: a fio job of RUNTIME + 3 s, of which the
# RUNTIME s after the first 2 are measured (fio's start and end are left
# out): the guest's CPU time per request (requests from the disk's
# /sys/block/X/stat), split into qemu-storage-daemon's user and system
# time, fio's (all its processes), the rest (kernel workers and
# interrupts: VDUSE's completions run there), and the context switches
# and interrupts per request.  The times are the timer's samples (250 a
# second here): in a 6 s job a third of the time is known to about 1 %,
# some 12 us per request at QD1, so compare the means of rounds.
cpu_job() {
	b=${2#/dev/}
	fio_job "$2" "$3" "$4" "$((RUNTIME + 3))" >/dev/null &
	f=$!
	sleep 2
	fios=$(pidof fio)
	t0=$(ticks) q0=$(pticks "$qsd") f0=$(pticks $fios)
	c0=$(counter ctxt) i0=$(counter intr)
	r0=$(awk '{ print $1 + $5 }' /sys/block/"$b"/stat)
	sleep "$RUNTIME"
	r1=$(awk '{ print $1 + $5 }' /sys/block/"$b"/stat)
	t1=$(ticks) q1=$(pticks "$qsd") f1=$(pticks $fios)
	c1=$(counter ctxt) i1=$(counter intr)
	wait "$f" || cat /tmp/fio.err >&2
	if [ $((r1 - r0)) -le 0 ]; then
		log "$1 $3 qd$4: no requests completed (left out of the means)"
		return
	fi
	echo "$t0 $t1 $q0 $q1 $f0 $f1" | awk -v n="$1" -v rw="$3" -v qd="$4" \
		-v req=$((r1 - r0)) -v rt="$RUNTIME" -v cs=$((c1 - c0)) \
		-v ni=$((i1 - i0)) '{
		us = 10000 / req	# a tick is 10 ms
		for (i = 1; i <= 7; i++) d[i] = $(i + 7) - $i
		busy = d[1] + d[2] + d[3] + d[6] + d[7]
		qu = $17 - $15; qs = $18 - $16; fu = $21 - $19; fs = $22 - $20
		printf "%-10s %-9s %4d %6d %6.0f %6.0f %6.0f %6.0f %6.0f %6.0f %6.0f %6.2f %6.2f\n",
			n, rw, qd, req / rt, busy * us, (d[4] + d[5]) * us,
			qu * us, qs * us, fu * us, fs * us,
			(busy - qu - qs - fu - fs) * us, cs / req, ni / req
	}' | tee -a /tmp/cpu.results
}

CPU_HEAD="target     job         QD   IOPS   busy   idle  qsd-u  qsd-s  fio-u  fio-s   rest   ctxt   intr"

# cpu_rows NAME DEV NAME2 DEV2: cpu_job on both rows, ROUNDS times, taking
# turns (in_turn); then the means over the rounds
cpu_rows() {
	: >/tmp/cpu.results
	echo "== guest CPU time per request (us) during ${RUNTIME} s of each job: busy (all but idle), idle, qemu-storage-daemon's user and system time, fio's user and system time, the rest (kernel workers, interrupts); context switches and interrupts per request"
	echo "$CPU_HEAD"
	in_turn cpu_job "$@"
	echo "== the means of the $ROUNDS rounds"
	echo "$CPU_HEAD"
	awk '{ k = $1 " " $2 " " $3; if (!(k in n)) o[m++] = k; n[k]++
		for (i = 4; i <= 13; i++) t[k, i] += $i }
	END {
		for (j = 0; j < m; j++) {
			k = o[j]; split(k, f, " ")
			printf "%-10s %-9s %4d", f[1], f[2], f[3]
			for (i = 4; i <= 13; i++)
				printf(i < 12 ? " %6.0f" : " %6.2f", t[k, i] / n[k])
			printf "\n"
		}
	}' /tmp/cpu.results | sort -k2,2 -k3,3n -k1,1
}

# job NAME DEV RW QD ROUND: one fio job, logged and kept in $results
job() {
	iops=$(fio_iops "$2" "$3" "$4")
	log "$1 $3 qd$4 round $5: $iops IOPS"
	echo "$1 $3 $4 $5 $iops" >>"$results"
}

# measure NAME DEV [NAME2 DEV2]: every job ROUNDS times, the two targets
# taking turns (in_turn); or what PROFILE asks for instead
measure() {
	if [ "$PROFILE" = 1 ]; then
		profile "$1" "$2"
		[ $# -lt 4 ] || profile "$3" "$4"
		return
	fi
	if [ "$PROFILE" = cpu ]; then
		case $1 in vduse) [ $# -lt 4 ] || cpu_rows "$@" ;; esac
		return
	fi
	if [ "$PROFILE" = trace ]; then
		for qd in 1 32; do
			trace_row "$1" "$2" "$qd"
			[ $# -lt 4 ] || trace_row "$3" "$4" "$qd"
		done
		return
	fi
	in_turn job "$@"
}

# null_blk: no image, the ceiling
if modprobe null_blk nr_devices=1 queue_mode=2 gb=1 2>/dev/null &&
	wait_for /dev/nullb0 5; then
	measure null_blk /dev/nullb0
	rmmod null_blk
else
	log "null_blk: not available in this kernel"
fi

# loop on the image
modprobe loop 2>/dev/null
if dev=$(losetup -f) && losetup "$dev" "$img"; then
	measure loop "$dev"
	losetup -d "$dev"
else
	log "loop: could not be set up"
fi

# adapter_start TYPE SPEC: starts loopback-adapter with --device SPEC;
# $adapter is its pid, $adapter_dev the block device of its TYPE line
# (empty if it gave none)
adapter_start() {
	loopback-adapter --device "$2" >/tmp/adapter.out 2>/tmp/adapter.err &
	adapter=$!
	n=0
	while ! grep -q " $1 /dev/" /tmp/adapter.out && [ $n -lt 200 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	adapter_dev=$(awk -v t="$1" '$2 == t { print $3; exit }' /tmp/adapter.out)
	if [ -z "$adapter_dev" ] || [ ! -b "$adapter_dev" ]; then
		adapter_dev=
		cat /tmp/adapter.err
	fi
}

adapter_stop() {
	[ -n "$adapter" ] || return 0
	kill -TERM "$adapter" 2>/dev/null
	wait "$adapter" 2>/dev/null
	adapter=
}

adapter=
have_loopback=0
if command -v loopback-adapter >/dev/null && modprobe loopback 2>/dev/null; then
	have_loopback=1
else
	log "loopback: loopback-adapter or loopback.ko is not here"
fi

# loopback's built-in blk, served by loopback-adapter
if [ "$have_loopback" = 1 ] && [ "$PROFILE" = 0 ]; then
	adapter_start blk "blk,file=$img,num-queues=1,queue-size=256"
	if [ -n "$adapter_dev" ]; then
		measure loopback "$adapter_dev"
	else
		log "loopback: the adapter gave no block device"
	fi
	adapter_stop
fi

# One qemu-storage-daemon, one node on the image, two exports: VDUSE
# (bound to virtio_blk through virtio_vdpa) and vhost-user-blk, which
# loopback-adapter hands to loopback.ko (the adapter only sets it up).
# Both rows run the same daemon code on the same image; they differ in
# how the kick reaches the daemon and how the interrupt comes back.
have_vduse=0
if modprobe vduse 2>/dev/null && modprobe virtio_vdpa 2>/dev/null; then
	have_vduse=1
else
	log "VDUSE: not available (the 6.1 kernel has none: use LOOPBACK_VM_ABI=6.12.N+deb12)"
fi
if ! command -v qemu-storage-daemon >/dev/null; then
	log "qemu-storage-daemon: not here"
elif [ "$have_vduse" = 1 ] || [ "$have_loopback" = 1 ]; then
	set -- --blockdev driver=file,node-name=f0,filename="$img",aio="$AIO"
	[ "$have_vduse" = 0 ] ||
		set -- "$@" --export type=vduse-blk,id=v0,node-name=f0,name=bench0,num-queues=1,queue-size=256,writable=on
	[ "$have_loopback" = 0 ] ||
		set -- "$@" --export type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=/tmp/vub.sock,writable=on,num-queues=1
	rm -f /tmp/vub.sock
	qemu-storage-daemon "$@" >/tmp/qsd.log 2>&1 &
	qsd=$!
	vduse_dev=
	if [ "$have_vduse" = 1 ]; then
		if wait_for /dev/vduse/bench0 20 &&
			before=$(newest_vd) &&
			vdpa dev add name bench0 mgmtdev vduse &&
			n=0 && while [ "$(newest_vd)" = "$before" ] && [ $n -lt 100 ]; do
				sleep 0.1
				n=$((n + 1))
			done && [ "$(newest_vd)" != "$before" ]; then
			vduse_dev=$(newest_vd)
		else
			log "VDUSE: the device did not appear"
			cat /tmp/qsd.log
		fi
	fi
	vu_dev=
	if [ "$have_loopback" = 1 ]; then
		if wait_for /tmp/vub.sock 20; then
			adapter_start vhost-user-blk \
				"vhost-user-blk,socket=/tmp/vub.sock,num-queues=1"
			vu_dev=$adapter_dev
			[ -n "$vu_dev" ] || log "vhost-user: the adapter gave no block device"
		else
			log "vhost-user: qemu-storage-daemon did not listen"
			cat /tmp/qsd.log
		fi
	fi
	set --
	[ -z "$vduse_dev" ] || set -- vduse "$vduse_dev"
	[ -z "$vu_dev" ] || set -- "$@" vhost-user "$vu_dev"
	[ $# -eq 0 ] || measure "$@"
	adapter_stop
	[ -z "$vduse_dev" ] || vdpa dev del bench0
	kill "$qsd" 2>/dev/null
	wait "$qsd" 2>/dev/null
fi

[ "$PROFILE" = 0 ] || exit 0
echo "== 4 KiB random I/O, IOPS, median of $ROUNDS rounds (fio libaio O_DIRECT, ${RUNTIME} s per job; qemu-storage-daemon aio=$AIO; $(uname -r), $(nproc) vCPU TCG)"
awk -v rounds="$ROUNDS" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# ratio_line LABEL NUM DEN RW QD NOTE: the median over the rounds of NUM/DEN
function ratio_line(label, num, den, rw, qd, note,    r, n, a, s) {
	n = 0; s = ""
	for (r = 1; r <= rounds; r++) {
		if (v[num " " rw " " qd " " r] <= 0 || v[den " " rw " " qd " " r] <= 0)
			return
		a[++n] = v[num " " rw " " qd " " r] / v[den " " rw " " qd " " r]
		s = s sprintf("%s%.2f", (r > 1 ? " " : ""), a[n])
	}
	printf "%-18s %-11s QD%-2d %.2f (rounds: %s)%s\n", label, rw, qd, median(a, n), s, note
}
{ v[$1 " " $2 " " $3 " " $4] = $5; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
END {
	printf "%-10s %10s %10s %10s %10s\n", "target", "read QD1", "read QD32", "write QD1", "write QD32"
	split("randread 1 randread 32 randwrite 1 randwrite 32", cols, " ")
	for (i = 0; i < n; i++) {
		t = order[i]
		line = sprintf("%-10s", t)
		for (c = 1; c <= 8; c += 2) {
			m = 0
			for (r = 1; r <= rounds; r++)
				a[++m] = v[t " " cols[c] " " cols[c + 1] " " r] + 0
			line = line sprintf(" %10d", median(a, m))
			delete a
		}
		print line
	}
	split("randread randwrite", rws, " ")
	for (k = 1; k <= 2; k++) for (q = 1; q <= 32; q += 31) {
		ratio_line("loopback / loop", "loopback", "loop", rws[k], q, " (target >= 0.5)")
		ratio_line("loopback / VDUSE", "loopback", "vduse", rws[k], q, (q == 1 ? " (target >= 3 at QD1)" : ""))
		ratio_line("vhost-user / VDUSE", "vhost-user", "vduse", rws[k], q, " (target >= 1.0)")
	}
}' "$results"
exit 0
