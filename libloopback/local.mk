lib_LTLIBRARIES = libloopback/libloopback.la
loopbackincludedir = $(includedir)/loopback
loopbackinclude_HEADERS = include/loopback/memory.h

libloopback_libloopback_la_SOURCES = \
	libloopback/internal.h \
	libloopback/tsan.h \
	libloopback/rcu.c \
	libloopback/region.c \
	libloopback/region-tree.c \
	libloopback/ram.c \
	libloopback/transaction.c \
	libloopback/flatview.c \
	libloopback/dispatch.c \
	libloopback/access.c \
	libloopback/ldst.c \
	libloopback/find.c \
	libloopback/iommu.c \
	libloopback/ram-discard.c \
	libloopback/dirty.c \
	libloopback/map.c \
	libloopback/cache.c \
	libloopback/listener.c \
	libloopback/ioeventfd.c \
	libloopback/coalesced.c \
	libloopback/mtree.c
libloopback_libloopback_la_CFLAGS = $(AM_CFLAGS) $(URCU_CFLAGS) -fvisibility=hidden \
	-fno-semantic-interposition
libloopback_libloopback_la_LIBADD = $(GLIB_LIBS) $(URCU_LIBS)
libloopback_libloopback_la_LDFLAGS = -version-info 0:0:0 \
	-Wl,--version-script=$(srcdir)/libloopback/libloopback.sym \
	$(NO_UNDEFINED_LDFLAGS) -Wl,-Bsymbolic-functions
EXTRA_libloopback_libloopback_la_DEPENDENCIES = libloopback/libloopback.sym
EXTRA_DIST += libloopback/libloopback.sym

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = libloopback/libloopback.pc
