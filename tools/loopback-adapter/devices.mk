# loopback-adapter's built-in devices, a convenience library that the
# adapter and the no-kernel tests link
noinst_LTLIBRARIES = tools/loopback-adapter/libadapter-devices.la
tools_loopback_adapter_libadapter_devices_la_SOURCES = \
	tools/loopback-adapter/devices.h \
	tools/loopback-adapter/devices.c \
	tools/loopback-adapter/blk.c \
	tools/loopback-adapter/rng.c \
	tools/loopback-adapter/vhost-user-dev.h \
	tools/loopback-adapter/vhost-user-dev.c \
	tools/loopback-adapter/vhost-user-blk.c \
	tools/loopback-adapter/vhost-user-net.c \
	tools/loopback-adapter/vhost-user-fs.c \
	tools/loopback-adapter/vhost-user-generic.c
tools_loopback_adapter_libadapter_devices_la_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
tools_loopback_adapter_libadapter_devices_la_LIBADD = \
	libloopback/libloopback.la $(GLIB_LIBS) $(URING_LIBS)
