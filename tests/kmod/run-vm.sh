#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the loopback.ko test suite in QEMU guests and prints TAP for the host.
#
#   tests/kmod/run-vm.sh [-j JOBS] [-o OUTDIR] [-k MODULE.ko]
#                        [--kernel stock|debug] [SCENARIO...]
#
# Builds kmod/ against the guest kernel (tests/vm/build-module), builds the
# test programs of tests/kmod/ with $CC (default gcc) against
# include/uapi, then boots one guest per scenario (tests/kmod/vm-NAME.sh,
# default: $LOOPBACK_VM_SCENARIOS, else basic stress fault hostile fuzz
# device adapter) with tests/vm/run.
# vm-device.sh and vm-adapter.sh also need programs that link libloopback,
# from the build tree ($top_builddir, else build/; make check builds
# them).  One TAP line per build
# step and per scenario; the guest's own TAP lines follow each scenario as
# comments ("#   ok 3 - ..."); the module build and full consoles are kept
# in OUTDIR (default $LOOPBACK_VM_OUT, else $top_srcdir/build/kmod-tests,
# or kmod-tests-debug on the debug kernel: kmod/, vm-NAME.console,
# vm-NAME.out).
#
# -j JOBS   boot up to JOBS guests at once (default $LOOPBACK_VM_JOBS or 1)
# -k KO     use this loopback.ko (built for the guest kernel) instead of
#           building kmod/
# --kernel  the guest kernel: stock (Debian's, default) or debug
#           (tests/vm/build-kernel); default $LOOPBACK_VM_KERNEL.  The
#           debug kernel's timeouts are scaled (tests/vm/run).
#
# vm-fuzz takes LOOPBACK_FUZZ_OPS (default 30000), LOOPBACK_FUZZ_SEED
# (default random), LOOPBACK_FUZZ_WORKERS (default 6) and
# LOOPBACK_FUZZ_SKIP (fuzz-uapi -x; default empty: fuzz everything).
#
# Exit status: 0 when everything passed (or was skipped), 1 otherwise.
# With LOOPBACK_SKIP_VM=REASON set, the whole run is skipped ("1..0 # SKIP").
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "${top_srcdir:-$here/../..}" && pwd)
out=""
prebuilt=""
jobs=${LOOPBACK_VM_JOBS:-1}
scenarios=()

while [ $# -gt 0 ]; do
	case "$1" in
	-j) jobs=${2:?-j needs a number}; shift 2 ;;
	-j*) jobs=${1#-j}; shift ;;
	-o) out=${2:?-o needs a directory}; shift 2 ;;
	-k) prebuilt=${2:?-k needs a .ko}; shift 2 ;;
	--kernel) export LOOPBACK_VM_KERNEL=${2:?--kernel needs stock or debug}; shift 2 ;;
	--kernel=*) export LOOPBACK_VM_KERNEL=${1#*=}; shift ;;
	-h | --help) sed -n '3,/^set -/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "run-vm.sh: unknown option $1" >&2; exit 2 ;;
	*) scenarios+=("$1"); shift ;;
	esac
done
# shellcheck disable=SC2206 # a list of words
[ "${#scenarios[@]}" -gt 0 ] || scenarios=(${LOOPBACK_VM_SCENARIOS:-basic stress fault hostile fuzz device adapter})
case "$jobs" in '' | *[!0-9]* | 0) echo "run-vm.sh: bad -j $jobs" >&2; exit 2 ;; esac
suffix=""
[ "${LOOPBACK_VM_KERNEL:-stock}" = stock ] || suffix=-$LOOPBACK_VM_KERNEL
out=${out:-${LOOPBACK_VM_OUT:-$top/build/kmod-tests$suffix}}
mkdir -p "$out"
out=$(cd "$out" && pwd)

PROGRAMS=(test-uapi test-mmap test-rng test-window-full test-remove test-race test-multi test-leak test-kill test-untrusted test-blk test-rmmod test-hostile fuzz-uapi bench-trap notify-listen)
LIB_PROGRAMS=(tests/device/vm-device-rng tests/adapter/loopback-adapter-test)

# scripts/check.sh runs the kernel tests in its plain build only: they do
# not depend on how the host side was compiled
if [ -n "${LOOPBACK_SKIP_VM:-}" ]; then
	echo "1..0 # SKIP $LOOPBACK_SKIP_VM"
	exit 0
fi

n=0
failed=0
ok() { # STATUS NAME [DIAG-FILE]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	elif [ "$1" -eq 4 ]; then
		echo "ok $n - $2 # SKIP"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

echo "1..$((2 + ${#scenarios[@]}))"

# 1. the module
ko=""
if [ -n "$prebuilt" ]; then
	ko=$(cd "$(dirname "$prebuilt")" && pwd)/$(basename "$prebuilt")
	echo "(prebuilt)" >"$out/build-module.log"
elif ko=$("$top/tests/vm/build-module" -o "$out/kmod" 2>"$out/build-module.log"); then
	ko=$(printf '%s\n' "$ko" | grep '/loopback\.ko$' | head -n 1)
fi
if [ -n "$ko" ] && [ -f "$ko" ]; then
	ok 0 "build loopback.ko against the guest kernel ($ko)"
else
	ok 1 "build loopback.ko against the guest kernel"
	tail -n 40 "$out/build-module.log" | sed 's/^/# /'
fi

# 2. the test programs
cc=${CC:-gcc}
cflags=(-O2 -g -Wall -Wextra -pthread -I"$top/include/uapi")
build_ok=0
: >"$out/build-programs.log"
for p in "${PROGRAMS[@]}"; do
	if ! $cc "${cflags[@]}" -o "$out/$p" "$here/$p.c" "$here/lbtest.c" >>"$out/build-programs.log" 2>&1; then
		build_ok=1
	fi
done
ok $build_ok "build the test programs (${PROGRAMS[*]})"
[ "$build_ok" -eq 0 ] || sed 's/^/# /' "$out/build-programs.log" | tail -n 40
if [ "$build_ok" -ne 0 ] || [ -z "$ko" ]; then
	for s in "${scenarios[@]}"; do
		ok 1 "vm-$s (not run: the build failed)"
	done
	exit 1
fi

binaries=()
for p in "${PROGRAMS[@]}"; do binaries+=(--binary "$out/$p"); done
# programs that link libloopback, from the build tree (libtool wrappers)
builddir=$(cd "${top_builddir:-$top/build}" 2>/dev/null && pwd)
for p in ${LIB_PROGRAMS[@]+"${LIB_PROGRAMS[@]}"}; do
	if [ -x "$builddir/$p" ]; then
		binaries+=(--binary "$builddir/$p")
	else
		echo "# $builddir/$p is not built (make check builds it)"
	fi
done

run_one() { # SCENARIO
	local s=$1 st extra=() skip=${LOOPBACK_FUZZ_SKIP-}
	# the fuzzer's knobs reach the guest on the kernel command line
	[ "$s" = fuzz ] && extra=(--append "loopback_fuzz.ops=${LOOPBACK_FUZZ_OPS:-30000} loopback_fuzz.workers=${LOOPBACK_FUZZ_WORKERS:-6}${LOOPBACK_FUZZ_SEED:+ loopback_fuzz.seed=$LOOPBACK_FUZZ_SEED}${skip:+ loopback_fuzz.skip=$skip}")
	"$top/tests/vm/run" --module "$ko" "${binaries[@]}" "${extra[@]}" \
		--file "$here/vm-lib.sh:/test/vm-lib.sh" \
		--script "$here/vm-$s.sh" --timeout "${LOOPBACK_VM_TIMEOUT:-290}" \
		--log "$out/vm-$s.console" >"$out/vm-$s.out" 2>&1
	st=$?
	echo "$st" >"$out/vm-$s.status"
}

# the guest's lines worth showing: everything but kernel messages
guest_lines() { # FILE
	grep -avE '^\[ *[0-9]+\.[0-9]+\]' "$1" | sed 's/^/#   /'
}

pids=()
for s in "${scenarios[@]}"; do
	if [ ! -f "$here/vm-$s.sh" ]; then
		echo "missing" >"$out/vm-$s.status"
		continue
	fi
	rm -f "$out/vm-$s.status"
	run_one "$s" &
	pids+=($!)
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n 2>/dev/null || sleep 1
	done
done
wait

for s in "${scenarios[@]}"; do
	st=$(cat "$out/vm-$s.status" 2>/dev/null || echo "?")
	if [ "$st" = missing ]; then
		ok 1 "vm-$s: no $here/vm-$s.sh"
		continue
	fi
	verdict=$(grep -a '^run: \(PASS\|FAIL\|SKIP\)' "$out/vm-$s.out" | tail -n 1)
	case "$st" in
	0) ok 0 "vm-$s ${verdict#run: }" ;;
	4) ok 4 "vm-$s ${verdict#run: }" ;;
	*) ok 1 "vm-$s ${verdict#run: }" ;;
	esac
	guest_lines "$out/vm-$s.out"
	if [ "$st" != 0 ] && [ "$st" != 4 ]; then
		echo "# vm-$s failures:"
		grep -aE '^(not ok|Bail out!)|^run: FAIL' "$out/vm-$s.out" | sed 's/^/#   >> /'
		echo "# full console: $out/vm-$s.console"
	fi
done

[ "$failed" -eq 0 ]
