#!/bin/sh
# loopback-adapter's command line without a kernel: every bad option gives
# exit status 2 and one line on stderr (nothing on stdout); --help and
# --version exit 0.  TAP.
adapter=${top_builddir:-.}/tools/loopback-adapter/loopback-adapter
if [ ! -x "$adapter" ]; then
	echo "1..0 # SKIP $adapter is not built"
	exit 0
fi
out=$(mktemp) err=$(mktemp) conf=$(mktemp)
trap 'rm -f "$out" "$err" "$conf"' EXIT
n=0
failed=0

ok() { # STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		sed 's/^/#   stderr: /' "$err"
		sed 's/^/#   stdout: /' "$out"
	fi
}

# bad WHY EXPECTED-TEXT ARGS...: exit 2, one stderr line holding the text
bad() {
	why=$1 text=$2
	shift 2
	"$adapter" "$@" >"$out" 2>"$err"
	st=$?
	lines=$(wc -l <"$err")
	good=1
	if [ "$st" -eq 2 ] && [ "$lines" -eq 1 ] && [ ! -s "$out" ] &&
		grep -qF -- "$text" "$err" &&
		grep -q '^loopback-adapter: ' "$err"; then
		good=0
	fi
	[ "$good" -eq 0 ] || echo "# exit $st, $lines stderr line(s), expected 2 and 1 with '$text'"
	ok "$good" "$why"
}

echo "1..43"
bad "no arguments" "no --device given"
bad "--device without a value" "--device needs a value" --device
bad "--device with an empty value" "no device type" --device ''
bad "a stray comma" "an empty parameter" --device 'rng,'
bad "two stray commas after the type" "an empty parameter" --device 'rng,,,'
bad "a key without a value" "'path' has no value" --device 'rng,path'
bad "a key with a space" "'pa th' is not a parameter name" --device 'rng,pa th=x'
bad "a key given twice" "'a' is given twice" --device 'rng,a=1,a=2'
bad "the type given twice" "the type is given twice" --device 'type=rng,type=blk'
bad "no type, only keys" "no device type" --device 'a=1'
bad "an unknown device type" "unknown device type 'nosuch'" --device nosuch
bad "an unknown type among devices" "unknown device type 'x,y'" --device 'x,,y,k=v'
bad "an unknown long option" "unknown option --bogus" --bogus
bad "an unknown short option" "unknown option -x" -x
bad "a value for a flag" "--verbose=3 takes no value" --verbose=3
bad "a positional argument" "unexpected argument 'rng'" rng
# the vhost-user types check their keys before reaching a backend
bad "vhost-user-fs without a tag" "vhost-user-fs: tag: missing" --device vhost-user-fs,socket=/nonexistent
bad "vhost-user without device-id" "vhost-user: device-id: missing" --device vhost-user,socket=/x,num-queues=1,config-size=0
bad "vhost-user: net with 4 queues" "num-queues=4: virtio-net without a control queue has 2 queues" --device vhost-user,socket=/x,device-id=1,num-queues=4,config-size=12
bad "vhost-user-blk: an option of another type" "vhost-user-blk: unknown option 'tag'" --device vhost-user-blk,socket=/x,tag=t
bad "vhost-user-blk: reconnect out of range" "reconnect=86401: not a number from 0 to 86400" --device vhost-user-blk,socket=/x,reconnect=86401
bad "vhost-user-fs: reconnect refused" "reconnect=5: not for virtio-fs" --device vhost-user-fs,socket=/x,tag=t,reconnect=5
bad "--pid-file without a value" "--pid-file needs a value" --pid-file
bad "--pid-file with an empty name" "--pid-file needs a file name" --device rng --pid-file ''
bad "options without a device" "no --device given" --verbose --daemonize

# --config FILE: a bad line is FILE:LINE and exit 2, before any kernel call
bad "--config without a value" "--config needs a value" --config
bad "--config with an empty name" "--config needs a file name" --config ''
bad "--config of a missing file" "--config: " --config /nonexistent/loopback.conf
printf '# disks\n\nrng\n--device rng,k\n' >"$conf"
bad "--config: a key without a value" "$conf:4: --device rng,k: 'k' has no value" --config "$conf"
printf 'rng\n  --device=nosuch  \n' >"$conf"
bad "--config: an unknown type names its line" "$conf:2: --device nosuch: unknown device type" --config "$conf"
printf 'rng\n--verbose\n' >"$conf"
bad "--config: an option other than --device" "$conf:2: only devices belong in a config file" --device rng --config "$conf"
printf '# nothing yet\n' >"$conf"
bad "--config of comments only" "no --device given" --config "$conf"

# vhost-user-net's keys, checked before it connects
vun=vhost-user-net,socket=/nonexistent/vn.sock
bad "vhost-user-net without socket" "vhost-user-net: socket: missing" --device vhost-user-net
bad "vhost-user-net: a short mac" "mac=02:00:00:00:00: not of the form" --device "$vun,mac=02:00:00:00:00"
bad "vhost-user-net: a mac with a tail" "mac=02:00:00:00:00:01x: not of the form" --device "$vun,mac=02:00:00:00:00:01x"
bad "vhost-user-net: a multicast mac" "mac=03:00:00:00:00:01: a multicast address" --device "$vun,mac=03:00:00:00:00:01"
bad "vhost-user-net: mtu below 68" "mtu=67: not a number from 68 to 65535" --device "$vun,mtu=67"
bad "vhost-user-net: mtu above 65535" "mtu=65536: not a number from 68 to 65535" --device "$vun,mtu=65536"
bad "vhost-user-net: num-queues" "unknown option 'num-queues' (known: socket, reconnect, mac, mtu)" --device "$vun,num-queues=2"

"$adapter" --help >"$out" 2>"$err"
st=$?
[ "$st" -eq 0 ] && grep -q '^Usage: loopback-adapter --device TYPE' "$out" && [ ! -s "$err" ]
ok $? "--help: usage on stdout, exit 0"
"$adapter" -h >"$out" 2>"$err"
[ $? -eq 0 ] && grep -q 'Device types:' "$out"
ok $? "-h lists the device types"
"$adapter" --version >"$out" 2>"$err"
st=$?
[ "$st" -eq 0 ] && grep -qE '^loopback-adapter \(loopback\) [0-9]' "$out" && [ ! -s "$err" ]
ok $? "--version: one line on stdout, exit 0"
"$adapter" --version --device nosuch >"$out" 2>"$err"
[ $? -eq 0 ]
ok $? "--version wins over the devices"

[ "$failed" -eq 0 ]
