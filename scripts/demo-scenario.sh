# The demo's scenario (sh; run by scripts/demo.sh on the host, or in the
# test VM by tests/vm/run): loopback-adapter serves a 64 MiB image and an
# entropy source through loopback.ko, and the host's own virtio_blk and
# virtio-rng drivers use them.  loopback.ko must be loadable by modprobe.
#
#   sh scripts/demo-scenario.sh [WORKDIR]
set -u
work=${1:-/tmp/loopback-demo}
step() { echo; echo "== $*"; }
fail() { echo "demo: FAIL: $*"; cleanup; exit 1; }
adapter=""
cleanup() {
	mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
	if [ -n "$adapter" ]; then
		kill -TERM "$adapter" 2>/dev/null
		wait "$adapter" 2>/dev/null
	fi
}

mkdir -p "$work/mnt" || exit 1
step "modprobe virtio_blk virtio_rng loopback"
for m in virtio_blk virtio_rng loopback; do
	modprobe "$m" || fail "modprobe $m"
done
i=0
while [ ! -c /dev/loopback ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ls -l /dev/loopback || fail "no /dev/loopback"

step "truncate -s 64M $work/disk.img; loopback-adapter --device blk,file=$work/disk.img --device rng &"
rm -f "$work/disk.img"
truncate -s 64M "$work/disk.img" || fail "cannot create the image"
# there before the background job opens them: the loop below reads them
: >"$work/adapter.out"
: >"$work/adapter.err"
loopback-adapter --device blk,file="$work/disk.img" --device rng \
	>"$work/adapter.out" 2>"$work/adapter.err" &
adapter=$!
i=0
while [ "$(wc -l <"$work/adapter.out")" -lt 2 ] && [ $i -lt 200 ]; do
	kill -0 "$adapter" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
cat "$work/adapter.out"
[ "$(wc -l <"$work/adapter.out")" -ge 2 ] ||
	{ cat "$work/adapter.err"; fail "the adapter did not report its devices"; }
blk=$(awk '$2 == "blk" { print $3 }' "$work/adapter.out")
[ -b "$blk" ] || fail "no block device ($blk)"

step "lsblk $blk"
if command -v lsblk >/dev/null; then
	lsblk -o NAME,SIZE,TYPE,RO "$blk"
else
	echo "$blk: $(($(cat /sys/block/"${blk#/dev/}"/size) / 2048)) MiB"
fi

step "mkfs.ext4 $blk; mount; write a file; read it back"
mkfs.ext4 -q -F "$blk" || fail "mkfs.ext4"
mount -t ext4 "$blk" "$work/mnt" || fail "mount"
echo "hello from a virtio-blk disk served by loopback-adapter" >"$work/mnt/hello.txt"
sync
cat "$work/mnt/hello.txt" || fail "read back"
df -h "$work/mnt" | tail -n 1
umount "$work/mnt" || fail "umount"

step "16 bytes from /dev/hwrng ($(cat /sys/class/misc/hw_random/rng_current 2>/dev/null))"
head -c 16 /dev/hwrng | od -An -tx1 || fail "/dev/hwrng"

step "kill -TERM the adapter: the devices are removed in order"
kill -TERM "$adapter"
wait "$adapter"
st=$?
adapter=""
[ "$st" -eq 0 ] || fail "the adapter exited $st"
[ -b "$blk" ] && fail "$blk is still there"
# the last device lets go of the module from a work item: a moment
i=0
until rmmod loopback 2>"$work/rmmod.err"; do
	[ $i -lt 50 ] || fail "rmmod loopback: $(cat "$work/rmmod.err")"
	sleep 0.1
	i=$((i + 1))
done
echo
echo "demo: PASS: $blk held an ext4 file system and /dev/hwrng gave bytes, both served by loopback-adapter through loopback.ko"
