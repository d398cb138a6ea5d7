#!/bin/sh
# Installs what is missing, then builds twice and runs the whole test suite
# in each build: build/ (plain) and build-san/ (AddressSanitizer + UBSan).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"

status=0
run_check() {
	dir=$1
	shift
	echo "== $dir: configure and build"
	"$top/scripts/build.sh" "$dir" "$@"
	echo "== $dir: make check"
	if ! make -C "$top/$dir" -s check; then
		cat "$top/$dir/test-suite.log" 2>/dev/null || true
		status=1
	fi
}

run_check build
san="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_check build-san CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined"
exit $status
