#!/bin/sh
# Installs what is missing, then builds three times and runs the test suite
# in each build: build/ (plain), build-san/ (AddressSanitizer + UBSan) and
# build-tsan/ (clang's ThreadSanitizer).  Only the plain build's suite runs
# the kernel tests, in QEMU guests: on Debian's kernel, then (make
# check-debug) on the debug kernel that tests/vm/build-kernel builds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
# QEMU, busybox and the rest that the kernel tests' VMs need
"$top/tests/vm/deps.sh"

status=0
passed=0
failed=0
skipped=0

# count NAME LOG: the figure automake's test-suite.log gives for NAME
count() {
	n=$(sed -n "s/^# $1: *//p" "$2" 2>/dev/null | head -n 1)
	echo "${n:-0}"
}

run_check() {
	dir=$1
	shift
	echo "== $dir: configure and build"
	"$top/scripts/build.sh" "$dir" "$@"
	echo "== $dir: make check"
	if ! make -C "$top/$dir" -s ${check_jobs:+-j$check_jobs} check; then
		cat "$top/$dir/test-suite.log" 2>/dev/null || true
		status=1
	fi
	tally "$dir" "$top/$dir/test-suite.log"
}

tally() { # DIR LOG
	log=$2
	if [ ! -f "$log" ]; then
		echo "check.sh: $1 ran no test suite" >&2
		status=1
		return
	fi
	passed=$((passed + $(count PASS "$log") + $(count XFAIL "$log")))
	failed=$((failed + $(count FAIL "$log") + $(count ERROR "$log") + $(count XPASS "$log")))
	skipped=$((skipped + $(count SKIP "$log")))
}

# the plain build's VM runners boot single-vCPU guests: two at a time
check_jobs=2
run_check build
check_jobs=""
# the VM suites again on the debug kernel (KASAN, lockdep, kmemleak, ...);
# building that kernel takes a while the first time, then it is cached
echo "== build: make check-debug"
if ! make -C "$top/build" -s check-debug; then
	cat "$top/build/test-suite-debug.log" 2>/dev/null || true
	status=1
fi
tally build "$top/build/test-suite-debug.log"
san="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# the kernel tests boot VMs; they do not depend on the host build's flags
export LOOPBACK_SKIP_VM="kernel tests ran in the plain build"
run_check build-san CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined"
# Races in the library and its tests.  liburcu and GLib's GMutex are not
# instrumented: libloopback/memory/internal.h models their ordering for TSan, so
# there is no suppression file.  Any report fails the test that made it.
tsan="-O1 -g -fno-omit-frame-pointer -fsanitize=thread"
# die_after_fork=0: the library's fork handlers give every child of a
# process that used it liburcu's callback thread again (memory-api.md,
# "fork()"), and TSan would stop any child that starts a thread.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:die_after_fork=0
run_check build-tsan CC=clang CFLAGS="$tsan" LDFLAGS="-fsanitize=thread"

# make install, distcheck, DKMS, the Debian packages (scripts/check-install.sh)
echo "== install checks"
mkdir -p "$top/build-install"
tap=$top/build-install/check-install.tap
"$top/scripts/check-install.sh" >"$tap" 2>&1 || status=1
cat "$tap"
passed=$((passed + $(grep -c '^ok ' "$tap" || true)))
failed=$((failed + $(grep -c '^not ok ' "$tap" || true)))

# the TAP results of the three builds and the install checks
echo "checks: $passed passed, $failed failed, $skipped skipped"
[ "$passed" -gt 0 ] || status=1
exit $status
