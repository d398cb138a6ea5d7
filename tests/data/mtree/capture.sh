#!/bin/bash
# Capture `info mtree` reference outputs from a real QEMU (Debian 12 / 7.2).
# Uses QMP `human-monitor-command`, whose JSON reply carries the exact text
# the HMP command printed, so no prompt/echo stripping is needed.
#
# The monitor layer turns every "\n" of a command's output into "\r\n" (on
# stdio and in the QMP reply alike); we store the text with plain "\n" and
# fail if any other control character shows up.
#
# Needs python3 and Debian 12's QEMU system emulators for every machine
# below: apt-get install qemu-system-x86 qemu-system-arm qemu-system-misc
# qemu-system-ppc qemu-system-mips (qemu-system-misc has riscv64, hppa,
# alpha, loongarch64, or1k, s390x and xtensa).  The
# captures are committed, so neither CI nor `make check` needs them.
#
# Usage: tests/data/mtree/capture.sh [NAME...]   (default: all machines)
# Output: NAME.tree, NAME.treeD, NAME.flat, NAME.cmd in $MTREE_OUT (default:
# the directory holding this script).
set -euo pipefail
OUT=${MTREE_OUT:-$(dirname "$0")}
mkdir -p "$OUT"
cd "$OUT"

COMMON="-accel tcg -S -display none -nodefaults"

# NAME|RUN|binary and machine-specific options
# RUN=0: capture right after start (-S, nothing has executed).
# RUN=N: `cont`, let the firmware run N seconds, `stop`, then capture
#        (SeaBIOS has programmed PCI BARs, PAM, SMRAM by then).
MACHINES=(
  "microvm|0|qemu-system-x86_64 -M microvm"
  "pc|0|qemu-system-x86_64 -M pc"
  "pc-rng|0|qemu-system-x86_64 -M pc -device virtio-rng-pci"
  "pc-rng-fw|3|qemu-system-x86_64 -M pc -device virtio-rng-pci"
  "q35|0|qemu-system-x86_64 -M q35"
  "q35-rng|0|qemu-system-x86_64 -M q35 -device virtio-rng-pci"
  "q35-rng-fw|3|qemu-system-x86_64 -M q35 -device virtio-rng-pci"
  "isapc|0|qemu-system-x86_64 -M isapc"
  "aarch64-virt|0|qemu-system-aarch64 -M virt -cpu cortex-a57"
  "riscv64-virt|0|qemu-system-riscv64 -M virt"
  "vexpress-a9|0|qemu-system-arm -M vexpress-a9 -audiodev none,id=snd0 -global pl041.audiodev=snd0"
  "ppc-mac99|0|qemu-system-ppc -M mac99"
  "ppc-40p|0|qemu-system-ppc -M 40p"
  "ppc-pegasos2|0|qemu-system-ppc -M pegasos2"
  "ppc64-pseries|0|qemu-system-ppc64 -M pseries"
  "hppa-b160l|0|qemu-system-hppa -M hppa"
  "alpha-clipper|0|qemu-system-alpha -M clipper"
  "arm-raspi2b|0|qemu-system-arm -M raspi2b"
  "arm-versatilepb|0|qemu-system-arm -M versatilepb"
  "loongarch-virt|0|qemu-system-loongarch64 -M virt"
  "mips-malta|0|qemu-system-mips -M malta"
  "or1k-sim|0|qemu-system-or1k -M or1k-sim"
  "ppc-bamboo|0|qemu-system-ppc -M bamboo"
  "ppc-g3beige|0|qemu-system-ppc -M g3beige"
  "ppc-ref405ep|0|qemu-system-ppc -M ref405ep"
  "ppc-sam460ex|0|qemu-system-ppc -M sam460ex"
  "ppc-virtex|0|qemu-system-ppc -M virtex-ml507"
  "ppc64-powernv9|0|qemu-system-ppc64 -M powernv9"
  "s390x-ccw|0|qemu-system-s390x -M s390-ccw-virtio"
  "xtensa-lx60|0|qemu-system-xtensa -M lx60"
)

capture() {
  local name=$1 run=$2 cmd=$3
  local full="$cmd $COMMON"
  echo "== $name (run ${run}s): $full" >&2
  printf '%s\n' "$full -qmp unix:SOCKET,server=on,wait=off" > "$name.cmd"
  python3 - "$name" "$run" "$full" <<'PY'
import json, os, shlex, socket, subprocess, sys, tempfile, time
name, run, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3]
tmp = tempfile.mkdtemp(prefix="mtree-")
sock_path = os.path.join(tmp, "qmp.sock")
argv = shlex.split(cmd) + ["-qmp", "unix:%s,server=on,wait=off" % sock_path]
proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
try:
    s = socket.socket(socket.AF_UNIX)
    for _ in range(200):
        try:
            s.connect(sock_path)
            break
        except OSError:
            if proc.poll() is not None:
                sys.exit("qemu exited with %d" % proc.returncode)
            time.sleep(0.05)
    else:
        sys.exit("cannot connect to QMP socket")
    f = s.makefile("rwb")

    def recv():
        while True:
            line = f.readline()
            if not line:
                sys.exit("QMP connection closed")
            msg = json.loads(line)
            if "event" in msg:
                continue
            return msg

    def execute(cmd, **args):
        req = {"execute": cmd}
        if args:
            req["arguments"] = args
        f.write(json.dumps(req).encode() + b"\n")
        f.flush()
        r = recv()
        if "error" in r:
            sys.exit("%s: %s" % (cmd, r["error"]))
        return r["return"]

    recv()  # greeting
    execute("qmp_capabilities")
    v = execute("query-version")["qemu"]
    if (v["major"], v["minor"]) != (7, 2):
        print("warning: QEMU %d.%d.%d, the references were taken with 7.2"
              % (v["major"], v["minor"], v["micro"]), file=sys.stderr)
    if run > 0:
        execute("cont")
        time.sleep(run)
        execute("stop")
    for suffix, hmp in ((".tree", "info mtree"), (".treeD", "info mtree -D"),
                        (".flat", "info mtree -f")):
        text = execute("human-monitor-command", **{"command-line": hmp})
        if "\n" in text.replace("\r\n", ""):
            sys.exit("%s: bare LF in monitor output" % hmp)
        text = text.replace("\r\n", "\n")
        if any(ord(c) < 32 and c != "\n" or ord(c) > 126 for c in text):
            sys.exit("%s: unexpected control/non-ASCII character" % hmp)
        with open(name + suffix, "w", newline="") as out:
            out.write(text)
    try:
        execute("quit")
    except SystemExit:
        pass
    proc.wait(timeout=10)
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    try:
        os.unlink(sock_path)
    except OSError:
        pass
    os.rmdir(tmp)
PY
}

want=("$@")
for entry in "${MACHINES[@]}"; do
  IFS='|' read -r name run cmd <<<"$entry"
  if [ ${#want[@]} -gt 0 ]; then
    match=0
    for w in "${want[@]}"; do [ "$w" = "$name" ] && match=1; done
    [ $match = 1 ] || continue
  fi
  capture "$name" "$run" "$cmd"
done
