lib_LTLIBRARIES = libloopback/libloopback.la
loopbackincludedir = $(includedir)/loopback
loopbackinclude_HEADERS = include/loopback/loopback.h \
	include/loopback/memory.h \
	include/loopback/device.h \
	include/loopback/virtio.h \
	include/loopback/vhost-user.h

libloopback_libloopback_la_SOURCES = \
	libloopback/memory/internal.h \
	libloopback/tsan.h \
	libloopback/memory/rcu.c \
	libloopback/memory/region.c \
	libloopback/memory/region-tree.c \
	libloopback/memory/ram.c \
	libloopback/memory/transaction.c \
	libloopback/memory/flatview.c \
	libloopback/memory/dispatch.c \
	libloopback/memory/access.c \
	libloopback/memory/ldst.c \
	libloopback/memory/find.c \
	libloopback/memory/iommu.c \
	libloopback/memory/ram-discard.c \
	libloopback/memory/dirty.c \
	libloopback/memory/map.c \
	libloopback/memory/cache.c \
	libloopback/memory/listener.c \
	libloopback/memory/ioeventfd.c \
	libloopback/memory/coalesced.c \
	libloopback/memory/mtree.c
libloopback_libloopback_la_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS) $(UDEV_CFLAGS) -fvisibility=hidden \
	-fno-semantic-interposition
libloopback_libloopback_la_LIBADD = $(GLIB_LIBS) $(URCU_LIBS) $(UDEV_LIBS)
libloopback_libloopback_la_LDFLAGS = -version-info 0:0:0 \
	-Wl,--version-script=$(srcdir)/libloopback/libloopback.sym \
	$(NO_UNDEFINED_LDFLAGS) -Wl,-Bsymbolic-functions
EXTRA_libloopback_libloopback_la_DEPENDENCIES = libloopback/libloopback.sym
EXTRA_DIST += libloopback/libloopback.sym

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = libloopback/libloopback.pc

# one file per layer: each adds its sources to the library
include $(srcdir)/libloopback/device/local.mk
include $(srcdir)/libloopback/virtio/local.mk
include $(srcdir)/libloopback/vhost-user/local.mk
