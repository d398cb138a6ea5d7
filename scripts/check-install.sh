#!/bin/bash
# The install checks (Documentation/install.md), as CI runs them; TAP on
# stdout, details in $out/*.log.
#
#   scripts/check-install.sh [STEP...]
#
# Steps (default: all, in this order):
#   distcheck   make distcheck in build-dist/ (the VM tests are the plain
#               build's, so they are skipped in there)
#   pkgconfig   make install DESTDIR=...; a program built with
#               `pkg-config --cflags --libs libloopback` against that tree
#               runs
#   dkms        dkms add/build loopback.ko against the test VM's kernel
#               headers, then the built module loads in the VM and serves a
#               device there (tests/kmod/test-uapi)
#   systemd     the installed loopback-adapter@.service passes
#               `systemd-analyze verify` without a word (a broken copy does
#               not); `systemd-analyze security` is printed in the log
#   deb         dpkg-buildpackage -us -uc -b on a copy of the tree, and
#               lintian --fail-on error on the result
#   chroot      the packages install in a fresh Debian 12 chroot
#               (debootstrap --variant=minbase), where
#               `pkg-config --modversion libloopback` works
# Needs root (apt-get, dkms, chroot).  Output in $LOOPBACK_INSTALL_OUT
# (default build-install/).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${LOOPBACK_INSTALL_OUT:-$top/build-install}
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(distcheck pkgconfig systemd dkms deb chroot)
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n 's/^AC_INIT(\[loopback\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")

n=0
failed=0
ok() { # STATUS DESCRIPTION [LOG]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && tail -n 30 "$3" | sed 's/^/# /'
	fi
}

# a copy of the tree as git has it (untracked build output left out)
tree_copy() { # DEST
	rm -rf "$1"
	mkdir -p "$1"
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 tar cf - 2>/dev/null) | tar xf - -C "$1"
}

step_distcheck() {
	local log=$out/distcheck.log
	(
		set -e
		cd "$top"
		[ -x configure ] || ./autogen.sh
		mkdir -p build-dist
		cd build-dist
		"$top/configure" -q
		LOOPBACK_SKIP_VM="the plain build runs the kernel tests" make -s distcheck
	) >"$log" 2>&1
	ok $? "make distcheck" "$log"
}

# make install DESTDIR=DEST from build-dist/ (configured with the defaults)
install_destdir() { # DEST
	rm -rf "$1"
	mkdir -p "$top/build-dist"
	cd "$top/build-dist"
	[ -f Makefile ] || "$top/configure" -q
	make -s -j"$(nproc)"
	make -s install DESTDIR="$1"
}

step_pkgconfig() {
	local log=$out/pkgconfig.log dest=$out/destdir st
	(
		set -e
		install_destdir "$dest"
		# installed tree: headers, library, pkg-config file, tools, man pages
		for f in usr/local/include/loopback/loopback.h \
			usr/local/include/loopback/memory.h \
			usr/local/include/linux/loopback.h \
			usr/local/lib/pkgconfig/libloopback.pc \
			usr/local/bin/loopback-mtree \
			usr/local/share/man/man1/loopback-mtree.1 \
			usr/local/lib/udev/rules.d/60-loopback.rules \
			usr/local/lib/modules-load.d/loopback.conf \
			usr/local/lib/systemd/system/loopback-adapter@.service \
			usr/local/share/doc/loopback/loopback-adapter-example.conf; do
			[ -e "$dest/$f" ] || { echo "missing: $f"; exit 1; }
		done
		# symbol versions came through (grep reads it all: with pipefail,
		# grep -q would fail the step when objdump then gets SIGPIPE)
		objdump -T "$dest"/usr/local/lib/libloopback.so.0 | grep LIBLOOPBACK_0 >/dev/null
		cat >"$out/pc-test.c" <<'EOF'
#include <loopback/loopback.h>
#include <linux/loopback.h>
#include <stdio.h>

int main(void)
{
	MemoryRegion root, ram;
	AddressSpace as;
	static unsigned char backing[4096];
	unsigned char b = 0;

	memory_region_init(&root, NULL, "root", 1ULL << 32);
	memory_region_init_ram_ptr(&ram, NULL, "ram", sizeof(backing), backing);
	memory_region_add_subregion(&root, 0x1000, &ram);
	address_space_init(&as, &root, "as");
	backing[5] = 42;
	if (address_space_read(&as, 0x1005, MEMTXATTRS_UNSPECIFIED, &b, 1) ||
	    b != 42)
		return 1;
	printf("pc-test: read %u through the installed libloopback (uapi %d)\n",
	       b, LOOPBACK_API_VERSION);
	address_space_destroy(&as);
	return 0;
}
EOF
		# the DESTDIR tree stands for /usr/local: only our .pc moves
		mkdir -p "$out/pc"
		sed "s|^prefix=.*|prefix=$dest/usr/local|" \
			"$dest/usr/local/lib/pkgconfig/libloopback.pc" >"$out/pc/libloopback.pc"
		export PKG_CONFIG_PATH=$out/pc
		flags=$(pkg-config --cflags --libs libloopback)
		echo "pkg-config: $flags"
		# shellcheck disable=SC2086
		gcc -o "$out/pc-test" "$out/pc-test.c" $flags
		LD_LIBRARY_PATH=$dest/usr/local/lib "$out/pc-test"
	) >"$log" 2>&1
	st=$?
	ok $st "make install DESTDIR; a program built with pkg-config --cflags --libs libloopback runs" "$log"
}

step_dkms() {
	local log=$out/dkms.log src=$out/dkms-src/loopback-$version st ko
	(
		set -e
		grep -q "^PACKAGE_VERSION=\"$version\"$" "$top/dkms.conf" ||
			{ echo "dkms.conf's PACKAGE_VERSION is not $version"; exit 1; }
		eval "$("$top/tests/vm/fetch-kernel")"
		rm -rf "$out/dkms-src"
		mkdir -p "$src/include/uapi/linux"
		cp -r "$top/kmod" "$top/dkms.conf" "$src/"
		cp "$top/include/uapi/linux/loopback.h" "$src/include/uapi/linux/"
		dkms remove "loopback/$version" --all >/dev/null 2>&1 || true
		dkms add "$src"
		dkms build "loopback/$version" -k "$KRELEASE" --kernelsourcedir "$KDIR"
		ko=$(find "/var/lib/dkms/loopback/$version/$KRELEASE" -name 'loopback.ko*' | head -n 1)
		[ -n "$ko" ] || { echo "dkms built no loopback.ko"; exit 1; }
		case $ko in *.xz) xz -dkf "$ko"; ko=${ko%.xz} ;; esac
		mkdir -p "$out/dkms-ko"
		cp "$ko" "$out/dkms-ko/loopback.ko"
		dkms remove "loopback/$version" --all
	) >"$log" 2>&1
	st=$?
	ok $st "dkms add and build loopback.ko against the guest kernel's headers" "$log"
	[ $st -eq 0 ] || return
	# the DKMS module, loaded in the guest, passes the uapi tests
	gcc -O2 -Wall -pthread -I"$top/include/uapi" -o "$out/test-uapi" \
		"$top/tests/kmod/test-uapi.c" "$top/tests/kmod/lbtest.c" >"$out/dkms-vm.log" 2>&1
	cat >"$out/dkms-vm.sh" <<'EOF'
modprobe virtio_rng
modprobe loopback || exit 1
[ -c /dev/loopback ] || sleep 1
test-uapi
EOF
	"$top/tests/vm/run" --bare --module "$out/dkms-ko/loopback.ko" \
		--binary "$out/test-uapi" --script "$out/dkms-vm.sh" >>"$out/dkms-vm.log" 2>&1
	ok $? "the DKMS-built module loads in the VM and passes test-uapi" "$out/dkms-vm.log"
}

step_systemd() {
	local log=$out/systemd.log dest=$out/systemd-dest dir=$out/systemd
	local unit=loopback-adapter@.service
	(
		set -e
		install_destdir "$dest"
		rm -rf "$dir"
		mkdir -p "$dir/broken"
		# systemd-analyze wants ExecStart's binary and the man page of
		# Documentation=: the DESTDIR tree's, in place of /usr/local's
		grep -qx 'ExecStart=/usr/local/bin/loopback-adapter --config /etc/loopback/%i.conf' \
			"$dest/usr/local/lib/systemd/system/$unit"
		sed "s|=/usr/local/bin/|=$dest/usr/local/bin/|" \
			"$dest/usr/local/lib/systemd/system/$unit" >"$dir/$unit"
		export MANPATH=$dest/usr/local/share/man
		# it warns and goes on (exit 0) about what it ignores: any word fails
		systemd-analyze verify "$dir/$unit" >"$dir/verify.out" 2>&1
		cat "$dir/verify.out"
		[ ! -s "$dir/verify.out" ]
		# the check bites: a misspelt key is reported
		sed 's/^Type=notify/Typ=notify/' "$dir/$unit" >"$dir/broken/$unit"
		systemd-analyze verify "$dir/broken/$unit" >"$dir/broken.out" 2>&1 || true
		grep -q "Unknown key 'Typ'" "$dir/broken.out"
		echo "systemd-analyze security (for information):"
		systemd-analyze security --offline=yes "$dir/$unit"
	) >"$log" 2>&1
	ok $? "systemd-analyze verify passes the installed $unit (and fails a broken copy)" "$log"
	grep -o 'Overall exposure level.*' "$log" | sed 's/^/# /'
}

step_deb() {
	local log=$out/deb.log dir=$out/deb/loopback-$version
	(
		set -e
		rm -rf "$out/deb"
		tree_copy "$dir"
		cd "$dir"
		dpkg-buildpackage -us -uc -b
		cd ..
		ls ./*.deb
		lintian --fail-on error ./*.changes
	) >"$log" 2>&1
	ok $? "dpkg-buildpackage -us -uc -b; lintian reports no error" "$log"
}

step_chroot() {
	local log=$out/chroot.log root=$out/chroot mirror
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	mirror=${mirror:-http://deb.debian.org/debian}
	(
		set -e
		ls "$out"/deb/*.deb >/dev/null
		if [ ! -x "$root/usr/bin/apt-get" ]; then
			rm -rf "$root"
			debootstrap --variant=minbase bookworm "$root" "$mirror"
		fi
		mkdir -p "$root/tmp/debs"
		cp "$out"/deb/libloopback0_*.deb "$out"/deb/libloopback-dev_*.deb \
			"$out"/deb/loopback-tools_*.deb "$out"/deb/loopback-dkms_*.deb "$root/tmp/debs/"
		chroot "$root" apt-get update -q
		# dkms finds no headers for the running kernel in a chroot: it says
		# so and installs anyway
		chroot "$root" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends pkgconf /tmp/debs/*.deb'
		chroot "$root" pkg-config --modversion libloopback | tee "$out/chroot-modversion"
		[ "$(cat "$out/chroot-modversion")" = "$version" ]
		chroot "$root" getent group loopback
		chroot "$root" loopback-mtree --version
		chroot "$root" sh -c 'apt-get purge -y -q loopback-dkms loopback-tools libloopback-dev libloopback0'
	) >"$log" 2>&1
	ok $? "the packages install in a fresh Debian 12 chroot; pkg-config --modversion libloopback says $version" "$log"
}

# the tools: scripts/deps.sh names them
"$top/scripts/deps.sh" --install >"$out/deps.log" 2>&1 ||
	{ echo "Bail out! scripts/deps.sh --install failed"; cat "$out/deps.log"; exit 1; }
"$top/tests/vm/deps.sh" >>"$out/deps.log" 2>&1 ||
	{ echo "Bail out! tests/vm/deps.sh failed"; exit 1; }
for s in "${steps[@]}"; do
	case $s in
	distcheck | pkgconfig | systemd | dkms | deb | chroot) "step_$s" ;;
	*) echo "check-install.sh: unknown step $s" >&2; exit 2 ;;
	esac
done
echo "1..$n"
echo "install checks: $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
