# kmod/loopback.ko is built by kbuild, in a copy under the build tree
# (tests/vm/build-module); make check-vm tests it in a VM.
EXTRA_DIST += kmod/Kbuild kmod/Makefile kmod/loopback_compat.h \
	kmod/loopback_internal.h kmod/loopback_priv.h kmod/loopback_main.c \
	kmod/loopback_dev.c kmod/loopback_transport.c kmod/loopback_fail.c \
	kmod/loopback_dma.c kmod/loopback_blk.c
loopbackuapidir = $(includedir)/linux
loopbackuapi_HEADERS = include/uapi/linux/loopback.h

if BUILD_KMOD
all-local: kmod-build
kmod-build:
	$(top_srcdir)/tests/vm/build-module --kdir '$(KDIR)' \
		-o '$(abs_top_builddir)/kmod' '$(abs_top_srcdir)/kmod' >/dev/null

endif
